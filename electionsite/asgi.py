"""ASGI entry point: HTTP through Django, WebSocket (GraphQL subscriptions) through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "electionsite.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from schema import schema  # noqa: E402
from schema.ws import graphql_ws_consumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([re_path(r"^graphql/?$", graphql_ws_consumer(schema))]),
    }
)
