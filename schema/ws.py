"""The WebSocket endpoint: graphql-transport-ws only, with shared payload encoding.

Every subscriber to the same document receives the same result object for an
event (see ``schema.sharing``); this consumer also encodes that result's data
to JSON once, and sends each subscriber the stored text inside its own
message envelope.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict

from strawberry.channels import GraphQLWSConsumer
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

ENCODED_KEEP = 512  # encoded payloads kept: a few per event in flight is plenty


class EventsConsumer(GraphQLWSConsumer):
    _encoded: OrderedDict[int, tuple[object, str]] = OrderedDict()

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
