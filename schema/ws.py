"""The WebSocket endpoint: graphql-transport-ws only, with keys, caps and shared payload encoding.

Once live, a subscription hands over to its document's fan-out group
(``schema.fanout``): one Strawberry stream per distinct document and process
executes and encodes each event once and writes the text into every
subscriber's own envelope. Before that (a replay, or a document that cannot
be fanned out), every subscriber to the same document still receives the
same result object for an event (see ``schema.sharing``), and this consumer
encodes that result's data to JSON once and sends each subscriber the stored
text inside its own message envelope.

Each connection says who it is in ``connection_init`` (``{"apiKey": ...}``,
or an ``X-API-Key`` header on the handshake): a missing key in keys mode, an
unknown or revoked key is closed with 4401, a suspended partner with 4403.
Each subscription takes one of the partner's (or the anonymous address's)
concurrent slots and counts against its per-minute quota; over either, that
subscription gets an ``error`` message and the connection stays open. A key
revoked while connected ends the connection (4403) within a few seconds.

Messages are bounded too: at most ``MAX_MESSAGE`` characters (1009 beyond),
at most ``MAX_PENDING`` waiting to be handled (1008 beyond), JSON objects
of the protocol's shape (4400 otherwise, with the reason).

So is what waits to go out. The server writes a frame whether or not the
client reads, so each connection watches its own unsent bytes (the
transport's write buffer, which fills once the kernel's socket buffers are
full): above ``OUTBOX_HIGH`` its subscriptions wait before handing out their
next event (``room``), a replay without holding the replays' shared turn; a
client that leaves more than ``OUTBOX_HIGH`` unread for
``settings.WS_STALL_TIMEOUT`` seconds is closed with ``TOO_SLOW`` (4008),
whose reason says to resubscribe from the last event id it received. The
close frame follows what the client has not yet read; if the client has not
read that far ``CLOSE_GRACE`` seconds later, the connection is dropped. A
slow client's memory on the server is thus a few hundred kilobytes, and it
never holds up anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections import OrderedDict

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from django.conf import settings
from graphql import GraphQLError
from strawberry.channels import GraphQLWSConsumer
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    _OperationStreamClosed,
)
from strawberry.utils.aio import aclosing

from . import access, fanout
from .subscriptions import TICKET

ENCODED_KEEP = 512  # encoded payloads kept: a few per event in flight is plenty
MAX_MESSAGE = 64 * 1024  # characters in one client message (a subscribe is ~1 kB)
MAX_PENDING = 64  # client messages waiting to be handled
OUTBOX_HIGH = 256 * 1024  # unsent bytes of a connection above which its subscriptions wait
# The server's own pause point for the connection's writes (uvicorn waits there, for
# everything, the close frame included), raised well above ours so that ours governs.
TRANSPORT_HIGH = 4 * OUTBOX_HIGH
CLOSE_GRACE = 10.0  # seconds a client closed for being too slow has to read its close frame
TOO_SLOW = 4008
TOO_SLOW_REASON = (
    "Too slow: unread messages piled up. Resubscribe with after set to the last event id you received."
)

logger = logging.getLogger(__name__)


class TooSlow(ConnectionError):
    """The client has not read what was sent for too long: its connection is being closed."""


def _transport_of(send) -> asyncio.WriteTransport | None:
    """The transport under an ASGI send callable, where the server exposes it (uvicorn's
    WebSocket protocols are the object of their bound ``send``); None otherwise (tests'
    in-process communicator)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    return transport if hasattr(transport, "get_write_buffer_size") else None


def _set_high(transport: asyncio.WriteTransport, high: int) -> None:
    """Raise the transport's pause point; nothing to do on one already closed (uvloop raises
    RuntimeError there: in a connection storm many clients give up before their connect is
    handled)."""
    if transport.is_closing():
        return
    with contextlib.suppress(AttributeError, ValueError, RuntimeError):
        transport.set_write_buffer_limits(high=high)


def _protocol_problem(message: object) -> str | None:
    """Why a client message is not a graphql-transport-ws message we can act on (None: fine)."""
    if not isinstance(message, dict):
        return "Each message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message's `type` must be a string"
    if kind == "connection_init" and not isinstance(message.get("payload") or {}, dict):
        return "Invalid connection init payload"
    if kind in ("subscribe", "complete"):
        op_id = message.get("id")
        if not isinstance(op_id, str) or not op_id or len(op_id) > 128:
            return "A message's `id` must be a string of 1 to 128 characters"
    if kind == "subscribe":
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return "A subscribe payload must be an object with a string `query`"
        if not isinstance(payload.get("variables") or {}, dict):
            return "`variables` must be an object"
        if not isinstance(payload.get("operationName") or "", str):
            return "`operationName` must be a string"
        if not isinstance(payload.get("extensions") or {}, dict):
            return "`extensions` must be an object"
    return None


def _is_disconnect(error: BaseException) -> bool:
    """A send to a client that has gone (uvicorn's ClientDisconnected, a closing socket)."""
    return type(error).__name__ in ("ClientDisconnected", "InvalidState", "ConnectionClosed") or isinstance(
        error, ConnectionError
    )


class PartnerTransportWSHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws with the caller identified, counted and capped."""

    identity: access.Identity | None = None

    async def handle_message(self, message) -> None:
        if problem := _protocol_problem(message):
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message) -> None:
        if self.connection_init_received or self.connection_timed_out:
            await super().handle_connection_init(message)  # refused there (4429)
            return
        payload = message.get("payload") or {}
        try:
            identity = await access.identify_scope(self.view.scope, payload)
            decision = await access.hit(identity)
            if not decision.allowed:
                raise access.too_many(decision)
        except access.Refused as refused:
            if self.connection_init_timeout_task:
                self.connection_init_timeout_task.cancel()
            self.connection_init_received = True
            await self.refuse(refused)
            return
        self.identity = identity
        access.watcher().register(self, identity)
        await super().handle_connection_init({**message, "payload": payload})

    async def refuse(self, refused: access.Refused) -> None:
        """Close the connection with the refusal's code and its short reason."""
        await self.websocket.close(code=refused.close_code, reason=refused.reason)

    async def _run_counted(self, operation) -> None:
        watcher = access.watcher()
        identity = self.identity
        decision = await access.hit(identity)
        if not decision.allowed:
            refused = access.too_many(decision)
            await operation.send_initial_errors(
                [GraphQLError(refused.message, extensions={"code": refused.code})]
            )
            return
        lease = await watcher.acquire(identity)
        if lease is None:
            who = "this key's partner" if identity.key_id else "this address"
            await operation.send_initial_errors(
                [
                    GraphQLError(
                        f"Subscription limit reached: {who} may hold {identity.max_subscriptions} at once. "
                        "Complete one before starting another.",
                        extensions={"code": "TOO_MANY_SUBSCRIPTIONS"},
                    )
                ]
            )
            return
        try:
            await self._run_stream(operation)
        finally:
            await watcher.release(lease)

    async def _run_stream(self, operation) -> None:
        """Strawberry's ``run_operation``, except that a subscription's stream may hand it over to
        its document's fan-out group once live (``schema.fanout``): the operation then lasts as
        long as its membership, and completes when the group's stream does."""
        consumer = self.context.get("ws") if isinstance(self.context, dict) else None
        ticket = fanout.Ticket(
            self.schema, consumer if isinstance(consumer, EventsConsumer) else None, operation
        )
        TICKET.set(ticket)  # this task's context: the stream reads it when it starts
        try:
            result_source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=self.context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            async with aclosing(result_source):
                await self._send_result_stream(operation, result_source)
            if ticket.member is not None and await ticket.follow() != "complete":
                return  # the client went away, or was closed for being too slow: nothing more to say
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except _OperationStreamClosed:
            return
        except Exception as error:
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise
        finally:
            ticket.leave()

    def forget_id(self, id: str) -> None:
        # Strawberry deletes the id, but an operation ending (its error or complete) can race
        # with the connection's shutdown or the client's `complete`, which removed it already.
        self.operations.pop(id, None)

    async def handle_task_exception(self, error: Exception) -> None:
        if _is_disconnect(error):
            return  # the client went away while we were sending: nothing to report
        await super().handle_task_exception(error)

    async def run_operation(self, operation) -> None:
        try:
            await self._run_counted(operation)
        except Exception as error:
            if not _is_disconnect(error):
                raise

    async def shutdown(self) -> None:
        access.watcher().unregister(self)
        await super().shutdown()


class EventsConsumer(GraphQLWSConsumer):
    _encoded: OrderedDict[int, tuple[object, str]] = OrderedDict()
    graphql_transport_ws_handler_class = PartnerTransportWSHandler
    _transport: asyncio.WriteTransport | None = None
    _backlogged_since: float | None = None  # when unsent bytes last rose above OUTBOX_HIGH
    _too_slow = False

    async def dispatch(self, message) -> None:
        # Channels closes stale database connections before handling every message, through
        # the process's one thread for sync code: a thread hop per connect, connection_init,
        # subscribe and disconnect, all in one queue, which a storm of reconnecting clients
        # made long. This consumer never uses the database in the event loop; its reads go
        # through database_sync_to_async, which closes stale connections around each call.
        if message.get("type", "").startswith("websocket."):
            handler = getattr(self, get_handler_name(message), None)
            if handler is not None:
                await handler(message)
                return
        await super().dispatch(message)

    async def websocket_disconnect(self, message) -> None:
        # As Channels' own, without its thread hop to close stale database connections (see
        # ``dispatch``): a storm of clients leaving at once queued thousands of them.
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.disconnect(message["code"])
        raise StopConsumer

    async def websocket_connect(self, message) -> None:
        self._transport = _transport_of(self.base_send)

        if self._transport is not None:
            _set_high(self._transport, TRANSPORT_HIGH)
        await super().websocket_connect(message)

    def unsent(self) -> int:
        """Bytes written to this connection that the client has not taken yet (beyond the kernel's buffers)."""
        transport = self._transport
        return 0 if transport is None else transport.get_write_buffer_size()

    async def room(self) -> bool:
        """Wait until the client has read its backlog down to ``OUTBOX_HIGH`` unsent bytes.

        False (the stream should end) once the connection is being closed for being too
        slow: when the backlog has stayed above that for ``WS_STALL_TIMEOUT`` seconds.
        """
        while True:
            if self._too_slow:
                return False
            if self.unsent() <= OUTBOX_HIGH:
                self._backlogged_since = None
                return True
            now = time.monotonic()
            if self._backlogged_since is None:
                self._backlogged_since = now
            elif now - self._backlogged_since >= settings.WS_STALL_TIMEOUT:
                await self.too_slow()
                return False
            await asyncio.sleep(0.05)

    async def too_slow(self) -> None:
        """Close with 4008 behind what the client has not read; drop it if it never reads that far."""
        if self._too_slow:
            return
        self._too_slow = True
        logger.warning("closed a WebSocket client too slow to read (4008): %d bytes unread", self.unsent())
        transport = self._transport
        if transport is not None:
            # Let the close frame through behind the backlog: the server holds every send,
            # the close included, while the transport is over its high-water mark.
            _set_high(transport, self.unsent() + TRANSPORT_HIGH)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await self.close(code=TOO_SLOW, reason=TOO_SLOW_REASON)
        if transport is not None:
            asyncio.get_running_loop().call_later(CLOSE_GRACE, transport.abort)

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        if self._too_slow:
            return  # closed for being too slow: nothing more goes out
        unsent = self.unsent()
        if unsent > OUTBOX_HIGH and self._backlogged_since is None:
            self._backlogged_since = time.monotonic()
        if text_data is not None and not close and self._transport is not None and unsent <= OUTBOX_HIGH:
            # Below the transport's resume point (a quarter of its pause point, TRANSPORT_HIGH)
            # the server's send does not wait: no timeout to arm (and cancel) for this frame,
            # which for thousands of subscribers per event added up.
            await self.base_send({"type": "websocket.send", "text": text_data})
            return
        try:
            # The server itself waits (for everyone) only past TRANSPORT_HIGH: not for long.
            async with asyncio.timeout(settings.WS_STALL_TIMEOUT):
                await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except TimeoutError:
            await self.too_slow()
            raise TooSlow(TOO_SLOW_REASON) from None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None and len(text_data) > MAX_MESSAGE:
            await self.close(code=1009, reason=f"Message too big: at most {MAX_MESSAGE} characters")
            return
        if self.message_queue.qsize() >= MAX_PENDING:
            await self.close(code=1008, reason="Too many messages waiting: slow down")
            return
        await super().receive(text_data=text_data, bytes_data=bytes_data)

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except RecursionError as exc:
            raise json.JSONDecodeError("nested too deeply", "", 0) from exc

    def encode_json(self, data: object) -> str:
        if not (isinstance(data, dict) and data.get("type") == "next"):
            return super().encode_json(data)
        payload = data["payload"]
        if set(payload) != {"data"} or not isinstance(payload["data"], dict):
            return super().encode_json(data)
        body = payload["data"]
        cached = self._encoded.get(id(body))
        if cached is None or cached[0] is not body:
            # Keep a reference to the data, so its id cannot be reused while cached.
            cached = (body, json.dumps(body, separators=(",", ":")))
            self._encoded[id(body)] = cached
            if len(self._encoded) > ENCODED_KEEP:
                self._encoded.popitem(last=False)
        return f'{{"id":{json.dumps(data["id"])},"type":"next","payload":{{"data":{cached[1]}}}}}'


def graphql_ws_consumer(schema, *, init_timeout: float = 10, max_subscriptions: int = 20):
    """The ASGI app for GraphQL over WebSocket: graphql-transport-ws only (the legacy
    graphql-ws protocol is off), connection_init required within ``init_timeout``
    seconds, at most ``max_subscriptions`` subscriptions per socket."""
    return EventsConsumer.as_asgi(
        schema=schema,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=dt.timedelta(seconds=init_timeout),
        max_subscriptions_per_connection=max_subscriptions,
    )
