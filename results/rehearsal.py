"""Whether the deployment is rehearsing, read cheaply on every request.

Every GraphQL answer says whether it comes from a rehearsal, so reading the
state must not cost a query per request: it is kept in the cache (Redis
across processes when ``REDIS_URL`` is set) and forgotten by the services
that change it, at once and again when their transaction commits. A cache
miss reads the ``Rehearsal`` row. ``STATE_TTL`` bounds how long a process
without a shared cache (the in-memory one of a laptop demo, where the replay
runs in another process) can show a stale flag.

Events do not depend on this cache: ``services.record_events`` reads the row
itself under the event-log lock, so each event's own ``rehearsal`` flag is
exact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

CACHE_KEY = "results.rehearsal.state"
STATE_TTL = 2  # seconds


@dataclass(frozen=True)
class State:
    """The rehearsal switches as the API reports them."""

    active: bool = False
    label: str = ""
    started_at: dt.datetime | None = None
    poll_date: dt.date | None = None
    zero_counts: dt.date | None = None
    paused: bool = False


NOT_REHEARSING = State()


def public_flag(state: State) -> dict | None:
    """The rehearsal as every public surface states it (``extensions.rehearsal`` in the API,
    ``rehearsal`` in the JSON export); ``None`` when there is nothing to flag."""
    if not state.active and state.zero_counts is None:
        return None
    return {
        "active": state.active,
        "label": state.label,
        "startedAt": state.started_at.isoformat() if state.started_at else None,
        "pollDate": state.poll_date.isoformat() if state.poll_date else None,
        "zeroCounts": state.zero_counts.isoformat() if state.zero_counts else None,
    }


def read_state() -> State:
    """The switches as stored (one query; no row = not rehearsing, zero counts off)."""
    from .models import Rehearsal

    row = Rehearsal.objects.filter(pk=1).first()
    if row is None:
        return NOT_REHEARSING
    return State(
        active=row.active,
        label=row.label,
        started_at=row.started_at,
        poll_date=row.poll_date,
        zero_counts=row.zero_counts,
        paused=row.paused,
    )


def current() -> State:
    """The switches, from the cache when it has them."""
    state = cache.get(CACHE_KEY)
    if state is None:
        state = read_state()
        cache.set(CACHE_KEY, state, STATE_TTL)
    return state


def forget() -> None:
    """Drop the cached state now and once the current transaction commits (services call this)."""
    cache.delete(CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CACHE_KEY))
