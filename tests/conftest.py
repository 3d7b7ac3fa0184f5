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
def _not_rehearsing():
    """Each test starts with the rehearsal state cached as "not rehearsing" (its database has no
    rehearsal row), so reading it costs no query in the counts tests pin, and a state cached by an
    earlier test's rolled-back transaction cannot leak."""
    from django.core.cache import cache

    from results import rehearsal

    cache.set(rehearsal.CACHE_KEY, rehearsal.NOT_REHEARSING, 300)
    yield
    cache.delete(rehearsal.CACHE_KEY)
