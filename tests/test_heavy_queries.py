"""Heavy queries execute outside the event loop, so no other client waits for them.

A document within every bound of ``schema.limits`` but estimated above
``schema.http.HEAVY_COST`` fields executes in the request's database thread,
one such execution at a time per process. These tests show that a normal
query keeps its latency while a heavy one runs (against a real uvicorn
process on PostgreSQL and Redis), and that the thread path answers exactly
as the event loop's does: data, errors, masking, the rehearsal flag, the time
limit, subscriptions refused, the response cache.
"""

import asyncio
import json
import statistics
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import Client

from schema import http, limits, schema

from . import factories as f
from .test_live_servers import _missing
from .test_partner_servers import request
from .test_time_limit import BIG_CANDIDATES, BIG_WARDS, big_council

HEAVY = "{ events(first: 100) { id kind election { id ballots { id status candidacies { name votes elected } } } } }"
JSON = "application/json"
NORMAL = '{ election(id: "local.bigshire.2023-05-04") { id seatsTotal control { called } } }'


def connections_open() -> int:
    """Connections to the test database, the server's and this process's."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_a_page_query_stays_in_the_event_loop_and_a_days_worth_does_not():
    from .test_docs_queries import QUERIES

    costs = {name: limits.estimated_cost(schema._schema, text) for name, (_, text) in QUERIES.items()}
    assert costs["council-page"] < http.HEAVY_COST < costs["partner-poll"]
    assert limits.estimated_cost(schema._schema, HEAVY) > http.HEAVY_COST
    assert limits.estimated_cost(schema._schema, NORMAL) < http.HEAVY_COST


@pytest.mark.skipif(_missing is not None, reason=_missing or "")
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.anyio
async def test_a_normal_query_keeps_its_latency_while_a_heavy_one_executes(servers):
    await sync_to_async(big_council)()  # 70 wards of 6 candidates, declared: 71 events
    server = servers()
    port = server.port
    for _ in range(3):  # warm up
        await asyncio.to_thread(request, port, {"query": NORMAL})
        await asyncio.to_thread(request, port, {"query": "{ parties { id } }"})
    alone = [(await asyncio.to_thread(request, port, {"query": NORMAL}))[3] for _ in range(10)]
    usual = statistics.median(alone)
    status, _, body, heavy_alone = await asyncio.to_thread(request, port, {"query": HEAVY})
    assert status == 200 and "errors" not in body, body.get("errors")
    events = [e for e in body["data"]["events"] if e["election"]]
    assert len(events) == BIG_WARDS + 2  # the election, each ward's declaration, the control call
    assert sum(len(b["candidacies"]) for b in events[0]["election"]["ballots"]) == BIG_WARDS * BIG_CANDIDATES

    connections_before = await sync_to_async(connections_open)()
    durations, during = [], []
    for _ in range(2):
        heavy = asyncio.create_task(asyncio.to_thread(request, port, {"query": HEAVY}))
        await asyncio.sleep(min(0.3, heavy_alone / 4))  # the heavy query is executing
        while not heavy.done():
            status, _, answer, took = await asyncio.to_thread(request, port, {"query": NORMAL})
            assert status == 200 and answer["data"]["election"]["seatsTotal"] == BIG_WARDS
            during.append(took)  # sent while the heavy query was executing
            await asyncio.sleep(0.05)
        status, _, body, took = await heavy
        assert status == 200 and "errors" not in body
        durations.append(took)
    print(
        f"\nheavy query alone: {heavy_alone * 1000:.0f} ms; while others ran: {durations[0] * 1000:.0f} ms, "
        f"{durations[1] * 1000:.0f} ms"
    )
    print(f"normal query alone: {usual * 1000:.1f} ms (median of 10)")
    print(
        f"normal query during the heavy one: median {statistics.median(during) * 1000:.1f} ms, "
        f"max {max(during) * 1000:.1f} ms ({len(during)} queries)"
    )
    await asyncio.sleep(0.5)  # the last request's end (Django closes its connection then)
    assert await sync_to_async(connections_open)() <= connections_before  # none left by the threads
    assert len(during) >= 2, f"only {len(during)} normal queries were answered while the heavy one ran"
    # Before the thread path, a normal query sent while the heavy one executed waited for the
    # rest of it (three quarters of it, sent a quarter in); with the thread but the GIL's 5 ms
    # switch interval, it waited for the interpreter tens of times (0.4 of the heavy query's
    # time). Both scale with the machine's load, so the bound is their ratio.
    assert statistics.median(during) < 0.25 * statistics.median(durations), (during, durations)
    assert "Traceback" not in server.output()


@pytest.mark.anyio
async def test_heavy_executions_take_turns_and_a_turn_is_held_until_its_thread_ends():
    running, most, finished = [], [], []
    lock = threading.Lock()

    def execution(name):
        with lock:
            running.append(name)
            most.append(len(running))
        time.sleep(0.2)
        with lock:
            running.remove(name)
            finished.append(name)
        return name

    # The first request stops waiting (its time limit): its thread goes on to its end, and
    # the next execution starts only then.
    first = asyncio.create_task(http._in_worker_thread(execution, "first"))
    await asyncio.sleep(0.05)
    first.cancel()
    started = time.perf_counter()
    results = await asyncio.gather(*(http._in_worker_thread(execution, n) for n in ("second", "third")))
    assert results == ["second", "third"]
    assert finished == ["first", "second", "third"] and max(most) == http.HEAVY_EXECUTIONS == 1
    assert time.perf_counter() - started >= 0.5  # what remained of the first's 0.2 s, then 2 x 0.2 s
    with pytest.raises(asyncio.CancelledError):
        await first


def answer(body: dict, accept: str = "application/graphql-response+json") -> tuple[int, dict]:
    response = Client().post("/graphql", body, content_type="application/json", HTTP_ACCEPT=accept)
    return response.status_code, json.loads(response.content)


REQUESTS = {
    "a page's data": {"query": '{ election(id: "local.derby.2023-05-04") { id seatsTotal ballots { id } } }'},
    "an unknown field": {"query": "{ election(id: 1) { nope } }"},
    "a variable that does not coerce": {
        "query": "query($id: ID!) { election(id: $id) { id } }",
        "variables": {"id": {"no": 1}},
    },
    "a variable no column can hold": {
        "query": "query($id: ID!) { election(id: $id) { id } }",
        "variables": {"id": "a\x00b"},
    },
    "a subscription": {"query": "subscription { events { id } }"},
    "a field's unexpected error": {
        "query": '{ election(id: "local.derby.2023-05-04") { control { called } } }'
    },
    "two operations, one named": {
        "query": "query A { parties { id } } query B { lastEventId }",
        "operationName": "B",
    },
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", REQUESTS)
def test_the_worker_thread_answers_exactly_as_the_event_loop(name, settings, monkeypatch):
    settings.GRAPHQL_RESPONSE_CACHE = False  # each request executed, not answered from the first's entry
    f.ballot(f.election("derby", seats_total=3), "Ward 1", [("Ann Able", "PP53")])

    def broken(election):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("schema.elections.standing_of", broken)
    in_thread = []
    original = http._in_worker_thread

    async def counted(*args):
        in_thread.append(args)
        return await original(*args)

    monkeypatch.setattr(http, "_in_worker_thread", counted)
    answers = {}
    for path, threshold in (("event loop", 10**9), ("worker thread", -1)):
        monkeypatch.setattr(http, "HEAVY_COST", threshold)
        answers[path] = [
            answer(REQUESTS[name], accept) for accept in ("application/graphql-response+json", JSON)
        ]
    assert answers["worker thread"] == answers["event loop"]
    assert "secret" not in json.dumps(answers["worker thread"])
    # Executed in the thread, for both media types, when the request gets as far as execution.
    executes = name in ("a page's data", "a field's unexpected error", "two operations, one named")
    assert len(in_thread) == (2 if executes else 0)


@pytest.mark.django_db
def test_a_heavy_query_past_the_time_limit_is_stopped_in_its_thread(settings, monkeypatch):
    """As test_time_limit's query held in the event loop: TimeLimit's deadline holds in the thread."""
    from results import figures, services

    e = f.election("slowshire", seats_total=40, before={"PP52": (40, 0)})
    for i in range(40):
        b = f.ballot(e, f"Ward {i}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
        services.declare_ballot(b, votes=f.votes(b, Able=10, Baker=5))
    original, loops = figures.seat_changes, set()

    def slow_figures(ballot):
        try:
            loops.add(asyncio.get_running_loop())
        except RuntimeError:
            loops.add(None)  # not in an event loop
        time.sleep(0.03)  # 40 ballots: 1.2 s
        return original(ballot)

    monkeypatch.setattr(figures, "seat_changes", slow_figures)
    monkeypatch.setattr(http, "HEAVY_COST", -1)
    settings.GRAPHQL_TIMEOUT = 0.2
    started = time.perf_counter()
    status, body = answer(
        {"query": '{ election(id: "local.slowshire.2023-05-04") { ballots { id changes { kind } } } }'}, JSON
    )
    took = time.perf_counter() - started
    assert (status, body) == (
        503,
        {
            "errors": [
                {
                    "message": "The request took more than 0.2 seconds and was stopped: "
                    "ask for less (a smaller `first`, fewer nested lists)."
                }
            ]
        },
    )
    assert loops == {None}
    assert took < 0.6, took


@pytest.mark.parametrize("operation_name", [{"name": "Q"}, ["Q"], 5])
def test_an_operation_name_that_is_not_a_string_is_a_400_not_a_crash(operation_name):
    """The heavy-query check reads the operation's cached cost by its name: an object or a list
    there (graphql-http's audit sends both) raised TypeError, a 500, before the view refused it."""
    assert limits.estimated_cost(schema._schema, "query Q { parties { id } }", operation_name) == 0
    response = Client().post(
        "/graphql",
        data=json.dumps({"query": "query Q { parties { id } }", "operationName": operation_name}),
        content_type="application/json",
        HTTP_ACCEPT="application/graphql-response+json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]
