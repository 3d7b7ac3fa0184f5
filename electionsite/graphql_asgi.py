"""Django's handler for ``GET``/``POST /graphql``, without a thread hop per middleware hook.

Under ASGI, Django runs each hook of a ``MiddlewareMixin`` middleware
(``process_request``, ``process_view``, ``process_response``) in a thread
(``sync_to_async``), and a sync-only middleware (WhiteNoise) puts the rest of the
stack behind an ``async_to_sync`` hop back: for a GraphQL request that was about
a dozen hops between the event loop and the request's thread, none of them
doing any I/O. This handler builds the same stack from ``settings.MIDDLEWARE``,
in the same order, from the same classes, and calls their hooks in the event
loop. Only for the GraphQL view's requests, and only when every middleware is
one this module knows to do no I/O for them:

- the GraphQL view reads no session, user or message and sets no CSRF cookie
  (it is ``csrf_exempt``), so the session, authentication, messages and CSRF
  middlewares' hooks only create lazy objects and find nothing to save; a hook
  that would save anyway (a session marked modified, messages used, a CSRF
  cookie to set, ``SESSION_SAVE_EVERY_REQUEST``, ``CSRF_USE_SESSIONS``) runs in a
  thread, as Django runs it;
- the security, common and clickjacking middlewares only read the request
  (host validation, redirects) and set headers;
- WhiteNoise only ever answers paths under the static prefixes, never
  ``/graphql``, and is left out.

Everything else (the console, the admin, static files, GraphiQL's page, graphql-sse
streams, other methods) goes through Django's own handler. Signals, the request's
thread for database work (``ThreadSensitiveContext``), body spooling, URL
resolution and exception handling are Django's ``ASGIHandler``'s, unchanged.
``tests/test_graphql_asgi.py`` compares the two handlers' answers.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.utils.module_loading import import_string

PATH = "/graphql"
STATIC = "whitenoise.middleware.WhiteNoiseMiddleware"
# Middleware whose hooks do no I/O for a GraphQL request, except where ``_needs_thread`` says so.
INLINE = {
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}


def usable() -> bool:
    """True when every configured middleware is one whose hooks this handler may run in the loop."""
    return (
        all(path in INLINE or path == STATIC for path in settings.MIDDLEWARE)
        and not settings.SESSION_SAVE_EVERY_REQUEST
        and not settings.CSRF_USE_SESSIONS
        and not PATH.startswith(settings.STATIC_URL or "/static/")
    )


def serves(scope) -> bool:
    """Whether an HTTP request is one of the GraphQL view's own: a GET or POST of ``/graphql`` that
    is neither a graphql-sse stream nor a browser asking for GraphiQL's page."""
    if scope["path"] != PATH or scope["method"] not in ("GET", "POST"):
        return False
    for name, value in scope.get("headers") or ():
        if name.lower() == b"accept":
            value = value.lower()
            if b"text/event-stream" in value or (scope["method"] == "GET" and b"text/html" in value):
                return False
    return True


def _needs_thread(request, response) -> bool:
    """True when a response hook might write: a session or messages the view touched after all,
    or a CSRF cookie to set."""
    session = getattr(request, "session", None)
    messages = getattr(request, "_messages", None)
    return bool(
        (session is not None and getattr(session, "modified", False))
        or (
            messages is not None
            and (getattr(messages, "used", False) or getattr(messages, "added_new", False))
        )
        or request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
    )


class _Inline:
    """A ``MiddlewareMixin`` middleware whose hooks are called in the event loop."""

    async_capable = True
    sync_capable = False

    def __init__(self, middleware_class, get_response) -> None:
        self.inner = middleware_class(get_response)
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        inner = self.inner
        response = None
        if hasattr(inner, "process_request"):
            response = inner.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(inner, "process_response"):
            if _needs_thread(request, response):
                response = await sync_to_async(inner.process_response, thread_sensitive=True)(
                    request, response
                )
            else:
                response = inner.process_response(request, response)
        return response

    async def process_view(self, request, view_func, view_args, view_kwargs):
        return self.inner.process_view(request, view_func, view_args, view_kwargs)


class GraphQLHandler(ASGIHandler):
    """Django's ASGI handler with the middleware stack built of in-loop hooks (``_Inline``)."""

    def load_middleware(self, is_async: bool = True) -> None:
        """``settings.MIDDLEWARE`` as Django's ``load_middleware`` builds it for an ASGI handler,
        each middleware wrapped in ``_Inline`` (WhiteNoise left out: it never serves this path)."""
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response_async)
        for path in reversed(settings.MIDDLEWARE):
            if path == STATIC:
                continue
            middleware = _Inline(import_string(path), handler)
            inner = middleware.inner
            if hasattr(inner, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(inner, "process_template_response"):
                method = inner.process_template_response
                self._template_response_middleware.append(
                    method if iscoroutinefunction(method) else sync_to_async(method, thread_sensitive=True)
                )
            if hasattr(inner, "process_exception"):
                self._exception_middleware.append(inner.process_exception)  # Django calls them in a thread
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler


class GraphQLRoute:
    """ASGI: the GraphQL view's requests to ``GraphQLHandler``, everything else to ``app`` (Django's)."""

    def __init__(self, app, graphql_app=None) -> None:
        self.app = app
        self.graphql_app = graphql_app if graphql_app is not None else GraphQLHandler()
        self.enabled = usable()

    async def __call__(self, scope, receive, send) -> None:
        if self.enabled and scope["type"] == "http" and serves(scope):
            return await self.graphql_app(scope, receive, send)
        return await self.app(scope, receive, send)
