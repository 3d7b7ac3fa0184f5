"""The WebSocket endpoint: keys in connection_init, subscription caps, revocation, message hygiene."""

import asyncio
import json
import threading
import time
import uuid

import pytest
from asgiref.sync import sync_to_async

from partners import keys
from schema import access, live

from .test_limits import fragment_bomb
from .test_subscriptions import Client, declare, make_council

pytestmark = [
    pytest.mark.usefixtures("close_thread_connections"),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

EVENTS = "subscription { events { id kind } }"
EVENTS_AFTER = "subscription($after: String) { events(after: $after) { id kind } }"


@pytest.fixture(autouse=True)
def fresh_loop_state(monkeypatch):
    """A fresh hub and watcher per test, looking at revoked keys often."""
    live._hubs.clear()
    access._watchers.clear()
    monkeypatch.setattr(live, "POLL_INTERVAL", 0.2)
    monkeypatch.setattr(access, "KEY_CHECK_INTERVAL", 0.2)
    yield
    for hub in live._hubs.values():
        for task in (hub._task, hub._listener):
            if task is not None:
                task.cancel()
    for watcher in access._watchers.values():
        if watcher._task is not None:
            watcher._task.cancel()
    live._hubs.clear()
    access._watchers.clear()


def new_key(**fields):
    partner = keys.create_partner(f"Outlet {uuid.uuid4().hex[:6]}", **fields)
    return keys.issue_key(partner, "tests")


async def closed(client, timeout=3):
    message = await client.ws.receive_output(timeout)
    assert message["type"] == "websocket.close", message
    return message["code"], message.get("reason")


async def init(client, payload):
    await client.ws.connect()
    await client.send({"type": "connection_init", "payload": payload})


@pytest.mark.parametrize("frame", ["[]", "null", "42", '"x"', "true"])
async def test_json_frames_that_are_not_objects_are_closed_with_4400(frame):
    client = await Client().connect()
    await client.ws.send_to(frame)
    assert await closed(client) == (4400, "Each message must be a JSON object")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": 5}, "A message's `type` must be a string"),
        (
            {"type": "subscribe", "id": "1", "payload": []},
            "A subscribe payload must be an object with a string `query`",
        ),
        (
            {"type": "subscribe", "id": 1, "payload": {"query": EVENTS}},
            "A message's `id` must be a string of 1 to 128 characters",
        ),
        (
            {"type": "subscribe", "id": "1", "payload": {"query": EVENTS, "variables": [1]}},
            "`variables` must be an object",
        ),
    ],
)
async def test_malformed_protocol_messages_are_closed_with_4400_and_the_reason(message, reason):
    client = await Client().connect()
    await client.send(message)
    assert await closed(client) == (4400, reason)


async def test_deeply_nested_json_is_closed_with_4400():
    client = await Client().connect()
    await client.ws.send_to("[" * 50_000)
    assert await closed(client) == (4400, "WebSocket message must be valid JSON")


async def test_a_message_over_the_size_limit_is_closed_with_1009():
    client = await Client().connect()
    await client.ws.send_to(json.dumps({"type": "ping", "pad": "x" * 70_000}))
    assert await closed(client) == (1009, "Message too big: at most 65536 characters")


async def test_the_fragment_bomb_is_refused_over_websocket_at_once():
    client = await Client().connect()
    started = time.perf_counter()
    await client.send({"id": "1", "type": "subscribe", "payload": {"query": fragment_bomb(30)}})
    message = await client.receive()
    assert time.perf_counter() - started < 0.5
    assert message == {
        "id": "1",
        "type": "error",
        "payload": [
            {
                "message": f"The operation selects {2**31} fields with fragments expanded; at most 500 are allowed.",
                "extensions": {"code": "TOO_MANY_FIELDS"},
            }
        ],
    }


async def test_keys_mode_closes_a_connection_without_a_valid_key_with_4401(settings):
    settings.PUBLIC_API = "keys"
    anonymous = Client()
    await init(anonymous, {})
    assert await closed(anonymous) == (
        4401,
        'API key required: send {"apiKey": "..."} in the connection_init payload.',
    )
    wrong = Client()
    await init(wrong, {"apiKey": "eln_wrong"})
    assert await closed(wrong) == (4401, "Invalid API key: unknown or revoked.")
    _, raw = await sync_to_async(new_key)()
    good = Client()
    await init(good, {"apiKey": raw})
    assert await good.receive() == {"type": "connection_ack"}
    await good.close()


async def test_a_suspended_partner_is_closed_with_4403(settings):
    settings.PUBLIC_API = "keys"
    key, raw = await sync_to_async(new_key)(active=False)
    client = Client()
    await init(client, {"apiKey": raw})
    assert await closed(client) == (4403, "Partner access suspended: contact the newsroom.")


async def test_concurrent_subscriptions_are_capped_per_partner_across_connections(settings):
    settings.PUBLIC_API = "keys"
    _, raw = await sync_to_async(new_key)(max_subscriptions=2)
    one, two = Client(), Client()
    for client in (one, two):
        await init(client, {"apiKey": raw})
        assert await client.receive() == {"type": "connection_ack"}
    await one.send({"id": "a", "type": "subscribe", "payload": {"query": EVENTS}})
    await one.send({"id": "b", "type": "subscribe", "payload": {"query": EVENTS}})
    await asyncio.sleep(0.2)
    await two.send({"id": "c", "type": "subscribe", "payload": {"query": EVENTS}})
    refused = await two.receive()
    assert refused == {
        "id": "c",
        "type": "error",
        "payload": [
            {
                "message": "Subscription limit reached: this key's partner may hold 2 at once. "
                "Complete one before starting another.",
                "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS"},
            }
        ],
    }
    await one.send({"id": "a", "type": "complete"})
    await asyncio.sleep(0.2)
    ballots = await sync_to_async(make_council)(wards=1)
    # From the log's position now: the declaration below reaches "d" however long the server takes to
    # start it (a live-only subscription started after the declaration committed would never see it).
    position = await sync_to_async(live.latest_event_id)()
    await two.send(
        {
            "id": "d",
            "type": "subscribe",
            "payload": {"query": EVENTS_AFTER, "variables": {"after": str(position)}},
        }
    )
    event = await sync_to_async(declare)(ballots[0])
    [got] = await two.events(1)
    assert got["payload"] == {"data": {"events": {"id": str(event.pk), "kind": "BALLOT_DECLARED"}}}
    await one.close()
    await two.close()


async def test_a_revoked_key_ends_its_open_subscriptions_within_seconds(settings):
    settings.PUBLIC_API = "keys"
    key, raw = await sync_to_async(new_key)()
    client = Client()
    await init(client, {"apiKey": raw})
    assert await client.receive() == {"type": "connection_ack"}
    await client.send({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}})
    await asyncio.sleep(0.2)
    await sync_to_async(keys.revoke_key)(key)
    started = time.monotonic()
    assert await closed(client, timeout=5) == (
        4403,
        "API key revoked or partner suspended: connection ended.",
    )
    assert time.monotonic() - started < 3
    await client.close()  # the client's side of the closing handshake
    watcher = next(iter(access._watchers.values()))
    assert watcher.leases == {}  # its slot is free again


async def test_sockets_replaying_the_whole_log_share_its_reads(monkeypatch):
    monkeypatch.setattr(live, "REPLAY_BATCH", 10)
    reads = []
    original = live.load_events_after

    def recording(cursor, limit):
        reads.append(cursor)
        return original(cursor, limit)

    monkeypatch.setattr(live, "load_events_after", recording)
    ballots = await sync_to_async(make_council)(wards=45)
    # The log so far holds the council's setup (reference data, nominations): replay from after it.
    start = await sync_to_async(
        lambda: live.Event.objects.order_by("-id").values_list("id", flat=True).first()
    )()
    for ballot in ballots:
        await sync_to_async(declare)(ballot)
    expected = await sync_to_async(
        lambda: list(live.Event.objects.filter(id__gt=start).order_by("id").values_list("id", flat=True))
    )()
    assert len(expected) == 46  # 45 declarations and the control call
    clients = [await Client().connect() for _ in range(20)]
    for client in clients:
        await client.subscribe(after=str(start))
    for client in clients:
        got = [int(m["payload"]["data"]["events"]["id"]) for m in await client.events(46, timeout=20)]
        assert got == expected
    # Four full batches of ten, each read once for all twenty sockets; the tail (six events)
    # read again only by sockets that registered after a shared read of it began.
    full = [start, *expected[9:39:10]]
    assert [reads.count(cursor) for cursor in full] == [1, 1, 1, 1]
    assert set(reads) - {expected[-1]} == {*full, expected[39]}  # (the hub reads after the last one)
    assert reads.count(expected[39]) <= 20
    for client in clients:
        await client.close()


async def test_random_frames_get_a_reply_or_a_clean_close_never_a_logged_error(caplog):
    import random

    from .test_fuzz import Walker, mutate, random_body

    rng = random.Random(4052023)
    frames = []
    for i in range(300):
        kind = rng.randrange(4)
        if kind == 0:
            document = Walker(rng, wrong=0.2).document()
            document = mutate(rng, document) if i % 2 else document
            frames.append(json.dumps({"id": str(i), "type": "subscribe", "payload": {"query": document}}))
        elif kind == 1:
            frames.append(random_body(rng).decode("utf-8", "replace"))
        elif kind == 2:
            frames.append(
                json.dumps(
                    rng.choice(
                        [
                            {"type": "ping"},
                            {"type": "pong"},
                            {"type": "complete", "id": "1"},
                            {"type": "connection_init"},
                            {"type": "subscribe"},
                            {"id": None},
                        ]
                    )
                )
            )
        else:
            frames.append("".join(rng.choice('{}[]":,1aé\\') for _ in range(rng.randrange(1, 40))))
    closes = {}
    caplog.set_level("ERROR")
    for start in range(0, len(frames), 10):
        client = await Client().connect()
        for frame in frames[start : start + 10]:
            await client.ws.send_to(frame)
        while True:
            try:
                message = await client.ws.receive_output(timeout=0.5)
            except TimeoutError:
                break
            if message["type"] == "websocket.close":
                closes[message["code"]] = closes.get(message["code"], 0) + 1
                break
            assert isinstance(json.loads(message["text"]), dict)
        await client.close()
    print(f"\nclosed: {closes}")
    assert sum(closes.values()) >= 20 and set(closes) <= {4400, 4409, 4429}, closes
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


async def test_a_websocket_subscribe_reads_no_rehearsal_state(monkeypatch):
    """A subscription's payloads read the state as each event goes; its subscribe must not read it
    in the event loop (a synchronous cache round trip, on a new Redis connection per WebSocket)."""
    from results import rehearsal

    reads = []  # in the event loop's thread (the hub reads the state in a worker thread, as it should)
    loop_thread = threading.current_thread()
    original = rehearsal.current

    def current():
        if threading.current_thread() is loop_thread:
            reads.append("current")
        return original()

    monkeypatch.setattr(rehearsal, "cached", lambda: reads.append("cached"))
    monkeypatch.setattr(rehearsal, "current", current)
    client = await Client().connect()
    await client.send({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}})
    await asyncio.sleep(0.3)
    await client.send({"id": "1", "type": "complete"})
    await client.ws.disconnect()
    assert reads == []


@pytest.mark.skipif(not access.settings.REDIS_URL, reason="needs REDIS_URL")
async def test_a_burst_of_counts_and_leases_goes_to_redis_in_a_few_round_trips(settings):
    """Thousands of clients counting at once share round trips (one MULTI per batch) rather than
    queueing for the pool's connections, where they timed out and were let through uncounted."""
    settings.QUOTA_NAMESPACE = f"burst{uuid.uuid4().hex[:8]}"
    counter = access.RedisCounter(settings.REDIS_URL)
    try:
        hits = await asyncio.gather(*(counter.hit("address:burst", 10_000) for _ in range(3_000)))
        leases = await asyncio.gather(
            *(counter.acquire("address:burst", f"m{i}", 2_500) for i in range(3_000))
        )
        assert sorted(d.remaining for d in hits) == list(range(7_000, 10_000))
        assert leases.count(True) == 2_500
        key = f"{settings.QUOTA_NAMESPACE}:subscriptions:address:burst"
        assert await counter.redis.zcard(key) == 2_500
        await asyncio.gather(*(counter.release("address:burst", f"m{i}") for i in range(3_000)))
        assert await counter.redis.zcard(key) == 0
        # All of it over one connection of the pool (a second: the zcard above, beside a batch of
        # the refused leases' releases); a connection per call took all eight, and waited for them.
        pool = counter.redis.connection_pool
        assert len(pool._available_connections) + len(pool._in_use_connections) <= 2
    finally:
        keys_ = [k async for k in counter.redis.scan_iter(f"{settings.QUOTA_NAMESPACE}:*")]
        if keys_:
            await counter.redis.delete(*keys_)
        await counter.redis.aclose()
