"""Whether the deployment is rehearsing, read cheaply on every request.

Every GraphQL answer says whether it comes from a rehearsal, so reading the
state must not cost a query per request: it is kept in the cache (Redis
across processes when ``REDIS_URL`` is set), one entry per database. A cache
miss reads the ``Rehearsal`` row. ``STATE_TTL`` bounds how long a process
without a shared cache (the in-memory one of a laptop demo, where the replay
runs in another process) can show a stale flag.

The services that change the state call ``forget()``, at once and again when
their transaction commits. It does not delete the entry but moves on a
generation mark: each entry carries the mark read before its row was, and
holds only while the mark is unchanged. A plain delete would not do: a
request that read the row just before the commit could store the old state
just after the delete; the pages and answers cached under the event that
started (or reset) the rehearsal would then keep the stale flag until the
next event, which on the eve of a poll may be hours away.

Events do not depend on this cache: ``services.record_events`` reads the row
itself under the event-log lock, so each event's own ``rehearsal`` flag is
exact.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

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


def _keys() -> tuple[str, str]:
    """The cache keys of the generation mark and of the state: one pair per database, so
    deployments or test runs sharing a Redis never read each other's."""
    name = settings.DATABASES["default"]["NAME"]
    return f"results.rehearsal.generation:{name}", f"results.rehearsal.state:{name}"


def _lookup() -> tuple[State | None, object]:
    """The cached state if it still holds (else None), and the generation mark: one cache round trip."""
    generation_key, state_key = _keys()
    found = cache.get_many([generation_key, state_key])
    generation = found.get(generation_key)
    entry = found.get(state_key)
    if entry is not None and entry[0] == generation:
        return entry[1], generation
    return None, generation


def cached() -> State | None:
    """The switches if the cache holds them, without reading the database (``None``: read ``current()``)."""
    return _lookup()[0]


def current() -> State:
    """The switches, from the cache when it has them."""
    state, generation = _lookup()
    if state is None:
        # The mark was read before the row: a forget() from now on makes this entry stale.
        state = read_state()
        cache.set(_keys()[1], (generation, state), STATE_TTL)
    return state


def remember(state: State, timeout: float = STATE_TTL) -> None:
    """Cache ``state`` as the current one (tests start from "not rehearsing" without a query)."""
    generation_key, state_key = _keys()
    cache.set(state_key, (cache.get(generation_key), state), timeout)


def clear() -> None:
    """Drop the cached state and its mark (tests; the next read is a miss)."""
    cache.delete_many(_keys())


def _new_generation() -> None:
    cache.set(_keys()[0], uuid.uuid4().hex, None)


def forget() -> None:
    """Make the cached state stale now and once the current transaction commits (services call this)."""
    _new_generation()
    transaction.on_commit(_new_generation)
