"""Partner outlets that license the feed, and their API keys.

A key is shown once, when it is issued, and stored only as its SHA-256
digest (keys are 256 random bits, so a salted slow hash adds nothing; a
digest lets a request find its key with one indexed lookup). The first
characters (``prefix``) are kept in clear so that staff and partners can tell
keys apart. A partner may hold several live keys at once: that is how a key
is rotated without downtime (issue the new one, move the clients, revoke the
old one).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Partner(models.Model):
    """An outlet licensed to read the API with its own keys, quota and subscription cap."""

    name = models.CharField(max_length=200, unique=True, help_text='The outlet, e.g. "Derby Telegraph".')
    contact = models.CharField(
        max_length=254, blank=True, help_text="Who to call on the night: name, email, phone."
    )
    active = models.BooleanField(
        default=True, help_text="Untick to suspend every key of this partner at once (refused with 403)."
    )
    per_minute = models.PositiveIntegerField(
        "requests per minute",
        default=600,
        help_text="Requests allowed per minute, shared by all of this partner's keys and server processes.",
    )
    max_subscriptions = models.PositiveIntegerField(
        "concurrent subscriptions",
        default=20,
        help_text="Subscriptions this partner may hold open at once, over all its keys and connections.",
    )
    notes = models.TextField(blank=True, help_text="Licence terms, contract reference, anything staff need.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(per_minute__gte=1), name="partner_per_minute_at_least_one"),
        ]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """One key of a partner: its digest, a label, and when it was last used."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=100, help_text='What the key is for, e.g. "live page, production".')
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to tell keys apart.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, help_text="Refused from this time on.")
    last_used_at = models.DateTimeField(null=True, blank=True)
    use_count = models.PositiveBigIntegerField(
        default=0, help_text="Requests and subscriptions made with it."
    )

    class Meta:
        ordering = ["partner__name", "-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.label})"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None
