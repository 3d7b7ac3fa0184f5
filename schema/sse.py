"""GraphQL over Server-Sent Events: the graphql-sse protocol's "distinct connections mode".

A client POSTs (or GETs, with ``query``, ``variables``, ``operationName`` in
the query string) to ``/graphql`` with ``Accept: text/event-stream``; the
response is a stream of ``next`` events, each carrying one execution result
as JSON, and a ``complete`` event when the operation ends. One operation per
connection. A subscription's events carry ``id: <cursor>``, so a client that
reconnects with ``Last-Event-ID`` (browsers' ``EventSource`` do it by
themselves) resumes right after the last event it received: the header takes
the place of the ``after`` argument.

It runs the same events subscription as WebSocket, through the same hub, and
the same access: the key (``X-API-Key`` / ``Authorization: Bearer``), the
per-minute quota (each stream is one request) and the subscription cap (each
open stream holds a slot), and a key revoked while streaming ends the stream
with an error within seconds. A comment line is sent every ``HEARTBEAT``
seconds of quiet, so proxies keep the connection open.

Strawberry 0.341's own SSE transport streams results without ``id:`` lines
or ``Last-Event-ID``, and outside these keys and caps: hence this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from graphql import GraphQLError, validate
from strawberry.types.graphql import OperationType

from . import access, limits
from .events import parse_cursor
from .subscriptions import StreamContext

HEARTBEAT = 15.0  # seconds of quiet before a keep-alive comment
EVENT_STREAM = "text/event-stream"


def accepts(request: HttpRequest) -> bool:
    """Whether the client asks for an event stream (graphql-sse)."""
    accept = request.headers.get("Accept") or ""
    return any(part.split(";", 1)[0].strip().lower() == EVENT_STREAM for part in accept.split(","))


def _error(message: str, status: int, code: str | None = None) -> HttpResponse:
    error: dict = {"message": message}
    if code:
        error["extensions"] = {"code": code}
    return HttpResponse(
        json.dumps({"errors": [error]}), status=status, content_type="application/json; charset=utf-8"
    )


def _params(request: HttpRequest) -> dict | HttpResponse:
    if request.method == "POST":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):
            return _error("The body must be a JSON object with a `query`.", 400)
    elif request.method == "GET":
        body = dict(request.GET.items())
        if isinstance(body.get("variables"), str):
            try:
                body["variables"] = json.loads(body["variables"])
            except (ValueError, RecursionError):
                return _error("`variables` must be a JSON object.", 400)
    else:
        return _error("Use GET or POST.", 405)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return _error("The body must be a JSON object with a string `query`.", 400)
    if not isinstance(body.get("variables") or {}, dict):
        return _error("`variables` must be an object.", 400)
    if not isinstance(body.get("operationName") or "", str):
        return _error("`operationName` must be a string.", 400)
    return body


class _Stream:
    """One open stream, as the access watcher sees it: ended if its key is revoked."""

    def __init__(self) -> None:
        self.refused: asyncio.Future = asyncio.get_running_loop().create_future()

    async def refuse(self, refused: access.Refused) -> None:
        if not self.refused.done():
            self.refused.set_result(refused)


def _event(kind: str, data: str = "", event_id: int | None = None) -> str:
    lines = f"event: {kind}\n"
    if event_id is not None:
        lines += f"id: {event_id}\n"
    return lines + f"data: {data}\n\n"


def _result_json(result) -> str:
    payload: dict = {}
    if result.errors:
        payload["errors"] = [e.formatted for e in result.errors]
    if result.data is not None or not result.errors:
        payload["data"] = result.data
    return json.dumps(payload, separators=(",", ":"))


async def serve(request: HttpRequest, identity: access.Identity, schema) -> HttpResponse:
    """The response to a graphql-sse request from an identified caller (its quota already counted)."""
    params = _params(request)
    if isinstance(params, HttpResponse):
        return params
    try:
        resume = parse_cursor(request.headers.get("Last-Event-ID") or None)
    except GraphQLError:
        return _error("Last-Event-ID must be the id of the last event received (a whole number).", 400)
    try:
        # Refused documents are a 400, as over HTTP, rather than a stream holding one error.
        # (Parsing and validating are cached by text: the execution below repeats neither.)
        document = limits.parse_bounded(schema._schema, params["query"])
        problems = validate(schema._schema, document)
    except GraphQLError as error:
        problems = [error]
    if problems:
        return HttpResponse(
            json.dumps({"errors": [e.formatted for e in problems]}),
            status=400,
            content_type="application/json; charset=utf-8",
        )
    watcher = access.watcher()
    lease = await watcher.acquire(identity)
    if lease is None:
        who = "this key's partner" if identity.key_id else "this address"
        return _error(
            f"Subscription limit reached: {who} may hold {identity.max_subscriptions} at once. "
            "Close one before starting another.",
            429,
            "TOO_MANY_SUBSCRIPTIONS",
        )
    context = StreamContext(resume_after=resume)
    try:
        stream = await schema.stream(
            params["query"],
            variable_values=params.get("variables") or None,
            context_value=context,
            operation_name=params.get("operationName") or None,
            allowed_operation_types=(OperationType.QUERY, OperationType.SUBSCRIPTION),
        )
    except BaseException:
        await watcher.release(lease)
        raise
    if not hasattr(stream, "__aiter__"):  # refused before execution: a request error, not a stream
        await watcher.release(lease)
        return HttpResponse(
            json.dumps({"errors": [e.formatted for e in stream.errors]}),
            status=400,
            content_type="application/json; charset=utf-8",
        )
    response = StreamingHttpResponse(_events(stream, context, identity, lease), content_type=EVENT_STREAM)
    response["Cache-Control"] = "no-cache, no-transform"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


async def _events(stream, context: StreamContext, identity: access.Identity, lease: str):
    watcher = access.watcher()
    connection = _Stream()
    watcher.register(connection, identity)
    iterator = aiter(stream)
    pending: asyncio.Future | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait(
                {pending, connection.refused}, timeout=HEARTBEAT, return_when="FIRST_COMPLETED"
            )
            if connection.refused in done:
                refused = connection.refused.result()
                error = {"message": refused.message, "extensions": {"code": refused.code}}
                yield _event("next", json.dumps({"errors": [error]}))
                break
            if not done:
                yield ": ping\n\n"
                continue
            try:
                result = pending.result()
            except StopAsyncIteration:
                break
            finally:
                pending = None
            ended = result.data is None and bool(result.errors)
            yield _event("next", _result_json(result), None if ended else context.cursor)
        yield _event("complete")
    finally:
        watcher.unregister(connection)
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        with contextlib.suppress(Exception):
            await stream.aclose()
        await watcher.release(lease)
