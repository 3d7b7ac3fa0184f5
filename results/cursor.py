"""The id of the latest committed event: what every cache of published data is keyed to.

Everything public changes only with an event, so an answer (or a rendered
page) stored under the latest event id stays exact until the next event
commits. This module is the one place that says what that id is:

- without Redis (one process, a laptop): one indexed query, ``table()``, each time;
- with ``REDIS_URL`` (any number of processes): a value in Redis, raised by
  ``committed()`` in the committing transaction's ``on_commit`` (so before
  the service that published returns), and only ever raised (a Lua
  compare-and-set), never lowered. As a safety net against a write that
  failed (Redis unreachable at that moment) or a row inserted outside the
  services, the deployment also reads the table at most once every
  ``RECHECK`` seconds, whichever process asks first, and sets the value
  from it (raising it, or lowering it when no commit happened meanwhile: a
  database recreated or restored under the same name); a missing value
  (Redis flushed) is read from the table at once.

So with Redis a request that starts after a declaration's service call has
returned sees its event, in every process, and no cached answer outlives the
next event by more than ``RECHECK`` seconds even if a notice is lost.

The suite's tests run inside transactions that never commit (so ``on_commit``
never runs): they read the table (``tests/conftest.py``), except the tests of
the shared value itself.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

RECHECK = 1  # seconds between the safety-net reads of the table (deployment-wide)

# A commit: KEYS[1] = the cursor, KEYS[2] = the count of commits; ARGV[1] = the event id.
# Raises the cursor to the id if it is higher (or missing) and counts the commit; returns the cursor.
_RAISE = """
redis.call('INCR', KEYS[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
if new > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return new
end
return current
"""

# The safety net: ARGV[1] = the table's latest id, ARGV[2] = the count of commits seen before
# reading the table. With no commit since, the table is the truth: the cursor is set to it,
# lower or not (a database recreated or restored under the same name starts its ids again).
# Otherwise a commit may have raised the cursor past what the table showed: raise only.
_CHECK = """
local commits = redis.call('GET', KEYS[2]) or '0'
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local seen = tonumber(ARGV[1])
if commits == ARGV[2] or seen > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return seen
end
return current
"""

# Tests of code that reads the cursor inside a rolled-back transaction switch the shared
# value off (tests/conftest.py); production never does.
use_shared = True


def table() -> int:
    """The latest committed event's id from the event table (0 before the first): one index lookup."""
    from .models import Event

    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def table_outside_request() -> int:
    """``table()`` for code running outside Django's request cycle (the ASGI fast path): the
    connection is given back (to the pool, or closed) at once, as a request's is at its end."""
    try:
        return table()
    finally:
        close_old_connections()


def _reader(outside_request: bool):
    return sync_to_async(table_outside_request if outside_request else table)


def _shared() -> bool:
    return bool(settings.REDIS_URL) and use_shared


def key() -> str:
    """The Redis key of the cursor: one per database, so deployments or test runs sharing a
    Redis never read each other's."""
    return f"electionsite:cursor:{settings.DATABASES['default']['NAME']}"


def _recheck_key() -> str:
    return key() + ":checked"


def _commits_key() -> str:
    return key() + ":commits"


# ---------------------------------------------------------------- sync (services, pages)

_sync_client = None


def _redis():
    global _sync_client
    if _sync_client is None:
        import redis

        _sync_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _sync_client


def committed(event_id: int) -> None:
    """Raise the shared cursor to ``event_id``: called once its transaction has committed.

    A failure is logged, not raised (the event is durable; the safety net's
    next read of the table raises the value within ``RECHECK`` seconds).
    """
    if not _shared():
        return
    try:
        _redis().eval(_RAISE, 2, key(), _commits_key(), event_id)
    except Exception:
        logger.warning("raising the shared cursor to %s failed", event_id, exc_info=True)


def latest() -> int:
    """The latest committed event id (sync code: the live pages)."""
    if not _shared():
        return table()
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.get(key())
        pipe.set(_recheck_key(), 1, nx=True, ex=RECHECK)
        pipe.get(_commits_key())
        value, recheck, commits = pipe.execute()
        if value is None or recheck:
            return int(_redis().eval(_CHECK, 2, key(), _commits_key(), table(), _text(commits)))
        return int(value)
    except Exception:
        logger.warning("reading the shared cursor failed; reading the table", exc_info=True)
        return table()


def at_least(event_id: int) -> int:
    """``latest()``, for a reader who has already seen event ``event_id`` (a page reloading
    because of it): if the shared value lags behind it (its notice not yet raised, or lost),
    the table is read and the shared value raised to it, so that reader is never answered
    from before the event it saw. An id beyond the table's gets the table's."""
    value = latest()
    if value >= event_id or not _shared():
        return value  # without the shared value, latest() read the table itself
    seen = table()
    try:
        # The safety net's script, raising only ("-1" is never a count of commits).
        return int(_redis().eval(_CHECK, 2, key(), _commits_key(), seen, "-1"))
    except Exception:
        logger.warning("raising the shared cursor to %s failed", seen, exc_info=True)
        return max(value, seen)


# ---------------------------------------------------------------- async (the GraphQL view)


async def alatest(redis, *, outside_request: bool = False) -> int:
    """The latest committed event id, in the event loop: ``redis`` is the loop's asyncio
    client (None without ``REDIS_URL``); the table is read in the request's thread."""
    if redis is None or not use_shared:
        return await _reader(outside_request)()
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.get(key())
            pipe.set(_recheck_key(), 1, nx=True, ex=RECHECK)
            pipe.get(_commits_key())
            value, recheck, commits = await pipe.execute()
        if value is None or recheck:
            return await acheck_table(redis, commits, outside_request=outside_request)
        return int(value)
    except Exception:
        logger.warning("reading the shared cursor failed; reading the table", exc_info=True)
        return await _reader(outside_request)()


async def acheck_table(redis, commits: bytes | None, *, outside_request: bool = False) -> int:
    """Read the table and set the shared value from it (the safety net, or a missing value);
    ``commits`` is the count of commits read before the table."""
    latest = await _reader(outside_request)()
    return int(await redis.eval(_CHECK, 2, key(), _commits_key(), latest, _text(commits)))


def _text(commits: bytes | str | None) -> str:
    if commits is None:
        return "0"
    return commits.decode() if isinstance(commits, bytes) else str(commits)


def forget() -> None:
    """Drop the shared value (it is read from the table at the next request): for tests."""
    if settings.REDIS_URL:
        _redis().delete(key(), _recheck_key(), _commits_key())
