import pytest


@pytest.fixture(autouse=True)
def _db_for_all(db):
    """Most tests touch the database; pure-rule tests simply ignore it."""
