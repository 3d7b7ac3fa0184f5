"""Live WebSocket delivery fanned out per document (schema/fanout.py): one execution and one encoding
per event and distinct document, each socket its own envelope, slow sockets on their own.

Through the real consumer in process, as tests/test_subscriptions.py.
"""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from results.models import Event
from schema import fanout, live
from schema.sharing import SharedEventExecutor

from .test_subscriptions import SUBSCRIPTION, Client, declare, fast_hub, ids, make_council  # noqa: F401

pytestmark = [
    pytest.mark.usefixtures("close_thread_connections", "fresh_groups"),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def fresh_groups():
    fanout.groups().clear()
    yield
    for group in list(fanout.groups().values()):
        group.task.cancel()
    fanout.groups().clear()


@pytest.fixture
def executions(monkeypatch):
    """How many times a subscription's payload was executed (or taken from the event's shared results)."""
    counted = []
    original = SharedEventExecutor.execute_operation

    def counting(self, serially=None):
        if isinstance(self.root_value, Event):
            counted.append(self.root_value.pk)
        return original(self, serially)

    monkeypatch.setattr(SharedEventExecutor, "execute_operation", counting)
    return counted


async def raw_frames(client, count, timeout=5):
    return [await client.ws.receive_from(timeout=timeout) for _ in range(count)]


def the_group():
    [group] = fanout.groups().values()
    return group


async def until(condition, timeout=5.0):
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_sockets_with_one_document_get_the_same_bytes_from_one_execution_per_event(executions):
    ballots = await sync_to_async(make_council)()
    clients = [await Client().connect() for _ in range(5)]
    for n, client in enumerate(clients):
        await client.subscribe(op_id=f"op-{n}", councils=["testshire"])
    await until(lambda: fanout.groups() and len(the_group().members) == 5)
    first = await sync_to_async(declare)(ballots[0])
    second = await sync_to_async(declare)(ballots[1])
    frames = [await raw_frames(client, 2) for client in clients]
    for n, received in enumerate(frames):
        prefix = f'{{"id":"op-{n}","type":"next","payload":'
        assert all(frame.startswith(prefix) and frame.endswith("}") for frame in received)
        assert [json.loads(frame)["id"] for frame in received] == [f"op-{n}"] * 2
        assert ids([json.loads(frame) for frame in received]) == [first.pk, second.pk]
    # The payload text is byte for byte the same for every socket: encoded once, spliced in.
    payloads = {tuple(frame.split(',"payload":', 1)[1] for frame in received) for received in frames}
    assert len(payloads) == 1
    # One execution per event for the five sockets (before: five, one per Strawberry stream).
    assert sorted(executions) == [first.pk, second.pk]
    assert the_group().results == 2
    for client in clients:
        await client.nothing_more(0.3)
        await client.close()
    await until(lambda: not fanout.groups())  # the last one out ends the group's stream


async def test_different_variables_are_different_answers(executions):
    ballots = await sync_to_async(make_council)()
    other = await sync_to_async(make_council)("otherside", 2)
    everywhere, testshire, otherside = [await Client().connect() for _ in range(3)]
    await everywhere.subscribe()
    await testshire.subscribe(councils=["testshire"])
    await otherside.subscribe(councils=["otherside"])
    await until(lambda: len(fanout.groups()) == 3 and all(g.ready.is_set() for g in fanout.groups().values()))
    here = await sync_to_async(declare)(ballots[0])
    there = await sync_to_async(declare)(other[0])
    assert ids(await everywhere.events(2)) == [here.pk, there.pk]
    assert ids(await testshire.events(1)) == [here.pk]
    assert ids(await otherside.events(1)) == [there.pk]
    for client in (everywhere, testshire, otherside):
        await client.nothing_more(0.3)
        await client.close()


async def test_a_payload_variable_splits_the_answer():
    ballots = await sync_to_async(make_council)()
    query = "subscription($votes: Boolean!) { events { id ballot { id candidacies { name votes @include(if: $votes) } } } }"
    with_votes, without = await Client().connect(), await Client().connect()
    for client, votes in ((with_votes, True), (without, False)):
        await client.send(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"votes": votes}}}
        )
    await until(lambda: len(fanout.groups()) == 2 and all(g.members for g in fanout.groups().values()))
    await sync_to_async(declare)(ballots[0])
    [shown] = await with_votes.events(1)
    [hidden] = await without.events(1)
    assert shown["payload"]["data"]["events"]["ballot"]["candidacies"][0] == {"name": "Ann Able", "votes": 10}
    assert hidden["payload"]["data"]["events"]["ballot"]["candidacies"][0] == {"name": "Ann Able"}
    for client in (with_votes, without):
        await client.close()


async def test_a_slow_socket_does_not_hold_the_others_and_gets_its_events_in_order_once_it_reads():
    ballots = await sync_to_async(make_council)()
    slow, quick = await Client().connect(), await Client().connect()
    await slow.subscribe(op_id="slow")
    await quick.subscribe(op_id="quick")
    await until(lambda: fanout.groups() and len(the_group().members) == 2)
    [slow_member] = [m for m in the_group().members if '"slow"' in m.prefix]
    backlog = {"bytes": 10**9}
    slow_member.consumer.unsent = lambda: backlog["bytes"]  # its client reads nothing
    first = await sync_to_async(declare)(ballots[0])
    second = await sync_to_async(declare)(ballots[1])
    assert ids(await quick.events(2)) == [first.pk, second.pk]
    await slow.nothing_more(0.3)
    assert len(slow_member.backlog) == 2
    backlog["bytes"] = 0  # it reads again
    assert ids(await slow.events(2)) == [first.pk, second.pk]
    third = await sync_to_async(declare)(ballots[2])
    events = await quick.events(2)  # the third ward decides control: two events
    assert ids(events)[0] == third.pk
    assert ids(await slow.events(2)) == ids(events)
    for client in (slow, quick):
        await client.nothing_more(0.3)
        await client.close()


async def test_a_socket_far_behind_is_ended_with_the_cursor_to_resume_from(monkeypatch):
    monkeypatch.setattr(live, "QUEUE_LIMIT", 2)
    ballots = await sync_to_async(make_council)()
    slow, quick = await Client().connect(), await Client().connect()
    await slow.subscribe(op_id="slow")
    await quick.subscribe(op_id="quick")
    await until(lambda: fanout.groups() and len(the_group().members) == 2)
    [slow_member] = [m for m in the_group().members if '"slow"' in m.prefix]
    backlog = {"bytes": 10**9}
    slow_member.consumer.unsent = lambda: backlog["bytes"]
    declared = [await sync_to_async(declare)(ballot) for ballot in ballots[:2]]
    assert ids(await quick.events(2)) == [e.pk for e in declared]
    third = await sync_to_async(declare)(ballots[2])
    assert ids(await quick.events(2))[0] == third.pk
    backlog["bytes"] = 0
    assert ids(await slow.events(2)) == [e.pk for e in declared]
    ended = await slow.receive()
    assert ended["type"] == "next" and ended["payload"]["data"] is None
    # The last event it was sent: a resubscription from there gets the third ward's and the rest.
    assert [e["message"] for e in ended["payload"]["errors"]] == [
        f'Too far behind: subscription ended. Resubscribe with after: "{declared[1].pk}" to resume.'
    ]
    assert await slow.receive() == {"id": "slow", "type": "complete"}
    for client in (slow, quick):
        await client.close()


async def test_completing_mid_fan_out_stops_that_subscription_only():
    ballots = await sync_to_async(make_council)()
    client, other = await Client().connect(), await Client().connect()
    await client.subscribe(op_id="a")
    await client.subscribe(op_id="b")
    await other.subscribe(op_id="c")
    await until(lambda: fanout.groups() and len(the_group().members) == 3)
    first = await sync_to_async(declare)(ballots[0])
    assert sorted(m["id"] for m in await client.events(2)) == ["a", "b"]
    assert ids(await other.events(1)) == [first.pk]
    await client.send({"id": "a", "type": "complete"})
    await until(lambda: len(the_group().members) == 2)
    second = await sync_to_async(declare)(ballots[1])
    [message] = await client.events(1)
    assert (message["id"], ids([message])) == ("b", [second.pk])
    assert ids(await other.events(1)) == [second.pk]
    await client.close()  # its remaining subscription leaves with the socket
    await until(lambda: len(the_group().members) == 1)
    third = await sync_to_async(declare)(ballots[2])
    assert ids(await other.events(2))[0] == third.pk
    await other.close()
    await until(lambda: not fanout.groups())


async def test_a_replay_hands_over_to_the_group_without_gap_or_duplicate():
    ballots = await sync_to_async(make_council)("seamshire", 6)
    start = await sync_to_async(live.latest_event_id)()
    early = await sync_to_async(declare)(ballots[0])
    live_client = await Client().connect()
    await live_client.subscribe(op_id="live", kinds=["BALLOT_DECLARED"])
    await until(lambda: fanout.groups() and len(the_group().members) == 1)
    middle = await sync_to_async(declare)(ballots[1])
    assert ids(await live_client.events(1)) == [middle.pk]
    # Same document and filter, resuming from before both: it replays alone, then joins.
    replaying = await Client().connect()
    await replaying.subscribe(op_id="replay", after=str(start), kinds=["BALLOT_DECLARED"])
    assert ids(await replaying.events(2)) == [early.pk, middle.pk]
    await until(lambda: len(the_group().members) == 2)
    later = [await sync_to_async(declare)(ballot) for ballot in ballots[2:5]]
    assert ids(await replaying.events(3)) == [e.pk for e in later]
    assert ids(await live_client.events(3)) == [e.pk for e in later]
    for client in (live_client, replaying):
        await client.nothing_more(0.3)
        await client.close()


async def test_declarations_racing_a_replay_are_each_delivered_once_in_order():
    ballots = await sync_to_async(make_council)("raceshire", 12)
    start = await sync_to_async(live.latest_event_id)()
    watcher = await Client().connect()
    await watcher.subscribe(op_id="w", kinds=["BALLOT_DECLARED"])
    await until(lambda: fanout.groups() and len(the_group().members) == 1)
    declared = [await sync_to_async(declare)(ballot) for ballot in ballots[:4]]
    clients = [await Client().connect() for _ in range(3)]
    for client in clients:
        await client.subscribe(after=str(start), kinds=["BALLOT_DECLARED"])

    async def declare_more():
        for ballot in ballots[4:10]:
            declared.append(await sync_to_async(declare)(ballot))
            await asyncio.sleep(0.01)

    racing = asyncio.ensure_future(declare_more())
    received = [await client.events(10, timeout=10) for client in clients]
    await racing
    for messages in received:
        assert ids(messages) == [e.pk for e in declared]
    assert ids(await watcher.events(10, timeout=10)) == [e.pk for e in declared]
    for client in (*clients, watcher):
        await client.nothing_more(0.3)
        await client.close()


async def test_a_subscription_that_ends_before_going_live_leaves_no_group_behind():
    ballots = await sync_to_async(make_council)()
    event = await sync_to_async(declare)(ballots[0])
    client = await Client().connect()
    await client.subscribe(after=str(event.pk + 1000))  # refused: beyond the log
    message = await client.receive()
    assert message["type"] == "next" and message["payload"]["errors"]
    assert await client.receive() == {"id": "1", "type": "complete"}
    await until(lambda: not fanout.groups())
    await client.close()
