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
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cross_web import HTTPException
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import AsyncGraphQLView
from strawberry.types import ExecutionResult
from strawberry_django.resolvers import resolving_async

from . import access, sse
from .limits import TimeLimitExceeded

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
GET_MAX_AGE = 5  # seconds a cache may serve a GET answer: a declaration shows within that
MAX_BODY_BYTES = 128 * 1024  # a page's query with its variables is ~2 kB
MAX_QUERY_STRING = 16 * 1024  # a GET's query string (uvicorn refuses request lines beyond ~64 kB)


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
                decision = await access.hit(identity)
                if not decision.allowed:
                    raise access.too_many(decision)
            if sse.accepts(request):
                response = await sse.serve(request, identity, self.schema)
            else:
                response = await self.run(request=request)
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
        # Work in the event loop cannot be cancelled from outside: schema.limits.TimeLimit
        # stops it from within, and its fields' errors say so.
        if any(
            (e.extensions or {}).get("code") == "TIME_LIMIT" for e in getattr(result, "errors", None) or ()
        ):
            raise HTTPException(503, TimeLimitExceeded().message)
        return result

    async def process_result(self, request: HttpRequest, result: ExecutionResult):
        data = await super().process_result(request, result)
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
        if request is not None and request.method == "GET" and response.status_code == 200:
            # Queries over GET are public and the same for everyone: caches and CDNs may
            # keep them briefly, which is what lets millions read a live page.
            # With keys required, a shared cache must not hand an answer to a client without one.
            scope = "public" if settings.PUBLIC_API == "open" else "private"
            response["Cache-Control"] = f"{scope}, max-age={GET_MAX_AGE}"
            response["Vary"] = "Accept"
        return response

    async def get_sub_response(self, request: HttpRequest):
        sub_response = await super().get_sub_response(request)
        sub_response._request = request
        return sub_response

    def _json_response(self, request: HttpRequest, body: dict, status: int) -> HttpResponse:
        media = getattr(request, "_graphql_media_type", JSON)
        return HttpResponse(json.dumps(body), status=status, content_type=f"{media}; charset=utf-8")


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
