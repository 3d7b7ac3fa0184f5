"""Broadcasting published events to live subscribers, after commit.

Services call ``schedule_broadcast`` inside their transaction; the message is
sent only once that transaction commits, so a rolled-back change emits
nothing; the shared cursor (``results.cursor``) is raised just before. The channel layer is the in-memory one (one process) or Redis
(``REDIS_URL``). Subscribers read the event itself from the ``Event`` table by
its id, which is what makes resuming from a cursor exact.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import cursor

logger = logging.getLogger(__name__)

EVENTS_GROUP = "results.events"


def schedule_broadcast(event) -> None:
    """Send ``event`` to the channel layer once the current transaction commits."""
    message = {
        "type": "results.event",
        "id": event.pk,
        "kind": event.kind,
        "council": event.council.slug if event.council_id else None,
    }
    pk = event.pk

    def committed() -> None:
        cursor.committed(pk)  # first: a reader woken by the notice must find the new cursor
        broadcast(message)

    transaction.on_commit(committed)


def broadcast(message: dict) -> None:
    """Publish one committed event's notice. A failure is logged, never raised:
    the event is durable in the table and subscribers catch up from their cursor."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(EVENTS_GROUP, message)
    except Exception:  # pragma: no cover - depends on the layer's backend being down
        logger.exception("broadcast of event %s failed", message.get("id"))
