"""The admin site of election night: the overview and imports, and a login that pauses after failures.

It lives outside the ``results.admin`` package on purpose: Django imports the
default site's class while the admin registers models, and importing it must
not import the package that registers them.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import path
from django.views.decorators.cache import never_cache

from . import login_throttle as throttle
from . import rehearsal


class ThrottledAuthenticationForm(AdminAuthenticationForm):
    """The admin login form, refused for a while after repeated failures (``results.login_throttle``):
    for one username from one address, for one address, or for one browser that logged in before."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = throttle.client_address(self.request)
        device = throttle.device_of(self.request, username) if username else None
        minutes = throttle.minutes_locked(username, address, device) if username else 0
        if minutes:
            raise ValidationError(
                "Too many failed logins as “%(username)s” from this address. For safety, logging in "
                "is paused: try again in %(minutes)s minute(s), or ask an administrator to unlock it "
                "(Login lockouts, in the admin).",
                code="throttled",
                params={"username": username, "minutes": minutes},
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            if username:
                throttle.record_failure(username, address, device)
            raise
        throttle.record_success(username, address, device)
        return cleaned


@never_cache
def rehearsal_banner_view(request):
    """The console's rehearsal banner as it is now, in its slot (``admin/rehearsal_banner.html``):
    open console pages poll it and swap it in when its ``data-state`` changed (a rehearsal started,
    paused, resumed or was reset; zero counts switched), without a reload that would lose what
    the data desk is typing. Reads the cached state: no query while it is cached."""
    return render(request, "admin/rehearsal_banner.html", {"rehearsal": rehearsal.current()})


class ElectionAdminSite(admin.AdminSite):
    site_header = "Election night: data desk"
    site_title = "Election night"
    # "View site": the public live results page (the live app), built on the public API.
    site_url = "/"
    index_title = "Data desk"
    index_template = "admin/results/index.html"
    login_form = ThrottledAuthenticationForm

    def get_urls(self):
        from .admin.exports import exports_view
        from .admin.imports import import_view
        from .admin.overview import overview_view, presence_view, updates_view

        return [
            path("election-night/", self.admin_view(overview_view), name="election_night"),
            path("election-night/updates/", self.admin_view(updates_view), name="election_night_updates"),
            path("presence/", self.admin_view(presence_view), name="presence"),
            path("rehearsal-banner/", self.admin_view(rehearsal_banner_view), name="rehearsal_banner"),
            path("import/", self.admin_view(import_view), name="results_import"),
            path(
                "exports/",
                self.admin_view(lambda request: exports_view(request, self)),
                name="results_exports",
            ),
            *super().get_urls(),
        ]

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        throttled = (
            form is not None
            and form.is_bound
            and any(error.code == "throttled" for error in form.non_field_errors().as_data())
        )
        if throttled:
            response.status_code = 429  # Too Many Requests
        elif request.method == "POST" and response.status_code == 302 and request.user.is_authenticated:
            # Logged in: this browser is now one whose failures count for itself alone.
            throttle.set_device_cookie(response, request.user.get_username())
        return response
