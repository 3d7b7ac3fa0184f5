"""Who has which ballot open right now, for the data desk (not published, never in the event log).

Each open ballot page sends a heartbeat every ``HEARTBEAT_SECONDS``; an editor
counts as present until ``TTL_SECONDS`` after the last one, or until the page
says it is leaving. Kept in the cache (Redis when ``REDIS_URL`` is set, so every
server process sees it). The index of present editors is read, changed and
written without a lock: two heartbeats at the same instant may drop one entry,
which the next heartbeat restores (at most one interval late), a fair price for
a hint that is never authoritative.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache

HEARTBEAT_SECONDS = 10
TTL_SECONDS = 30
INDEX_KEY = "presence:index"


@dataclass(frozen=True)
class Present:
    """One editor with one ballot page open."""

    ballot_pk: int
    user_pk: int
    username: str
    since: float


def _key(ballot_pk: int, user_pk: int) -> str:
    return f"presence:{ballot_pk}:{user_pk}"


def _live_index(now: float) -> dict[str, float]:
    index = cache.get(INDEX_KEY) or {}
    return {key: expires for key, expires in index.items() if expires > now}


def heartbeat(ballot_pk: int, user, *, now: float | None = None) -> None:
    """Record that ``user`` has ballot ``ballot_pk`` open now."""
    now = time.time() if now is None else now
    key = _key(ballot_pk, user.pk)
    entry = cache.get(key)
    since = entry["since"] if entry else now
    cache.set(key, {"username": user.get_username(), "since": since, "at": now}, TTL_SECONDS)
    index = _live_index(now)
    index[key] = now + TTL_SECONDS
    cache.set(INDEX_KEY, index, TTL_SECONDS)


def leave(ballot_pk: int, user) -> None:
    """Record that ``user`` closed ballot ``ballot_pk`` (or moved on to another page)."""
    key = _key(ballot_pk, user.pk)
    cache.delete(key)
    index = cache.get(INDEX_KEY) or {}
    if index.pop(key, None) is not None:
        cache.set(INDEX_KEY, index, TTL_SECONDS)


def present(*, now: float | None = None) -> list[Present]:
    """Every editor with a ballot page open now, oldest first (two cache reads)."""
    now = time.time() if now is None else now
    keys = list(_live_index(now))
    entries = cache.get_many(keys) if keys else {}
    found = []
    for key, entry in entries.items():
        if entry["at"] + TTL_SECONDS <= now:
            continue
        _, ballot_pk, user_pk = key.split(":")
        found.append(Present(int(ballot_pk), int(user_pk), entry["username"], entry["since"]))
    found.sort(key=lambda p: (p.since, p.username))
    return found
