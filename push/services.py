"""Registering and steering partners' webhook endpoints: the admin and the command both call these.

Each function is one transaction and refuses bad input with a ValidationError
that says what is wrong, changing nothing. The signing secret exists in clear
in the return value of ``create_endpoint`` and ``rotate_secret`` (to be shown
once) and in the row (the delivery process signs with it); no page shows it again.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from partners.models import Partner
from results.models import Council, Event

from . import signing
from .models import WebhookEndpoint
from .selection import validate_selection


def validate_url(url: str) -> str:
    """An absolute https URL; http only in DEBUG or for a host in WEBHOOK_ALLOW_HTTP_HOSTS (tests)."""
    url = (url or "").strip()
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError as error:
        raise ValidationError(f"Not a valid URL: {url!r}.") from error
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ValidationError(
            "The URL must not carry a user name or password: the signature authenticates us."
        )
    if parts.scheme == "http" and not (
        settings.DEBUG or (parts.hostname or "") in settings.WEBHOOK_ALLOW_HTTP_HOSTS
    ):
        raise ValidationError(
            "The URL must use https:// (deliveries carry a signature, not a secret channel)."
        )
    return url


def validate_councils(councils) -> list[str]:
    slugs = sorted({str(c).strip() for c in councils or () if str(c).strip()})
    known = set(Council.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    if unknown := [s for s in slugs if s not in known]:
        raise ValidationError(f"Unknown council slugs: {', '.join(unknown)}.")
    return slugs


def validate_kinds(kinds) -> list[str]:
    """Kinds as the API names them (BALLOT_DECLARED), in any case."""
    from schema.enums import EventKind

    chosen = []
    for kind in kinds or ():
        name = str(kind).strip().upper()
        if not name:
            continue
        try:
            chosen.append(EventKind[name].name)
        except KeyError:
            valid = ", ".join(k.name for k in EventKind)
            raise ValidationError(f"Unknown event kind {kind!r}: one of {valid}.") from None
    return sorted(set(chosen))


def validate_cursor(cursor) -> int:
    try:
        value = int(cursor)
    except (TypeError, ValueError):
        raise ValidationError(f"A cursor is an event id (a whole number), not {cursor!r}.") from None
    latest = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    if not 0 <= value <= latest:
        raise ValidationError(f"Unknown cursor {value}: the latest event is {latest}.")
    return value


@transaction.atomic
def create_endpoint(
    partner: Partner,
    url: str,
    *,
    selection: str,
    councils=(),
    kinds=(),
    description: str = "",
    after: int | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its secret (show it once). It gets the events after ``after``
    (default: the latest event now, so it starts with the next one; 0 sends the whole log)."""
    endpoint = WebhookEndpoint(
        partner=partner,
        url=validate_url(url),
        description=description.strip(),
        councils=validate_councils(councils),
        kinds=validate_kinds(kinds),
        selection=validate_selection(selection),
        secret=signing.new_secret(),
        delivered_cursor=validate_cursor(after) if after is not None else validate_cursor(_latest()),
    )
    endpoint.save()
    return endpoint, endpoint.secret


def _latest() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


@transaction.atomic
def change_endpoint(endpoint: WebhookEndpoint, **fields) -> WebhookEndpoint:
    """Change url, selection, councils, kinds or description (validated); the cursor stays."""
    checks = {
        "url": validate_url,
        "selection": validate_selection,
        "councils": validate_councils,
        "kinds": validate_kinds,
        "description": lambda v: (v or "").strip(),
    }
    values = {}
    for name, value in fields.items():
        if name not in checks:
            raise ValidationError(f"{name} cannot be changed this way.")
        values[name] = checks[name](value)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**values, updated_at=timezone.now())
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def pause(endpoint: WebhookEndpoint, reason: str = "Paused by staff.") -> WebhookEndpoint:
    """Stop delivering (the delivery process lets go within seconds); the cursor stays where it is."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        state=WebhookEndpoint.State.PAUSED, paused_reason=reason[:300], updated_at=timezone.now()
    )
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def resume(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Deliver again, from the event after the last one delivered: nothing is skipped."""
    return _make_active(endpoint)


def _make_active(endpoint: WebhookEndpoint, **also) -> WebhookEndpoint:
    """Deliver again: active, its failures forgotten, the next attempt now (``also``: other fields to set)."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        **also,
        state=WebhookEndpoint.State.ACTIVE,
        paused_reason="",
        failing_since=None,
        failures=0,
        next_attempt_at=None,
        updated_at=timezone.now(),
    )
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def resend_from(endpoint: WebhookEndpoint, cursor) -> WebhookEndpoint:
    """Deliver again every matching event after ``cursor`` (an event id), with new delivery ids.

    The endpoint is made active. Its generation goes up, so a delivery the
    process had in flight cannot move the cursor back past this.
    """
    value = validate_cursor(cursor)
    return _make_active(endpoint, delivered_cursor=value, generation=F("generation") + 1)


@transaction.atomic
def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """A new signing secret, used from the next attempt on (show it once)."""
    secret = signing.new_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret, updated_at=timezone.now())
    endpoint.refresh_from_db()
    return secret
