"""Live delivery of published events to subscriptions, one hub per server process.

The hub joins the channel layer's events group once per process (under its
own channel name: subscriptions never join or leave groups, so ending one can
never silence another). A notice from the layer only says "there is news":
the hub then reads every event after the last one it delivered from the
``Event`` table, loads their payloads once in a fixed number of queries, and
hands the same loaded objects to every local subscription whose filter
matches. Because the table, not the notice, is the source of truth, a lost
or late notice delays nothing for long (the hub also reads the table every
``EVENTS_POLL_INTERVAL`` seconds) and can never lose an event.

Each subscription owns a bounded queue. A client too slow to keep up is
dropped with an error naming the cursor to resume from, rather than letting
it hold up the others or grow without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from graphql import GraphQLError

from results.broadcast import EVENTS_GROUP
from results.models import Event

from .events import events_queryset

logger = logging.getLogger(__name__)

# Seconds between safety-net reads of the table (settings.EVENTS_POLL_INTERVAL).
POLL_INTERVAL = settings.EVENTS_POLL_INTERVAL
REPLAY_BATCH = 200  # events read per query while replaying
QUEUE_LIMIT = 2_000  # events a subscription may have waiting before it is dropped
REJOIN_EVERY = 3_600  # seconds between renewals of the hub's group membership


# Events that change what every page shows: delivered whatever a subscription filters on.
ALWAYS_DELIVERED = frozenset({Event.Kind.RESET, Event.Kind.ZERO_COUNTS})


@dataclass(frozen=True)
class EventFilter:
    """Which events a subscription wants: by council slug and by kind (empty = all)."""

    councils: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()

    def matches(self, event: Event) -> bool:
        if event.kind in ALWAYS_DELIVERED:
            return True  # everyone must hear "reload", whatever they filter on
        if self.kinds and event.kind not in self.kinds:
            return False
        if not self.councils:
            return True
        if event.council_id is not None:
            return event.council.slug in self.councils
        if event.post_id is not None:
            return any(c.slug in self.councils for c in event.post.councils.all())
        return False


class SlowSubscriber(GraphQLError):
    """The subscription fell too far behind and was ended."""


@dataclass(eq=False)
class Subscription:
    filter: EventFilter
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT))
    overflowed: bool = False

    def offer(self, event: Event) -> None:
        if self.overflowed or not self.filter.matches(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


def load_events_after(cursor: int, limit: int) -> list[Event]:
    """Events after ``cursor`` with their payloads, in a fixed number of queries."""
    return list(events_queryset().prefetch_related("post__councils").after(cursor)[:limit])


def latest_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


class EventHub:
    """The process's single listener; subscriptions register with it."""

    def __init__(self) -> None:
        self.subscriptions: set[Subscription] = set()
        self.position: int | None = None  # id of the last event handed out
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._listener: asyncio.Task | None = None
        self._started = asyncio.Lock()
        self._channel: str | None = None
        self._joined_at = time.monotonic()

    async def start(self) -> None:
        async with self._started:
            if self._task is not None and not self._task.done():
                return
            self.position = await database_sync_to_async(latest_event_id)()
            layer = get_channel_layer()
            if layer is not None:
                # The default prefix: channels-redis reads all of a process's own
                # channels from one queue named by it, and would never read another.
                self._channel = await layer.new_channel()
                await layer.group_add(EVENTS_GROUP, self._channel)
                self._joined_at = time.monotonic()
                self._listener = asyncio.create_task(self._listen(layer, self._channel))
            self._task = asyncio.create_task(self._run())

    async def _listen(self, layer, channel: str) -> None:
        while True:
            try:
                await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # the layer (Redis) is down: the safety-net poll carries on
                logger.exception("channel layer receive failed; retrying")
                await asyncio.sleep(POLL_INTERVAL)
                await self._join()
                continue
            self._wake.set()

    async def _join(self) -> None:
        """(Re)join the events group; membership expires (after a day, in channels-redis)."""
        if self._channel is None:
            return
        try:
            await get_channel_layer().group_add(EVENTS_GROUP, self._channel)
        except Exception:
            logger.exception("joining the events group failed; the safety-net poll carries on")
        self._joined_at = time.monotonic()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_INTERVAL)
            self._wake.clear()
            if time.monotonic() - self._joined_at > REJOIN_EVERY:
                await self._join()
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("reading new events failed; retrying")

    async def catch_up(self) -> None:
        """Hand every event after the hub's position to the matching subscriptions."""
        while True:
            events = await database_sync_to_async(load_events_after)(self.position, REPLAY_BATCH)
            for event in events:
                for subscription in list(self.subscriptions):
                    subscription.offer(event)
                self.position = event.pk
            if len(events) < REPLAY_BATCH:
                return

    @contextlib.asynccontextmanager
    async def subscribe(self, event_filter: EventFilter) -> AsyncIterator[tuple[Subscription, int]]:
        """Register a subscription; yields it and the hub's position at registration."""
        await self.start()
        subscription = Subscription(event_filter)
        self.subscriptions.add(subscription)
        try:
            yield subscription, self.position
        finally:
            self.subscriptions.discard(subscription)


_hubs: dict[int, EventHub] = {}


def hub() -> EventHub:
    """The hub of the running event loop (one per process in production)."""
    loop = asyncio.get_running_loop()
    key = id(loop)
    current = _hubs.get(key)
    if current is None or current._loop is not loop:
        current = _hubs[key] = EventHub()
        current._loop = loop
    return current


async def stream_events(cursor: int | None, event_filter: EventFilter) -> AsyncIterator[Event]:
    """Every matching event after ``cursor`` (from the table), then live ones, in order, once each.

    With no cursor the stream starts now. The subscription registers with the
    hub before replaying, so an event committed during the replay is either
    read by the replay or queued by the hub; ids at or below the last one
    yielded are skipped at the seam.
    """
    async with hub().subscribe(event_filter) as (subscription, position):
        if cursor is not None and cursor > position:
            latest = await database_sync_to_async(latest_event_id)()
            if cursor > latest:
                # A cursor from the future (or another server's log) would silently skip events.
                raise GraphQLError(f"Unknown cursor {cursor}: the latest event is {latest}.")
        last = position if cursor is None else cursor
        if cursor is not None:
            while True:
                batch = await database_sync_to_async(load_events_after)(last, REPLAY_BATCH)
                for event in batch:
                    last = event.pk
                    if event_filter.matches(event):
                        yield event
                if len(batch) < REPLAY_BATCH:
                    break
        while True:
            if subscription.overflowed and subscription.queue.empty():
                raise SlowSubscriber(
                    f'Too far behind: subscription ended. Resubscribe with after: "{last}" to resume.'
                )
            event = await subscription.queue.get()
            if event.pk <= last:
                continue
            last = event.pk
            yield event


def kinds_of(values: Iterable) -> frozenset[str]:
    return frozenset(v.value for v in values or ())
