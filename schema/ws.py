"""The WebSocket endpoint: graphql-transport-ws only, with keys, caps and shared payload encoding.

Every subscriber to the same document receives the same result object for an
event (see ``schema.sharing``); this consumer also encodes that result's data
to JSON once, and sends each subscriber the stored text inside its own
message envelope.

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
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict

from graphql import GraphQLError
from strawberry.channels import GraphQLWSConsumer
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from . import access

ENCODED_KEEP = 512  # encoded payloads kept: a few per event in flight is plenty
MAX_MESSAGE = 64 * 1024  # characters in one client message (a subscribe is ~1 kB)
MAX_PENDING = 64  # client messages waiting to be handled


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
            await super().run_operation(operation)
        finally:
            await watcher.release(lease)

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
