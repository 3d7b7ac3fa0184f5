"""Replays share each event's executed payload, per document and state of the log; per-subscriber
accounting stays per subscriber; live delivery never waits for the replays' turns."""

import asyncio
import threading
from collections import Counter

import pytest
from asgiref.sync import sync_to_async
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema import live, sharing

from .test_subscriptions import SUBSCRIPTION, Client, declare, ids, make_council
from .test_ws_access import new_key

pytestmark = [
    pytest.mark.usefixtures("close_thread_connections"),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BRIEF = "subscription($after: String) { events(after: $after) { id kind } }"
OPTIONAL_BALLOT = """subscription($after: String, $withBallot: Boolean!) {
  events(after: $after) { id ballot @include(if: $withBallot) { id } } }"""


@pytest.fixture(autouse=True)
def fresh_loop_state(monkeypatch):
    """A fresh hub and store of payloads per test; a short safety-net poll."""
    live._hubs.clear()
    sharing._stores.clear()
    monkeypatch.setattr(live, "POLL_INTERVAL", 0.2)
    yield
    for hub in live._hubs.values():
        for task in (hub._task, hub._listener):
            if task is not None:
                task.cancel()
    live._hubs.clear()
    sharing._stores.clear()


@pytest.fixture
def executions(monkeypatch):
    """Every payload execution of a subscription event: (document, variables, event id)."""
    done = []
    lock = threading.Lock()
    original = StrawberryGraphQLCoreExecutionContext.execute_operation

    def counted(self, serially=None):
        if self.operation.operation.value == "subscription":
            with lock:
                done.append(
                    (self.operation.loc.source.body, repr(self.variable_values.coerced), self.root_value.pk)
                )
        return original(self, serially)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_operation", counted, raising=False)
    return done


def latest():
    return live.latest_event_id()


async def subscribe(client, query, op_id="1", **variables):
    await client.send({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}})


async def test_replays_from_different_cursors_execute_each_event_once_per_document(monkeypatch, executions):
    monkeypatch.setattr(live, "REPLAY_BATCH", 4)  # several reads each, none at the same cursors
    ballots = await sync_to_async(make_council)(wards=8)
    start = await sync_to_async(latest)()
    for ballot in ballots:
        await sync_to_async(declare)(ballot)
    expected = list(range(start + 1, await sync_to_async(latest)() + 1))
    assert len(expected) == 9  # eight declarations and the control call
    same = [await Client().connect() for _ in range(4)]
    for i, client in enumerate(same):
        await client.subscribe(after=str(start + i))  # four cursors: four different reads of each event
    brief = await Client().connect()
    await subscribe(brief, BRIEF, after=str(start))
    with_ballot, without = await Client().connect(), await Client().connect()
    await subscribe(with_ballot, OPTIONAL_BALLOT, after=str(start), withBallot=True)
    await subscribe(without, OPTIONAL_BALLOT, after=str(start), withBallot=False)

    received = {}
    for i, client in enumerate(same):
        messages = await client.events(len(expected) - i)
        assert ids(messages) == expected[i:]  # every event after its cursor, once, in order
        received[i] = {int(m["payload"]["data"]["events"]["id"]): m["payload"] for m in messages}
        await client.nothing_more(0.2)
    for i in range(1, 4):  # the same payload whatever the cursor it was replayed from
        assert all(received[i][pk] == received[0][pk] for pk in expected[i:])
    assert ids(await brief.events(9)) == expected
    got_with, got_without = await with_ballot.events(9), await without.events(9)
    assert ids(got_with) == ids(got_without) == expected
    first = got_with[0]["payload"]["data"]["events"]
    assert first == {"id": str(expected[0]), "ballot": {"id": ballots[0].ballot_paper_id}}
    assert got_without[0]["payload"]["data"]["events"] == {"id": str(expected[0])}  # its own payload

    per_document = Counter((document, pk) for document, _, pk in executions)
    # Four subscribers at four cursors, 9 events: 9 executions, not 30 (4 + 3 + 2 + 1 fewer).
    assert [per_document[SUBSCRIPTION, pk] for pk in expected] == [1] * 9
    assert [per_document[BRIEF, pk] for pk in expected] == [1] * 9
    assert [per_document[OPTIONAL_BALLOT, pk] for pk in expected] == [2] * 9  # once per value of $withBallot
    assert len(executions) == 9 * 4
    for client in [*same, brief, with_ballot, without]:
        await client.close()


async def test_a_replay_from_a_cursor_inside_a_kept_batch_takes_the_rest_of_it(monkeypatch, executions):
    monkeypatch.setattr(live, "REPLAY_BATCH", 4)
    reads = []
    original = live.load_events_after

    def recording(cursor, limit):
        reads.append(cursor)
        return original(cursor, limit)

    monkeypatch.setattr(live, "load_events_after", recording)
    ballots = await sync_to_async(make_council)(wards=8)
    start = await sync_to_async(latest)()
    for ballot in ballots:
        await sync_to_async(declare)(ballot)
    expected = list(range(start + 1, await sync_to_async(latest)() + 1))
    first = await Client().connect()
    await first.subscribe(after=str(start))
    assert ids(await first.events(9)) == expected
    assert {start, start + 4, start + 8} <= set(reads)
    reads.clear()
    later = [await Client().connect() for _ in range(2)]
    await later[0].subscribe(after=str(start + 1))
    await later[1].subscribe(after=str(start + 6))
    assert ids(await later[0].events(8)) == expected[1:]
    assert ids(await later[1].events(3)) == expected[6:]
    assert set(reads) <= {expected[-1]}  # the hub's own look for news: no replay read again
    assert Counter(pk for _, _, pk in executions) == dict.fromkeys(expected, 1)
    for client in [first, *later]:
        await client.close()


async def test_a_payload_executed_before_a_newer_event_is_not_replayed_after_it(monkeypatch, executions):
    monkeypatch.setattr(live, "REPLAY_BATCH", 1)  # a full batch of one: kept for the next subscriber
    ballots = await sync_to_async(make_council)()
    start = await sync_to_async(latest)()
    first = await sync_to_async(declare)(ballots[0])
    early = await Client().connect()
    await early.subscribe(after=str(start))
    [replayed] = await early.events(1)
    election = replayed["payload"]["data"]["events"]["ballot"]["election"]
    assert election["seatsDeclared"] == 1
    second = await sync_to_async(declare)(ballots[1])  # the election now stands at two seats declared
    [arrived] = await early.events(1)
    assert ids([arrived]) == [second.pk]
    async with asyncio.timeout(3):  # (it may have reached this subscriber through its replay first)
        while live.hub().position != second.pk:
            await asyncio.sleep(0.05)

    late = await Client().connect()
    await late.subscribe(after=str(start))
    got = await late.events(2)
    assert ids(got) == [first.pk, second.pk]
    # The first event's payload shows its election as it stands now, not as it stood then.
    assert got[0]["payload"]["data"]["events"]["ballot"]["election"]["seatsDeclared"] == 2
    assert got[1]["payload"] == arrived["payload"]  # the live execution, shared with the replay
    assert Counter(pk for _, _, pk in executions) == {first.pk: 2, second.pk: 1}
    for client in (early, late):
        await client.close()


async def test_live_delivery_never_waits_for_the_replays_turns(executions):
    ballots = await sync_to_async(make_council)()
    start = await sync_to_async(latest)()
    first = await sync_to_async(declare)(ballots[0])
    listener = await Client().connect()
    await listener.subscribe()
    replayer = await Client().connect()
    await asyncio.sleep(0.3)  # the hub is running
    _, turns = sharing._loop_state()
    await turns.acquire()  # every replay turn taken, for as long as this test likes
    try:
        await replayer.subscribe(after=str(start))
        await replayer.nothing_more(0.3)  # waiting for its turn to execute the first event
        second = await sync_to_async(declare)(ballots[1])
        [got] = await listener.events(1, timeout=3)
        assert ids([got]) == [second.pk]
        await replayer.nothing_more(0.2)
    finally:
        turns.release()
    assert ids(await replayer.events(2)) == [first.pk, second.pk]
    for client in (listener, replayer):
        await client.close()


async def test_a_live_event_does_not_wait_for_a_replay_of_it_that_waits_for_its_turn(monkeypatch, executions):
    # The hub hears of new events only from its safety-net poll here: a replay reads the event first.
    monkeypatch.setattr(live, "get_channel_layer", lambda: None)
    monkeypatch.setattr(live, "POLL_INTERVAL", 1.5)
    ballots = await sync_to_async(make_council)()
    listener = await Client().connect()
    await listener.subscribe()
    await asyncio.sleep(0.2)  # the hub has started (and polls in 1.5 s)
    start = await sync_to_async(latest)()
    _, turns = sharing._loop_state()
    await turns.acquire()
    try:
        event = await sync_to_async(declare)(ballots[0])
        replayer = await Client().connect()
        await replayer.subscribe(after=str(start))
        async with asyncio.timeout(1):  # the replay has read it, at the state the hub will read it
            while not sharing.payloads():
                await asyncio.sleep(0.02)
        assert live.hub().position == start
        [got] = await listener.events(1, timeout=3)  # the hub's poll, and its own execution at once
        assert ids([got]) == [event.pk]
        await replayer.nothing_more(0.2)
    finally:
        turns.release()
    [replayed] = await replayer.events(1)
    assert replayed["payload"] == got["payload"]
    for client in (listener, replayer):
        await client.close()


async def test_replays_together_hand_out_at_most_their_rate_while_live_events_go_at_once(monkeypatch):
    monkeypatch.setattr(live, "REPLAY_RATE", 20)
    monkeypatch.setattr(live, "REPLAY_BURST", 1)
    ballots = await sync_to_async(make_council)(wards=6)
    start = await sync_to_async(latest)()
    for ballot in ballots[:4]:
        await sync_to_async(declare)(ballot)
    expected = list(range(start + 1, await sync_to_async(latest)() + 1))
    assert len(expected) == 5  # four declarations and the control call
    listener = await Client().connect()
    await listener.subscribe()
    await asyncio.sleep(0.3)  # the hub is running
    replayers = [await Client().connect() for _ in range(2)]
    started = asyncio.get_running_loop().time()
    for client in replayers:
        await client.subscribe(after=str(start))
    event = await sync_to_async(declare)(ballots[4])
    [got] = await listener.events(1)
    assert ids([got]) == [event.pk]
    delivered = asyncio.get_running_loop().time() - started
    for client in replayers:
        assert ids(await client.events(6)) == [*expected, event.pk]
    took = asyncio.get_running_loop().time() - started
    assert took >= 11 / 20  # twelve events replayed together, 50 ms apart
    assert delivered < took / 2  # the live event did not wait for them
    for client in [listener, *replayers]:
        await client.close()


async def test_each_subscriber_is_charged_its_own_quota_when_payloads_are_shared(settings):
    settings.PUBLIC_API = "keys"
    ballots = await sync_to_async(make_council)()
    start = await sync_to_async(latest)()
    await sync_to_async(declare)(ballots[0])
    _, generous = await sync_to_async(new_key)(per_minute=100)
    _, frugal = await sync_to_async(new_key)(per_minute=2)  # its connection and one subscription
    clients = {}
    for name, raw in (("generous", generous), ("frugal", frugal)):
        client = clients[name] = Client()
        await client.ws.connect()
        await client.send({"type": "connection_init", "payload": {"apiKey": raw}})
        assert await client.receive() == {"type": "connection_ack"}
        await client.subscribe(after=str(start))
    [one], [two] = await clients["generous"].events(1), await clients["frugal"].events(1)
    assert one["payload"] == two["payload"]  # one execution, sent to both
    for name in clients:
        await clients[name].subscribe("2", after=str(start))
    [again] = await clients["generous"].events(1)
    assert again["id"] == "2" and again["payload"] == one["payload"]
    refused = await clients["frugal"].receive()
    assert (refused["id"], refused["type"]) == ("2", "error")
    assert refused["payload"][0]["extensions"] == {"code": "RATE_LIMITED"}
    for client in clients.values():
        await client.close()


async def test_the_store_keeps_the_most_recently_used_payloads_within_its_entries_and_bytes():
    store = sharing.PayloadStore(max_entries=3, max_bytes=1_000)
    for n in range(4):
        store.put(("doc", n), f"result {n}", 100)
    assert (len(store), store.bytes) == (3, 300)
    assert store.get(("doc", 0)) is None  # the oldest went first
    assert store.get(("doc", 1)) == "result 1"  # and is now the most recently used
    store.put(("doc", 4), "result 4", 850)
    assert store.get(("doc", 2)) is None and store.get(("doc", 3)) is None  # over 1,000 bytes
    assert (len(store), store.bytes) == (2, 950)
    assert store.get(("doc", 1)) == "result 1"
    store.put(("doc", 5), "too big alone", 5_000)  # kept alone, until the next one
    assert (len(store), store.bytes) == (1, 5_000)
    pending = object()
    store.put(("doc", 6), pending)
    store.discard(("doc", 6), object())  # only if it still holds that value
    assert store.get(("doc", 6)) is pending
    store.discard(("doc", 6), pending)
    assert store.get(("doc", 6)) is None
