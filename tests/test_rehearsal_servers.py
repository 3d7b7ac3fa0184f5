"""A rehearsal seen by two server processes sharing PostgreSQL and Redis (see test_live_servers.py for
the machinery; skipped without them): both flag it at once on their live pages and in every GraphQL
answer, and neither does after the reset, even while the shared cursor lags behind the events."""

import json
import re
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.conf import settings
from django.db import connections

from results import cursor, rehearsal, services

from . import factories as f
from .test_live_servers import _missing, last_event_id

pytestmark = [
    pytest.mark.skipif(_missing is not None, reason=_missing or ""),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DAY = f.POLL_DATE
COUNCIL = f"/live/{DAY.isoformat()}/rehearsalshire/"
NIGHT = f"/live/{DAY.isoformat()}/"
BANNER = "Rehearsal: test data, not real results."


def make_wards():
    e = f.election("rehearsalshire", seats_total=2, before={"PP52": (2, 0)})
    return [f.ballot(e, f"Ward {i}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")]) for i in range(2)]


def get(server, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=10) as response:
        return response.read().decode()


def page(server, path: str) -> tuple[bool, bool, str]:
    """A live page as served: (its banner shown, its script told it is rehearsing, its title)."""
    html = get(server, path)
    config = json.loads(
        re.search(r'<script id="live-config" type="application/json">(.*?)</script>', html).group(1)
    )
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()
    return ('id="rehearsal"' in html and BANNER in html), config["rehearsal"], title


def api(server) -> tuple[object, object]:
    """A public GraphQL answer: (its ``extensions.rehearsal``, its ``rehearsal`` field)."""
    query = urllib.parse.urlencode({"query": "{ rehearsal { active label } }"})
    answer = json.loads(get(server, f"/graphql?{query}"))
    return answer.get("extensions", {}).get("rehearsal"), answer["data"]["rehearsal"]


def seen_by(server, path_suffix: str = "") -> dict:
    night, council = page(server, NIGHT + path_suffix), page(server, COUNCIL + path_suffix)
    extension, field = api(server)
    return {
        "night": night[:2],
        "council": council[:2],
        "titled": (night[2].startswith("REHEARSAL"), council[2].startswith("REHEARSAL")),
        "extension": extension and (extension["active"], extension["label"]),
        "field": (field["active"], field["label"]),
    }


REHEARSING = {
    "night": (True, True),
    "council": (True, True),
    "titled": (True, True),
    "extension": (True, "Dress rehearsal"),
    "field": (True, "Dress rehearsal"),
}
NOT_REHEARSING = {
    "night": (False, False),
    "council": (False, False),
    "titled": (False, False),
    "extension": None,
    "field": (False, ""),
}


@pytest.fixture
def writing_processes(monkeypatch):
    """This process writes as a deployment's do: its services raise the shared cursor when they
    commit (the suite's other tests read the table instead, conftest.py)."""
    monkeypatch.setattr(cursor, "use_shared", True)


def test_both_processes_flag_a_rehearsal_at_once_and_neither_after_the_reset(servers, writing_processes):
    wards = make_wards()
    one, two = servers(), servers()
    # Each process has its pages and answers cached at the eve (and the state "not rehearsing").
    for server in (one, two):
        assert seen_by(server) == NOT_REHEARSING
    services.start_rehearsal(DAY, label="Dress rehearsal")
    # The first requests after the service returned, on either process: no waiting.
    assert seen_by(one) == REHEARSING
    assert seen_by(two) == REHEARSING
    # A declaration while rehearsing: a new event, new pages and answers, still flagged.
    services.declare_ballot(wards[0], votes=f.votes(wards[0], Able=10, Baker=5))
    assert seen_by(one) == REHEARSING
    assert seen_by(two) == REHEARSING
    services.reset_to_eve(DAY)
    assert seen_by(one) == NOT_REHEARSING
    assert seen_by(two) == NOT_REHEARSING


def test_a_page_reloaded_for_an_event_is_rendered_at_it_while_the_shared_cursor_lags(servers):
    """The open pages reload when a rehearsal starts or is reset, naming the event (``?at=``): the
    page they get is rendered at that event, even on a process whose shared cursor has not heard of it
    yet (its notice lost: here the services do not raise it, and the safety net is held off)."""
    make_wards()
    one, two = servers(), servers()
    for server in (one, two):
        assert seen_by(server) == NOT_REHEARSING
    shared = redis.Redis.from_url(settings.REDIS_URL)
    try:
        shared.set(cursor.key() + ":checked", 1, ex=60)  # no read of the table for a minute
        started = services.start_rehearsal(DAY, label="Dress rehearsal").pk
        assert int(shared.get(cursor.key())) == started - 1  # the lag is real...
        assert seen_by(one) == NOT_REHEARSING  # ...and so is what it costs a plain request.
        # The reload for the event: rendered at it, and the shared cursor raised for everyone.
        assert seen_by(one, f"?at={started}") == REHEARSING
        assert int(shared.get(cursor.key())) == started
        assert seen_by(two) == REHEARSING
        reset = services.reset_to_eve(DAY).pk
        assert reset == last_event_id() and int(shared.get(cursor.key())) == started
        assert seen_by(two, f"?at={reset}") == NOT_REHEARSING
        assert seen_by(one) == NOT_REHEARSING
        # An event id the log has not reached (or nonsense) gets the latest page, no error.
        assert seen_by(one, f"?at={reset + 1000}") == NOT_REHEARSING
        assert page(one, COUNCIL + "?at=x")[:2] == (False, False)
    finally:
        shared.delete(cursor.key() + ":checked")
        shared.close()


def test_a_state_read_just_before_a_rehearsal_commits_does_not_outlive_the_commit(monkeypatch):
    """A request that read the rehearsal row just before the start committed, and stores what it
    read just after, must not have every process (and every page and answer cached under the
    rehearsal's event) say "not rehearsing" afterwards."""
    make_wards()
    rehearsal.clear()
    read_it, committed = threading.Event(), threading.Event()
    read_state = rehearsal.read_state

    def read_before_the_commit():
        state = read_state()
        read_it.set()
        assert committed.wait(10)
        return state  # stored after the commit

    monkeypatch.setattr(rehearsal, "read_state", read_before_the_commit)
    with ThreadPoolExecutor(1) as pool:
        try:
            request = pool.submit(rehearsal.current)
            assert read_it.wait(10)
            monkeypatch.setattr(rehearsal, "read_state", read_state)
            services.start_rehearsal(DAY, label="Dress rehearsal")
            committed.set()
            assert request.result(10) == rehearsal.NOT_REHEARSING
        finally:
            committed.set()
            pool.submit(connections.close_all).result()
    assert rehearsal.cached() is None
    state = rehearsal.current()
    assert (state.active, state.label) == (True, "Dress rehearsal")
