"""Admin login throttling: a few failures per username and address, then a pause.

Counts live in Django's cache (Redis when ``REDIS_URL`` is set, so every
server process shares them). The window is fixed: it starts at the first
failure and lasts ``LOGIN_FAILURE_WINDOW`` seconds; a successful login clears
the count.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache

from electionsite import net


def client_address(request) -> str:
    """The client's address: behind a proxy, from the trusted header only (electionsite/net.py)."""
    return net.client_address(request)


def _key(username: str, address: str, what: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\n{address}".encode()).hexdigest()
    return f"admin-login:{what}:{digest}"


def limit() -> int:
    return settings.LOGIN_FAILURE_LIMIT


def window() -> int:
    return settings.LOGIN_FAILURE_WINDOW


def failures(username: str, address: str) -> int:
    return cache.get(_key(username, address, "count"), 0)


def minutes_left(username: str, address: str) -> int:
    """Whole minutes until the window of this username and address ends (at least 1)."""
    started = cache.get(_key(username, address, "since"))
    if started is None:
        return 0
    return max(1, math.ceil((started + window() - time.time()) / 60))


def is_locked(username: str, address: str) -> bool:
    return failures(username, address) >= limit()


def record_failure(username: str, address: str) -> int:
    """Count one failed login; returns the failures in the current window."""
    count_key = _key(username, address, "count")
    cache.add(_key(username, address, "since"), time.time(), window())
    cache.add(count_key, 0, window())
    try:
        return cache.incr(count_key)
    except ValueError:  # the window ended between add and incr
        cache.set(count_key, 1, window())
        return 1


def reset(username: str, address: str) -> None:
    cache.delete_many([_key(username, address, "count"), _key(username, address, "since")])
