"""The demo's logins: a superuser, a data desk user and a live editor."""

import io

from django.contrib.auth import get_user_model
from django.core.management import call_command


def test_demo_logins_cover_each_role(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "try-the-night")
    out = io.StringIO()
    call_command("demo_admin", stdout=out)
    assert out.getvalue().splitlines() == [
        "Admin login: admin / try-the-night",
        "Data desk login: desk / try-the-night",
        "Live editor login: editor / try-the-night",
    ]
    users = {u.username: u for u in get_user_model().objects.all()}
    assert users["admin"].is_superuser is True
    assert [g.name for g in users["desk"].groups.all()] == ["Data desk"]
    assert [g.name for g in users["editor"].groups.all()] == ["Live editors"]
    assert (users["desk"].is_staff, users["desk"].is_superuser) == (True, False)
    assert users["editor"].check_password("try-the-night")
    assert users["desk"].has_perm("results.import_data") is True
    assert users["editor"].has_perm("results.import_data") is False
