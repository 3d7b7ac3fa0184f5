import pytest
from hypothesis import HealthCheck, settings

# The autouse database fixture below does nothing for pure tests, so the
# function-scoped-fixture health check does not apply to them.
settings.register_profile(
    "project", suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
settings.load_profile("project")


def pytest_configure(config):
    config.addinivalue_line("markers", "pure: a test of pure functions; it gets no database")


@pytest.fixture(autouse=True)
def _db_for_all(request):
    """Every test gets the database, except those marked ``pure``."""
    if request.node.get_closest_marker("pure") is None:
        request.getfixturevalue("db")
