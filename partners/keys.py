"""Issuing, revoking and rotating partners' keys, and finding the key a request carries.

Every function that changes keys is one transaction. The plain key exists
only in the return value of ``issue_key`` (and ``rotate_key``): it is never
stored or logged.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import ApiKey, Partner

KEY_PREFIX = "eln_"  # election night: lets secret scanners and humans recognise a key


def digest_of(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def create_partner(name: str, *, per_minute: int = 600, max_subscriptions: int = 20, **fields) -> Partner:
    """A new partner (name unique, at least one request a minute)."""
    if per_minute < 1:
        raise ValueError("per_minute must be at least 1")
    if max_subscriptions < 0:
        raise ValueError("max_subscriptions must not be negative")
    return Partner.objects.create(
        name=name.strip(), per_minute=per_minute, max_subscriptions=max_subscriptions, **fields
    )


@transaction.atomic
def issue_key(partner: Partner, label: str = "default") -> tuple[ApiKey, str]:
    """A new live key for the partner: the stored row and the plain key, to be shown once."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        partner=partner, label=label.strip() or "default", prefix=raw[:12], digest=digest_of(raw)
    )
    return key, raw


@transaction.atomic
def revoke_key(key: ApiKey) -> ApiKey:
    """Refuse the key from now on (its open subscriptions end within seconds); idempotent."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db()
    return key


@transaction.atomic
def rotate_key(key: ApiKey) -> tuple[ApiKey, str]:
    """A new key with the same label; the old one stays live until it is revoked."""
    return issue_key(key.partner, key.label)


@dataclass(frozen=True)
class Credential:
    """What a request's key grants: who it is, and their limits."""

    key_id: int
    partner_id: int
    partner: str
    active: bool
    per_minute: int
    max_subscriptions: int


def authenticate(raw_key: str) -> Credential | None:
    """The live key matching ``raw_key`` (its partner may be suspended), or None."""
    if not raw_key or len(raw_key) > 200:
        return None
    row = (
        ApiKey.objects.filter(digest=digest_of(raw_key), revoked_at__isnull=True)
        .values_list(
            "pk",
            "partner_id",
            "partner__name",
            "partner__active",
            "partner__per_minute",
            "partner__max_subscriptions",
        )
        .first()
    )
    return Credential(*row) if row else None


def record_uses(counts: dict[int, tuple[int, object]]) -> None:
    """Add each key's uses (count, last time) since the last call: one UPDATE per key."""
    for key_id, (count, last) in counts.items():
        ApiKey.objects.filter(pk=key_id).update(use_count=F("use_count") + count, last_used_at=last)


def refused_since(when) -> tuple[set[int], set[int]]:
    """Keys revoked and partners suspended since ``when``: (key ids, partner ids)."""
    keys = set(ApiKey.objects.filter(revoked_at__gte=when).values_list("pk", flat=True))
    partners = set(Partner.objects.filter(updated_at__gte=when, active=False).values_list("pk", flat=True))
    return keys, partners
