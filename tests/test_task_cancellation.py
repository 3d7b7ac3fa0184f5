"""The server's long-running tasks end when cancelled, whatever else happens at that moment.

Python 3.11's ``asyncio.wait_for`` swallows a cancellation that arrives as the
awaited thing completes, and a library may turn a cancellation into another
exception: a task looping over either carried on forever after it was
cancelled, and an event loop's close (a server's shutdown) waited forever for
it. A test run hung that way when news reached the event hub as the test's
loop closed.
"""

import asyncio
import contextlib
import os

import pytest
from channels.layers import get_channel_layer

from electionsite.aio import stop_requested, wait_event
from schema import live

pytestmark = [pytest.mark.pure, pytest.mark.anyio]


async def ended(task: asyncio.Task) -> bool:
    done, _ = await asyncio.wait([task], timeout=2)
    if not done:
        task.cancel()  # don't leave it looping
    return bool(done) and task.cancelled()


async def test_wait_event_passes_on_a_cancellation_that_arrives_as_the_event_is_set():
    event = asyncio.Event()
    task = asyncio.create_task(wait_event(event, 30))
    await asyncio.sleep(0.01)
    event.set()
    task.cancel()  # the same turn of the loop: asyncio.wait_for would return True here
    assert await ended(task)


async def test_wait_event_says_whether_the_event_was_set():
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 30) is True


async def test_the_hub_stops_when_cancelled_as_news_arrives(monkeypatch):
    monkeypatch.setattr(live, "POLL_INTERVAL", 0.05)
    hub = live.EventHub()
    hub.position = 0
    reads = []

    async def catch_up():
        reads.append(1)

    monkeypatch.setattr(hub, "catch_up", catch_up)
    task = asyncio.create_task(hub._run())
    await asyncio.sleep(0.01)
    hub._wake.set()
    task.cancel()
    assert await ended(task)


class LayerTurningCancellationIntoAnError:
    """A channel layer whose receive, when cancelled, raises something else (channels-redis
    can: an assertion in its cleanup, or a Redis error as its connection is torn down)."""

    def __init__(self) -> None:
        self.receiving = asyncio.Event()

    async def receive(self, channel):
        self.receiving.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise RuntimeError("connection closed") from None

    async def group_add(self, group, channel):
        pass


async def test_the_hubs_listener_stops_when_the_layer_turns_its_cancellation_into_an_error(monkeypatch):
    monkeypatch.setattr(live, "POLL_INTERVAL", 0.05)
    layer = LayerTurningCancellationIntoAnError()
    monkeypatch.setattr(live, "get_channel_layer", lambda: layer)
    hub = live.EventHub()
    task = asyncio.create_task(hub._listen(layer, "events.x"))
    await layer.receiving.wait()
    task.cancel()
    assert await ended(task)


async def test_stop_requested_is_true_only_after_a_cancellation():
    seen = []

    async def loop():
        seen.append(stop_requested())
        with contextlib.suppress(asyncio.CancelledError):  # swallowed, as some libraries do
            await asyncio.sleep(30)
        seen.append(stop_requested())

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    task.cancel()
    await task
    assert seen == [False, True]
    assert stop_requested() is False


_redis = bool(os.environ.get("REDIS_URL"))
if not _redis and os.environ.get("REQUIRE_SERVICES") == "1":
    raise RuntimeError("REQUIRE_SERVICES=1 but the channel-layer test needs Redis: set REDIS_URL")


@pytest.mark.skipif(not _redis, reason="needs Redis (REDIS_URL)")
async def test_the_hubs_listener_on_redis_stops_when_cancelled_as_a_notice_arrives():
    """With the configured layer (redis-py's socket timeout, so each command is sent under
    Python 3.11's wait_for), this hung at the first or second try: the cancellation was
    swallowed and channels-redis went back to waiting for a message that never came."""
    publisher = get_channel_layer()
    for attempt in range(30):
        layer = live.listener_layer()
        hub = live.EventHub()
        hub._layer = layer
        channel = await layer.new_channel()
        await layer.group_add("tests.cancellation", channel)
        task = asyncio.create_task(hub._listen(layer, channel))
        await asyncio.sleep(0.001 * (attempt % 5))
        await publisher.group_send("tests.cancellation", {"type": "results.event"})
        await asyncio.sleep(0.0005 * (attempt % 7))
        task.cancel()
        assert await ended(task), f"still running after attempt {attempt}"
        await publisher.group_discard("tests.cancellation", channel)
