"""The delivery process: every active endpoint's events, POSTed in cursor order, signed, retried.

``manage.py deliver_webhooks`` runs one ``Deliverer``. Each active endpoint
gets an asyncio task that runs the events subscription itself (the document
built from its selection, ``after`` its ``delivered_cursor``, its filter), so
payloads are rendered by the subscription's own code, through this process's
event hub: woken by the channel layer's notice of each commit, with a poll
of the table as a safety net, and one read of the log shared by every
endpoint replaying from the same place. A task delivers one event at a time:
it asks the subscription for the next only once the current one is
acknowledged (a 2xx) or the endpoint is paused, so one endpoint's
deliveries stay in order while a slow one holds up no other.

Progress is the endpoint's ``delivered_cursor``. Acknowledged cursors and the
attempts are written every ``FLUSH_INTERVAL`` seconds in one transaction;
a process killed before a write sends those events again, with the same
delivery ids (derived from endpoint, generation and cursor), so the partner
can drop them. Failure state (failures so far, since when, next attempt) is
written at once.

Several delivery processes may run: each endpoint is delivered by the one
holding its PostgreSQL advisory lock (session-level, on a connection of its
own, so the lock goes with the process however it dies). On SQLite, run one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import ssl
import time
from dataclasses import dataclass

import httpx
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from electionsite.aio import stop_requested, wait_event
from schema import schema
from schema.subscriptions import StreamContext

from . import retry, signing
from .models import WebhookAttempt, WebhookEndpoint
from .selection import document

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.2  # seconds between writes of acknowledged cursors and attempts
SCAN_INTERVAL = 2.0  # seconds between looks at the endpoints table (new, paused, re-sent)
ATTEMPTS_KEPT_DAYS = 7  # attempts older than this are deleted
LOCK_CLASS = 16_016  # the advisory locks' first key; the second is the endpoint's id


class EndpointPaused(Exception):
    """The endpoint failed for longer than WEBHOOK_PAUSE_AFTER and was paused."""


@dataclass
class Running:
    task: asyncio.Task
    version: tuple  # (generation, updated_at) when started: a change restarts the task


# ---------------------------------------------------------------- locks


class LocalLocks:
    """One process (SQLite): endpoints are owned by whoever asks first in this process."""

    def __init__(self) -> None:
        self.held: set[int] = set()

    async def acquire(self, pk: int) -> bool:
        if pk in self.held:
            return False
        self.held.add(pk)
        return True

    async def release(self, pk: int) -> None:
        self.held.discard(pk)

    async def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        self.held.clear()


class AdvisoryLocks:
    """PostgreSQL session-level advisory locks on a connection of their own (autocommit).

    A process killed with SIGKILL loses its connection, and with it its locks,
    at once: a restarted or other process takes the endpoints over.
    """

    def __init__(self, conn) -> None:
        self.conn = conn
        self.held: set[int] = set()

    @classmethod
    async def open(cls) -> AdvisoryLocks:
        import psycopg

        db = settings.DATABASES["default"]
        params = {
            "dbname": db["NAME"],
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
            "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
        }
        conn = await psycopg.AsyncConnection.connect(
            autocommit=True, application_name="deliver_webhooks", **{k: v for k, v in params.items() if v}
        )
        return cls(conn)

    async def acquire(self, pk: int) -> bool:
        if pk in self.held:
            return False
        cursor = await self.conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, pk))
        (got,) = await cursor.fetchone()
        if got:
            self.held.add(pk)
        return bool(got)

    async def release(self, pk: int) -> None:
        if pk in self.held:
            self.held.discard(pk)
            with contextlib.suppress(Exception):
                await self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, pk))

    async def healthy(self) -> bool:
        try:
            await self.conn.execute("SELECT 1")
            return True
        except Exception:
            logger.exception("the advisory lock connection failed")
            return False

    async def close(self) -> None:
        self.held.clear()
        with contextlib.suppress(Exception):
            await self.conn.close()


async def open_locks():
    if connection.vendor == "postgresql":
        return await AdvisoryLocks.open()
    return LocalLocks()


# ---------------------------------------------------------------- database work (sync, in a thread)


def active_endpoints() -> dict[int, tuple]:
    rows = WebhookEndpoint.objects.filter(
        state=WebhookEndpoint.State.ACTIVE, partner__active=True
    ).values_list("pk", "generation", "updated_at")
    return {pk: (generation, updated) for pk, generation, updated in rows}


def load_endpoint(pk: int) -> WebhookEndpoint | None:
    return (
        WebhookEndpoint.objects.select_related("partner")
        .filter(pk=pk, state=WebhookEndpoint.State.ACTIVE, partner__active=True)
        .first()
    )


def write_progress(progress: dict[int, tuple[int, int, dt.datetime]], attempts: list[WebhookAttempt]) -> None:
    """Acknowledged cursors (never moving one back, nor past a re-send) and attempts, in one transaction."""
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create(attempts)
        if connection.vendor == "postgresql" and progress:
            # One statement for every endpoint that moved (up to one per endpoint per flush).
            table = WebhookEndpoint._meta.db_table
            rows = ", ".join(["(%s, %s, %s, %s::timestamptz)"] * len(progress))
            params = [v for pk, (gen, cursor, at) in progress.items() for v in (pk, gen, cursor, at)]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} AS e SET delivered_cursor = v.cursor, delivered_at = v.at "  # noqa: S608
                    f"FROM (VALUES {rows}) AS v(id, generation, cursor, at) "
                    "WHERE e.id = v.id AND e.generation = v.generation AND e.delivered_cursor < v.cursor",
                    params,
                )
            return
        for pk, (generation, cursor, at) in progress.items():
            WebhookEndpoint.objects.filter(pk=pk, generation=generation, delivered_cursor__lt=cursor).update(
                delivered_cursor=cursor, delivered_at=at
            )


def write_failure(pk: int, generation: int, failures: int, since, next_at) -> None:
    WebhookEndpoint.objects.filter(pk=pk, generation=generation).update(
        failures=failures, failing_since=since, next_attempt_at=next_at
    )


def write_paused(pk: int, generation: int, reason: str) -> None:
    WebhookEndpoint.objects.filter(pk=pk, generation=generation).update(
        state=WebhookEndpoint.State.PAUSED, paused_reason=reason[:300], next_attempt_at=None
    )


def prune_attempts() -> int:
    cutoff = timezone.now() - dt.timedelta(days=ATTEMPTS_KEPT_DAYS)
    return WebhookAttempt.objects.filter(at__lt=cutoff).delete()[0]


# ---------------------------------------------------------------- the process


def describe(error: Exception) -> str:
    if isinstance(error, httpx.ConnectTimeout):
        return f"no connection within {min(5.0, settings.WEBHOOK_TIMEOUT):g} s (ConnectTimeout)"
    if isinstance(error, httpx.TimeoutException):
        return f"timeout after {settings.WEBHOOK_TIMEOUT:g} s ({type(error).__name__})"
    if isinstance(error, httpx.ConnectError):
        return f"connection failed: {error}"[:300] or "connection failed"
    return f"{type(error).__name__}: {error}"[:300]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every endpoint's client: building one reads the CA bundle (tens of ms)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        verify=tls_context(),
        timeout=httpx.Timeout(settings.WEBHOOK_TIMEOUT, connect=min(5.0, settings.WEBHOOK_TIMEOUT)),
        follow_redirects=False,  # a redirect is an answer to fix, not to follow with a signed body
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


class Deliverer:
    def __init__(
        self, *, scan_interval: float = SCAN_INTERVAL, flush_interval: float = FLUSH_INTERVAL
    ) -> None:
        self.scan_interval = scan_interval
        self.flush_interval = flush_interval
        self.running: dict[int, Running] = {}
        self.progress: dict[int, tuple[int, int, dt.datetime]] = {}
        self.attempts: list[WebhookAttempt] = []
        self.stopping = asyncio.Event()
        self.locks = None
        self._pruned = 0.0

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        self.locks = await open_locks()
        flusher = asyncio.create_task(self._flush_loop())
        try:
            while not self.stopping.is_set():
                try:
                    await self.scan()
                except Exception:
                    logger.exception("scanning endpoints failed; retrying")
                await wait_event(self.stopping, self.scan_interval)
        finally:
            for pk in list(self.running):
                await self._stop_task(pk)
            await flusher  # it ends at its next look, never in the middle of a write
            await self.flush()
            await self.locks.close()

    async def scan(self) -> None:
        """Start tasks for active endpoints we can lock; stop those paused, re-sent or changed."""
        if not await self.locks.healthy():
            # Our locks may be gone: another process may take our endpoints. Let go of all.
            for pk in list(self.running):
                await self._stop_task(pk)
            await self.locks.close()
            self.locks = await open_locks()
        wanted = await database_sync_to_async(active_endpoints)()
        for pk, running in list(self.running.items()):
            if running.task.done():
                if not running.task.cancelled() and running.task.exception():
                    logger.error("endpoint %s: delivery task failed", pk, exc_info=running.task.exception())
                await self._stop_task(pk)
            elif wanted.get(pk) != running.version:
                await self._stop_task(pk)
        for pk, version in wanted.items():
            if pk not in self.running and await self.locks.acquire(pk):
                await self.flush()  # our own acknowledgements first: the task starts from the row
                endpoint = await database_sync_to_async(load_endpoint)(pk)
                if endpoint is None or (endpoint.generation, endpoint.updated_at) != version:
                    await self.locks.release(pk)
                    continue
                task = asyncio.create_task(self._endpoint(endpoint), name=f"webhook-{pk}")
                self.running[pk] = Running(task, version)
        if time.monotonic() - self._pruned > 3_600:
            self._pruned = time.monotonic()
            await database_sync_to_async(prune_attempts)()

    async def _stop_task(self, pk: int) -> None:
        running = self.running.pop(pk)
        running.task.cancel()
        with contextlib.suppress(BaseException):
            await running.task
        await self.locks.release(pk)

    async def _flush_loop(self) -> None:
        # Stopped by the flag, not cancelled: a write cancelled while its thread commits it
        # would be put back and written twice.
        while not self.stopping.is_set():
            await wait_event(self.stopping, self.flush_interval)
            try:
                await self.flush()
            except Exception:
                logger.exception("writing delivery progress failed; retrying")

    async def flush(self) -> None:
        if not self.progress and not self.attempts:
            return
        progress, attempts = self.progress, self.attempts
        self.progress, self.attempts = {}, []
        try:
            await database_sync_to_async(write_progress)(progress, attempts)
        except Exception:
            # Rolled back: put them back (older than anything recorded since) for the next flush.
            for pk, value in progress.items():
                if pk not in self.progress:
                    self.progress[pk] = value
            for attempt in attempts:
                attempt.pk = None  # bulk_create may have set it before the rollback
            self.attempts[:0] = attempts
            raise

    # ------------------------------------------------------------ one endpoint

    async def _endpoint(self, endpoint: WebhookEndpoint) -> None:
        # A client (connection pool) per endpoint: it sends one request at a time, so one kept-alive
        # connection is all it needs, and httpcore's pool costs grow with the connections it holds.
        async with new_client() as client:
            await self._endpoint_with(endpoint, client)

    async def _endpoint_with(self, endpoint: WebhookEndpoint, client: httpx.AsyncClient) -> None:
        cursor = endpoint.delivered_cursor
        failures, failing_since = endpoint.failures, endpoint.failing_since
        variables = {
            "councils": endpoint.councils or None,
            "kinds": endpoint.kinds or None,
        }
        while True:
            context = StreamContext(take_turns=False)
            stream = await schema.subscribe(
                document(endpoint.selection), {**variables, "after": str(cursor)}, context_value=context
            )
            if not hasattr(stream, "__aiter__"):  # refused before it started (the selection no longer valid)
                logger.error("endpoint %s: its subscription was refused: %s", endpoint.pk, stream.errors)
                await asyncio.sleep(self.scan_interval * 5)
                continue
            try:
                async for result in stream:
                    if result.data is None:
                        # The stream ended with an error (too far behind: the queue overflowed while
                        # we were retrying): subscribe again from where we are.
                        logger.info("endpoint %s: stream ended (%s); resuming", endpoint.pk, result.errors)
                        break
                    event_id = context.cursor
                    payload = {"data": result.data}
                    if result.errors:
                        payload["errors"] = [e.formatted for e in result.errors]
                    try:
                        failures, failing_since = await self._deliver(
                            client, endpoint, event_id, payload, failures, failing_since
                        )
                    except EndpointPaused:
                        return  # staff resume it; a new task starts from its cursor
                    cursor = event_id
            finally:
                with contextlib.suppress(Exception):
                    await stream.aclose()
            if stop_requested():  # cancelled, and the stream ended with an error result instead
                raise asyncio.CancelledError
            await asyncio.sleep(0.1)

    async def _deliver(self, client, endpoint, event_id: int, payload: dict, failures: int, failing_since):
        """POST one event until it is acknowledged; returns the failure state (0, None) after."""
        delivery_id = endpoint.delivery_id(event_id)
        attempt = failures
        while True:
            attempt += 1
            timestamp = int(time.time())
            body = json.dumps(
                {"deliveryId": delivery_id, "cursor": str(event_id), "timestamp": timestamp, **payload},
                separators=(",", ":"),
            ).encode()
            headers = signing.headers(endpoint.secret, delivery_id, timestamp, body)
            started, at = time.perf_counter(), timezone.now()
            status, error = None, ""
            try:
                response = await client.post(endpoint.url, content=body, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = describe(exc)
            ok = not retry.is_retryable(status)
            if not ok and status is not None:
                error = f"HTTP {status}"
            self.attempts.append(
                WebhookAttempt(
                    endpoint_id=endpoint.pk,
                    cursor=event_id,
                    delivery_id=delivery_id,
                    attempt=attempt,
                    at=at,
                    status_code=status,
                    duration_ms=round((time.perf_counter() - started) * 1000),
                    error=error,
                    ok=ok,
                )
            )
            if ok:
                self.progress[endpoint.pk] = (endpoint.generation, event_id, timezone.now())
                if failures:
                    await database_sync_to_async(write_failure)(
                        endpoint.pk, endpoint.generation, 0, None, None
                    )
                return 0, None
            failures += 1
            now = timezone.now()
            failing_since = failing_since or at
            if (now - failing_since).total_seconds() > settings.WEBHOOK_PAUSE_AFTER:
                reason = (
                    f"Paused at {now:%Y-%m-%d %H:%M:%S} UTC: failing since {failing_since:%Y-%m-%d %H:%M:%S} "
                    f"({failures} attempts at event {event_id}; last: {error}). Resume to continue from there."
                )
                await self.flush()
                await database_sync_to_async(write_paused)(endpoint.pk, endpoint.generation, reason)
                await database_sync_to_async(write_failure)(
                    endpoint.pk, endpoint.generation, failures, failing_since, None
                )
                logger.warning("endpoint %s paused: %s", endpoint.pk, reason)
                raise EndpointPaused(reason)
            wait = retry.delay(failures)
            await database_sync_to_async(write_failure)(
                endpoint.pk, endpoint.generation, failures, failing_since, now + dt.timedelta(seconds=wait)
            )
            await asyncio.sleep(wait)
