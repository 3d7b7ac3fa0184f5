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

WebSocket subscriptions, once live, hand over to one fan-out group per
distinct document (``schema.fanout``), which takes the events from the hub
like any other subscription and writes each one to all of its sockets.

Each subscription owns a bounded queue. A client too slow to keep up is
dropped with an error naming the cursor to resume from, rather than letting
it hold up the others or grow without limit.

Replays (a subscription with ``after``) read the log in batches through the
hub: subscriptions replaying from the same cursor share one read and the same
loaded events (so the shared executor runs each event's payload once per
document for all of them), at most ``REPLAY_READS`` reads run at once, and a
few recent batches are kept for a moment for the subscriptions a step behind,
or resuming from a cursor inside one. A read is shared only while no newer
event is known to have committed: each payload shows its subject as it
stands now (``ReadState``). Executions are shared across reads too
(``schema.sharing``), replays execute one at a time, and they hand out at
most ``REPLAY_RATE`` events a second per process, together. A hundred
sockets replaying the whole log, from one cursor or a hundred, thus cost
little more than one does, and leave the database and the event loop to
everyone else; live delivery never waits for their turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from graphql import GraphQLError

from electionsite.aio import stop_requested, wait_event
from results import parties, rehearsal
from results.broadcast import EVENTS_GROUP
from results.models import Event

from .events import events_queryset

logger = logging.getLogger(__name__)

# Seconds between safety-net reads of the table (settings.EVENTS_POLL_INTERVAL).
POLL_INTERVAL = settings.EVENTS_POLL_INTERVAL
REPLAY_BATCH = 100  # events read per query while replaying
REPLAY_READS = 1  # replay reads running at once per process; live delivery never waits for them
REPLAY_SENDS = 1  # replaying subscriptions sending an event at once per process (taking turns)
# Events replays may hand out a second per process, all together (sending a council page's
# payload takes the event loop about a quarter of a millisecond): the rest of the loop is
# everyone else's, however many sockets replay. One partner alone replays a night's ~10,000 events in
# about ten seconds. REPLAY_BURST events may go at once after a quiet spell.
REPLAY_RATE = 1_000
REPLAY_BURST = 100
REPLAY_KEEP = 8  # recent replay batches kept, for subscriptions a step behind
# Seconds a kept batch is served. A payload shows its subject as it stands when read;
# anything changed since has its own later event, which the replay delivers too.
REPLAY_FRESH = 30.0
QUEUE_LIMIT = 2_000  # events a subscription may have waiting before it is dropped
REJOIN_EVERY = 3_600  # seconds between renewals of the hub's group membership


# Events that change what every page shows: delivered whatever a subscription filters on.
ALWAYS_DELIVERED = frozenset({Event.Kind.REHEARSAL_STARTED, Event.Kind.RESET, Event.Kind.ZERO_COUNTS})


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
    events = list(events_queryset().prefetch_related("post__councils").after(cursor)[:limit])
    parties.refresh()  # after reading the rows: their resolvers look parties up without a query
    return events


def latest_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def listener_layer():
    """The channel layer the hub receives notices from: the configured one, except that a
    Redis layer gets connections of its own without redis-py's socket timeout.

    With a socket timeout, redis-py sends each command under ``asyncio.wait_for``, which
    on Python 3.11 swallows a cancellation that arrives as the send completes; channels-redis
    then blocks for the next message, in a loop of its own that never returns to the hub.
    A server's shutdown (or a test's event loop closing) waited for ever on it. The hub's
    reads need no timeout: each of channels-redis's blocking pops returns within 5 seconds.
    Publishers keep the configured layer and its timeout.
    """
    layer = get_channel_layer()
    try:
        from channels_redis.core import RedisChannelLayer
    except ImportError:  # pragma: no cover - channels-redis is a requirement
        return layer
    if not isinstance(layer, RedisChannelLayer):
        return layer
    config = dict(settings.CHANNEL_LAYERS["default"].get("CONFIG", {}))
    config["hosts"] = [
        {
            **(host if isinstance(host, dict) else {"address": host}),
            "socket_timeout": None,
            "socket_connect_timeout": 5,
        }
        for host in config.get("hosts", [])
    ]
    return type(layer)(**config)


# The attribute of a loaded Event naming the state of the log its payload shows (see ``read_events``).
READ_STATE = "_read_state"


@dataclass(frozen=True)
class ReadState:
    """What an event's payload depends on besides the event itself, as of its read.

    A payload shows its election, ballot and post as they stand when read: as
    of ``latest``, the newest event the process knew had committed (the hub's
    position, or the newest event read, if later), under the rehearsal
    switches ``rehearsal``. Two reads with the same state show the same
    payload, so their executions can be shared (``schema.sharing``); any newer
    event changes it. ``replay`` marks events read for a replay rather than
    handed out live (replays take turns to execute; live delivery never waits).
    """

    latest: int
    rehearsal: str
    replay: bool


def read_events(cursor: int, known: int, *, replay: bool) -> list[Event]:
    """``load_events_after(cursor, REPLAY_BATCH)``, each event labelled with its ``ReadState``.

    ``known`` is the newest event the hub knew of when the read began.
    """
    events = load_events_after(cursor, REPLAY_BATCH)
    latest = max(known, events[-1].pk if events else 0)
    state = ReadState(latest=latest, rehearsal=repr(rehearsal.current()), replay=replay)
    for event in events:
        event.__dict__[READ_STATE] = state
    return events


def read_state_of(events: list[Event]) -> ReadState | None:
    return events[0].__dict__.get(READ_STATE) if events else None


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
        self._layer = None
        self._joined_at = time.monotonic()
        self._replay_reads = asyncio.Semaphore(REPLAY_READS)
        self.replay_sends = asyncio.Semaphore(REPLAY_SENDS)
        self._replay_due = 0.0  # when the next replayed event may go, at REPLAY_RATE
        self._replay_inflight: dict[int, tuple[float, asyncio.Future]] = {}
        self._replay_kept: OrderedDict[int, tuple[float, list[Event]]] = OrderedDict()

    async def replay_batch(self, cursor: int, registered: float, position: int) -> tuple[list[Event], bool]:
        """The events after ``cursor``, read once for every subscription replaying from it, and
        whether there may be more after them (False: the log's tail, as read).

        A full batch is the same for everyone, and so is any part of it: a subscription
        resuming from a cursor inside a kept full batch gets the rest of that batch. A
        shorter one (the log's tail) is shared with a subscription only if it reaches the
        hub's position when the subscription registered, or was read after that: otherwise
        an event committed in between, which the hub handed out before the subscription
        registered, would be missed. A read is shared only while no newer event is known
        (``_current``): a payload shows its subject as it stands when read.
        """
        known = self.position or 0  # a shared read shows at least every event known of now
        kept = self._replay_kept.get(cursor)
        if (
            kept is not None
            and self._usable(kept, cursor, registered, position)
            and self._current(kept[1], known)
            and time.monotonic() - kept[0] < REPLAY_FRESH
        ):
            self._replay_kept.move_to_end(cursor)
            return kept[1], len(kept[1]) == REPLAY_BATCH
        covering = self._rest_of_kept_batch(cursor, known)
        if covering is not None:
            return covering, True
        inflight = self._replay_inflight.get(cursor)
        if inflight is not None:
            started, future = inflight
            shared = await asyncio.shield(future)
            if self._usable((started, shared), cursor, registered, position) and self._current(shared, known):
                return shared, len(shared) == REPLAY_BATCH
        events = await self._read_batch(cursor)
        return events, len(events) == REPLAY_BATCH

    def _rest_of_kept_batch(self, cursor: int, known: int) -> list[Event] | None:
        """The events after ``cursor`` of a kept full batch read from an earlier cursor, if one
        holds the next ones: it holds every event between its first and its last, as read."""
        now = time.monotonic()
        for start, (started, events) in reversed(self._replay_kept.items()):
            if (
                len(events) == REPLAY_BATCH
                and start < cursor < events[-1].pk
                and self._current(events, known)
                and now - started < REPLAY_FRESH
            ):
                self._replay_kept.move_to_end(start)
                return [event for event in events if event.pk > cursor]
        return None

    async def pace_replay(self) -> None:
        """Wait until a replayed event may go: replays hand out at most ``REPLAY_RATE`` events a
        second in this process (after up to ``REPLAY_BURST`` at once)."""
        now = time.monotonic()
        self._replay_due = max(self._replay_due, now - REPLAY_BURST / REPLAY_RATE) + 1 / REPLAY_RATE
        if self._replay_due > now:
            await asyncio.sleep(self._replay_due - now)

    @staticmethod
    def _current(events: list[Event], known: int) -> bool:
        """Whether a read shows the log as it stands: no event it did not see is known to have
        committed since (a payload shows its subject as it stands when read, see ``ReadState``)."""
        state = read_state_of(events)
        return state is None or state.latest >= known

    @staticmethod
    def _usable(read: tuple[float, list[Event]], cursor: int, registered: float, position: int) -> bool:
        started, events = read
        reaches = (events[-1].pk if events else cursor) >= position
        return len(events) == REPLAY_BATCH or reaches or started >= registered

    async def _read_batch(self, cursor: int) -> list[Event]:
        future = asyncio.get_running_loop().create_future()
        started = time.monotonic()
        self._replay_inflight[cursor] = (started, future)
        try:
            async with self._replay_reads:
                started = time.monotonic()
                self._replay_inflight[cursor] = (started, future)
                events = await database_sync_to_async(read_events)(cursor, self.position or 0, replay=True)
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("replay read cancelled"))
            future.exception()  # retrieved: the waiters (if any) raise it themselves
            raise
        else:
            future.set_result(events)
            self._replay_kept[cursor] = (started, events)
            while len(self._replay_kept) > REPLAY_KEEP:
                self._replay_kept.popitem(last=False)
            return events
        finally:
            if self._replay_inflight.get(cursor, (None, None))[1] is future:
                del self._replay_inflight[cursor]

    async def start(self) -> None:
        async with self._started:
            if self._task is not None and not self._task.done():
                return
            self.position = await database_sync_to_async(latest_event_id)()
            layer = listener_layer()
            if layer is not None:
                # The default prefix: channels-redis reads all of a layer's own
                # channels from one queue named by it, and would never read another.
                self._layer = layer
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
                if stop_requested():  # cancelled, and the layer raised something else instead
                    raise asyncio.CancelledError from None
                logger.exception("channel layer receive failed; retrying")
                await asyncio.sleep(POLL_INTERVAL)
                await self._join()
                continue
            if stop_requested():  # cancelled, and the layer swallowed it and returned a message
                raise asyncio.CancelledError
            self._wake.set()

    async def _join(self) -> None:
        """(Re)join the events group; membership expires (after a day, in channels-redis)."""
        if self._channel is None:
            return
        try:
            await self._layer.group_add(EVENTS_GROUP, self._channel)
        except Exception:
            logger.exception("joining the events group failed; the safety-net poll carries on")
        self._joined_at = time.monotonic()

    async def _run(self) -> None:
        while True:
            await wait_event(self._wake, POLL_INTERVAL)  # never swallows a cancellation
            self._wake.clear()
            if time.monotonic() - self._joined_at > REJOIN_EVERY:
                await self._join()
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                if stop_requested():
                    raise asyncio.CancelledError from None
                logger.exception("reading new events failed; retrying")

    async def catch_up(self) -> None:
        """Hand every event after the hub's position to the matching subscriptions."""
        while True:
            events = await database_sync_to_async(read_events)(self.position, self.position, replay=False)
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


async def stream_events(
    cursor: int | None,
    event_filter: EventFilter,
    *,
    room: Callable[[], Awaitable[bool]] | None = None,
    take_turns: bool = True,
    handoff=None,
    registered: Callable[[int], None] | None = None,
) -> AsyncIterator[Event]:
    """Every matching event after ``cursor`` (from the table), then live ones, in order, once each.

    With no cursor the stream starts now. The subscription registers with the
    hub before replaying, so an event committed during the replay is either
    read by the replay or queued by the hub; ids at or below the last one
    yielded are skipped at the seam.

    ``room``, when given, is awaited before each event is handed out: it waits
    while the client has not read what it was sent, and says False (the stream
    ends) once the client has been too slow for too long (see ``schema.ws``). A replay waits there
    before taking its turn, so a client that stops reading holds no one else up.

    A replaying subscription holds one of the process's few replay turns while
    its consumer handles each event (a socket's send). ``take_turns=False`` is
    for a consumer whose handling waits on something else entirely (a webhook's
    POST, for seconds): holding a turn there would make every other replay wait.

    ``handoff`` (``schema.fanout.Handoff``): once live with nothing of its own
    waiting, the stream offers to hand over to its document's group at the last
    event it yielded; if the group takes it, the stream ends there (the group
    sends the later events). ``registered`` is told the hub's position once the
    subscription is registered.
    """
    current = hub()
    async with current.subscribe(event_filter) as (subscription, position):
        if registered is not None:
            registered(position)
        registered_at = time.monotonic()  # a replay read that began after this sees what the hub missed
        if cursor is not None and cursor > position:
            latest = await database_sync_to_async(latest_event_id)()
            if cursor > latest:
                # A cursor from the future (or another server's log) would silently skip events.
                raise GraphQLError(f"Unknown cursor {cursor}: the latest event is {latest}.")
        last = position if cursor is None else cursor
        if cursor is not None:
            while True:
                batch, more = await current.replay_batch(last, registered_at, position)
                for event in batch:
                    last = event.pk
                    if event_filter.matches(event):
                        if room is not None and not await room():
                            return  # the client was too slow and is being closed
                        # Only a few replays send at once: the rest wait their turn here,
                        # so live subscribers and other requests keep the event loop.
                        if take_turns:
                            async with current.replay_sends:
                                await current.pace_replay()
                                yield event
                        else:
                            yield event
                        # Sending a frame does not wait on the socket: without this a replay
                        # would send its whole backlog in one go, starving everyone else.
                        await asyncio.sleep(0)
                if not more:
                    break
        while True:
            # The hub offers each event to every subscription in one step: with its own queue
            # empty, this one has yielded every event its document's group can have taken.
            if (
                handoff is not None
                and not subscription.overflowed
                and subscription.queue.empty()
                and await handoff.ready()
                and subscription.queue.empty()
                and handoff.join(last)
            ):
                return
            if subscription.overflowed and subscription.queue.empty():
                raise SlowSubscriber(
                    f'Too far behind: subscription ended. Resubscribe with after: "{last}" to resume.'
                )
            event = await subscription.queue.get()
            if event.pk <= last:
                continue
            if room is not None and not await room():  # meanwhile the hub queues, up to QUEUE_LIMIT
                return  # the client was too slow and is being closed
            last = event.pk
            yield event


def kinds_of(values: Iterable) -> frozenset[str]:
    return frozenset(v.value for v in values or ())
