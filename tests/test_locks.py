"""The lock order of results.services: no deadlock, and no global stall, on PostgreSQL.

Each test runs writers in threads, each on its own database connection, as
separate server processes would. They need PostgreSQL (SQLite serialises
writers, so there is nothing to test there); without it they are skipped,
unless REQUIRE_SERVICES=1 (as in CI).
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from results import services
from results.models import Ballot, Event

from . import factories as f

_on_postgres = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if not _on_postgres and os.environ.get("REQUIRE_SERVICES") == "1":
    raise RuntimeError("REQUIRE_SERVICES=1 but the lock tests need PostgreSQL: set DATABASE_URL")

pytestmark = [
    pytest.mark.skipif(not _on_postgres, reason="needs PostgreSQL: set DATABASE_URL"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WAIT = 20  # seconds: far more than any of these writes takes, even on a loaded machine


def in_thread(fn, *args, **kwargs):
    """Run ``fn`` on a fresh connection, closing it afterwards."""
    try:
        return fn(*args, **kwargs)
    finally:
        connections.close_all()


def council(slug: str, wards: int):
    e = f.election(slug, seats_total=wards, before={"PP52": (wards, 0)})
    ballots = [
        f.ballot(e, f"Ward {i}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
        for i in range(wards)
    ]
    return e, ballots


def test_row_locks_lock_one_table_without_joins():
    e, (b, *_) = council("lockshire", 2)
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        services.lock_ballot(b)
        services._lock_election(e.pk)
        services.lock_ballots([b.pk])
    ballot_lock, election_lock, ballots_lock = (
        q["sql"] for q in ctx.captured_queries if "SELECT" in q["sql"]
    )
    assert ballot_lock.endswith('FOR NO KEY UPDATE OF "results_ballot"')
    assert ballots_lock.endswith('FOR NO KEY UPDATE OF "results_ballot"')
    assert "JOIN" not in election_lock
    assert election_lock.endswith('FOR NO KEY UPDATE OF "results_election"')


def test_event_log_lock_is_the_last_lock_a_declaration_takes():
    e, (b, *_) = council("lockshire", 1)
    with CaptureQueriesContext(connection) as ctx:
        services.declare_ballot(b, votes=f.votes(b, Able=10, Baker=5))
    sql = [q["sql"] for q in ctx.captured_queries]
    advisory = next(i for i, q in enumerate(sql) if "pg_advisory_xact_lock" in q)
    # After the event-log lock: the rehearsal switch (one row by primary key, read under the lock
    # so each event is flagged exactly when it commits during a rehearsal; it takes no lock),
    # then only the event rows' INSERT (and the commit).
    after = sql[advisory + 1 :]
    assert '"results_rehearsal"' in after[0] and "FOR" not in after[0]
    assert [q.split()[0:3] for q in after[1:]] == [
        ["INSERT", "INTO", '"results_event"'],
        ["COMMIT"],
    ]
    assert sum("FOR NO KEY UPDATE" in q for q in sql[:advisory]) == 2  # the ballot, then the election


def test_status_change_is_not_blocked_by_a_declaration_in_progress_in_the_same_election():
    """The deadlock of issue 9: a declaration's election lock used to lock the council row too,
    and a status change holding the event-log lock waited for it to insert its event."""
    e, (north, south) = council("lockshire", 2)
    holding, release = threading.Event(), threading.Event()

    def declaration_in_progress():
        with transaction.atomic():
            services.lock_ballot(north)
            services._lock_election(e.pk)
            holding.set()
            release.wait(WAIT)

    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(in_thread, declaration_in_progress)
        assert holding.wait(WAIT)
        try:
            changed = pool.submit(in_thread, services.set_ballot_status, south.pk, Ballot.Status.COUNTING)
            event = changed.result(timeout=WAIT)  # a TimeoutError here is the old behaviour
        finally:
            release.set()
        held.result(timeout=WAIT)
    assert event.kind == Event.Kind.BALLOT_STATUS


def test_another_councils_declaration_is_not_blocked_by_a_write_in_progress():
    e, (north,) = council("lockshire", 1)
    _, (other,) = council("otherton", 1)
    holding, release = threading.Event(), threading.Event()

    def write_in_progress():
        with transaction.atomic():
            services.lock_ballot(north)
            services._lock_election(e.pk)
            services._standing(e.pk)
            holding.set()
            release.wait(WAIT)

    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(in_thread, write_in_progress)
        assert holding.wait(WAIT)
        try:
            declared = pool.submit(
                in_thread, services.declare_ballot, other.pk, votes=f.votes(other, Able=3, Baker=1)
            )
            event = declared.result(timeout=WAIT)
        finally:
            release.set()
        held.result(timeout=WAIT)
    assert event.kind == Event.Kind.BALLOT_DECLARED


def test_racing_desk_actions_on_one_council_never_deadlock():
    """Twenty writers at once on one council: status changes, declarations, corrections
    and retractions. Every one commits; the log holds exactly one event per change."""
    e, ballots = council("lockshire", 20)
    start = threading.Barrier(20)

    def status(b):
        start.wait(WAIT)
        return [services.set_ballot_status(b.pk, Ballot.Status.COUNTING)]

    def declare_correct_retract(b):
        start.wait(WAIT)
        votes = f.votes(b, Able=20, Baker=10)
        return [
            services.declare_ballot(b.pk, votes=votes),
            services.correct_ballot(b.pk, votes=f.votes(b, Able=5, Baker=10), reason="re-read"),
            services.retract_declaration(b.pk),
        ]

    # A status change of a declared ballot is refused, so each ballot has one kind of writer.
    jobs = [(status, b) for b in ballots[:10]] + [(declare_correct_retract, b) for b in ballots[10:]]
    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(in_thread, fn, b) for fn, b in jobs]
        results = [fut.result(timeout=60) for fut in futures]
    ballot_events = [ev for batch in results for ev in batch]
    assert len(ballot_events) == 40
    kinds = list(
        Event.objects.filter(election=e)
        .exclude(kind__in=["control_called", "election", "previous_winners"])  # before the race
        .values_list("kind", flat=True)
    )
    assert sorted(kinds) == sorted(ev.kind for ev in ballot_events)
    # Events are in commit order: each ballot's declare, correct, retract in that order.
    for b in ballots[10:]:
        assert [
            k
            for k in Event.objects.filter(ballot=b).order_by("id").values_list("kind", flat=True)
            if k not in ("ballot_status", "previous_winners")
        ] == ["ballot_declared", "ballot_corrected", "ballot_retracted"]
    assert set(Ballot.objects.filter(election=e).values_list("status", flat=True)) == {"counting"}


def test_a_batch_that_fails_validation_writes_nothing():
    e, (north, south) = council("lockshire", 2)
    before = Event.objects.count()
    with pytest.raises(ValidationError):
        services.publish_results(
            [
                services.ResultEntry(north.pk, votes=f.votes(north, Able=3, Baker=1)),
                services.ResultEntry(south.pk, votes=f.votes(south, Able=-1, Baker=1)),
            ]
        )
    assert Event.objects.count() == before
    assert set(Ballot.objects.filter(election=e).values_list("status", flat=True)) == {"awaiting"}


def test_an_import_commits_each_election_before_writing_the_next():
    from results.importers import import_candidates

    from .test_importers import big_file

    seen_by_others = []

    def progress(line):
        # What another connection sees now: the elections written so far, committed.
        with ThreadPoolExecutor(1) as pool:
            seen_by_others.append(
                pool.submit(in_thread, lambda: Event.objects.filter(kind="ballot_declared").count()).result(
                    WAIT
                )
            )

    import_candidates(big_file(3, 4), progress=progress)
    assert seen_by_others == [4, 8, 12]


def test_two_imports_creating_the_same_new_council_at_once_both_end_well(monkeypatch):
    """Both imports find the council missing and create it; the database refuses the second,
    whose chunk rolls back and runs again, finding the council (no IntegrityError, no 500)."""
    from results import importers

    from .test_importers import big_file

    csv = big_file(1, 3).replace("council-0", "racing-council")
    both_checked = threading.Barrier(2, timeout=WAIT)
    original = services.save_council
    waited = threading.local()

    def save_council_once_both_have_checked(*args, **kwargs):
        if not getattr(waited, "done", False):
            waited.done = True
            both_checked.wait()  # both imports found the council missing
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "save_council", save_council_once_both_have_checked)
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: in_thread(importers.import_candidates, csv), range(2)))
    created = sorted(r.created.get("councils", 0) for r in reports)
    assert created == [0, 1]  # one import created the council, the other found it on its second try
    assert sorted(r.created.get("ballots", 0) for r in reports) == [0, 3]
    assert Ballot.objects.filter(election__council__slug="racing-council").published().count() == 3
    assert Event.objects.filter(kind=Event.Kind.BALLOT_DECLARED).count() == 3
