"""GraphQL over HTTP, as the GraphQL-over-HTTP specification prescribes.

Strawberry's Django view answers everything as ``application/json``. This view
also serves ``application/graphql-response+json`` to clients that accept it:
then a request error (a document that does not parse or validate, variables
that do not coerce) is a 400 with no ``data`` entry, while ``application/json``
keeps the legacy 200. Transport errors (malformed JSON, an unsupported content
type, a mutation over GET) become JSON error bodies in the negotiated media
type instead of plain text.

Every request is bounded before anything else is done with it: a body of at
most ``MAX_BODY_BYTES`` (413 beyond), a query string of at most
``MAX_QUERY_STRING`` bytes (414), JSON that is UTF-8, an object, and nested at
most as deep as Python's parser can go (400 otherwise), and an execution time
of at most ``settings.GRAPHQL_TIMEOUT`` seconds (503 beyond: what the request
awaits is cancelled, and ``schema.limits.TimeLimit`` stops the resolvers that
run in the event loop). The document itself is bounded by ``schema.limits``.

A query within those bounds but estimated above ``HEAVY_COST`` fields (a
day's worth of results) executes in the request's database thread instead of
the event loop, ``HEAVY_EXECUTIONS`` at a time per process: completing its
thousands of fields would otherwise hold every other client of the process
(cache hits, WebSocket deliveries, a page's query) for as long as it ran.
Parsing, validation, the extensions and the answer's serialisation stay in
the loop, so its answers, errors and time limit are exactly those of the loop.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from cross_web import HTTPException
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import AsyncGraphQLView
from strawberry.types import ExecutionResult
from strawberry_django.resolvers import resolving_async

from . import access, limits, response_cache, sse
from .limits import TimeLimitExceeded
from .sharing import query_runner

COUNTED = "electionsite.quota_decision"  # the scope key of a decision taken by schema.fast_path
CURSOR = "electionsite.cursor"  # the scope key of the latest event id schema.fast_path read
JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# What a cache (a CDN, a browser) may do with a successful GET answer: serve it for
# GET_MAX_AGE seconds, then for GET_STALE more while it fetches the next one in the background
# (revalidating with the ETag: a 304 when nothing was published meanwhile). So no reader is
# more than GET_MAX_AGE + GET_STALE seconds behind the last committed event.
GET_MAX_AGE = 2
GET_STALE = 3
# A shared cache must keep the answers to keyed requests apart from the anonymous ones (which it
# may serve to anyone), and to each media type apart.
VARY = "Accept, X-API-Key, Authorization"
MAX_BODY_BYTES = 128 * 1024  # a page's query with its variables is ~2 kB
MAX_QUERY_STRING = 16 * 1024  # a GET's query string (uvicorn refuses request lines beyond ~64 kB)
# A query estimated (schema.limits) to resolve more fields than this executes in a worker
# thread, not in the event loop: a day's worth (the national summary, a night page, a partner's
# poll of the feed: 22,500 at first: 500) no longer holds every other client of the process
# while it runs. A page's query (a council's, ~5,800) stays in the loop, so it never waits for a
# turn behind a partner's seconds-long document; it holds the loop ~100 ms for the largest
# council (in a thread it took ~10-20% less, for want of the loop's thread hops).
HEAVY_COST = 10_000
HEAVY_EXECUTIONS = 1  # heavy queries executing at once per process; others wait their turn


def negotiate(accept: str | None) -> str:
    """The response media type for an Accept header.

    ``application/graphql-response+json`` when the client accepts it at least
    as much as ``application/json``; ``application/json`` otherwise (also when
    Accept is missing, ``*/*``, or names only types we do not serve).
    """
    if not accept:
        return JSON
    weights: dict[str, float] = {}
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media] = max(q, weights.get(media, 0.0))
    graphql_q = weights.get(GRAPHQL_RESPONSE_JSON, 0.0)
    json_q = max(weights.get(JSON, 0.0), weights.get("application/*", 0.0), weights.get("*/*", 0.0))
    if graphql_q > 0 and graphql_q >= json_q:
        return GRAPHQL_RESPONSE_JSON
    return JSON


def is_request_error(result: ExecutionResult) -> bool:
    """True when execution never started: parse, validation or variable coercion errors.

    Field errors always carry a ``path``; request errors never do.
    """
    return result.data is None and bool(result.errors) and all(not e.path for e in result.errors)


@method_decorator(csrf_exempt, name="dispatch")  # a read-only public API without cookie auth
class GraphQLHTTPView(AsyncGraphQLView):
    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any):
        request._graphql_media_type = negotiate(request.headers.get("Accept"))
        decision = None
        try:
            self._check_size(request)
            if sse.accepts(request) or not self._is_ide_page(request):
                identity = await access.identify_request(request)
                # Counted already when the ASGI fast path looked for a cached answer (schema.fast_path).
                decision = request.scope.get(COUNTED) if hasattr(request, "scope") else None
                if decision is None:
                    decision = await access.hit(identity)
                if not decision.allowed:
                    raise access.too_many(decision)
            if sse.accepts(request):
                response = await sse.serve(request, identity, self.schema)
            elif decision is not None:
                response = await self._answer(request, identity)
            else:
                response = await self.run(request=request)
        except response_cache.PersistedQueryError as error:
            status = (
                400 if error.status == 400 or request._graphql_media_type == GRAPHQL_RESPONSE_JSON else 200
            )
            response = self._json_response(
                request, {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}, status
            )
            response["Cache-Control"] = "no-store"  # a CDN must not keep "not found" once it is registered
        except access.Refused as refused:
            response = self._json_response(
                request,
                {"errors": [{"message": refused.message, "extensions": {"code": refused.code}}]},
                refused.status,
            )
            if refused.status == 401:
                response["WWW-Authenticate"] = 'Bearer realm="graphql", charset="UTF-8"'
        except HTTPException as exc:
            status = exc.status_code
            if exc.reason == "Unsupported content type":
                status = 415
            elif exc.reason.startswith("subscriptions are not allowed"):
                status = 400
                exc.reason = (
                    "Subscriptions are served over WebSocket (graphql-transport-ws) and Server-Sent Events "
                    "(graphql-sse: send Accept: text/event-stream) at /graphql, not as one HTTP response."
                )
            elif request.method == "GET" and "not allowed when using GET" in exc.reason:
                status = 405  # the spec: a mutation over GET is 405 Method Not Allowed
            response = self._json_response(request, {"errors": [{"message": exc.reason}]}, status)
            if status == 405:
                response["Allow"] = "GET, POST"
        if decision is not None:
            for name, value in decision.headers().items():
                response[name] = value
        return response

    async def _answer(self, request: HttpRequest, identity: access.Identity):
        """The answer, from the response cache when it has it (``schema.response_cache``).

        A repeated query (same document, operation name, variables and access
        level) is answered from the entry stored at the latest committed event
        id, without parsing, validating or executing it; a GET naming that
        entry's ETag in ``If-None-Match`` gets a 304. The first request after
        an event computes the entry once, however many identical ones arrive.
        """
        if request.method not in ("GET", "POST"):
            return await self.run(request=request)
        request_data = await self.parse_http_body(self.request_adapter_class(request))
        if isinstance(request_data, list) or not isinstance(request_data.query, str):
            return await self.run(request=request)  # a batch or no document: the usual errors
        if not response_cache.enabled() or not response_cache.is_cacheable_query(request_data.query):
            return await self.run(request=request)
        store = response_cache.store()
        access_level = "anonymous" if identity.key_id is None else "partner"
        key = response_cache.request_key(
            request_data.query, request_data.operation_name, request_data.variables, access_level
        )
        # The latest event id: read already when the ASGI fast path looked for a cached answer.
        at = request.scope.get(CURSOR) if hasattr(request, "scope") else None
        if at is None:
            at = await store.cursor()
        entry = response_cache.local.entry(key, at)  # else single_flight reads Redis's
        response = None
        if entry is None:

            async def compute():
                computed = await self.run(request=request)
                if computed.status_code == 200 and getattr(request, "_graphql_cacheable", False):
                    return response_cache.Entry(at, computed.content), computed
                return None, computed

            entry, response = await store.single_flight(key, at, compute)
            if entry is None:  # not cacheable: computed here, or computed for another request
                return response if response is not None else await self.run(request=request)
        tag = response_cache.etag(key, at, request._graphql_media_type)
        if request.method == "GET" and response_cache.matches(request.headers.get("If-None-Match"), tag):
            response = HttpResponse(status=304)
            self._freshness(request, response, cacheable=True)
        elif response is None:
            response = HttpResponse(entry.body, content_type=f"{request._graphql_media_type}; charset=utf-8")
            self._freshness(request, response, cacheable=True)
        if request.method == "GET":
            response["ETag"] = tag
        return response

    @staticmethod
    def _freshness(request: HttpRequest, response: HttpResponse, *, cacheable: bool) -> None:
        """Cache-Control and Vary of a GET answer (POST answers carry none)."""
        if request.method != "GET":
            return
        if not cacheable:
            # An answer with errors depends on what this client sent: never kept.
            response["Cache-Control"] = "no-store"
            return
        if settings.PUBLIC_API == "open" and access.key_from_headers(request.headers) is None:
            # The same for every anonymous reader: CDNs may carry it.
            response["Cache-Control"] = f"public, max-age={GET_MAX_AGE}, stale-while-revalidate={GET_STALE}"
        else:
            # A keyed request must reach the origin, to be authenticated and counted.
            response["Cache-Control"] = f"private, max-age={GET_MAX_AGE}"
        response["Vary"] = VARY

    @staticmethod
    def _is_ide_page(request: HttpRequest) -> bool:
        """GraphiQL's page itself (a browser's GET without a query): it reads nothing."""
        return (
            request.method == "GET"
            and "query" not in request.GET
            and "text/html" in (request.headers.get("Accept") or "")
        )

    def _check_size(self, request: HttpRequest) -> None:
        query_string = request.META.get("QUERY_STRING", "")
        if len(query_string) > MAX_QUERY_STRING:
            raise HTTPException(
                414, f"The query string is {len(query_string)} bytes; at most {MAX_QUERY_STRING} are allowed."
            )
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        # Django's ASGI handler has already spooled the body (to disk beyond 2.5 MB), so
        # its real length is known without reading it into memory.
        size = max(declared, _stream_size(request))
        if size > MAX_BODY_BYTES:
            raise HTTPException(
                413, f"The request body is {size} bytes; at most {MAX_BODY_BYTES} are allowed."
            )

    def parse_json(self, data: str | bytes) -> Any:
        """JSON from the body or a GET parameter: UTF-8, not nested beyond Python's parser, or a 400."""
        parsed = getattr(self, "_parsed_body", None)
        if parsed is not None and parsed[0] is data:
            return parsed[1]  # the body, already parsed by parse_http_body below
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise HTTPException(400, "The request body is not valid UTF-8.") from exc
        try:
            return json.loads(data)
        except json.JSONDecodeError as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        except RecursionError as exc:
            raise HTTPException(400, "The JSON is nested too deeply.") from exc

    async def parse_http_body(self, request_adapter):
        """The request's document, variables and extensions (parsed once per request), the
        document looked up when only its persisted-query hash was sent."""
        request = request_adapter.request
        parsed = getattr(request, "_graphql_request_data", None)
        if parsed is not None:
            return parsed
        parsed = await self._parse_http_body(request_adapter)
        if not isinstance(parsed, list):
            parsed.query = await response_cache.resolve_persisted(
                response_cache.store(), parsed.query, parsed.extensions
            )
        request._graphql_request_data = parsed
        return parsed

    async def _parse_http_body(self, request_adapter):
        if request_adapter.method == "POST" and "json" in (request_adapter.content_type or ""):
            # A JSON body must be an object (or a list, refused below as a batch): `null`,
            # `42` or `"x"` would otherwise reach code that expects a mapping.
            body = await request_adapter.get_body()
            parsed = self.parse_json(body)
            self._parsed_body = (body, parsed)
            if not isinstance(parsed, dict | list):
                raise HTTPException(400, "The request body must be a JSON object with a `query` member.")
        return await super().parse_http_body(request_adapter)

    async def execute_single(self, *args: Any, **kwargs: Any):
        request_data = kwargs.get("request_data")
        heavy = (
            request_data is not None
            and isinstance(request_data.query, str)
            and limits.estimated_cost(self.schema._schema, request_data.query, request_data.operation_name)
            > HEAVY_COST
        )
        # Read by the executor (schema.sharing) once parsing and validation are done here.
        runner = query_runner.set(_in_worker_thread if heavy else None)
        timeout = settings.GRAPHQL_TIMEOUT
        try:
            async with asyncio.timeout(timeout):
                result = await super().execute_single(*args, **kwargs)
        except TimeoutError as exc:
            # The resolver cut short may have been running in a thread with strawberry-django's
            # "resolving in a thread" flag set; asgiref copies that context back here, and
            # the rest of this request (and, under the test client, the caller) must not inherit it.
            resolving_async.set(False)
            raise HTTPException(503, TimeLimitExceeded().message) from exc
        finally:
            query_runner.reset(runner)
        # Work in the event loop cannot be cancelled from outside: schema.limits.TimeLimit
        # stops it from within, and its fields' errors say so.
        if any(
            (e.extensions or {}).get("code") == "TIME_LIMIT" for e in getattr(result, "errors", None) or ()
        ):
            raise HTTPException(503, TimeLimitExceeded().message)
        return result

    def encode_json(self, data: object) -> str | bytes:
        """The answer's JSON: orjson's, several times faster than the standard library's on a
        page's 78 kB (a tenth of an uncached page's server time). The same values: compact, keys
        in the same order, non-ASCII text as UTF-8 rather than escaped, and what orjson refuses (a
        lone surrogate, an integer beyond 64 bits) encoded as strawberry does."""
        try:
            return orjson.dumps(data, default=_django_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
        except orjson.JSONEncodeError:
            return super().encode_json(data)

    async def process_result(self, request: HttpRequest, result: ExecutionResult):
        data = await super().process_result(request, result)
        request._graphql_cacheable = result.data is not None and not result.errors
        if request._graphql_media_type == GRAPHQL_RESPONSE_JSON and is_request_error(result):
            data.pop("data", None)
            request._graphql_status = 400
        return data

    def create_response(self, response_data, sub_response, *args, **kwargs):
        response = super().create_response(response_data, sub_response, *args, **kwargs)
        request = getattr(sub_response, "_request", None)
        media = getattr(request, "_graphql_media_type", JSON)
        response["Content-Type"] = f"{media}; charset=utf-8"
        status = getattr(request, "_graphql_status", None)
        if status:
            response.status_code = status
        if request is not None and response.status_code == 200:
            # Queries over GET are the same for every anonymous reader: caches and CDNs may
            # keep them briefly, which is what lets millions read a live page.
            self._freshness(request, response, cacheable=getattr(request, "_graphql_cacheable", False))
        return response

    async def get_sub_response(self, request: HttpRequest):
        sub_response = await super().get_sub_response(request)
        sub_response._request = request
        return sub_response

    def _json_response(self, request: HttpRequest, body: dict, status: int) -> HttpResponse:
        media = getattr(request, "_graphql_media_type", JSON)
        return HttpResponse(json.dumps(body), status=status, content_type=f"{media}; charset=utf-8")


_django_default = DjangoJSONEncoder().default  # dates, times, decimals, lazy text: as strawberry's view

_turns: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]] = {}


def _heavy_turns() -> asyncio.Semaphore:
    """The running event loop's turns for heavy executions (one loop per server process)."""
    loop = asyncio.get_running_loop()
    current = _turns.get(id(loop))
    if current is None or current[0] is not loop:
        current = _turns[id(loop)] = (loop, asyncio.Semaphore(HEAVY_EXECUTIONS))
    return current[1]


async def _in_worker_thread(execute_operation, serially):
    """A heavy query's execution (graphql-core's, after parsing and validation in the loop),
    in the request's own database thread rather than in the event loop.

    Its resolvers then run there as plain functions, reading the database directly, and the
    interpreter hands the event loop its turn every few milliseconds (the GIL's switch
    interval) instead of leaving it held for the whole execution. It runs in a copy of this
    context: ``TimeLimit``'s deadline (set when execution started, so the wait for a turn
    counts towards it) and the rehearsal state. The database connection is the
    request's own, closed at the end of the request like any other (Django's
    ``request_finished``). Its turn is released when the thread ends, not when the request
    stops waiting for it (at ``GRAPHQL_TIMEOUT``): a thread cannot be cancelled, only stopped
    by ``TimeLimit`` from within, so threads past the time limit never pile up.
    """
    turns = _heavy_turns()
    await turns.acquire()
    try:
        thread = asyncio.ensure_future(sync_to_async(execute_operation)(serially))
    except BaseException:
        turns.release()
        raise
    thread.add_done_callback(lambda done: _ended(turns, done))
    outcome = await asyncio.shield(thread)
    if inspect.isawaitable(outcome):
        outcome = await outcome  # something left to await in the loop (no resolver here is async)
    return outcome


def _ended(turns: asyncio.Semaphore, thread: asyncio.Future) -> None:
    turns.release()
    if not thread.cancelled():
        thread.exception()  # retrieved: one the request stopped waiting for is not logged as lost


def _stream_size(request: HttpRequest) -> int:
    """The length of a body already spooled by the ASGI handler (0 when unknown)."""
    stream = getattr(request, "_stream", None)
    inner = getattr(stream, "stream", stream)  # a LimitedStream wraps the spooled file
    try:
        position = inner.tell()
        inner.seek(0, 2)
        size = inner.tell()
        inner.seek(position)
        return size
    except (AttributeError, OSError, ValueError):
        return 0
