import os
import uuid

import pytest
from asgiref.sync import SyncToAsync
from django.db import connections
from hypothesis import HealthCheck, settings

# The autouse database fixture below does nothing for pure tests, so the
# function-scoped-fixture health check does not apply to them.
settings.register_profile(
    "project", suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
settings.load_profile("project")


# Quota counters of this run (in Redis they outlive it): a namespace of its own, which
# the server processes that tests start inherit from the environment.
QUOTA_NAMESPACE = os.environ["QUOTA_NAMESPACE"] = f"test-{uuid.uuid4().hex[:8]}"
# The server processes that the live-server tests start all see every client at
# 127.0.0.1: lift the anonymous per-address limits there (tests of them set their own).
os.environ.setdefault("ANONYMOUS_PER_MINUTE", "1000000")
os.environ.setdefault("ANONYMOUS_MAX_SUBSCRIPTIONS", "100000")


def pytest_configure(config):
    config.addinivalue_line("markers", "pure: a test of pure functions; it gets no database")
    config.addinivalue_line(
        "markers", "browser: drives the admin in a real browser (Playwright and /usr/bin/chromium)"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark every database test as such before pytest-django orders the tests.

    pytest-django runs plain database tests first and transactional ones
    (live servers, subscriptions) last, as Django does, because a
    transactional test empties the tables when it ends (the parties and
    groups of the data migrations included). It can only see tests that are
    marked: ``_db_for_all`` below asks for the database too late for it.
    """
    for item in items:
        if item.get_closest_marker("pure") is None and item.get_closest_marker("django_db") is None:
            item.add_marker(pytest.mark.django_db)


@pytest.fixture(autouse=True)
def _db_for_all(request):
    """Every test gets the database, except those marked ``pure``."""
    if request.node.get_closest_marker("pure") is None:
        request.getfixturevalue("db")


@pytest.fixture
def anyio_backend():
    """Async tests (pytest.mark.anyio) run on asyncio, as the server does."""
    return "asyncio"


@pytest.fixture
def close_thread_connections():
    """Close the connection that sync_to_async's thread opened, so the test database can be dropped."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(autouse=True)
def _generous_anonymous_quota(settings):
    """The suite sends hundreds of anonymous requests a minute from one address: tests of
    the anonymous quota set their own limit."""
    settings.ANONYMOUS_PER_MINUTE = 1_000_000
    settings.QUOTA_NAMESPACE = QUOTA_NAMESPACE
    from schema import access

    access._memory = access.MemoryCounter()  # counts of a partner id that an earlier test used
    access._uses.clear()


@pytest.fixture(autouse=True)
def _cursor_from_the_table(monkeypatch):
    """Tests write inside transactions that never commit, so ``on_commit`` never raises the
    shared cursor in Redis: they read it from the table (tests of the shared one switch it
    back on), and start with an empty response cache (a rolled-back test may reuse an id)."""
    from results import cursor
    from schema import response_cache

    monkeypatch.setattr(cursor, "use_shared", False)
    response_cache.clear()
    yield
    response_cache.clear()


@pytest.fixture
def unbounded_documents(monkeypatch):
    """Lift the document limits, for tests that ask for everything in one document (a crawl of
    every field, the whole public state): far beyond what the public API lets a client ask
    (schema/limits.py, tested in test_limits.py)."""
    from schema import http, limits, ws

    for module, name, value in [
        (limits, "MAX_QUERY_LENGTH", 10**7),
        (limits, "MAX_TOKENS", 10**6),
        (limits, "MAX_DEPTH", 100),
        (limits, "MAX_ALIASES", 10**6),
        (limits, "MAX_FIELDS", 10**6),
        (limits, "MAX_COST", 10**15),
        (http, "MAX_BODY_BYTES", 10**8),
        (http, "MAX_QUERY_STRING", 10**8),
        (ws, "MAX_MESSAGE", 10**8),
    ]:
        monkeypatch.setattr(module, name, value)
    limits._parse_and_check.cache_clear()
    yield
    limits._parse_and_check.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_parties():
    """Each test's database has its own parties (ids are reused after a rollback): the
    process's shared parties (``results.parties``) are read afresh."""
    from results import parties

    parties._loaded = None


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """channels keeps one layer per process, and channels-redis binds its locks to the event
    loop that first used them; each async test runs in a loop of its own."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture
def servers():
    """Start uvicorn processes (environment overrides as keywords); stopped after the test,
    and what each said is printed (the live-server and partner-server tests share it)."""
    from .test_live_servers import Server

    started = []

    def start(port=None, **env):
        server = Server(port, **env).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        if output := server.output().strip():
            print(f"--- server on port {server.port} said:\n{output[-3000:]}")


@pytest.fixture(autouse=True)
def _not_rehearsing():
    """Each test starts with the rehearsal state cached as "not rehearsing" (its database has no
    rehearsal row), so reading it costs no query in the counts tests pin, and a state cached by an
    earlier test's rolled-back transaction cannot leak."""
    from results import rehearsal

    rehearsal.remember(rehearsal.NOT_REHEARSING, 300)
    yield
    rehearsal.clear()
