"""Live subscriptions: over WebSocket (graphql-transport-ws), SSE (graphql-sse) and webhooks."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import strawberry

from .enums import EventKind
from .events import Event, parse_cursor
from .live import EventFilter, kinds_of, stream_events


@dataclass
class StreamContext:
    """The context of the transports that label each payload with its cursor (SSE, webhooks).

    ``resume_after`` (SSE's ``Last-Event-ID``) takes the place of the ``after``
    argument; ``cursor`` is the id of the event whose payload was rendered
    last. Results are rendered one at a time, as the stream is read, so after
    reading a result ``cursor`` is that result's event.
    """

    resume_after: int | None = None
    cursor: int | None = None
    # False for webhooks: a replay's turn is not held while a POST waits (see stream_events).
    take_turns: bool = True
    # A fan-out group's stream (schema.fanout): live only, whatever `after` says (its members
    # replayed on their own), and told the hub's position once registered.
    live_only: bool = False
    registered: Callable[[int], None] | None = None


# The WebSocket operation whose stream is being read (``schema.fanout.Ticket``, set in its task by
# ``schema.ws``): once live, the stream hands the subscription over to its document's group.
TICKET: ContextVar[Any] = ContextVar("fanout_ticket", default=None)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Published events, in cursor order, each exactly once. With `after` (the id of the last "
        "event you received), it first replays every event published since from the log, then streams new "
        "ones live, with no gap and no duplicate at the seam: to resume after a disconnect or a server "
        "restart, resubscribe with `after` set to the last id you received. Without `after` it starts now. "
        "Filter by council slugs (a post matches the councils it is about) and by kinds; REHEARSAL_STARTED, "
        "RESET and ZERO_COUNTS reach every subscription whatever its filters (reload on them). A subscriber that "
        "falls more than 2,000 events behind is ended with an error naming the cursor to resume from. The "
        "log is append-only: every change to anything this API shows (reference data, nominations, "
        "compositions, results, calls, posts) has its event, and no event is ever deleted or rewritten, so a "
        "cursor stays valid for good (a demo or rehearsal reset, too, is an event)."
    )
    async def events(
        self,
        info: strawberry.Info,
        after: str | None = None,
        councils: list[str] | None = None,
        kinds: list[EventKind] | None = None,
    ) -> AsyncGenerator[Event, None]:
        event_filter = EventFilter(councils=frozenset(councils or ()), kinds=kinds_of(kinds))
        # The connection's "wait until the client has read its backlog" (schema.ws), if any.
        room = getattr(info.context.get("ws") if isinstance(info.context, dict) else None, "room", None)
        context = info.context if isinstance(info.context, StreamContext) else None
        cursor = parse_cursor(after)
        if context is not None and context.resume_after is not None:
            cursor = context.resume_after
        take_turns = context.take_turns if context is not None else True
        registered = None
        if context is not None and context.live_only:
            cursor, registered = None, context.registered
        ticket = TICKET.get()
        handoff = ticket.handoff_for(info) if ticket is not None and context is None else None
        async for event in stream_events(
            cursor, event_filter, room=room, take_turns=take_turns, handoff=handoff, registered=registered
        ):
            if context is not None:
                context.cursor = event.pk
            yield event
