"""Partners' keys, quotas and the document limits against real server processes on PostgreSQL and Redis.

Like test_live_servers.py, these need PostgreSQL (DATABASE_URL) and Redis
(REDIS_URL) and are skipped without them, unless REQUIRE_SERVICES=1.
"""

import asyncio
import json
import socket
import statistics
import time
import urllib.error
import urllib.request
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from partners import keys

from .test_limits import fragment_bomb
from .test_live_servers import _missing, declare, last_event_id, make_council

pytestmark = [
    pytest.mark.usefixtures("close_thread_connections"),
    pytest.mark.skipif(_missing is not None, reason=_missing or ""),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


NORMAL = '{ election(id: "local.testshire.2023-05-04") { id seatsTotal control { called } } }'


def request(port: int, body: bytes | dict, headers: dict | None = None, timeout: float = 30):
    """POST /graphql; returns (status, headers, body, seconds)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=data,
        headers={
            "Content-Type": "application/json",
            "Accept": "application/graphql-response+json",
            **(headers or {}),
        },
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return (
                response.status,
                dict(response.headers),
                json.loads(response.read()),
                time.perf_counter() - started,
            )
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read()), time.perf_counter() - started


def new_key(**fields) -> str:
    partner = keys.create_partner(f"Outlet {uuid.uuid4().hex[:6]}", **fields)
    return keys.issue_key(partner, "tests")[1]


async def test_two_processes_share_one_partners_quota_then_it_recovers(servers):
    raw = await sync_to_async(new_key)(per_minute=4)
    # A short window so that the test can see it end; a fresh window before starting.
    a, b = servers(QUOTA_WINDOW="3"), servers(QUOTA_WINDOW="3")
    while time.time() % 3 > 1:
        await asyncio.sleep(0.05)
    answers = [
        await asyncio.to_thread(request, server.port, {"query": "{ parties { id } }"}, {"X-API-Key": raw})
        for server in (a, b, a, b, a, b)
    ]
    assert [status for status, *_ in answers] == [200, 200, 200, 200, 429, 429]
    assert [h["ratelimit-remaining"] for _, h, *_ in answers] == ["3", "2", "1", "0", "0", "0"]
    status, headers, body, _ = answers[4]
    assert body["errors"][0]["extensions"] == {"code": "RATE_LIMITED"}
    retry = int(headers["retry-after"])
    assert 1 <= retry <= 3
    await asyncio.sleep(retry)
    status, headers, body, _ = await asyncio.to_thread(
        request, b.port, {"query": "{ parties { id } }"}, {"X-API-Key": raw}
    )
    assert (status, headers["ratelimit-remaining"]) == (200, "3")


async def test_two_keys_of_one_partner_share_its_quota_and_each_keys_use_is_recorded(servers):
    """The quota is the partner's, so a rotation (two live keys) does not double it; each
    key's own use (requests made with it, counted or refused) is recorded for the admin."""
    partner = await sync_to_async(keys.create_partner)(f"Outlet {uuid.uuid4().hex[:6]}", per_minute=4)
    (old, old_raw), (new, new_raw) = [await sync_to_async(keys.issue_key)(partner) for _ in range(2)]
    a, b = servers(QUOTA_WINDOW="3"), servers(QUOTA_WINDOW="3")
    while time.time() % 3 > 1:
        await asyncio.sleep(0.05)
    plan = [(a, old_raw), (b, new_raw), (a, new_raw), (b, old_raw), (a, new_raw), (b, new_raw)]
    statuses = [
        (await asyncio.to_thread(request, server.port, {"query": "{ parties { id } }"}, {"X-API-Key": raw}))[
            0
        ]
        for server, raw in plan
    ]
    assert statuses == [200, 200, 200, 200, 429, 429]
    await asyncio.sleep(2.5)  # each process records its keys' uses every 2 s

    def recorded():
        for key in (old, new):
            key.refresh_from_db()
        return (old.use_count, new.use_count, old.last_used_at is not None, new.last_used_at is not None)

    assert await sync_to_async(recorded)() == (2, 4, True, True)


async def test_a_revoked_key_is_refused_at_once_and_its_subscription_ended(servers):
    partner = await sync_to_async(keys.create_partner)(f"Outlet {uuid.uuid4().hex[:6]}")
    key, raw = await sync_to_async(keys.issue_key)(partner)
    a, b = servers(PUBLIC_API="keys"), servers(PUBLIC_API="keys")
    ws = await connect(f"ws://127.0.0.1:{a.port}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": raw}}))
    assert json.loads(await ws.recv()) == {"type": "connection_ack"}
    await ws.send(
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "subscription { events { id } }"}})
    )
    await asyncio.sleep(0.3)
    assert (await asyncio.to_thread(request, b.port, {"query": "{ parties { id } }"}, {"X-API-Key": raw}))[
        0
    ] == 200
    await sync_to_async(keys.revoke_key)(key)
    revoked_at = time.monotonic()
    status, _, body, _ = await asyncio.to_thread(
        request, b.port, {"query": "{ parties { id } }"}, {"X-API-Key": raw}
    )
    assert (status, body["errors"][0]["extensions"]["code"]) == (401, "UNAUTHENTICATED")
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
        4403,
        "API key revoked or partner suspended: connection ended.",
    )
    assert time.monotonic() - revoked_at < 5


async def test_the_server_does_not_compress_websocket_messages(servers):
    server = servers()
    async with connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # it offers deflate
        assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None


async def test_keys_mode_refuses_anonymous_clients_over_http_and_websocket(servers):
    server = servers(PUBLIC_API="keys")
    status, headers, body, _ = await asyncio.to_thread(request, server.port, {"query": "{ parties { id } }"})
    assert (status, headers["www-authenticate"]) == (401, 'Bearer realm="graphql", charset="UTF-8"')
    assert body["errors"][0]["message"].startswith("An API key is required")
    ws = await connect(f"ws://127.0.0.1:{server.port}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init"}))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 4401


def hostile_documents() -> dict[str, bytes]:
    def body(query, variables=None):
        return json.dumps({"query": query, "variables": variables}).encode()

    return {
        "fragment bomb (30 fragments, 2^30 spreads)": body(fragment_bomb(30)),
        "5,000 aliases": body("{ " + " ".join(f"a{i}: parties {{ id }}" for i in range(5000)) + " }"),
        "200 aliased nationalSummary": body(
            "{ "
            + " ".join(
                f'n{i}: nationalSummary(pollDate: "2023-05-04") {{ councilsTotal }}' for i in range(200)
            )
            + " }"
        ),
        "4 aliased nationalSummary": body(
            "{ "
            + " ".join(f'n{i}: nationalSummary(pollDate: "2023-05-04") {{ councilsTotal }}' for i in range(4))
            + " }"
        ),
        "deep nesting (40 levels)": body(
            "{ elections { " + "ballots { election { " * 20 + "id" + " } }" * 20 + " } }"
        ),
        "events(first: 500) with every council's results": body(
            "{ events(first: 500) { council { elections { ballots { candidacies { name votes } } } } } }"
        ),
        "huge variables (1 MB)": body("query($x: [String!]) { parties { id } }", {"x": ["y" * 100] * 10_000}),
        "very large body (1 MB of spaces)": body("{ parties { id } }" + " " * 1_000_000),
        "JSON nested 50,000 deep": b"[" * 50_000 + b"]" * 50_000,
    }


async def test_hostile_documents_are_refused_in_milliseconds_while_a_normal_query_keeps_its_latency(servers):
    await sync_to_async(make_council)("testshire", 3)
    server = servers()
    port = server.port
    for _ in range(3):  # warm up
        await asyncio.to_thread(request, port, {"query": NORMAL})
    alone = [(await asyncio.to_thread(request, port, {"query": NORMAL}))[3] for _ in range(10)]
    usual = statistics.median(alone)
    report = []
    for name, document in hostile_documents().items():
        refusals, parallels = [], []
        for _ in range(3):
            hostile = asyncio.create_task(asyncio.to_thread(request, port, document))
            await asyncio.sleep(0.002)
            status, _, answer, parallel = await asyncio.to_thread(request, port, {"query": NORMAL})
            assert status == 200 and answer["data"]["election"]["seatsTotal"] == 3
            code, _, body, took = await hostile
            assert 400 <= code < 500, (name, code, body)
            assert "data" not in body and body["errors"][0]["message"], (name, body)
            refusals.append(took)
            parallels.append(parallel)
        report.append((name, code, min(refusals), min(parallels)))
    print(f"\nnormal query alone: {usual * 1000:.1f} ms (median of 10)")
    for name, code, took, parallel in report:
        print(f"{name}: {code} in {took * 1000:.1f} ms; parallel normal query {parallel * 1000:.1f} ms")
    # Best of three: a loaded CI machine delays everything now and then, not every time.
    for name, _, took, parallel in report:
        assert took < 0.05, (name, took)
        # (Before: the fragment bomb held every other client for as long as it liked, and
        # 5,000 aliases for 6 s.) Generous: the machine is shared with other work.
        assert parallel < max(4 * usual, usual + 0.15), (name, parallel, usual)
    assert "Traceback" not in server.output()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


REPLAY = """subscription { events(after: "0") {
  id kind election { id seatsDeclared ballots { id status candidacies { name votes elected } } } } }"""


async def test_a_hundred_sockets_replaying_the_whole_log_leave_others_served(servers):
    ballots = await sync_to_async(make_council)("replayshire", 121)
    for ballot in ballots[:120]:
        await sync_to_async(declare)(ballot)
    total = 121  # 120 declarations and the control call
    server = servers(ANONYMOUS_MAX_SUBSCRIPTIONS="200")  # all from one address here
    for _ in range(3):
        await asyncio.to_thread(request, server.port, {"query": NORMAL.replace("testshire", "replayshire")})
    before = rss_mib(server.process.pid)
    url = f"ws://127.0.0.1:{server.port}/graphql"

    async def replayer() -> int:
        async with connect(url, subprotocols=["graphql-transport-ws"], max_size=None) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            await ws.recv()
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": REPLAY}}))
            count = 0
            async with asyncio.timeout(120):
                while count < total:
                    message = json.loads(await ws.recv())
                    assert message["type"] == "next", message
                    count += 1
            return count

    live = await connect(url, subprotocols=["graphql-transport-ws"])
    await live.send(json.dumps({"type": "connection_init"}))
    await live.recv()
    await live.send(
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "subscription { events { id } }"}})
    )
    peak = before
    replays = [asyncio.create_task(replayer()) for _ in range(100)]
    await asyncio.sleep(0.5)  # the replays are under way
    status, _, answer, took = await asyncio.to_thread(
        request, server.port, {"query": NORMAL.replace("testshire", "replayshire")}
    )
    assert (status, answer["data"]["election"]["seatsTotal"]) == (200, 121)
    event = await sync_to_async(declare)(ballots[120])
    async with asyncio.timeout(20):
        message = json.loads(await live.recv())
    assert message["payload"]["data"]["events"]["id"] == str(event.pk)
    while not all(r.done() for r in replays):
        peak = max(peak, rss_mib(server.process.pid))
        await asyncio.sleep(0.2)
    counts = [r.result() for r in replays]
    await live.close()
    print(f"\nRSS {before:.0f} MiB before, {peak:.0f} MiB at peak; a normal query took {took * 1000:.0f} ms")
    assert counts == [total] * 100
    # Before replays were shared and took turns, 100 of them held a normal query for over
    # 30 s and took the process from 270 MiB to 1.7 GiB; on a two-core machine that also
    # runs the 100 clients, the normal query now waits a few seconds at worst.
    assert took < 10.0
    assert peak - before < 300


async def test_the_fragment_bomb_over_websocket_is_refused_at_once_and_http_keeps_its_latency(servers):
    await sync_to_async(make_council)("testshire", 3)
    server = servers()
    for _ in range(3):
        await asyncio.to_thread(request, server.port, {"query": NORMAL})
    usual = statistics.median(
        [(await asyncio.to_thread(request, server.port, {"query": NORMAL}))[3] for _ in range(5)]
    )
    ws = await connect(f"ws://127.0.0.1:{server.port}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init"}))
    await ws.recv()
    started = time.perf_counter()
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": fragment_bomb(22)}}))
    status, _, _, parallel = await asyncio.to_thread(request, server.port, {"query": NORMAL})
    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
    took = time.perf_counter() - started
    await ws.close()
    print(
        f"\nfragment bomb (22) over WebSocket refused in {took * 1000:.1f} ms; parallel HTTP {parallel * 1000:.1f} ms"
    )
    assert (message["type"], message["payload"][0]["extensions"]["code"]) == ("error", "TOO_MANY_FIELDS")
    assert status == 200
    assert took < 0.5
    assert parallel < max(4 * usual, usual + 0.15)


BIG_REPLAY = """subscription { events(after: "0") { id kind election { id seatsDeclared
  ballots { id status declaredAt turnout candidacies { name votes elected share party { id name shortName colour } } } } } }"""


class RawClient:
    """A graphql-transport-ws client on a bare socket (websockets' sans-I/O protocol), which
    reads the socket only when told to: a client that stops reading, with no library
    taking frames off the socket behind the test's back."""

    def __init__(self, port: int):
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # a phone's, say
        self.sock.settimeout(10)
        self.protocol = ClientProtocol(
            parse_uri(f"ws://127.0.0.1:{port}/graphql"), subprotocols=["graphql-transport-ws"], max_size=None
        )
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        self.messages: list[dict] = []
        while not self.protocol.events_received():
            self.protocol.receive_data(self.sock.recv(65536))  # the handshake's response

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)

    def send(self, message: dict) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self._flush()

    def read_until_closed(self) -> tuple[int | None, str | None]:
        """Read everything (kept in ``messages``) until the server's close frame; its code and reason."""
        while self.protocol.close_rcvd is None:
            data = self.sock.recv(1 << 20)
            if not data:
                break
            self.protocol.receive_data(data)
            for frame in self.protocol.events_received():
                if frame.opcode.name == "TEXT":
                    self.messages.append(json.loads(frame.data))
        close = self.protocol.close_rcvd
        self.sock.close()
        return (close.code, close.reason) if close else (None, None)


async def test_a_client_that_stops_reading_is_closed_with_4008_and_holds_no_one_up(servers):
    from schema.ws import TOO_SLOW, TOO_SLOW_REASON

    ballots = await sync_to_async(make_council)("slowshire", 61)
    for ballot in ballots[:60]:
        await sync_to_async(declare)(ballot)
    latest = str(await sync_to_async(last_event_id)())  # the control call, after the setup's events
    server = servers(WS_STALL_TIMEOUT="2")
    query = {"query": NORMAL.replace("testshire", "slowshire")}
    for _ in range(3):
        await asyncio.to_thread(request, server.port, query)
    usual = statistics.median([(await asyncio.to_thread(request, server.port, query))[3] for _ in range(5)])
    before = rss_mib(server.process.pid)
    url = f"ws://127.0.0.1:{server.port}/graphql"
    # The slow client subscribes 20 replays of the whole log (over 30 MB, far more than the
    # sockets' buffers hold) and then reads nothing.
    slow = await asyncio.to_thread(RawClient, server.port)
    slow.send({"type": "connection_init"})
    for op in range(20):
        slow.send({"id": str(op), "type": "subscribe", "payload": {"query": BIG_REPLAY}})
    await asyncio.sleep(1)

    # Meanwhile another client replays the whole log, and a normal query keeps its latency.
    started = time.perf_counter()
    async with connect(url, subprotocols=["graphql-transport-ws"], max_size=None) as other:
        await other.send(json.dumps({"type": "connection_init"}))
        await other.recv()
        await other.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": REPLAY}}))
        ids = []
        async with asyncio.timeout(60):
            while not ids or ids[-1] != latest:
                ids.append(json.loads(await other.recv())["payload"]["data"]["events"]["id"])
    other_took = time.perf_counter() - started
    parallel = [(await asyncio.to_thread(request, server.port, query))[3] for _ in range(5)]
    peak = before
    async with asyncio.timeout(60):  # until the server has closed it, 2 s after its backlog grew
        while "closed a WebSocket client too slow to read (4008)" not in server.output():
            peak = max(peak, rss_mib(server.process.pid))
            await asyncio.sleep(0.2)

    # When it reads again, it finds what was sent before the close, then the close: 4008.
    code, reason = await asyncio.to_thread(slow.read_until_closed)
    last = {m["id"]: m["payload"]["data"]["events"]["id"] for m in slow.messages if m["type"] == "next"}
    print(
        f"\nother client's replay {other_took:.1f} s; normal query {usual * 1000:.0f} ms alone, "
        f"{statistics.median(parallel) * 1000:.0f} ms meanwhile; RSS {before:.0f} -> {peak:.0f} MiB; "
        f"the slow client read {len(slow.messages)} messages, then {code}"
    )
    assert (code, reason) == (TOO_SLOW, TOO_SLOW_REASON)
    assert ids == sorted(ids, key=int) and len(ids) == len(set(ids)) > 61
    assert slow.messages[0] == {"type": "connection_ack"}
    assert len(last) == 20 and max(int(v) for v in last.values()) < int(latest)  # closed before the end
    assert peak - before < 100
    assert statistics.median(parallel) < max(4 * usual, usual + 0.2)

    # It resumes from the last cursor it received and gets the rest, with no gap.
    resume_from = last["0"]
    async with connect(url, subprotocols=["graphql-transport-ws"], max_size=None) as again:
        await again.send(json.dumps({"type": "connection_init"}))
        await again.recv()
        document = REPLAY.replace('events(after: "0")', "events(after: $after)").replace(
            "subscription {", "subscription($after: String) {"
        )
        await again.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": document, "variables": {"after": resume_from}},
                }
            )
        )
        rest = ids[ids.index(resume_from) + 1 :]
        async with asyncio.timeout(60):
            got = [json.loads(await again.recv())["payload"]["data"]["events"]["id"] for _ in rest]
    assert got == rest
    assert "Traceback" not in server.output()


STORM = 500  # WebSocket clients connecting at once
STORM_CAP = 480  # the anonymous address's concurrent subscriptions


def _abandoned_upgrade(port: int) -> None:
    """A client that asks for a WebSocket and is gone (reset) before the server has answered."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        )
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


async def test_a_connection_storm_is_counted_and_served_without_errors(servers):
    """Election night after a deploy: every page and partner reconnects at once. Every
    connection_init and subscribe is counted in Redis (none let through uncounted), the
    subscription cap holds exactly, every subscriber gets the next event, and clients that
    give up before their connect is handled cost the server no ASGI exception."""
    import redis

    namespace = f"storm{uuid.uuid4().hex[:8]}"
    ballots = await sync_to_async(make_council)("stormshire", 1)
    server = servers(
        QUOTA_NAMESPACE=namespace,
        ANONYMOUS_MAX_SUBSCRIPTIONS=str(STORM_CAP),
        ANONYMOUS_PER_MINUTE="100000",
    )
    url = f"ws://127.0.0.1:{server.port}/graphql"
    subscription = json.dumps(
        {"id": "1", "type": "subscribe", "payload": {"query": "subscription { events { id kind } }"}}
    )

    async def subscriber():
        ws = await connect(url, subprotocols=["graphql-transport-ws"], open_timeout=60)
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        await ws.send(subscription)
        return ws

    store = redis.Redis.from_url(settings.REDIS_URL)

    def count() -> int:
        return sum(int(store.get(key)) for key in store.scan_iter(f"{namespace}:quota:address:*"))

    before = count()  # the server's readiness probe
    started = time.monotonic()
    abandoned = [asyncio.to_thread(_abandoned_upgrade, server.port) for _ in range(50)]
    sockets = await asyncio.gather(*(subscriber() for _ in range(STORM)), *abandoned)
    sockets = sockets[:STORM]
    connected_in = time.monotonic() - started
    try:
        # The subscriptions over the cap are refused with an error; the others wait for events.
        async def first_message(ws):
            try:
                return json.loads(await asyncio.wait_for(ws.recv(), 5))
            except TimeoutError:
                return None

        firsts = await asyncio.gather(*(first_message(ws) for ws in sockets))
        waiting = [ws for ws, message in zip(sockets, firsts, strict=True) if message is None]
        refused = [message for message in firsts if message is not None]
        for message in refused:
            assert message["type"] == "error", message
            assert message["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        assert (len(waiting), len(refused)) == (STORM_CAP, STORM - STORM_CAP)

        assert count() - before == 2 * STORM  # each connection_init and each subscribe
        assert store.zcard(f"{namespace}:subscriptions:address:127.0.0.1") == STORM_CAP

        event = await sync_to_async(declare)(ballots[0])
        async with asyncio.timeout(30):
            for ws in waiting:
                message = json.loads(await ws.recv())
                assert message["payload"]["data"]["events"]["id"] == str(event.pk), message
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    print(f"\n{STORM} clients connected and subscribed in {connected_in:.1f} s")
    output = server.output()
    assert "Exception in ASGI application" not in output, output[-3000:]
    assert "counting in Redis failed" not in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
