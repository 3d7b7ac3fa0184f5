"""Live subscriptions over WebSocket (graphql-transport-ws)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from .enums import EventKind
from .events import Event, parse_cursor
from .live import EventFilter, kinds_of, stream_events


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
        async for event in stream_events(parse_cursor(after), event_filter, room=room):
            yield event
