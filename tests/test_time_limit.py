"""Every request's execution is bounded in time, in the event loop too.

``GRAPHQL_TIMEOUT`` cancels what a request awaits (resolvers in threads, database
reads); the resolvers that run in the event loop over loaded rows cannot be
cancelled from outside, so the deadline ``schema.limits.TimeLimit`` sets is checked
before each object's fields. These tests show both: the most expensive documents the limits
accept finish well within the time limit, on the demo and on a bigger day, with
the event loop never held for long; and a query slowed past the limit in the
event loop itself is stopped there.
"""

import asyncio
import io
import json
import time

import pytest
from django.core.management import call_command
from django.test import AsyncClient

from results import services
from schema import limits, schema

from . import factories as f
from .cleanup import wipe_results

POLL_DATE = "2023-05-04"
# Birmingham, the largest council by wards (69), all out, with six candidates in every ward.
BIG_WARDS, BIG_CANDIDATES = 70, 6

# The most expensive documents the limits accept: each within every bound, and each
# estimated above half of MAX_COST (the test checks both).
EXPENSIVE = {
    "3 national summaries (3 x 40,000)": "{ "
    + " ".join(
        f'n{i}: nationalSummary(pollDate: "{POLL_DATE}") {{ councilsTotal ballotsDeclared '
        "parties { party { id name } councils seats seatsChange } noOverallControl { councils } "
        "elections { id control { headline } } }"
        for i in range(3)
    )
    + " }",
    "the day's elections with every candidacy": f'{{ elections(pollDate: "{POLL_DATE}") {{ id '
    "ballots { id candidacies { votes } } } }",
    "100 events with their elections' results": "{ events(first: 100) { id kind data election { id "
    "ballots { id status candidacies { name votes elected } } } } }",
    "240 events with their ballots, councils and elections": "{ events(first: 240) { id kind occurredAt data "
    "headline council { slug name } ballot { id status turnout candidacies { name votes share elected } } "
    "election { id ballots { id candidacies { votes } } } } }",
}


def big_council() -> None:
    """A council far above the typical size the cost estimate assumes (25 wards, 6 candidates)."""
    parties = ["PP53", "PP52", "PP90", "PP63", "ynmp-party:2", "PP53"]
    e = f.election("bigshire", seats_total=BIG_WARDS, before={"PP52": (BIG_WARDS, 0)})
    for i in range(BIG_WARDS):
        b = f.ballot(
            e, f"Ward {i}", [(f"Candidate {j} Ward{i}x{j}", parties[j]) for j in range(BIG_CANDIDATES)]
        )
        votes = {c.pk: 100 + (i * 7 + k * 13) % 90 for k, c in enumerate(b.candidacies.order_by("pk"))}
        services.declare_ballot(b, votes=votes)


@pytest.fixture(scope="module")
def big_day(django_db_setup, django_db_blocker):
    """The demo and a big council, committed (the async view reads from other threads); removed after."""
    with django_db_blocker.unblock():
        call_command("load_demo", stdout=io.StringIO())
        big_council()
    yield
    with django_db_blocker.unblock():
        wipe_results()  # the demo's and the big council's rows, as the other committed fixtures do


async def timed(document: str) -> tuple[int, dict, float, float]:
    """POST the document through the real (async) view, with a ticker measuring the longest
    stretch the event loop was held: (status, body, seconds, longest stall in seconds)."""
    stalls = []

    async def ticker():
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append(time.perf_counter() - before - 0.001)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    response = await AsyncClient().post("/graphql", {"query": document}, content_type="application/json")
    took = time.perf_counter() - started
    task.cancel()
    return response.status_code, json.loads(response.content), took, max(stalls, default=0.0)


@pytest.mark.django_db(transaction=False)
@pytest.mark.anyio
async def test_the_most_expensive_documents_the_limits_accept_end_within_the_time_limit(
    big_day, settings, close_thread_connections
):
    """Each is answered, or stopped at GRAPHQL_TIMEOUT with a 503 (on a quiet machine all are
    answered, in a few seconds; on a loaded one the largest reach the limit): never longer."""
    settings.GRAPHQL_TIMEOUT = 10
    report = []
    for name, document in EXPENSIVE.items():
        parsed = limits.parse_bounded(schema._schema, document)  # accepted by every bound
        (measure,) = limits.measure(schema._schema, parsed).values()
        assert measure.cost > limits.MAX_COST // 2, (name, measure)
        status, body, took, stall = await timed(document)
        report.append((name, measure.cost, status, body, took, stall))
    print()
    for name, cost, status, _, took, stall in report:
        print(
            f"{name}: estimated cost {cost}; {status} in {took * 1000:.0f} ms; "
            f"event loop held at most {stall * 1000:.0f} ms"
        )
    for name, _, status, body, took, _ in report:
        assert (status, "errors" in body) in ((200, False), (503, True)), (name, status, body.get("errors"))
        assert took < settings.GRAPHQL_TIMEOUT + 1, (name, took)


def test_a_query_held_past_the_time_limit_in_the_event_loop_is_stopped_there(settings, monkeypatch):
    """A resolver that runs in the event loop (over loaded rows) cannot be cancelled from outside:
    without TimeLimit this query held the loop for its whole 1.2 s and answered 200."""
    from django.test import Client

    from results import figures

    e = f.election("slowshire", seats_total=40, before={"PP52": (40, 0)})
    for i in range(40):
        b = f.ballot(e, f"Ward {i}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
        services.declare_ballot(b, votes=f.votes(b, Able=10, Baker=5))
    original = figures.seat_changes

    def slow_figures(ballot):
        time.sleep(0.03)  # 40 ballots: 1.2 s in the event loop
        return original(ballot)

    monkeypatch.setattr(figures, "seat_changes", slow_figures)
    settings.GRAPHQL_TIMEOUT = 0.2
    document = '{ election(id: "local.slowshire.2023-05-04") { ballots { id changes { kind } } } }'
    started = time.perf_counter()
    response = Client().post("/graphql", {"query": document}, content_type="application/json")
    took = time.perf_counter() - started
    assert (response.status_code, response.json()) == (
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
    assert took < 0.6, took
