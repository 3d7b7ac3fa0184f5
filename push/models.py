"""Webhook endpoints of partners, and the record of every attempt to deliver to them.

An endpoint's progress is one number, ``delivered_cursor``: the id of the last
event delivered to it (acknowledged with a 2xx). Everything after it that
matches the endpoint's filter is still to deliver, in cursor order; the
delivery process (``manage.py deliver_webhooks``, push/delivery.py) reads
the event log from there. Nothing else is queued, so nothing can be lost.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from partners.models import Partner

# Delivery ids are derived, not stored: the same endpoint, generation and event always give the same id.
DELIVERY_NAMESPACE = uuid.UUID("6b1f4f52-3c52-4d0e-9a55-6f0d7c4e2f16")


class WebhookEndpoint(models.Model):
    """A partner's HTTPS endpoint, sent each matching event as a signed POST, in cursor order."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="webhooks")
    url = models.URLField(
        "URL", max_length=500, help_text="Where the POSTs go: https:// (http:// only for local tests)."
    )
    description = models.CharField(max_length=200, blank=True, help_text='e.g. "CMS results importer".')
    councils = models.JSONField(
        default=list, blank=True, help_text="Council slugs to send (empty: every council, and every post)."
    )
    kinds = models.JSONField(
        default=list, blank=True, help_text="Event kinds to send, e.g. BALLOT_DECLARED (empty: every kind)."
    )
    selection = models.TextField(
        help_text="The GraphQL selection on Event sent in each delivery, e.g. "
        "{ id kind ballot { id status candidacies { name votes elected } } } — checked against the schema."
    )
    secret = models.CharField(max_length=80, editable=False, help_text="Signs every delivery; shown once.")
    state = models.CharField(max_length=10, choices=State, default=State.ACTIVE)
    paused_reason = models.CharField(max_length=300, blank=True)
    delivered_cursor = models.PositiveBigIntegerField(
        default=0, help_text="The id of the last event delivered; delivery resumes after it."
    )
    delivered_at = models.DateTimeField(null=True, blank=True, help_text="When the last delivery succeeded.")
    generation = models.PositiveIntegerField(
        default=0, help_text="Raised by a re-send from a cursor: re-sent deliveries get new delivery ids."
    )
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt of the delivery now being retried."
    )
    failures = models.PositiveIntegerField(default=0, help_text="Failed attempts of that delivery so far.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner__name", "id"]
        verbose_name = "webhook endpoint"
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["active", "paused"]), name="webhookendpoint_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner.name}: {self.url}"

    def delivery_id(self, cursor: int, generation: int | None = None) -> str:
        """The id of the delivery of event ``cursor``: the same on every retry and after a restart."""
        gen = self.generation if generation is None else generation
        return str(uuid.uuid5(DELIVERY_NAMESPACE, f"{self.uid}:{gen}:{cursor}"))


class WebhookAttempt(models.Model):
    """One POST to an endpoint: which event, what came back, how long it took."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="attempts")
    cursor = models.PositiveBigIntegerField(help_text="The event delivered.")
    delivery_id = models.UUIDField()
    attempt = models.PositiveIntegerField(help_text="1 for the first try of this delivery.")
    at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=300, blank=True)
    ok = models.BooleanField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["endpoint", "-at"], name="webhookattempt_recent")]

    def __str__(self) -> str:
        outcome = self.status_code or self.error or "?"
        return f"{self.delivery_id} #{self.attempt}: {outcome}"
