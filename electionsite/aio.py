"""asyncio helpers for the server's long-running tasks.

Python 3.11's ``asyncio.wait_for`` swallows a cancellation that arrives in
the same turn of the loop as the awaited thing completes (its waiter is
cancelled, sees the inner future done, and returns its result). A loop like
``while True: wait_for(news.wait(), timeout)`` then carries on forever
after its task was cancelled, and whatever awaits that task (a server's
shutdown, an event loop's close) waits forever too. It happened: a test
run hung at an event loop's close when news reached the event hub as the
loop cancelled it. ``wait_event`` uses ``asyncio.timeout``, which counts
cancellations and never swallows one; ``stop_requested`` lets a loop notice
a cancellation that some library turned into another exception.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; whether it is set.

    A cancellation of the caller always propagates, even if the event is set at
    the same moment (unlike ``asyncio.wait_for`` on Python 3.11).
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        pass
    return event.is_set()


def stop_requested() -> bool:
    """Whether the running task has been asked to stop (cancelled), even if the
    ``CancelledError`` was swallowed or turned into another exception on its way up."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
