"""Events: the shared machinery of every write.

The event-log lock and the recording of events (``record_event``,
``record_events``, ``deferred_events``), the version check of an edit
(``check_version``, ``StaleEdit``) and the broadcast each commit schedules.
The lock order every write follows is in the package's docstring
(``results.services``).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..broadcast import schedule_broadcast
from ..errors import ErrorCode, refusal
from ..models import Election, Event, Rehearsal
from ..standings import refresh_standings


class StaleEdit(ValidationError):
    """Someone else saved the object since the editor loaded it."""


# Any constant: the key of the advisory lock that orders event commits.
EVENT_LOG_LOCK = 7_020_523


# Events of the service calls inside ``deferred_events``, inserted together when it ends.
_deferred: contextvars.ContextVar[list[Event] | None] = contextvars.ContextVar(
    "deferred_events", default=None
)


# A ballot's published result, as a declaration, a correction and a reset write it.
RESULT_FIELDS = [
    "status",
    "declared_at",
    "electorate",
    "ballot_papers_counted",
    "rejected_ballots",
    "certification",
    "source",
    "source_url",
    "version",
]


@contextlib.contextmanager
def deferred_events():
    """One transaction for several service calls, their events inserted together at its end.

    An importer writes a ballot's nominations, then declares it, in one
    transaction. Each service call would take the event-log lock when it
    records its event, and a later call would then lock a ballot or an
    election row while holding it: against the lock order (the event-log
    lock is always last). Inside this block the services queue their
    events, and the block inserts them all, in order, as its last step.
    It yields the list of queued events; the events returned by the
    services inside it have no id yet.
    """
    if (outer := _deferred.get()) is not None:  # already inside one: the outer block inserts them
        with transaction.atomic():
            yield outer
        return
    token = _deferred.set([])
    try:
        with transaction.atomic():
            yield _deferred.get()
            pending = _deferred.get()
            _deferred.set(None)
            record_events(pending)
    finally:
        _deferred.reset(token)


def record_events(events: Sequence[Event], *, fresh: Iterable[int] = ()) -> list[Event]:
    """Insert unsaved ``events`` in the current transaction, in order; broadcast them once committed.

    The last step of every write (see the lock order above). On PostgreSQL
    it first takes a transaction-level advisory lock, released at commit:
    event ids come from a sequence, and without the lock a transaction that
    drew id N+1 could commit before the one that drew N, so a reader who had
    seen N+1 would never see N (the cursor contract: a reader past id N
    never later finds a committed event below N). With it, ids are drawn and
    committed one transaction at a time, in id order. Taken here, last, it
    is held for one INSERT and the commit, never while anything is computed.
    SQLite serialises writers already.

    Before that, it recomputes and stores the standing of each election the
    events change (``_standings_changed_by``), except those in ``fresh``: the
    service stored them itself, after its last change, in this transaction.
    (Inside ``deferred_events`` every one is recomputed once, at the end.)
    """
    events = list(events)
    if not events:
        return []
    pending = _deferred.get()
    if pending is not None:
        pending.extend(events)  # inserted (and flagged) when ``deferred_events`` ends
        return events
    # Compute on write: the standing of every election these events changed, stored
    # in this transaction (before the event-log lock: see the lock order above).
    refresh_standings(_standings_changed_by(events) - set(fresh))
    _lock_event_log()
    # Read under the lock: the rehearsal switch changes only under it too, so an event is
    # flagged exactly when it commits during a rehearsal.
    rehearsing = Rehearsal.objects.filter(pk=1, active=True).exists()
    for event in events:
        event.rehearsal = event.rehearsal or rehearsing
    if len(events) == 1:
        events[0].save()
    else:
        Event.objects.bulk_create(events)
    for event in events:
        schedule_broadcast(event)
    return events


# Events that never change an election's derived figures: certification and
# undeclared status changes (counting, recount) touch nothing the standing reads.
_NO_STANDING_CHANGE = frozenset(
    {
        Event.Kind.BALLOT_CERTIFIED,
        Event.Kind.BALLOT_STATUS,
        Event.Kind.POST_PUBLISHED,
        Event.Kind.POST_UPDATED,
        Event.Kind.POST_WITHDRAWN,
    }
)
# A party's fields the stored figures read: headlines name its short name; the
# others decide which party a seat counts for and whether it can control.
_PARTY_STANDING_FIELDS = frozenset({"short_name", "lead_party", "is_independent"})


def _standings_changed_by(events: Sequence[Event]) -> set[int]:
    """Ids of the elections whose stored standing these (unsaved) events make stale."""
    pks: set[int] = set()
    for event in events:
        if event.kind in _NO_STANDING_CHANGE:
            continue
        if event.election_id is not None:
            pks.add(event.election_id)
        elif event.kind == Event.Kind.RESET:  # every election of the day, back to the eve
            pks.update(
                Election.objects.filter(poll_date=event.payload["poll_date"]).values_list("pk", flat=True)
            )
        elif event.kind == Event.Kind.REFERENCE_CHANGED and event.payload.get("change") == "changed":
            what = event.payload.get("object")
            changed = set(event.payload.get("after", {}))
            if what == "council" and "name" in changed and event.council_id is not None:
                # Headlines name the council.
                pks.update(Election.objects.filter(council_id=event.council_id).values_list("pk", flat=True))
            elif what == "party" and changed & _PARTY_STANDING_FIELDS:
                party = event.payload["party_id"]
                pks.update(
                    Election.objects.filter(
                        Q(ballots__candidacies__party__ec_id=party)
                        | Q(composition_before__party__ec_id=party)
                        | Q(control_before__ec_id=party)
                        | Q(ballots__previous_winners__party__ec_id=party)
                        | Q(ballots__candidacies__party__lead_party__ec_id=party)
                    )
                    .order_by()
                    .values_list("pk", flat=True)
                    .distinct()
                )
    return pks


def _lock_event_log() -> None:
    """Take the event-log lock (PostgreSQL; a no-op on SQLite, which serialises writers)."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EVENT_LOG_LOCK])


def new_event(kind: str, *, user=None, payload: dict, **targets) -> Event:
    """An unsaved event, for ``record_events``."""
    return Event(kind=kind, actor=_actor(user), payload=payload, **targets)


def record_event(kind: str, *, user=None, payload: dict, **targets) -> Event:
    """Write one event in the current transaction (the last step of a write) and broadcast it once committed."""
    return record_events([new_event(kind, user=user, payload=payload, **targets)])[0]


def _actor(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def check_version(obj, expected_version: int | None) -> None:
    """Refuse a write made from a stale copy: raise ``StaleEdit`` naming who changed ``obj``.

    ``obj`` must be the locked row; ``None`` skips the check.
    """
    if expected_version is None or expected_version == obj.version:
        return
    last = obj.events.select_related("actor").order_by("-id").first() if hasattr(obj, "events") else None
    who = (last.actor.get_username() if last and last.actor else "someone else") if last else "someone else"
    when = f" at {timezone.localtime(last.created_at):%H:%M:%S}" if last else ""
    what = f" ({last.get_kind_display().lower()})" if last else ""
    message = (
        f"{obj} was changed by {who}{when}{what} after you opened it. "
        "Reload to see their change; nothing of yours was saved."
    )
    raise StaleEdit({"version": [refusal(ErrorCode.STALE, message)]})
