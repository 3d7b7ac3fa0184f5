"""Partners and their keys in the admin: superusers only.

A key is shown once, in the message after it is issued; the admin lists
only its prefix, label, and when and how often it was used.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html

from . import keys
from .models import ApiKey, Partner


class SuperuserOnly:
    """Partners and keys grant access to the feed: only superusers see or change them."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, *args):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False  # revoke keys, suspend partners: the record of who had access stays


def _show_once(request, key: ApiKey, raw: str) -> None:
    messages.warning(
        request,
        format_html(
            "New key for {} ({}): <code>{}</code> — copy it now: it is shown only this once.",
            key.partner.name,
            key.label,
            raw,
        ),
    )


class ApiKeyInline(SuperuserOnly, admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ["prefix", "label", "created_at", "revoked_at", "last_used_at", "use_count"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # keys are issued by the action, which shows the key once


@admin.register(Partner)
class PartnerAdmin(SuperuserOnly, admin.ModelAdmin):
    list_display = ["name", "active", "per_minute", "max_subscriptions", "live_keys", "contact"]
    list_filter = ["active"]
    search_fields = ["name", "contact"]
    inlines = [ApiKeyInline]
    actions = ["issue_key"]

    @admin.display(description="live keys")
    def live_keys(self, partner: Partner) -> int:
        return partner.live_key_count

    def get_queryset(self, request):
        from django.db.models import Count, Q

        return (
            super()
            .get_queryset(request)
            .annotate(live_key_count=Count("keys", filter=Q(keys__revoked_at__isnull=True)))
        )

    @admin.action(description="Issue a new key (shown once)")
    def issue_key(self, request, queryset):
        for partner in queryset:
            key, raw = keys.issue_key(partner, "issued in the admin")
            _show_once(request, key, raw)

    def response_add(self, request, obj, post_url_continue=None):
        key, raw = keys.issue_key(obj, "default")
        _show_once(request, key, raw)
        return super().response_add(request, obj, post_url_continue)


@admin.register(ApiKey)
class ApiKeyAdmin(SuperuserOnly, admin.ModelAdmin):
    list_display = ["prefix", "label", "partner", "created_at", "revoked_at", "last_used_at", "use_count"]
    list_filter = ["partner", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["partner"]
    search_fields = ["prefix", "label", "partner__name"]
    fields = ["partner", "label", "prefix", "created_at", "revoked_at", "last_used_at", "use_count"]
    readonly_fields = ["partner", "prefix", "created_at", "revoked_at", "last_used_at", "use_count"]
    actions = ["revoke", "rotate"]

    def has_add_permission(self, request, *args):
        return False  # issued from the partner's page, so the key can be shown once

    @admin.action(description="Revoke (refused at once; open subscriptions end within seconds)")
    def revoke(self, request, queryset):
        for key in queryset:
            keys.revoke_key(key)
        messages.success(request, f"Revoked {queryset.count()} key(s).")

    @admin.action(description="Rotate: issue a replacement (the old key stays live until revoked)")
    def rotate(self, request, queryset):
        for key in queryset.select_related("partner"):
            new, raw = keys.rotate_key(key)
            _show_once(request, new, raw)
