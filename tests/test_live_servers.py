"""Real server processes, real WebSocket clients, PostgreSQL and Redis.

These start uvicorn processes against the test database and Redis, and
subscribe with real clients (Python's `websockets`, and the npm `graphql-ws`
client in Node). They need PostgreSQL (DATABASE_URL) and Redis (REDIS_URL):
without them they are skipped, unless REQUIRE_SERVICES=1 (as in CI), which
turns the skip into a failure.
"""

import asyncio
import http.cookiejar
import json
import os
import re
import shutil
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from websockets.asyncio.client import connect

from bench import servers
from bench.servers import free_port  # noqa: F401 (the server tests import it from here)
from results import services
from results.models import Event

from . import factories as f

ROOT = Path(__file__).resolve().parent.parent
NODE_CLIENT = ROOT / "tests" / "node"

SUBSCRIPTION = """subscription($after: String) {
  events(after: $after) {
    id kind
    ballot { id status candidacies { name votes elected } election { id seatsDeclared control { called headline } } }
  }
}"""


def _services_missing() -> str | None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "needs PostgreSQL: set DATABASE_URL"
    if not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL"
    return None


_missing = _services_missing()
if _missing and os.environ.get("REQUIRE_SERVICES") == "1":
    raise RuntimeError(f"REQUIRE_SERVICES=1 but this test module {_missing}")

pytestmark = [
    pytest.mark.usefixtures("close_thread_connections"),
    pytest.mark.skipif(_missing is not None, reason=_missing or ""),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Server(servers.Server):
    """One uvicorn process serving electionsite.asgi against the test database and Redis, what it says
    kept in a file (``output()``)."""

    def __init__(self, port: int | None = None, **env):
        # The tests' settings module (DJANGO_SETTINGS_MODULE, from this process) with the test database.
        test_env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DEBUG": "true",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        super().__init__(test_env, port=port, capture=True)


class GraphQLWS:
    """A minimal graphql-transport-ws client on the `websockets` library."""

    def __init__(self, url: str):
        self.url = url

    async def __aenter__(self):
        self.ws = await connect(self.url, subprotocols=["graphql-transport-ws"])
        await self.ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await self.ws.recv()) == {"type": "connection_ack"}
        return self

    async def __aexit__(self, *exc):
        await self.ws.close()

    async def subscribe(self, after: str | None, op_id: str = "1"):
        await self.ws.send(
            json.dumps(
                {
                    "id": op_id,
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION, "variables": {"after": after}},
                }
            )
        )

    async def events(self, count: int, timeout: float = 10) -> list[dict]:
        received = []
        async with asyncio.timeout(timeout):
            while len(received) < count:
                message = json.loads(await self.ws.recv())
                if message["type"] == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                assert message["type"] == "next", message
                received.append(message["payload"]["data"]["events"])
        return received

    async def nothing_more(self, wait: float = 1.0) -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(wait):
                message = await self.ws.recv()
                pytest.fail(f"unexpected message {message}")


class AdminSession:
    """A data desk user's browser session on one server process, over plain HTTP."""

    def __init__(self, server: Server):
        self.base = f"http://127.0.0.1:{server.port}"
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def _csrf(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as response:
            html = response.read().decode()
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    def login(self, username: str, password: str) -> None:
        token = self._csrf("/admin/login/")
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"}
        ).encode()
        with self.opener.open(self.base + "/admin/login/", body, timeout=10) as response:
            assert response.url.endswith("/admin/"), "login failed"

    def import_candidates(self, csv_text: str) -> str:
        token = self._csrf("/admin/import/")
        boundary = "----electionnight"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n',
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\ncandidates\r\n',
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="night.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n{csv_text}\r\n",
            f"--{boundary}--\r\n",
        ]
        request = urllib.request.Request(
            self.base + "/admin/import/",
            data="".join(parts).encode(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with self.opener.open(request, timeout=30) as response:
            return response.read().decode()


def make_council(slug: str, wards: int):
    e = f.election(slug, seats_total=wards, before={"PP52": (wards, 0)})
    return [f.ballot(e, f"Ward {i}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")]) for i in range(wards)]


def declare(ballot):
    return services.declare_ballot(ballot, votes=f.votes(ballot, Able=10, Baker=5))


def last_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def event_ids_after(cursor: int) -> list[tuple[int, str]]:
    return [(pk, kind.upper()) for pk, kind in Event.objects.filter(id__gt=cursor).values_list("id", "kind")]


async def test_a_declaration_through_one_process_reaches_subscribers_on_the_other(servers):
    ballots = await sync_to_async(make_council)("twinshire", 3)
    await sync_to_async(get_user_model().objects.create_superuser)("desk", password="night-shift-2023")
    # No safety-net poll for a minute: only the Redis notice can deliver in time.
    a, b = servers(EVENTS_POLL_INTERVAL="60"), servers(EVENTS_POLL_INTERVAL="60")
    cursor = str(await sync_to_async(last_event_id)())
    async with GraphQLWS(a.ws_url) as on_a, GraphQLWS(b.ws_url) as on_b:
        await on_a.subscribe(cursor)
        await on_b.subscribe(cursor)
        await asyncio.sleep(0.5)
        # The data desk declares Ward 0 on process B, through the admin's import.
        desk = AdminSession(b)
        await sync_to_async(desk.login)("desk", "night-shift-2023")
        page = await sync_to_async(desk.import_candidates)(
            "person_name,party_id,party_name,election_id,ballot_paper_id,post_label,seats_contested,votes_cast\n"
            "Ann Able,PP53,Labour Party,local.twinshire.2023-05-04,local.twinshire.ward-0.2023-05-04,Ward 0,1,10\n"
            "Bob Baker,PP52,Conservative and Unionist Party,local.twinshire.2023-05-04,"
            "local.twinshire.ward-0.2023-05-04,Ward 0,1,5\n"
        )
        assert "1 events recorded" in page
        event = await sync_to_async(Event.objects.select_related("actor").get)(ballot=ballots[0])
        assert event.actor.username == "desk"
        got_a, got_b = await on_a.events(1, timeout=20), await on_b.events(1, timeout=20)
        for got in (got_a, got_b):
            assert [(int(e["id"]), e["kind"]) for e in got] == [(event.pk, "BALLOT_DECLARED")]
            assert got[0]["ballot"]["candidacies"] == [
                {"name": "Ann Able", "votes": 10, "elected": True},
                {"name": "Bob Baker", "votes": 5, "elected": False},
            ]
        await on_a.nothing_more(0.5)


async def test_resuming_after_a_server_restart_delivers_every_event_once_in_order(servers):
    ballots = await sync_to_async(make_council)("restartshire", 6)
    server = servers()
    start = await sync_to_async(last_event_id)()
    received: list[dict] = []
    async with GraphQLWS(server.ws_url) as client:
        await client.subscribe(str(start))
        await asyncio.sleep(0.3)
        await sync_to_async(declare)(ballots[0])
        received += await client.events(1)
        server.kill()  # SIGKILL: no goodbye
        # Declared while the server is down: the client cannot hear of them.
        for ballot in ballots[1:5]:
            await sync_to_async(declare)(ballot)
    server = servers(port=server.port)  # restarted on the same address
    async with GraphQLWS(server.ws_url) as client:
        await client.subscribe(received[-1]["id"])
        expected = await sync_to_async(event_ids_after)(start)
        received += await client.events(len(expected) - 1)
        # And live again after the replay.
        await sync_to_async(declare)(ballots[5])
        received += await client.events(1)
        await client.nothing_more(0.5)
    expected = await sync_to_async(event_ids_after)(start)
    assert [(int(e["id"]), e["kind"]) for e in received] == expected
    assert [e["kind"] for e in received] == ["BALLOT_DECLARED"] * 4 + ["CONTROL_CALLED"] + [
        "BALLOT_DECLARED"
    ] * 2


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
async def test_the_npm_graphql_ws_client_receives_a_declaration(servers):
    if not (NODE_CLIENT / "node_modules" / "graphql-ws").is_dir():
        pytest.fail("run `npm ci` in tests/node first (.ci/run does)")
    ballots = await sync_to_async(make_council)("nodeshire", 2)
    server = servers()
    cursor = await sync_to_async(last_event_id)()
    node = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_CLIENT / "subscribe.mjs"),
        server.ws_url,
        str(cursor),
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(0.5)
    event = await sync_to_async(declare)(ballots[0])
    stdout, stderr = await asyncio.wait_for(node.communicate(), 30)
    assert node.returncode == 0, stderr.decode()
    [line] = stdout.decode().splitlines()
    assert json.loads(line) == {
        "data": {
            "events": {
                "id": str(event.pk),
                "kind": "BALLOT_DECLARED",
                "ballot": {
                    "id": "local.nodeshire.ward-0.2023-05-04",
                    "status": "DECLARED",
                    "candidacies": [
                        {"name": "Ann Able", "votes": 10, "elected": True},
                        {"name": "Bob Baker", "votes": 5, "elected": False},
                    ],
                    "election": {
                        "id": "local.nodeshire.2023-05-04",
                        "seatsDeclared": 1,
                        "control": {"called": False, "headline": None},
                    },
                },
            }
        }
    }


async def test_an_idle_subscription_stays_open_on_redis(servers):
    # redis-py reads time out after 5 s by default, exactly the blocking pop of
    # channels-redis: without the longer socket timeout in settings, the server
    # dropped every WebSocket that had been idle for 5 s.
    ballots = await sync_to_async(make_council)("quietshire", 1)
    server = servers()
    async with GraphQLWS(server.ws_url) as client:
        await client.subscribe(str(await sync_to_async(last_event_id)()))
        await asyncio.sleep(6.5)
        event = await sync_to_async(declare)(ballots[0])
        assert [int(e["id"]) for e in await client.events(1)] == [event.pk]


async def test_a_client_that_stops_reading_does_not_hold_up_the_others(servers):
    ballots = await sync_to_async(make_council)("stallshire", 40)
    server = servers()
    cursor = str(await sync_to_async(last_event_id)())
    # The stalled client asks for every event with the whole council in it (about 4 kB
    # each, uncompressed) and then reads nothing, through a 4 kB receive buffer: its
    # library stops taking frames off the socket after one message, so what the
    # socket buffers cannot hold waits on the server.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    stalled = await connect(
        server.ws_url,
        sock=sock,
        subprotocols=["graphql-transport-ws"],
        max_queue=1,
        ping_interval=None,
        compression=None,
        close_timeout=1,
    )
    heavy = "subscription($after: String) { events(after: $after) { id election { ballots { id candidacies { name votes elected party { id name } } } } } }"
    await stalled.send(json.dumps({"type": "connection_init"}))
    await stalled.send(
        json.dumps(
            {"id": "1", "type": "subscribe", "payload": {"query": heavy, "variables": {"after": cursor}}}
        )
    )
    try:
        async with GraphQLWS(server.ws_url) as reader:
            await reader.subscribe(cursor)
            await asyncio.sleep(0.3)
            for ballot in ballots:
                await sync_to_async(declare)(ballot)
            expected = await sync_to_async(event_ids_after)(int(cursor))
            received = await reader.events(len(expected), timeout=30)
            assert [(int(e["id"]), e["kind"]) for e in received] == expected
    finally:
        await stalled.close()
