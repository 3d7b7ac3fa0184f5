"""Cache hits for anonymous GETs of /graphql, answered before Django's request handling.

A hit of the response cache (``schema.response_cache``) costs little; going
through Django's handler and middleware (a thread per request for the sync
middleware, whitenoise's included) costs several times more. So the ASGI
application wraps Django with this: an anonymous ``GET /graphql`` whose
answer is stored at the latest committed event is answered here, with the
headers the view and the security middleware would give it, after counting
it against the caller's quota (one Redis round trip: the cursor and the
count together). Anything else, and every miss, goes to Django unchanged,
with the quota decision already taken passed along in the scope, so a
request is counted once.

The headers a response gets here are tested against those Django gives the
same request (``tests/test_response_cache.py``), so the two paths cannot drift.
"""

from __future__ import annotations

import json
import urllib.parse

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from electionsite import net
from results import cursor

from . import access, http, response_cache

DECISION = http.COUNTED  # the scope key carrying the quota decision already taken


class CachedAnswers:
    """ASGI middleware: serve response-cache hits of anonymous GETs, pass everything else on."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"] != "/graphql"
            or not response_cache.enabled()
        ):
            return await self.app(scope, receive, send)
        answered = await self._answer(scope, send)
        if not answered:
            await self.app(scope, receive, send)

    async def _answer(self, scope, send) -> bool:
        headers = _headers(scope)
        query_string = scope.get("query_string", b"")
        if (
            settings.PUBLIC_API != "open"
            or access.key_from_headers(headers) is not None
            or len(query_string) > http.MAX_QUERY_STRING
            or not _host_allowed(headers.get("host", ""))
            or "text/event-stream" in headers.get("accept", "").lower()  # graphql-sse: Django's
        ):
            return False
        secure = _is_secure(scope, headers)
        if settings.SECURE_SSL_REDIRECT and not secure:
            return False  # Django redirects it
        key = _request_key(query_string)
        if key is None:
            return False
        store = response_cache.store()
        identity = await access.identify(None, net.scope_client_address(scope), in_request=True)
        at, decision = await _cursor_and_count(store, identity)
        scope[DECISION] = decision  # a miss goes on to Django, counted already
        scope[http.CURSOR] = at  # and with the latest event id it was looked up at
        if not decision.allowed:
            return False  # Django answers the 429 (and does not count it again)
        entry = response_cache.local.entry(key, at)
        if entry is None:
            return False
        media = http.negotiate(headers.get("accept"))
        tag = response_cache.etag(key, at, media)
        out = [
            (
                b"cache-control",
                f"public, max-age={http.GET_MAX_AGE}, stale-while-revalidate={http.GET_STALE}".encode(),
            ),
            (b"vary", http.VARY.encode()),
            (b"etag", tag.encode()),
            *((name.lower().encode(), value.encode()) for name, value in decision.headers().items()),
            *_security_headers(secure),
        ]
        if response_cache.matches(headers.get("if-none-match"), tag):
            await send({"type": "http.response.start", "status": 304, "headers": out})
            await send({"type": "http.response.body", "body": b""})
            return True
        out += [
            (b"content-type", f"{media}; charset=utf-8".encode()),
            (b"content-length", str(len(entry.body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": out})
        await send({"type": "http.response.body", "body": entry.body})
        return True


_keys: dict[bytes, str | None] = {}  # query string -> request key (a page's URL repeats)
_KEYS_KEPT = 4096


def _request_key(query_string: bytes) -> str | None:
    """The response cache's key for a GET's query string, or None when Django must see it."""
    if query_string in _keys:
        key = _keys[query_string]
        if key is not None or not _persisted_hash(query_string):
            return key
    key = _key_of(query_string)
    if len(_keys) >= _KEYS_KEPT:
        _keys.clear()
    _keys[query_string] = key
    return key


def _persisted_hash(query_string: bytes) -> bool:
    return b"persistedQuery" in query_string or b"persistedquery" in query_string.lower()


def _key_of(query_string: bytes) -> str | None:
    params = _params(query_string)
    if params is None:
        return None
    query = params.get("query")
    extensions = params.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        return None
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is not None:
        if query is not None or not isinstance(persisted, dict) or persisted.get("version") != 1:
            return None  # registering (Django checks the hash), or an error Django words
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str):
            return None
        query = response_cache.local.document(digest.lower())  # this process's copy; else Django
    variables = params.get("variables")
    operation_name = params.get("operationName")
    if (
        not isinstance(query, str)
        or not isinstance(variables, dict | None)
        or not isinstance(operation_name, str | None)
    ):
        return None
    return response_cache.request_key(query, operation_name, variables, "anonymous")


def _headers(scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers") or ():
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return headers


def _params(query_string: bytes) -> dict | None:
    """The GET parameters as the view reads them, or None when anything is unusual (Django decides)."""
    try:
        pairs = urllib.parse.parse_qsl(
            query_string.decode("utf-8"), keep_blank_values=True, strict_parsing=False
        )
    except UnicodeDecodeError:
        return None
    params: dict = {}
    for name, value in pairs:
        if name in params:
            return None  # a repeated parameter: Django's QueryDict.dict() takes the last; let it
        params[name] = value
    for name in ("variables", "extensions"):
        if params.get(name):
            try:
                params[name] = json.loads(params[name])
            except (ValueError, RecursionError):
                return None
        elif name in params:
            params[name] = None
    return params


def _host_allowed(host: str) -> bool:
    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _is_secure(scope, headers: dict[str, str]) -> bool:
    if scope.get("scheme") == "https":
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, value = proxy
        header = name.removeprefix("HTTP_").lower().replace("_", "-")
        return headers.get(header, "").split(",")[0].strip() == value
    return False


def _security_headers(secure: bool) -> list[tuple[bytes, bytes]]:
    """What SecurityMiddleware and XFrameOptionsMiddleware add to a response (their settings)."""
    out = []
    if secure and settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        out.append((b"strict-transport-security", value.encode()))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        out.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        if not isinstance(policy, str):
            policy = ",".join(policy)
        out.append((b"referrer-policy", policy.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        out.append((b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()))
    out.append((b"x-frame-options", getattr(settings, "X_FRAME_OPTIONS", "DENY").encode()))
    return out


# KEYS: the cursor, its recheck marker, its count of commits, the caller's quota counter.
# ARGV: the recheck interval, the quota counter's lifetime. Returns what results.cursor.alatest
# and access.RedisCounter.hit would read, in one round trip.
_CURSOR_AND_COUNT = """
local value = redis.call('GET', KEYS[1])
local recheck = redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[1])
local commits = redis.call('GET', KEYS[3])
local count = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[2])
return {value, recheck and 1 or 0, commits, count}
"""
_shas: dict[int, str] = {}


async def _script_sha(redis) -> str:
    sha = _shas.get(id(redis))
    if sha is None:
        sha = _shas[id(redis)] = await redis.script_load(_CURSOR_AND_COUNT)
    return sha


async def _cursor_and_count(store: response_cache.Store, identity: access.Identity):
    """The latest event id and the quota decision: one Redis round trip (or none, in memory)."""
    counter = access.watcher().counter
    if store.redis is None or not isinstance(counter, access.RedisCounter) or not cursor.use_shared:
        return await store.cursor(outside_request=True), await access.hit(identity)
    start, reset = access._window()
    quota_key = access.quota_key(identity.bucket, start)
    keys_ = (cursor.key(), cursor.key() + ":checked", cursor.key() + ":commits", quota_key)
    try:
        # One command, not a pipeline of five: the client's work per request is most of its cost.
        value, recheck, commits, count = await store.redis.evalsha(
            await _script_sha(store.redis), 4, *keys_, cursor.RECHECK, settings.QUOTA_WINDOW + 5
        )
    except Exception as error:
        if "NOSCRIPT" in str(error):
            _shas.pop(id(store.redis), None)
        return await store.cursor(outside_request=True), await access.hit(identity)
    decision = access.Decision(
        count <= identity.per_minute, identity.per_minute, max(0, identity.per_minute - count), reset
    )
    if value is None or recheck:
        return await cursor.acheck_table(store.redis, commits, outside_request=True), decision  # safety net
    return int(value), decision
