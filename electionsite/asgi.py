"""ASGI entry point: HTTP through Django, WebSocket (GraphQL subscriptions) through Channels."""

import datetime as dt
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "electionsite.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402
from strawberry.channels import GraphQLWSConsumer  # noqa: E402
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL  # noqa: E402

from schema import schema  # noqa: E402

# graphql-transport-ws only (the legacy graphql-ws protocol is off); a client
# must send connection_init within 10 s; at most 20 subscriptions per socket.
graphql_ws = GraphQLWSConsumer.as_asgi(
    schema=schema,
    subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    connection_init_wait_timeout=dt.timedelta(seconds=10),
    max_subscriptions_per_connection=20,
)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([re_path(r"^graphql/?$", graphql_ws)]),
    }
)
