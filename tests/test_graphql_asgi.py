"""The GraphQL view's requests through ``electionsite.graphql_asgi`` (middleware hooks in the event
loop) get exactly the answers Django's own ASGI handler gives them, and only they take that path."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import urllib.parse

import pytest
from asgiref.sync import sync_to_async
from django.core.asgi import get_asgi_application
from django.middleware.security import SecurityMiddleware

from electionsite import graphql_asgi
from partners import keys

from .test_response_cache import COUNCIL, DERBY, council

# The quota counters move between two requests; everything else must match.
VARYING = {"ratelimit-remaining", "ratelimit-reset"}


async def call(app, method="GET", query_string=b"", body=b"", headers=(), path="/graphql"):
    """One request through an ASGI application: (status, headers as a list of pairs, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *((k.encode(), v.encode()) for k, v in headers)],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent, requested = [], []

    async def receive():
        if requested:
            await asyncio.Event().wait()  # no disconnect: the client waits for its answer
        requested.append(1)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    pairs = [
        (name, _new_token(value) if name == "set-cookie" else value)
        for name, value in ((k.decode().lower(), v.decode()) for k, v in start["headers"])
        if name not in VARYING
    ]
    return start["status"], pairs, content


def _new_token(cookie: str) -> str:
    """A new CSRF cookie, without its random value and the second it expires."""
    cookie = re.sub(r"^csrftoken=[^;]+", "csrftoken=(new)", cookie)
    return re.sub(r"expires=[^;]+", "expires=(a year on)", cookie)


def qs(**params) -> bytes:
    return urllib.parse.urlencode(params).encode()


REQUESTS = [
    pytest.param("GET", qs(query=COUNCIL, variables=json.dumps({"id": DERBY})), b"", (), id="page"),
    pytest.param(
        "GET",
        qs(query=COUNCIL, variables=json.dumps({"id": DERBY})),
        b"",
        [("accept", "application/graphql-response+json")],
        id="graphql-response+json",
    ),
    pytest.param(
        "POST",
        b"",
        json.dumps({"query": COUNCIL, "variables": {"id": DERBY}}).encode(),
        [("content-type", "application/json")],
        id="post",
    ),
    pytest.param("GET", qs(query="{ nope }"), b"", (), id="invalid document"),
    pytest.param(
        "GET",
        qs(query="{ election(id: 1) { id } }"),
        b"",
        [("accept", "application/graphql-response+json")],
        id="400",
    ),
    pytest.param("GET", qs(query=COUNCIL, variables="{"), b"", (), id="bad variables JSON"),
    pytest.param("GET", qs(query="mutation { __typename }"), b"", (), id="mutation over GET: 405"),
    pytest.param("GET", b"", b"", (), id="no query"),
    pytest.param("GET", qs(query="{ __typename }", x="y" * 17_000), b"", (), id="414"),
    pytest.param("POST", b"", b"x" * (129 * 1024), [("content-type", "application/json")], id="413"),
    pytest.param("POST", b"", b"query={__typename}", [("content-type", "text/plain")], id="415"),
    pytest.param("POST", b"", b"[1, 2]", [("content-type", "application/json")], id="batch"),
    pytest.param("POST", b"", b'"x"', [("content-type", "application/json")], id="not an object"),
    pytest.param(
        "GET", qs(query="{ __typename }"), b"", [("host", "evil.example")], id="a second Host: disallowed"
    ),
    pytest.param(
        "GET",
        qs(query="{ __typename }"),
        b"",
        [("cookie", "sessionid=abcdefghijklmnop; csrftoken=abcdefghijklmnopqrstuvwxyz012345")],
        id="session and CSRF cookies",
    ),
    pytest.param(
        "GET", qs(query="{ __typename }"), b"", [("cookie", "csrftoken=short")], id="a CSRF cookie to replace"
    ),
    pytest.param(
        "GET", qs(query="{ __typename }"), b"", [("x-api-key", "not-a-key")], id="an unknown key: 401"
    ),
]


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(("method", "query_string", "body", "headers"), REQUESTS)
async def test_the_graphql_handler_answers_as_djangos_handler_does(
    settings, close_thread_connections, method, query_string, body, headers
):
    settings.GRAPHQL_RESPONSE_CACHE = False  # both compute every answer
    await sync_to_async(council)()
    django_app, graphql_app = get_asgi_application(), graphql_asgi.GraphQLHandler()
    through_django = await call(django_app, method, query_string, body, headers)
    through_graphql = await call(graphql_app, method, query_string, body, headers)
    assert through_graphql == through_django
    assert graphql_asgi.serves({"path": "/graphql", "method": method, "headers": []})


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_keyed_request_is_answered_alike_and_counted_once(settings, close_thread_connections):
    settings.GRAPHQL_RESPONSE_CACHE = False
    await sync_to_async(council)()
    _, raw = await sync_to_async(keys.issue_key)(
        await sync_to_async(keys.create_partner)("Derby Telegraph", per_minute=100), "tests"
    )
    query_string = qs(query=COUNCIL, variables=json.dumps({"id": DERBY}))
    django_app, graphql_app = get_asgi_application(), graphql_asgi.GraphQLHandler()
    through_django = await call(django_app, "GET", query_string, headers=[("x-api-key", raw)])
    through_graphql = await call(graphql_app, "GET", query_string, headers=[("x-api-key", raw)])
    assert through_graphql == through_django
    assert through_graphql[0] == 200


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_the_middleware_hooks_run_in_the_event_loop(monkeypatch, close_thread_connections):
    threads = []
    original = SecurityMiddleware.process_response

    def recorded(self, request, response):
        threads.append(threading.get_ident())
        return original(self, request, response)

    monkeypatch.setattr(SecurityMiddleware, "process_response", recorded)
    loop_thread = threading.get_ident()
    status, headers, _ = await call(graphql_asgi.GraphQLHandler(), "GET", qs(query="{ __typename }"))
    assert status == 200 and ("x-content-type-options", "nosniff") in headers
    assert threads == [loop_thread]
    await call(get_asgi_application(), "GET", qs(query="{ __typename }"))
    assert len(threads) == 2 and threads[1] != loop_thread  # Django's handler: in a thread


@pytest.mark.parametrize(
    ("method", "path", "accept", "served"),
    [
        ("GET", "/graphql", None, True),
        ("POST", "/graphql", "application/json", True),
        ("GET", "/graphql", "application/graphql-response+json, application/json;q=0.9", True),
        ("GET", "/graphql", "text/html,application/xhtml+xml", False),  # GraphiQL's page
        ("POST", "/graphql", "text/event-stream", False),  # graphql-sse
        ("GET", "/graphql", "TEXT/EVENT-STREAM", False),
        ("OPTIONS", "/graphql", None, False),
        ("PUT", "/graphql", None, False),
        ("GET", "/graphql/", None, False),
        ("GET", "/admin/", None, False),
        ("GET", "/static/live/live.js", None, False),
    ],
)
def test_only_the_graphql_views_requests_take_the_graphql_handler(method, path, accept, served):
    headers = [(b"accept", accept.encode())] if accept else []
    assert graphql_asgi.serves({"path": path, "method": method, "headers": headers}) is served


def test_the_graphql_handler_is_used_only_with_middleware_it_knows(settings):
    assert graphql_asgi.usable()
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "some.other.Middleware"]
    assert not graphql_asgi.usable()
    settings.MIDDLEWARE = settings.MIDDLEWARE[:-1]
    settings.SESSION_SAVE_EVERY_REQUEST = True
    assert not graphql_asgi.usable()
