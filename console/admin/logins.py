"""Login lockouts: the failed admin logins being counted (``console.login_throttle``), and unlocking them.

Superusers see them (and may give others the permissions to view and delete
them); unlocking deletes the count, so the next login is tried afresh.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone

from results.models import LoginThrottle


class LockedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("locked", "Locked now")]

    def queryset(self, request, queryset):
        if self.value() != "locked":
            return queryset
        since = timezone.now() - dt.timedelta(seconds=settings.LOGIN_FAILURE_WINDOW)
        in_window = queryset.filter(window_started__gt=since)
        return in_window.filter(pk__in=[row.pk for row in in_window if _locked(row)])


def _limit(row: LoginThrottle) -> int:
    return (
        settings.LOGIN_ADDRESS_FAILURE_LIMIT
        if row.scope == LoginThrottle.Scope.ADDRESS
        else settings.LOGIN_FAILURE_LIMIT
    )


def _until(row: LoginThrottle) -> dt.datetime:
    return row.window_started + dt.timedelta(seconds=settings.LOGIN_FAILURE_WINDOW)


def _locked(row: LoginThrottle) -> bool:
    return row.failures >= _limit(row) and timezone.now() < _until(row)


@admin.register(LoginThrottle)
class LoginThrottleAdmin(admin.ModelAdmin):
    list_display = ["scope", "username", "address", "failures", "window_started", "locked_until"]
    list_filter = [LockedFilter, "scope"]
    search_fields = ["username", "address"]
    fields = ["scope", "username", "address", "failures", "window_started", "locked_until"]
    readonly_fields = fields
    actions = ["unlock"]

    @admin.display(description="locked until")
    def locked_until(self, row: LoginThrottle) -> str:
        if not _locked(row):
            return f"not locked ({row.failures} of {_limit(row)} failures)"
        return timezone.localtime(_until(row)).strftime("%H:%M:%S")

    @admin.action(description="Unlock: clear the selected counts of failed logins", permissions=["delete"])
    def unlock(self, request, queryset):
        count = len(queryset)
        queryset.delete()
        messages.success(request, f"Unlocked {count} login lockout(s): the next login is tried afresh.")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
