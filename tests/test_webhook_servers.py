"""Webhooks and SSE with real processes: `manage.py deliver_webhooks`, uvicorn, PostgreSQL and Redis.

A receiver on 127.0.0.1 (tests/webhook_receiver.py) plays the partner. Skipped
without PostgreSQL and Redis, like the other live-server tests.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from partners import keys
from push import services as push
from push import signing
from push.models import WebhookAttempt, WebhookEndpoint
from results.models import Event

from .test_live_servers import ROOT, _missing, database_url, declare, make_council
from .webhook_receiver import Receiver

pytestmark = [
    pytest.mark.usefixtures("close_thread_connections"),
    pytest.mark.skipif(_missing is not None, reason=_missing or ""),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SELECTION = "{ id kind ballot { id status candidacies { name votes elected } } }"


@pytest.fixture(autouse=True)
def _local_receivers(settings):
    """The receivers listen on plain http at 127.0.0.1: allowed explicitly, as in production config."""
    settings.WEBHOOK_ALLOW_HTTP_HOSTS = ["127.0.0.1"]


class Delivery:
    """One `manage.py deliver_webhooks` process against the test database and Redis."""

    def __init__(self, **env):
        self.env = env
        self.log = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = None

    def start(self) -> "Delivery":
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DEBUG": "true",
            "PYTHONPATH": str(ROOT),
            "WEBHOOK_ALLOW_HTTP_HOSTS": "127.0.0.1",
            "WEBHOOK_RETRY_BASE": "0.2",
            "WEBHOOK_RETRY_CAP": "1",
            "EVENTS_POLL_INTERVAL": "2",
            **self.env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "deliver_webhooks", "--scan-interval", "0.5"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        return self

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def delivery():
    started = []

    def start(**env):
        process = Delivery(**env).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
        if output := process.output().strip():
            print(f"--- deliver_webhooks said:\n{output[-3000:]}")


def endpoint_for(url: str, **options) -> tuple[WebhookEndpoint, str]:
    partner = keys.create_partner(f"Outlet {url}")
    return push.create_endpoint(partner, url, selection=SELECTION, kinds=["BALLOT_DECLARED"], **options)


def declarations_after(cursor: int) -> list[int]:
    return list(
        Event.objects.filter(id__gt=cursor, kind=Event.Kind.BALLOT_DECLARED)
        .order_by("id")
        .values_list("id", flat=True)
    )


async def wait_for(condition, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def cursors(bodies: list[dict]) -> list[int]:
    return [int(b["cursor"]) for b in bodies]


async def test_every_declaration_reaches_the_receiver_once_in_order_signed(delivery):
    ballots = await sync_to_async(make_council)("hookshire", 6)
    with Receiver() as receiver:
        endpoint, secret = await sync_to_async(endpoint_for)(receiver.url)
        start = endpoint.delivered_cursor
        delivery()
        for ballot in ballots:
            await sync_to_async(declare)(ballot)
        expected = await sync_to_async(declarations_after)(start)
        assert len(expected) == 6

        async def all_arrived():
            return len(receiver.received) >= 6

        await wait_for(all_arrived, what="six deliveries")
        await asyncio.sleep(1)  # and nothing more
        assert cursors(receiver.bodies()) == expected
        for headers, body, _, _ in receiver.received:
            assert signing.verify(secret, headers["Webhook-Timestamp"], body, headers["Webhook-Signature"])
            assert not signing.verify(
                secret + "x", headers["Webhook-Timestamp"], body, headers["Webhook-Signature"]
            )
            payload = json.loads(body)
            assert (
                headers["Webhook-Id"] == payload["deliveryId"] == endpoint.delivery_id(int(payload["cursor"]))
            )
            assert str(payload["timestamp"]) == headers["Webhook-Timestamp"]
        first = receiver.bodies()[0]["data"]["events"]
        assert first["kind"] == "BALLOT_DECLARED"
        assert first["ballot"]["id"] == "local.hookshire.ward-0.2023-05-04"
        assert first["ballot"]["candidacies"] == [
            {"name": "Ann Able", "votes": 10, "elected": True},
            {"name": "Bob Baker", "votes": 5, "elected": False},
        ]

        async def recorded():
            row = await WebhookEndpoint.objects.aget(pk=endpoint.pk)
            return row.delivered_cursor == expected[-1]

        await wait_for(recorded, what="the cursor recorded")
        assert await WebhookAttempt.objects.filter(endpoint=endpoint, ok=True).acount() == 6


async def test_a_receiver_failing_for_a_while_then_recovering_gets_everything_in_order(delivery):
    ballots = await sync_to_async(make_council)("flakyshire", 5)
    first_seen: list[float] = []

    def status(n):
        # Down for the first four attempts and at least two seconds from the first one.
        first_seen[:] = first_seen or [time.monotonic()]
        return 500 if n <= 4 or time.monotonic() < first_seen[0] + 2 else 200

    with Receiver(status) as receiver:
        endpoint, _ = await sync_to_async(endpoint_for)(receiver.url)
        start = endpoint.delivered_cursor
        delivery()
        for ballot in ballots:
            await sync_to_async(declare)(ballot)
        expected = await sync_to_async(declarations_after)(start)

        async def all_acknowledged():
            return len(receiver.acknowledged()) >= 5

        await wait_for(all_acknowledged, what="five acknowledged deliveries")
        await asyncio.sleep(1)
        assert cursors(receiver.acknowledged()) == expected
        failed = [
            b for (_, _, _, code), b in zip(receiver.received, receiver.bodies(), strict=True) if code == 500
        ]
        assert len(failed) >= 4  # retried while failing, never past the first event
        assert {b["cursor"] for b in failed} == {str(expected[0])}
        assert {b["deliveryId"] for b in failed} == {endpoint.delivery_id(expected[0])}
        attempts = [
            a async for a in WebhookAttempt.objects.filter(endpoint=endpoint, ok=False).order_by("at")
        ]
        assert attempts and attempts[0].status_code == 500 and attempts[0].error == "HTTP 500"


async def test_killed_mid_run_and_restarted_the_process_delivers_the_rest_without_loss(delivery):
    ballots = await sync_to_async(make_council)("killshire", 30)

    def slow(n):
        time.sleep(0.05)
        return 200

    with Receiver(slow) as receiver:
        endpoint, _ = await sync_to_async(endpoint_for)(receiver.url)
        start = endpoint.delivered_cursor
        for ballot in ballots:
            await sync_to_async(declare)(ballot)
        expected = await sync_to_async(declarations_after)(start)
        first = delivery()

        async def some_arrived():
            return len(receiver.received) >= 8

        await wait_for(some_arrived, what="the first deliveries")
        first.kill()
        before_restart = receiver.bodies()
        assert len(before_restart) < 30
        recorded = (await WebhookEndpoint.objects.aget(pk=endpoint.pk)).delivered_cursor
        delivery()

        async def all_arrived():
            return {int(b["cursor"]) for b in receiver.bodies()} >= set(expected)

        await wait_for(all_arrived, what="every declaration after the restart")
        await asyncio.sleep(1)
        bodies = receiver.bodies()
        # Every event, in order once duplicates are dropped; a duplicate only with the same delivery id.
        seen: dict[str, str] = {}
        order = []
        for b in bodies:
            if b["cursor"] in seen:
                assert seen[b["cursor"]] == b["deliveryId"]
                continue
            seen[b["cursor"]] = b["deliveryId"]
            order.append(int(b["cursor"]))
        assert order == expected
        # Sent again: only what had arrived after the last cursor the killed process wrote down.
        again = [
            int(b["cursor"])
            for b in bodies[len(before_restart) :]
            if b["cursor"] in {x["cursor"] for x in before_restart}
        ]
        assert set(again) <= {int(b["cursor"]) for b in before_restart if int(b["cursor"]) > recorded}
        assert len(bodies) - len(expected) == len(again)


async def test_a_paused_endpoint_resumed_later_gets_what_it_missed(delivery):
    ballots = await sync_to_async(make_council)("pauseshire", 6)
    with Receiver() as receiver:
        endpoint, _ = await sync_to_async(endpoint_for)(receiver.url)
        start = endpoint.delivered_cursor
        delivery()
        for ballot in ballots[:2]:
            await sync_to_async(declare)(ballot)

        async def two():
            return len(receiver.received) >= 2

        await wait_for(two, what="two deliveries")
        await sync_to_async(push.pause)(endpoint)
        await asyncio.sleep(3)  # the process lets go (it looks every 0.5 s)
        for ballot in ballots[2:]:
            await sync_to_async(declare)(ballot)
        await asyncio.sleep(2)
        assert len(receiver.received) == 2
        await sync_to_async(push.resume)(endpoint)

        async def all_six():
            return len(receiver.received) >= 6

        await wait_for(all_six, what="the missed deliveries")
        await asyncio.sleep(1)
        assert cursors(receiver.bodies()) == await sync_to_async(declarations_after)(start)


async def test_an_endpoint_failing_too_long_is_paused_and_says_why(delivery):
    ballots = await sync_to_async(make_council)("downshire", 2)
    with Receiver(lambda n: 503) as receiver:
        endpoint, _ = await sync_to_async(endpoint_for)(receiver.url)
        delivery(WEBHOOK_PAUSE_AFTER="2")
        await sync_to_async(declare)(ballots[0])

        async def paused():
            row = await WebhookEndpoint.objects.aget(pk=endpoint.pk)
            return row.state == WebhookEndpoint.State.PAUSED

        await wait_for(paused, what="the endpoint paused")
        row = await WebhookEndpoint.objects.aget(pk=endpoint.pk)
        assert "failing since" in row.paused_reason and "HTTP 503" in row.paused_reason
        assert row.delivered_cursor == endpoint.delivered_cursor  # nothing skipped
        count = len(receiver.received)
        await asyncio.sleep(1.5)
        assert len(receiver.received) == count


async def test_two_delivery_processes_deliver_each_event_once(delivery):
    ballots = await sync_to_async(make_council)("twiceshire", 10)
    with Receiver() as one, Receiver() as two:
        first, _ = await sync_to_async(endpoint_for)(one.url)
        await sync_to_async(endpoint_for)(two.url)
        delivery()
        delivery()
        for ballot in ballots:
            await sync_to_async(declare)(ballot)
        expected = await sync_to_async(declarations_after)(first.delivered_cursor)

        async def all_arrived():
            return len(one.received) >= 10 and len(two.received) >= 10

        await wait_for(all_arrived, what="ten deliveries to each")
        await asyncio.sleep(1.5)
        assert cursors(one.bodies()) == expected
        assert cursors(two.bodies()) == expected


async def test_an_sse_client_resuming_with_last_event_id_gets_exactly_the_later_events(servers):
    ballots = await sync_to_async(make_council)("sseshire", 6)
    server = servers()
    for ballot in ballots[:3]:
        await sync_to_async(declare)(ballot)
    declared = await sync_to_async(declarations_after)(0)
    resume_from = declared[1]  # the client saw the first two
    query = "subscription { events(kinds: [BALLOT_DECLARED]) { id kind ballot { id } } }"
    received = []
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream(
            "POST",
            f"http://127.0.0.1:{server.port}/graphql",
            json={"query": query},
            headers={"Accept": "text/event-stream", "Last-Event-ID": str(resume_from)},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for ballot in ballots[3:]:
            await sync_to_async(declare)(ballot)
        event: dict = {}
        async with asyncio.timeout(15):
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event["event"] = line[7:]
                elif line.startswith("id: "):
                    event["id"] = line[4:]
                elif line.startswith("data: "):
                    event["data"] = json.loads(line[6:])
                elif line == "" and event:
                    if event.get("event") == "next":
                        received.append(event)
                    event = {}
                    if len(received) == 4:
                        break
    expected = await sync_to_async(declarations_after)(resume_from)
    assert [int(e["id"]) for e in received] == expected
    assert [int(e["data"]["data"]["events"]["id"]) for e in received] == expected
    assert received[0]["data"]["data"]["events"]["ballot"]["id"] == "local.sseshire.ward-2.2023-05-04"
