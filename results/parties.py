"""Every party, loaded once per process and shared by every read.

Parties change a few times a year, and a results page names the same dozen
on hundreds of rows: loading a ``Party`` per candidacy row cost more than
the rest of the row. Reads take parties from here by id instead of joining
them. ``save_party`` bumps a generation in the cache (Redis when set, so
every process sees it) once its transaction commits; a process reloads when
the generation moved, or when asked for a party it has not seen (one created
since it loaded).
"""

from __future__ import annotations

import threading

from django.core.cache import cache

from .models import Party

GENERATION_KEY = "results.parties.generation"

_lock = threading.Lock()
_loaded: tuple[object, dict[int, Party], dict[str, Party]] | None = None


def _generation():
    return cache.get(GENERATION_KEY, 0)


def _load(generation) -> tuple[object, dict[int, Party], dict[str, Party]]:
    parties = list(Party.objects.order_by())
    by_pk = {p.pk: p for p in parties}
    for party in parties:
        # The lead party shares the one loaded row: reading it never queries.
        party._state.fields_cache["lead_party"] = by_pk.get(party.lead_party_id)
    return generation, by_pk, {p.ec_id: p for p in parties}


def _current(generation=None) -> tuple[object, dict[int, Party], dict[str, Party]]:
    global _loaded
    if generation is None:
        generation = _generation()
    loaded = _loaded
    if loaded is None or loaded[0] != generation:
        with _lock:
            loaded = _loaded = _load(generation)
    return loaded


def refresh() -> dict[int, Party]:
    """Reload the shared parties if a ``save_party`` committed since they were loaded.

    Call it where rows are read (a loader, in a thread under async execution),
    after reading them: resolvers then look parties up with ``shared`` and
    ``shared_by_ec_id``, which never query (they run in the event loop).
    """
    return _current()[1]


def parties_by_pk() -> dict[int, Party]:
    """Every party by database id (shared rows: never modify them)."""
    return _current()[1]


def parties_by_ec_id() -> dict[str, Party]:
    """Every party by Electoral Commission id (shared rows: never modify them)."""
    return _current()[2]


def _reload() -> tuple[object, dict[int, Party], dict[str, Party]]:
    global _loaded
    with _lock:
        _loaded = _load(_generation())
    return _loaded


def shared(pk: int) -> Party:
    """The party with this id, as loaded by the last ``refresh`` (reloading only if it is missing)."""
    loaded = _loaded
    found = loaded[1].get(pk) if loaded is not None else None
    return found if found is not None else _reload()[1][pk]


def shared_by_ec_id(ec_id: str) -> Party:
    """The party with this Electoral Commission id, as loaded by the last ``refresh``."""
    loaded = _loaded
    found = loaded[2].get(ec_id) if loaded is not None else None
    return found if found is not None else _reload()[2][ec_id]


def party(pk: int, by_pk: dict[int, Party] | None = None) -> Party:
    """The party with this id, reloading once if it is newer than the loaded ones."""
    found = (by_pk if by_pk is not None else parties_by_pk()).get(pk)
    return found if found is not None else _reload()[1][pk]


def party_by_ec_id(ec_id: str) -> Party:
    """The party with this Electoral Commission id, reloading once if it is new."""
    found = parties_by_ec_id().get(ec_id)
    return found if found is not None else _reload()[2][ec_id]


def invalidate() -> None:
    """Every process reloads its parties at its next read (``save_party`` calls this on commit)."""
    global _loaded
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not set yet
        cache.set(GENERATION_KEY, 1, timeout=None)
    _loaded = None


def attach_parties(candidacies) -> None:
    """Set each candidacy's party (and lead party) from the shared rows, without a query."""
    by_pk = parties_by_pk()
    for c in candidacies:
        c._state.fields_cache["party"] = party(c.party_id, by_pk)
