"""Answers kept until the next event, and automatic persisted queries.

Everything public changes only with an event, so the answer to a query
stays exact until the next event commits. The HTTP view keys each
cacheable request by its document, operation name, variables and access
level (anonymous, or a partner's key) and stores the answer's bytes with
the latest committed event id (``results.cursor``) at which it was
computed. A repeated request whose entry carries the current id is
answered with those bytes: no parsing, validation or execution.

- Where: Redis with ``REDIS_URL`` (shared by every process; entries expire
  after ``ENTRY_TTL`` to bound memory), and a small copy per process (so a
  hit does not even fetch the bytes from Redis); in the process alone
  otherwise.
- Single flight: the first request after an event computes the answer;
  identical requests arriving meanwhile in the same process wait for it,
  and those in other processes wait (up to ``LOCK_WAIT``) for the Redis
  lock's holder to store it.
- Only successful query answers are stored: an answer with any error is
  computed every time (a client's bad variables must not cost a cache
  entry, and a failure must not be replayed).

Automatic persisted queries follow Apollo's protocol
(``extensions.persistedQuery = {version: 1, sha256Hash}``): a request with
the hash alone is answered from the registered document, or with the
``PERSISTED_QUERY_NOT_FOUND`` error; a request with both the document and
its hash registers it (a hash that does not match is an error), so a page's
GET URL is short and a CDN can cache it. A persisted document is checked
against the document limits like any other, and only documents within them
are registered.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from graphql import GraphQLError, OperationType

from results import cursor

from . import limits

logger = logging.getLogger(__name__)

ENTRY_TTL = 600  # seconds an entry lives in Redis (it is exact until the next event anyway)
LOCAL_ENTRIES = 256  # entries kept in each process
LOCAL_BYTES = 64 * 1024 * 1024  # and at most this many bytes of answers
MAX_ENTRY_BYTES = 2 * 1024 * 1024  # larger answers are not stored
LOCK_TTL_MS = 5_000  # the cross-process single-flight lock's lifetime
LOCK_WAIT = 2.0  # seconds another process's request waits for the lock holder's answer
PERSISTED_TTL = 7 * 24 * 3600  # seconds a registered document is kept (re-registered on a miss)
LOCAL_PERSISTED = 1024


@dataclass(frozen=True)
class Entry:
    cursor: int
    body: bytes


class PersistedQueryError(Exception):
    """A persisted-query request that cannot be answered: a GraphQL error with a code."""

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


NOT_FOUND = PersistedQueryError("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", 200)


def namespace() -> str:
    return f"electionsite:gql:{settings.DATABASES['default']['NAME']}"


def request_key(query: str, operation_name: str | None, variables: dict | None, access: str) -> str:
    """The cache key of a request: its document, operation, variables and access level."""
    material = json.dumps(
        [query, operation_name, variables or {}, access], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def etag(key: str, at: int, media: str) -> str:
    """The entity tag of the answer to ``key`` at event ``at`` in ``media``: the same in every process."""
    return f'"{at}-{_representation(key, media)}"'


@functools.lru_cache(maxsize=4096)
def _representation(key: str, media: str) -> str:
    return hashlib.sha256(f"{key}|{media}".encode()).hexdigest()[:20]


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (weak comparison, as RFC 9110 says for it)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == tag for candidate in if_none_match.split(","))


def is_cacheable_query(query: str) -> bool:
    """True when the document's operation(s) are queries (the parse is cached by ``limits``)."""
    try:
        document = limits.parse_bounded(_schema(), query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if getattr(d, "operation", None) is not None]
    return bool(operations) and all(d.operation is OperationType.QUERY for d in operations)


def _schema():
    from .root import schema

    return schema._schema


class _Local:
    """The process's own copies (every event loop of the process shares them)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.bytes = 0
        self.persisted: OrderedDict[str, str] = OrderedDict()
        self.executions = 0  # answers computed for storing (tests count them)

    def entry(self, key: str, at: int) -> Entry | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or entry.cursor != at:
                return None
            self.entries.move_to_end(key)
            return entry

    def keep(self, key: str, entry: Entry) -> None:
        with self.lock:
            current = self.entries.get(key)
            if current is not None and current.cursor > entry.cursor:
                return  # never replace a newer answer with an older one
            if current is not None:
                self.bytes -= len(current.body)
            self.entries[key] = entry
            self.bytes += len(entry.body)
            self.entries.move_to_end(key)
            while len(self.entries) > LOCAL_ENTRIES or self.bytes > LOCAL_BYTES:
                _, dropped = self.entries.popitem(last=False)
                self.bytes -= len(dropped.body)

    def document(self, digest: str) -> str | None:
        with self.lock:
            return self.persisted.get(digest)

    def remember(self, digest: str, query: str) -> None:
        with self.lock:
            self.persisted[digest] = query
            self.persisted.move_to_end(digest)
            while len(self.persisted) > LOCAL_PERSISTED:
                self.persisted.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.bytes = 0
            self.persisted.clear()
            self.executions = 0


local = _Local()


# KEYS: an answer's entry, its single-flight lock at the cursor. ARGV: the cursor, the lock's
# lifetime (ms). Returns {1, entry} when the entry was stored at that cursor, else {2} when this
# caller took the lock, {0} when another holds it: what GET, EXISTS and SET NX said in three.
_CLAIM = """
local raw = redis.call('GET', KEYS[1])
if raw then
  local sep = string.find(raw, ':', 1, true)
  if sep and string.sub(raw, 1, sep - 1) == ARGV[1] then
    return {1, raw}
  end
end
if redis.call('SET', KEYS[2], 1, 'NX', 'PX', ARGV[2]) then
  return {2}
end
return {0}
"""


class Store:
    """Entries and persisted documents, as one event loop reaches them (one per process in production)."""

    def __init__(self, redis) -> None:
        self.redis = redis  # the loop's asyncio Redis client, or None
        self.inflight: dict[tuple[str, int], asyncio.Future] = {}
        self._claim_script = None

    # ------------------------------------------------------------ the cursor

    async def cursor(self, *, outside_request: bool = False) -> int:
        return await cursor.alatest(self.redis, outside_request=outside_request)

    # ------------------------------------------------------------ entries

    async def get(self, key: str, at: int) -> Entry | None:
        entry = local.entry(key, at)
        if entry is not None:
            return entry
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(f"{namespace()}:entry:{key}")
        except Exception:
            logger.warning("reading a cached answer from Redis failed", exc_info=True)
            return None
        if raw is None:
            return None
        stored_at, _, body = raw.partition(b":")
        if int(stored_at) != at:
            return None
        entry = Entry(at, body)
        local.keep(key, entry)
        return entry

    async def put(self, key: str, entry: Entry, *, unlock: int | None = None) -> None:
        """Keep ``entry`` here and in Redis (``unlock``: and release the lock taken at that cursor,
        in the same round trip)."""
        if len(entry.body) > MAX_ENTRY_BYTES:
            if unlock is not None:
                await self._unlock(key, unlock)
            return
        local.keep(key, entry)
        if self.redis is not None:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.set(
                        f"{namespace()}:entry:{key}",
                        str(entry.cursor).encode() + b":" + entry.body,
                        ex=ENTRY_TTL,
                    )
                    if unlock is not None:
                        pipe.delete(f"{namespace()}:lock:{key}:{unlock}")
                    await pipe.execute()
            except Exception:
                logger.warning("storing a cached answer in Redis failed", exc_info=True)
                if unlock is not None:
                    await self._unlock(key, unlock)

    async def single_flight(self, key: str, at: int, compute) -> tuple[Entry | None, object]:
        """The entry for ``key`` at ``at``, computed once however many ask at the same time.

        ``compute()`` returns ``(entry or None, its own result)``; a request that
        computed gets ``(entry, result)``, one that waited ``(entry, None)``
        (``entry`` None: the answer was not cacheable, so the waiter computes its own).
        Across processes: one Redis call reads the stored entry and, when there is
        none, takes the lock; another stores the answer and releases the lock.
        """
        flight = self.inflight.get((key, at))
        if flight is not None:
            return await asyncio.shield(flight), None
        flight = self.inflight[(key, at)] = asyncio.get_running_loop().create_future()
        try:
            entry, lock = await self._claim(key, at)
            if entry is None and lock is None:  # another process is computing it
                entry = await self._wait_for_other_process(key, at)
                lock = False if entry is not None else await self._lock(key, at)
            if entry is not None:
                flight.set_result(entry)
                return entry, None
            released = False
            try:
                local.executions += 1
                entry, result = await compute()
                if entry is not None:
                    await self.put(key, entry, unlock=at if lock else None)
                    released = bool(lock)
            finally:
                if lock and not released:
                    await self._unlock(key, at)
            flight.set_result(entry)
            return entry, result
        except asyncio.CancelledError:
            # This request went away (its client disconnected): the others compute their own.
            if not flight.done():
                flight.set_result(None)
            raise
        except BaseException as exc:
            if not flight.done():
                flight.set_exception(exc)  # a timeout: every waiter gets the same answer
                flight.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            self.inflight.pop((key, at), None)

    async def _claim(self, key: str, at: int) -> tuple[Entry | None, bool | None]:
        """The entry stored at ``at`` (this process's copy, else Redis's), or None and whether
        this process now holds the lock to compute it (None: another process holds it)."""
        entry = local.entry(key, at)
        if entry is not None or self.redis is None:
            return entry, False
        try:
            if self._claim_script is None:
                self._claim_script = self.redis.register_script(_CLAIM)
            found = await self._claim_script(
                keys=[f"{namespace()}:entry:{key}", f"{namespace()}:lock:{key}:{at}"], args=[at, LOCK_TTL_MS]
            )
        except Exception:
            logger.warning("reading a cached answer from Redis failed", exc_info=True)
            return None, False
        if found[0] == 1:
            entry = Entry(at, bytes(found[1]).partition(b":")[2])
            local.keep(key, entry)
            return entry, False
        return None, True if found[0] == 2 else None

    async def _lock(self, key: str, at: int) -> bool:
        if self.redis is None:
            return False
        try:
            return bool(await self.redis.set(f"{namespace()}:lock:{key}:{at}", 1, nx=True, px=LOCK_TTL_MS))
        except Exception:
            return False

    async def _unlock(self, key: str, at: int) -> None:
        try:
            await self.redis.delete(f"{namespace()}:lock:{key}:{at}")
        except Exception:
            logger.warning("releasing a single-flight lock failed", exc_info=True)

    async def _wait_for_other_process(self, key: str, at: int) -> Entry | None:
        """When another process holds the lock for this answer, wait (briefly) for it to store it."""
        if self.redis is None:
            return None
        lock = f"{namespace()}:lock:{key}:{at}"
        deadline = time.monotonic() + LOCK_WAIT
        try:
            while await self.redis.exists(lock):
                if time.monotonic() > deadline:
                    return None
                await asyncio.sleep(0.01)
        except Exception:
            return None
        return await self.get(key, at)

    # ------------------------------------------------------------ persisted documents

    async def persisted_query(self, digest: str) -> str | None:
        query = local.document(digest)
        if query is not None or self.redis is None:
            return query
        try:
            raw = await self.redis.get(f"{namespace()}:apq:{digest}")
        except Exception:
            logger.warning("reading a persisted query from Redis failed", exc_info=True)
            return None
        if raw is None:
            return None
        query = raw.decode()
        local.remember(digest, query)
        return query

    async def register(self, digest: str, query: str) -> None:
        if local.document(digest) == query:
            return
        local.remember(digest, query)
        if self.redis is not None:
            try:
                await self.redis.set(f"{namespace()}:apq:{digest}", query.encode(), ex=PERSISTED_TTL)
            except Exception:
                logger.warning("registering a persisted query in Redis failed", exc_info=True)


async def resolve_persisted(store: Store, query: object, extensions: object) -> str | None:
    """The document of a request, after Apollo's persisted-query protocol.

    Returns ``query`` itself when the request does not use the protocol;
    raises ``PersistedQueryError`` for an unknown hash, a hash that does not
    match the document sent, or an unsupported version.
    """
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is None:
        return query if isinstance(query, str) else None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(
            "Unsupported persisted query version: send `extensions.persistedQuery.version` 1.",
            "PERSISTED_QUERY_VERSION",
            400,
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError(
            "`extensions.persistedQuery.sha256Hash` must be the 64 hexadecimal digits of the document's SHA-256.",
            "PERSISTED_QUERY_HASH_INVALID",
            400,
        )
    digest = digest.lower()
    if isinstance(query, str):
        if hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest() != digest:
            raise PersistedQueryError(
                "provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH", 400
            )
        try:
            limits.parse_bounded(_schema(), query)
        except GraphQLError:
            return query  # answered with its error, and not registered
        await store.register(digest, query)
        return query
    found = await store.persisted_query(digest)
    if found is None:
        raise NOT_FOUND
    return found


_stores: dict[int, Store] = {}


def store() -> Store:
    """The store of the running event loop, sharing the access watcher's Redis client."""
    from . import access

    loop = asyncio.get_running_loop()
    current = _stores.get(id(loop))
    if current is None or current._loop is not loop:
        watcher = access.watcher()
        current = _stores[id(loop)] = Store(watcher.redis.redis if watcher.redis else None)
        current._loop = loop
    return current


def enabled() -> bool:
    return settings.GRAPHQL_RESPONSE_CACHE


def clear() -> None:
    """Forget every stored answer and persisted document (this process's and, with Redis, the
    shared ones of this database, the live pages' among them): for tests and for an operator
    who wants a clean slate."""
    local.clear()
    if settings.REDIS_URL:
        import redis

        cursor.forget()
        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            # Leading "*": the live pages' entries are stored through Django's cache, which
            # puts its own prefix before the key (live/queries.py).
            keys = list(client.scan_iter(f"*{namespace()}:*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
