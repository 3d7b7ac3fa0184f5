"""Subscriptions through the real WebSocket consumer (in process): replay, seam, filters, hygiene.

Tests against real server processes, Redis and restarts are in test_live_servers.py.
"""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import re_path
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from electionsite.asgi import application
from results import services
from results.models import Event, Post
from schema import live, schema
from schema.ws import graphql_ws_consumer

from . import factories as f
from .asgi_ws import WebsocketCommunicator

pytestmark = [
    pytest.mark.usefixtures("close_thread_connections"),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SUBSCRIPTION = """subscription($after: String, $councils: [String!], $kinds: [EventKind!]) {
  events(after: $after, councils: $councils, kinds: $kinds) {
    id kind council { slug }
    ballot { id status candidacies { name votes elected } election { seatsDeclared control { called headline } } }
    post { headline }
  }
}"""


@pytest.fixture(autouse=True)
def fast_hub(monkeypatch):
    """Each test gets a fresh hub; keep the safety-net poll short so tests do not wait on it."""
    live._hubs.clear()
    monkeypatch.setattr(live, "POLL_INTERVAL", 0.2)
    yield
    for hub in live._hubs.values():
        for task in (hub._task, hub._listener):
            if task is not None:
                task.cancel()
    live._hubs.clear()


class Client:
    """A graphql-transport-ws client over the consumer."""

    def __init__(self, app=application):
        self.ws = WebsocketCommunicator(app, "/graphql", subprotocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])

    async def connect(self, init=True):
        connected, subprotocol = await self.ws.connect()
        assert (connected, subprotocol) == (True, GRAPHQL_TRANSPORT_WS_PROTOCOL)
        if init:
            await self.send({"type": "connection_init"})
            assert await self.receive() == {"type": "connection_ack"}
        return self

    async def send(self, message):
        await self.ws.send_to(text_data=json.dumps(message))

    async def receive(self, timeout=5):
        return json.loads(await self.ws.receive_from(timeout=timeout))

    async def subscribe(self, op_id="1", **variables):
        await self.send(
            {"id": op_id, "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": variables}}
        )

    async def events(self, count, timeout=5):
        received = []
        for _ in range(count):
            message = await self.receive(timeout)
            assert message["type"] == "next", message
            received.append(message)
        return received

    async def nothing_more(self, wait=0.6):
        assert await self.ws.receive_nothing(timeout=wait)

    async def close(self):
        await self.ws.disconnect()


def make_council(slug="testshire", wards=4):
    e = f.election(slug, seats_total=wards, before={"PP52": (wards, 0)})
    return [f.ballot(e, f"Ward {i}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")]) for i in range(wards)]


def declare(ballot, able=10, baker=5):
    return services.declare_ballot(ballot, votes=f.votes(ballot, Able=able, Baker=baker))


def ids(messages):
    return [int(m["payload"]["data"]["events"]["id"]) for m in messages]


async def test_replays_from_the_cursor_then_streams_live_without_gap_or_duplicate():
    ballots = await sync_to_async(make_council)()
    first = await sync_to_async(declare)(ballots[0])
    await sync_to_async(declare)(ballots[1])
    client = await Client().connect()
    await client.subscribe(after=str(first.pk))
    replayed = await client.events(1)
    # Declared while subscribed: the 3rd ward (which decides control), then the 4th.
    await sync_to_async(declare)(ballots[2])
    await sync_to_async(declare)(ballots[3])
    live_messages = await client.events(3)
    everything = replayed + live_messages
    expected = await sync_to_async(
        lambda: list(Event.objects.filter(id__gt=first.pk).values_list("id", "kind"))
    )()
    assert [
        (i, m["payload"]["data"]["events"]["kind"]) for i, m in zip(ids(everything), everything, strict=True)
    ] == [(pk, kind.upper()) for pk, kind in expected]
    assert [m["payload"]["data"]["events"]["kind"] for m in everything] == [
        "BALLOT_DECLARED",
        "BALLOT_DECLARED",
        "CONTROL_CALLED",
        "BALLOT_DECLARED",
    ]
    last = everything[3]["payload"]["data"]["events"]
    assert last["ballot"]["candidacies"] == [
        {"name": "Ann Able", "votes": 10, "elected": True},
        {"name": "Bob Baker", "votes": 5, "elected": False},
    ]
    called = everything[2]["payload"]["data"]["events"]
    assert (called["ballot"], called["council"]) == (None, {"slug": "testshire"})
    assert last["ballot"]["election"] == {
        "seatsDeclared": 4,
        "control": {"called": True, "headline": "Labour gain Testshire"},
    }
    await client.nothing_more()
    await client.close()


async def test_without_a_cursor_the_stream_starts_now():
    ballots = await sync_to_async(make_council)()
    await sync_to_async(declare)(ballots[0])
    client = await Client().connect()
    await client.subscribe()
    await client.nothing_more(0.4)
    event = await sync_to_async(declare)(ballots[1])
    assert ids(await client.events(1)) == [event.pk]
    await client.close()


async def test_a_rolled_back_change_emits_nothing():
    ballots = await sync_to_async(make_council)()
    client = await Client().connect()
    await client.subscribe()
    await client.nothing_more(0.3)

    def declare_then_fail():
        with transaction.atomic():
            declare(ballots[0])
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await sync_to_async(declare_then_fail)()
    await client.nothing_more()
    event = await sync_to_async(declare)(ballots[1])
    assert ids(await client.events(1)) == [event.pk]
    await client.close()


async def test_filters_by_council_and_kind():
    derby = await sync_to_async(make_council)("derby", 2)
    erewash = await sync_to_async(make_council)("erewash", 2)
    client = await Client().connect()
    # after "0": every matching event from the start of the log, so no race with registration.
    await client.subscribe(op_id="derby", after="0", councils=["derby"], kinds=["BALLOT_DECLARED"])
    await client.subscribe(op_id="posts", after="0", kinds=["POST_PUBLISHED"], councils=["erewash"])
    await sync_to_async(declare)(erewash[0])
    derby_event = await sync_to_async(declare)(derby[0])
    await sync_to_async(declare)(derby[1])  # also calls control: filtered out by kind

    def publish_post():
        post = services.save_post(
            Post(), changes={"headline": "Erewash count"}, councils=[f.council("erewash")]
        )
        return services.publish_post(post)

    post_event = await sync_to_async(publish_post)()
    received = await client.events(3)
    by_op = {}
    for m in received:
        by_op.setdefault(m["id"], []).append(int(m["payload"]["data"]["events"]["id"]))
    second_derby = derby_event.pk + 1
    assert by_op == {"derby": [derby_event.pk, second_derby], "posts": [post_event.pk]}
    await client.nothing_more()
    await client.close()


async def test_ending_one_subscription_never_silences_another_on_the_same_connection():
    ballots = await sync_to_async(make_council)()
    start = str(await sync_to_async(live.latest_event_id)())  # after the council's own events
    client = await Client().connect()
    await client.subscribe(op_id="a", after=start)
    await client.subscribe(op_id="b", after=start)
    first = await sync_to_async(declare)(ballots[0])
    assert sorted(m["id"] for m in await client.events(2)) == ["a", "b"]
    await client.send({"id": "a", "type": "complete"})
    await asyncio.sleep(0.1)
    second = await sync_to_async(declare)(ballots[1])
    [message] = await client.events(1)
    assert (message["id"], ids([message])) == ("b", [second.pk])
    assert second.pk > first.pk
    await client.nothing_more()
    await client.close()


async def test_pings_are_answered():
    client = await Client().connect()
    await client.send({"type": "ping"})
    assert await client.receive() == {"type": "pong"}
    await client.close()


async def test_a_connection_that_never_initialises_is_closed():
    app = URLRouter([re_path(r"^graphql$", graphql_ws_consumer(schema, init_timeout=0.2))])
    client = await Client(app).connect(init=False)
    closed = await client.ws.receive_output(timeout=2)
    assert closed == {"type": "websocket.close", "code": 4408, "reason": "Connection initialisation timeout"}


async def test_subscriptions_per_connection_are_capped():
    client = await Client().connect()
    for n in range(20):
        await client.subscribe(op_id=str(n))
    await client.subscribe(op_id="one-too-many")
    message = await client.receive()
    assert message["type"] == "error"
    assert message["id"] == "one-too-many"
    await client.close()


async def test_legacy_protocol_is_refused():
    ws = WebsocketCommunicator(application, "/graphql", subprotocols=["graphql-ws"])
    connected, _ = await ws.connect()
    if connected:
        closed = await ws.receive_output(timeout=2)
        assert closed["type"] == "websocket.close"
        assert closed["code"] == 4406
    await ws.disconnect()


async def test_slow_subscriber_is_ended_with_the_cursor_to_resume_from(monkeypatch):
    monkeypatch.setattr(live, "QUEUE_LIMIT", 2)
    ballots = await sync_to_async(make_council)("slowshire", 4)
    hub = live.hub()
    stream = live.stream_events(None, live.EventFilter())
    # Registered and waiting; three declarations committed at once reach the hub in one
    # read, and the third finds the queue (of 2) full.
    reader = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.3)

    def declare_three():
        with transaction.atomic():
            for ballot in ballots[:3]:
                declare(ballot)

    await sync_to_async(declare_three)()
    await asyncio.sleep(0.6)  # the hub hands them out
    assert hub.position == await sync_to_async(live.latest_event_id)()
    first = await reader
    second = await stream.__anext__()
    with pytest.raises(live.SlowSubscriber, match=f'after: "{second.pk}"'):
        await stream.__anext__()
    assert second.pk == first.pk + 1


def test_payload_queries_are_fixed_however_many_events():
    ballots = make_council("countshire", 10)
    start = live.latest_event_id()  # after the council's own events
    declare(ballots[0])
    live.load_events_after(start, 100)  # the process's shared parties, loaded once (results.parties)
    with CaptureQueriesContext(connection) as one:
        assert len(live.load_events_after(start, 100)) == 1
    for ballot in ballots[1:]:
        declare(ballot)
    with CaptureQueriesContext(connection) as many:
        assert len(live.load_events_after(start, 100)) == 11  # ten declarations and the control call
    # events (with council and post); their elections with their stored standing; ballots;
    # candidacies (6 before issue 13: composition and previous winners were read to derive the
    # standing). (A batch with post events reads the posts' councils too: one more.)
    assert len(one.captured_queries) == len(many.captured_queries) == 4


async def test_subscribers_of_one_document_share_one_execution_per_event(monkeypatch):
    handed_out = []
    original = live.load_events_after

    def recording(cursor, limit):
        events = original(cursor, limit)
        handed_out.extend(events)
        return events

    monkeypatch.setattr(live, "load_events_after", recording)
    ballots = await sync_to_async(make_council)()
    a, b, c = await Client().connect(), await Client().connect(), await Client().connect()
    await a.subscribe()
    await b.subscribe(councils=["testshire"])  # other root arguments, the same payload selection
    await c.send(
        {"id": "1", "type": "subscribe", "payload": {"query": "subscription { events { id kind } }"}}
    )
    await asyncio.sleep(0.4)
    event = await sync_to_async(declare)(ballots[0])
    [got_a], [got_b], [got_c] = await a.events(1), await b.events(1), await c.events(1)
    assert got_a["payload"] == got_b["payload"]
    assert got_c["payload"] == {"data": {"events": {"id": str(event.pk), "kind": "BALLOT_DECLARED"}}}
    [shared] = [e for e in handed_out if e.pk == event.pk]
    assert len(shared._shared_payload_results) == 2  # two distinct documents, three subscribers
    for client in (a, b, c):
        await client.close()


async def test_a_cursor_beyond_the_log_is_refused_rather_than_skipping_events():
    ballots = await sync_to_async(make_council)()
    event = await sync_to_async(declare)(ballots[0])
    client = await Client().connect()
    await client.subscribe(after=str(event.pk + 1000))
    message = await client.receive()
    assert message["type"] == "next"
    assert [e["message"] for e in message["payload"]["errors"]] == [
        f"Unknown cursor {event.pk + 1000}: the latest event is {event.pk}."
    ]
    await client.close()
