"""Who is asking, and whether they may: keys, per-minute quotas, subscription caps.

``PUBLIC_API=open`` lets anonymous clients read under a per-address quota
(the demo, a newsroom's own public pages); ``PUBLIC_API=keys`` refuses every
request without a partner's key. Keys travel in ``X-API-Key`` (or
``Authorization: Bearer``) over HTTP and in the ``connection_init`` payload
(``{"apiKey": ...}``) over WebSocket.

Counting is shared by every server process through Redis when ``REDIS_URL``
is set (its asyncio client: the event loop never waits on a socket), and
kept in the process otherwise:

- requests: a fixed one-minute window per partner (all its keys) or per
  anonymous address; over it, 429 with ``Retry-After`` and ``RateLimit-*``;
- subscriptions: a lease per open subscription, renewed while it lives and
  expiring a minute after a process dies, so a crash frees its slots.

When Redis fails, requests are let through (and the failure logged): a
quota must not take the feed down on election night.

Each process also runs a watcher that, every ``KEY_CHECK_INTERVAL`` seconds,
ends the connections of keys revoked and partners suspended since its last
look, records the keys' use counts, and renews the subscription leases.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import logging
import math
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from electionsite import net
from partners import keys

logger = logging.getLogger(__name__)

LEASE = 60  # seconds a subscription's slot lives without renewal
KEY_CHECK_INTERVAL = 2.0  # seconds between the watcher's looks at revoked keys
REDIS_CONNECTIONS = 8  # connections to Redis per process for the counting


@dataclass(frozen=True)
class Identity:
    """The caller: a partner's key, or an anonymous address (open mode)."""

    bucket: str  # what the quota counts: "partner:<id>" or "address:<ip>"
    per_minute: int
    max_subscriptions: int
    key_id: int | None = None
    partner_id: int | None = None
    partner: str | None = None


class Refused(Exception):
    """The request may not proceed: an HTTP status, a WebSocket close code and a message."""

    def __init__(
        self, status: int, message: str, code: str, *, reason: str, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.reason = reason  # for a WebSocket close frame: at most 123 bytes
        self.retry_after = retry_after

    @property
    def close_code(self) -> int:
        return {401: 4401, 403: 4403, 429: 4429}.get(self.status, 4400)


NO_KEY = (
    "An API key is required: send it in the X-API-Key header (over WebSocket, as "
    '{"apiKey": "..."} in the connection_init payload). Ask the newsroom for a key.'
)
BAD_KEY = "This API key is not valid: it is unknown or has been revoked. Check it, or ask the newsroom for a new one."
SUSPENDED = "This partner's access is suspended. Contact the newsroom."


def key_from_headers(headers) -> str | None:
    """The key in ``X-API-Key``, or in ``Authorization: Bearer <key>``."""
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    authorization = headers.get("authorization") or ""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def identify(raw_key: str | None, address: str, *, in_request: bool) -> Identity:
    """The caller's identity, or ``Refused`` (401 no or bad key, 403 suspended partner).

    In an HTTP request the key is read as Django's own views read (the request's
    end closes the connection); on a long-lived WebSocket, as Channels' consumers do.
    """
    if raw_key:
        run = sync_to_async if in_request else database_sync_to_async
        credential = await run(keys.authenticate)(raw_key)
        if credential is None:
            raise Refused(401, BAD_KEY, "UNAUTHENTICATED", reason="Invalid API key: unknown or revoked.")
        if not credential.active:
            raise Refused(
                403, SUSPENDED, "FORBIDDEN", reason="Partner access suspended: contact the newsroom."
            )
        watcher().record_use(credential.key_id)
        return Identity(
            bucket=f"partner:{credential.partner_id}",
            per_minute=credential.per_minute,
            max_subscriptions=credential.max_subscriptions,
            key_id=credential.key_id,
            partner_id=credential.partner_id,
            partner=credential.partner,
        )
    if settings.PUBLIC_API == "keys":
        raise Refused(
            401,
            NO_KEY,
            "UNAUTHENTICATED",
            reason='API key required: send {"apiKey": "..."} in the connection_init payload.',
        )
    return Identity(
        bucket=f"address:{address}",
        per_minute=settings.ANONYMOUS_PER_MINUTE,
        max_subscriptions=settings.ANONYMOUS_MAX_SUBSCRIPTIONS,
    )


async def identify_request(request) -> Identity:
    return await identify(key_from_headers(request.headers), net.client_address(request), in_request=True)


async def identify_scope(scope: dict, payload: dict | None) -> Identity:
    raw = (payload or {}).get("apiKey")
    if raw is not None and not isinstance(raw, str):
        raise Refused(
            401, "`apiKey` must be a string.", "UNAUTHENTICATED", reason="`apiKey` must be a string."
        )
    if not raw:
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        raw = key_from_headers(headers)
    return await identify(raw, net.scope_client_address(scope), in_request=False)


# ---------------------------------------------------------------- counting


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the window ends

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
            "RateLimit-Policy": f"{self.limit};w={settings.QUOTA_WINDOW}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset)
        return headers


def _window() -> tuple[int, int]:
    """The current window's start (a multiple of the window, the same in every process) and
    the whole seconds until it ends."""
    window = settings.QUOTA_WINDOW
    now = time.time()
    start = int(now // window) * window
    return start, max(1, math.ceil(start + window - now))


def quota_key(bucket: str, start: int) -> str:
    """The Redis key counting ``bucket``'s requests in the window starting at ``start``."""
    return f"{settings.QUOTA_NAMESPACE}:quota:{bucket}:{start}"


class MemoryCounter:
    """Counts in this process (no REDIS_URL: one process)."""

    def __init__(self) -> None:
        self.hits: dict[tuple[str, int], int] = {}
        self.leases: dict[str, dict[str, float]] = defaultdict(dict)

    async def hit(self, bucket: str, limit: int) -> Decision:
        start, reset = _window()
        if len(self.hits) > 100_000:  # old windows
            self.hits = {k: v for k, v in self.hits.items() if k[1] == start}
        count = self.hits[(bucket, start)] = self.hits.get((bucket, start), 0) + 1
        return Decision(count <= limit, limit, max(0, limit - count), reset)

    async def acquire(self, bucket: str, member: str, cap: int) -> bool:
        now = time.time()
        leases = self.leases[bucket]
        for m, expires in list(leases.items()):
            if expires < now:
                del leases[m]
        if len(leases) >= cap:
            return False
        leases[member] = now + LEASE
        return True

    async def release(self, bucket: str, member: str) -> None:
        self.leases[bucket].pop(member, None)
        if not self.leases[bucket]:
            del self.leases[bucket]

    async def renew(self, leases: dict[str, str]) -> None:
        expires = time.time() + LEASE
        for member, bucket in leases.items():
            if member in self.leases.get(bucket, {}):
                self.leases[bucket][member] = expires


class _Throttled:
    """Logs a recurring failure at most once per ``every`` seconds, with how often it happened."""

    def __init__(self, message: str, every: float = 10.0) -> None:
        self.message, self.every = message, every
        self.last = -math.inf
        self.count = 0

    def __call__(self, error: BaseException) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        count, self.count = self.count, 0
        logger.warning(
            "%s (%d time%s since the last report)",
            self.message,
            count,
            "" if count == 1 else "s",
            exc_info=(type(error), error, error.__traceback__),
        )


class RedisCounter:
    """Counts in Redis, shared by every process, with the asyncio client.

    Every count and lease waiting at the same moment goes to Redis together: one
    ``MULTI`` … ``EXEC`` round trip on one connection for however many callers (up
    to ``BATCH`` each), while the next batch gathers. A connection storm (thousands of
    WebSockets reconnecting after a deploy, each counting its ``connection_init`` and
    its subscribe) thus costs a few round trips, not one connection each: with a
    connection per call, the pool ran dry, callers timed out waiting for one, and
    every count was let through uncounted.
    """

    BATCH = 1_000  # operations per round trip

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        # A few connections, shared: the batches use one; the response cache and the
        # watcher's renewals the others. redis-py's connection setup is slow, in the event loop.
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=REDIS_CONNECTIONS, timeout=5, socket_timeout=5, socket_connect_timeout=2
        )
        self.redis = redis.Redis(connection_pool=pool)
        self._pending: list[tuple[tuple, asyncio.Future | None]] = []
        self._flusher: asyncio.Task | None = None
        self._quota_failed = _Throttled("quota counting in Redis failed; requests are let through")
        self._lease_failed = _Throttled(
            "subscription counting in Redis failed; subscriptions are let through"
        )
        self._release_failed = _Throttled("releasing subscription leases in Redis failed")

    # Each operation: (kind, key, *arguments); its result, in the batch's EXEC reply, is
    # that of its last command of interest (see ``_queue`` and ``_result``).
    def _submit(self, operation: tuple, wait: bool = True) -> asyncio.Future | None:
        loop = asyncio.get_running_loop()
        future = loop.create_future() if wait else None
        self._pending.append((operation, future))
        if self._flusher is None or self._flusher.done():
            # A context of its own: it outlives the request or connection that started it.
            self._flusher = loop.create_task(self._flush(), context=contextvars.Context())
        return future

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let this moment's other callers join the batch
        while self._pending:
            batch, self._pending = self._pending[: self.BATCH], self._pending[self.BATCH :]
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    for operation, _ in batch:
                        self._queue(pipe, operation)
                    replies = await pipe.execute()
            except asyncio.CancelledError:
                for _, future in batch + self._pending:
                    if future is not None and not future.done():
                        future.cancel()
                self._pending = []
                raise
            except Exception as error:  # Redis down or slow: every caller of the batch hears it
                for _, future in batch:
                    if future is not None and not future.done():
                        future.set_exception(error)
                continue
            position = 0
            for operation, future in batch:
                size = _COMMANDS[operation[0]]
                if future is not None and not future.done():
                    future.set_result(replies[position : position + size])
                position += size

    @staticmethod
    def _queue(pipe, operation: tuple) -> None:
        kind, key, *args = operation
        if kind == "hit":
            (ttl,) = args
            pipe.incr(key).expire(key, ttl)
        elif kind == "acquire":
            member, now = args
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zadd(key, {member: now + LEASE})
            pipe.zcard(key)
            pipe.expire(key, LEASE * 2)
        elif kind == "release":
            (member,) = args
            pipe.zrem(key, member)

    async def hit(self, bucket: str, limit: int) -> Decision:
        start, reset = _window()
        key = quota_key(bucket, start)
        try:
            count, _ = await self._submit(("hit", key, settings.QUOTA_WINDOW + 5))
        except Exception as error:
            self._quota_failed(error)
            return Decision(True, limit, limit, reset)
        return Decision(count <= limit, limit, max(0, limit - count), reset)

    async def acquire(self, bucket: str, member: str, cap: int) -> bool:
        key = f"{settings.QUOTA_NAMESPACE}:subscriptions:{bucket}"
        try:
            _, _, count, _ = await self._submit(("acquire", key, member, time.time()))
        except Exception as error:
            self._lease_failed(error)
            return True
        if count > cap:
            self._submit(("release", key, member), wait=False)
            return False
        return True

    async def release(self, bucket: str, member: str) -> None:
        """Free the slot (in the next batch; nobody waits for it: a lease that could not be
        removed expires ``LEASE`` seconds after its last renewal)."""
        future = self._submit(("release", f"{settings.QUOTA_NAMESPACE}:subscriptions:{bucket}", member))
        try:
            await future
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._release_failed(error)

    async def renew(self, leases: dict[str, str]) -> None:
        if not leases:
            return
        expires = time.time() + LEASE
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for member, bucket in leases.items():
                    pipe.zadd(
                        f"{settings.QUOTA_NAMESPACE}:subscriptions:{bucket}", {member: expires}, xx=True
                    )
                for bucket in set(leases.values()):
                    pipe.expire(f"{settings.QUOTA_NAMESPACE}:subscriptions:{bucket}", LEASE * 2)
                await pipe.execute()
        except Exception:
            logger.warning("renewing subscription leases in Redis failed", exc_info=True)


_COMMANDS = {"hit": 2, "acquire": 4, "release": 1}  # commands each operation queues


# ---------------------------------------------------------------- the process's watcher


class Watcher:
    """Per process (per event loop): counters, key uses, leases, and revoked keys' connections."""

    def __init__(self) -> None:
        # Redis's asyncio client belongs to one event loop; the in-memory counts to the process.
        self.redis = RedisCounter(settings.REDIS_URL) if settings.REDIS_URL else None
        self.leases: dict[str, str] = {}  # member -> bucket, for this process's open subscriptions
        self.connections: dict[object, Identity] = {}  # open WebSocket connections with a key
        self._task: asyncio.Task | None = None
        self._since = timezone.now()
        self.prefix = uuid.uuid4().hex[:12]

    @property
    def counter(self) -> RedisCounter | MemoryCounter:
        return self.redis or _memory

    def record_use(self, key_id: int) -> None:
        count, _ = _uses.get(key_id, (0, None))
        _uses[key_id] = (count + 1, timezone.now())
        self.start()

    def start(self) -> None:
        if self._task is None or self._task.done():
            # A context of its own: started from an HTTP request, the task would inherit that
            # request's thread-sensitive executor, which quits when the request ends.
            self._task = asyncio.get_running_loop().create_task(self._run(), context=contextvars.Context())

    def register(self, connection, identity: Identity) -> None:
        """A WebSocket connection to close (4403) if its key is revoked or its partner suspended."""
        if identity.key_id is not None:
            self.connections[connection] = identity
            self.start()

    def unregister(self, connection) -> None:
        self.connections.pop(connection, None)

    async def acquire(self, identity: Identity) -> str | None:
        """A subscription slot for the caller (its lease's name), or None when at the cap."""
        member = f"{self.prefix}:{uuid.uuid4().hex}"
        if not await self.counter.acquire(identity.bucket, member, identity.max_subscriptions):
            return None
        self.leases[member] = identity.bucket
        self.start()
        return member

    async def release(self, member: str) -> None:
        bucket = self.leases.pop(member, None)
        if bucket is not None:
            await self.counter.release(bucket, member)

    async def _run(self) -> None:
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(KEY_CHECK_INTERVAL)
            try:
                await self.check()
                if time.monotonic() - renewed > LEASE / 3:
                    await self.counter.renew(dict(self.leases))
                    renewed = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("checking revoked keys failed; retrying")

    async def check(self) -> None:
        """End connections of keys revoked or partners suspended since the last look; record uses."""
        if _uses:
            await database_sync_to_async(flush_uses)()
        if not self.connections:
            self._since = timezone.now()
            return
        since, now = self._since, timezone.now()
        revoked, suspended = await database_sync_to_async(keys.refused_since)(since)
        # Look back a second past this look next time: a revocation committed while
        # this look ran must not fall between two looks.
        self._since = now - dt.timedelta(seconds=1)
        for connection, identity in list(self.connections.items()):
            if identity.key_id in revoked or identity.partner_id in suspended:
                self.connections.pop(connection, None)
                message = "API key revoked or partner suspended: connection ended."
                await connection.refuse(Refused(403, message, "FORBIDDEN", reason=message))


def flush_uses() -> None:
    """Record the keys' uses counted since the last flush (one UPDATE per key)."""
    uses = dict(_uses)
    _uses.clear()
    keys.record_uses(uses)


_memory = MemoryCounter()
_uses: dict[int, tuple[int, object]] = {}  # key id -> (uses, last used) not yet recorded
_watchers: dict[int, Watcher] = {}


def watcher() -> Watcher:
    """The watcher of the running event loop (one per process in production)."""
    loop = asyncio.get_running_loop()
    current = _watchers.get(id(loop))
    if current is None or current._loop is not loop:
        current = _watchers[id(loop)] = Watcher()
        current._loop = loop
    return current


async def hit(identity: Identity) -> Decision:
    """Count one request against the caller's per-minute quota."""
    return await watcher().counter.hit(identity.bucket, identity.per_minute)


def too_many(decision: Decision) -> Refused:
    per = "a minute" if settings.QUOTA_WINDOW == 60 else f"per {settings.QUOTA_WINDOW} seconds"
    return Refused(
        429,
        f"Rate limit exceeded: {decision.limit} requests {per}. Retry after {decision.reset} seconds.",
        "RATE_LIMITED",
        reason=f"Rate limit exceeded: retry after {decision.reset} seconds.",
        retry_after=decision.reset,
    )
