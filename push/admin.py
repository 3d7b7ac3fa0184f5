"""Webhook endpoints in the admin: superusers only (they grant a partner the feed).

The list shows each endpoint's state, last delivered cursor and lag (events
behind, and how long the oldest has waited); the page shows recent attempts.
Actions pause, resume and rotate the secret; the page's "Re-send from
cursor" field re-sends every matching event after a cursor. The secret is
shown once, in the message after the endpoint is created or its secret rotated.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from partners.admin import SuperuserOnly
from results.models import Event

from . import services
from .models import WebhookEndpoint
from .selection import DEFAULT_SELECTION

RECENT_ATTEMPTS = 20


def _list(text: str) -> list[str]:
    return [part.strip() for part in (text or "").replace("\n", ",").split(",") if part.strip()]


class EndpointForm(forms.ModelForm):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text=WebhookEndpoint._meta.get_field("url").help_text,
    )
    councils_text = forms.CharField(
        label="Councils", required=False, help_text="Council slugs, comma-separated (empty: all)."
    )
    kinds_text = forms.CharField(
        label="Kinds",
        required=False,
        help_text="Event kinds, comma-separated, e.g. BALLOT_DECLARED (empty: all).",
    )
    start_after = forms.IntegerField(
        required=False,
        min_value=0,
        help_text="New endpoints: the cursor to start after (empty: the latest event, so only new ones; 0: all).",
    )
    resend_from = forms.IntegerField(
        label="Re-send from cursor",
        required=False,
        min_value=0,
        help_text="Re-send every matching event after this event id, with new delivery ids (and resume).",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["partner", "url", "description", "selection"]
        widgets = {"selection": forms.Textarea(attrs={"rows": 4, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["councils_text"].initial = ", ".join(self.instance.councils)
            self.fields["kinds_text"].initial = ", ".join(self.instance.kinds)
            self.fields.pop("start_after")
        else:
            self.fields.pop("resend_from")
            self.fields["selection"].initial = DEFAULT_SELECTION

    def clean(self):
        data = super().clean()
        checks = [
            ("url", services.validate_url, data.get("url")),
            ("selection", services.validate_selection, data.get("selection")),
            ("councils_text", services.validate_councils, _list(data.get("councils_text"))),
            ("kinds_text", services.validate_kinds, _list(data.get("kinds_text"))),
        ]
        for field, check, value in checks:
            if value is None:
                continue
            try:
                data[field] = check(value)
            except ValidationError as error:
                self.add_error(field, error)
        for field in ("start_after", "resend_from"):
            if data.get(field) is not None:
                try:
                    services.validate_cursor(data[field])
                except ValidationError as error:
                    self.add_error(field, error)
        return data


def lag(endpoint: WebhookEndpoint) -> tuple[int, float]:
    """(matching events not yet delivered, seconds the oldest of them has waited)."""
    events = Event.objects.filter(id__gt=endpoint.delivered_cursor)
    if endpoint.kinds:
        from schema.enums import EventKind

        events = events.filter(kind__in=[EventKind[k].value for k in endpoint.kinds])
    if endpoint.councils:
        from django.db.models import Q

        events = events.filter(
            Q(council__slug__in=endpoint.councils) | Q(post__councils__slug__in=endpoint.councils)
        ).distinct()
    count = events.count()
    if not count:
        return 0, 0.0
    oldest = events.order_by("id").values_list("created_at", flat=True).first()
    return count, max(0.0, (timezone.now() - oldest).total_seconds())


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(SuperuserOnly, admin.ModelAdmin):
    form = EndpointForm
    # Lag is on each endpoint's page (two queries each): the list stays a fixed number of queries.
    list_display = ["url", "partner", "state_shown", "delivered_cursor", "delivered_at", "failures"]
    list_filter = ["state", "partner"]
    list_select_related = ["partner"]
    search_fields = ["url", "partner__name", "description"]
    readonly_fields = [
        "uid",
        "state",
        "paused_reason",
        "delivered_cursor",
        "delivered_at",
        "lag_shown",
        "generation",
        "failing_since",
        "failures",
        "next_attempt_at",
        "created_at",
        "recent_attempts",
    ]
    actions = ["pause_endpoints", "resume_endpoints", "rotate_secrets"]

    def get_fieldsets(self, request, obj=None):
        editable = ["partner", "url", "description", "selection", "councils_text", "kinds_text"]
        editable.append("resend_from" if obj else "start_after")
        sets = [(None, {"fields": editable})]
        if obj:
            sets.append(("Delivery", {"fields": self.readonly_fields}))
        return sets

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    @admin.display(description="state")
    def state_shown(self, endpoint):
        if endpoint.state == WebhookEndpoint.State.PAUSED:
            return format_html('<strong style="color:#b00">Paused</strong> {}', endpoint.paused_reason)
        if endpoint.failures:
            return format_html('<span style="color:#b60">Retrying</span> ({} failed)', endpoint.failures)
        return "Active"

    @admin.display(description="lag")
    def lag_shown(self, endpoint):
        count, seconds = lag(endpoint)
        if not count:
            return "up to date"
        return f"{count} event{'s' if count != 1 else ''} behind, oldest {seconds:.0f} s ago"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            endpoint, secret = services.create_endpoint(
                data["partner"],
                data["url"],
                selection=data["selection"],
                councils=data["councils_text"],
                kinds=data["kinds_text"],
                description=data.get("description", ""),
                after=data.get("start_after"),
            )
            obj.pk, obj.uid, obj._state.adding = endpoint.pk, endpoint.uid, False
            _show_secret(request, endpoint, secret)
            return
        services.change_endpoint(
            obj,
            url=data["url"],
            selection=data["selection"],
            councils=data["councils_text"],
            kinds=data["kinds_text"],
            description=data.get("description", ""),
        )
        if data.get("resend_from") is not None:
            services.resend_from(obj, data["resend_from"])
            messages.info(request, f"Re-sending every matching event after {data['resend_from']}.")

    @admin.display(description=f"recent attempts (the latest {RECENT_ATTEMPTS})")
    def recent_attempts(self, endpoint):
        attempts = endpoint.attempts.order_by("-id")[:RECENT_ATTEMPTS]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    f"{a.at:%Y-%m-%d %H:%M:%S}",
                    a.cursor,
                    a.attempt,
                    a.status_code or "–",
                    a.duration_ms,
                    a.error or "ok",
                    a.delivery_id,
                )
                for a in attempts
            ),
        )
        if not rows:
            return "none yet"
        return format_html(
            "<table><tr><th>time (UTC)</th><th>cursor</th><th>attempt</th><th>status</th><th>ms</th>"
            "<th>outcome</th><th>delivery id</th></tr>{}</table>",
            rows,
        )

    @admin.action(description="Pause the selected endpoints")
    def pause_endpoints(self, request, queryset):
        for endpoint in queryset:
            services.pause(endpoint, f"Paused by {request.user.get_username()}.")
        messages.info(request, f"Paused {len(queryset)}.")

    @admin.action(description="Resume the selected endpoints (from their last delivered cursor)")
    def resume_endpoints(self, request, queryset):
        for endpoint in queryset:
            services.resume(endpoint)
        messages.info(request, f"Resumed {len(queryset)}.")

    @admin.action(description="Rotate the signing secret of the selected endpoints")
    def rotate_secrets(self, request, queryset):
        for endpoint in queryset:
            _show_secret(request, endpoint, services.rotate_secret(endpoint))


def _show_secret(request, endpoint: WebhookEndpoint, secret: str) -> None:
    messages.warning(
        request,
        format_html(
            "Signing secret for {}: <code>{}</code> — copy it now: it is shown only this once.",
            endpoint.url,
            secret,
        ),
    )
