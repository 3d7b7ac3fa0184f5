"""ASGI entry point: HTTP through Django, WebSocket (GraphQL subscriptions) through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "electionsite.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from electionsite.graphql_asgi import GraphQLRoute  # noqa: E402
from schema import schema  # noqa: E402
from schema.fast_path import CachedAnswers  # noqa: E402
from schema.ws import graphql_ws_consumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Cached answers to anonymous GETs of /graphql are served before Django's handler; the
        # GraphQL view's other requests go through a handler calling the middleware in the loop.
        "http": CachedAnswers(GraphQLRoute(django_asgi_app)),
        "websocket": URLRouter([re_path(r"^graphql/?$", graphql_ws_consumer(schema))]),
    }
)

# Garbage collection on a server process (PROCESS_TUNING=false turns it off, for comparison):
# the start-up objects (Django, the schema, graphql-core's types) never die, so they are moved
# out of the collector's sight, and the youngest generation is collected after 20,000 net
# allocations instead of 700: a council page allocates tens of thousands of short-lived objects,
# and collecting every 700 of them charged a large share of each request (BENCHMARKS.md).
# The interpreter's switch interval drops from 5 ms to 0.5 ms: while a heavy query executes in
# its thread (schema.http), every other request's steps in the event loop and in their own
# database threads each wait for the GIL up to one interval, tens of times per request (a
# normal query beside a heavy one: median 155 ms at 5 ms, 30 ms at 0.5 ms; BENCHMARKS.md).
if os.environ.get("PROCESS_TUNING", "true").strip().lower() not in {"0", "false", "no", "off"}:
    import gc
    import sys

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
    sys.setswitchinterval(float(os.environ.get("GIL_SWITCH_INTERVAL", "0.0005")))
