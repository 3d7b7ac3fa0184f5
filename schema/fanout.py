"""Live WebSocket delivery: one execution, one encoding and one task per distinct document, fanned out.

Thousands of sockets subscribe with a handful of distinct documents. Each
graphql-transport-ws subscription starts as its own Strawberry stream (so
its document is bounded, validated and its variables coerced exactly as
before, its errors reported as before, and a replay from ``after`` runs as
before); once it is live (its replay done and nothing of its own waiting),
it hands over to the process's ``Group`` for its document: the same query
text, operation name and variables (the root ``after`` variable aside: it
only says where a replay starts). The group runs one Strawberry stream of
that document, live only, and for each result encodes the payload to JSON
once and writes it to every member's socket inside that member's own
envelope (``{"id":<its id>,"type":"next","payload":<the shared text>}``,
string concatenation, no ``json.dumps`` per socket). What a subscriber
costs per event is thus one string concatenation and one write.

No gap, no duplicate at the hand-over: the hub (``schema.live``) offers each
event to every registered subscription in one synchronous step, so at any
moment the subscriber's own queue and the group's hold the same events. A
subscriber hands over only when its own queue is empty and the group has
pulled no event it has not itself delivered; it then takes from the group
only the events after the last one it delivered (``Member.start``).

A slow socket never holds the others: the group writes to a member only
while that connection's unsent bytes are below ``schema.ws.OUTBOX_HIGH``
(such a write does not wait); otherwise the member's frames wait in its own
backlog, which its own task sends as the client reads (``room``, and the
consumer's close with 4008 when it stalls, as before). A backlog of
``live.QUEUE_LIMIT`` events ends the subscription with the error naming the
cursor to resume from, as the hub's queue did.

Payloads do not depend on the caller (keys, quotas and slots are charged
when a subscription starts, ``schema.ws``; no resolver reads who asks), so
callers of every access level share a group. ``answer_scope`` is the place
to split them should that change.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections import deque
from typing import Any

from graphql import GraphQLError, VariableNode
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from . import live
from .subscriptions import TICKET, StreamContext

logger = logging.getLogger(__name__)

READY_WAIT = 1.0  # seconds a subscription waits for its group's stream to register, before going on alone
YIELD_EVERY = 256  # members written to before the group lets the rest of the event loop run


def answer_scope(consumer) -> str:
    """What, besides the document, decides a subscription's answer for the caller: nothing yet."""
    return "public"


def encode_payload(result: ExecutionResult) -> str:
    """The JSON of a graphql-transport-ws ``next`` payload, as Strawberry would send it."""
    if not result.errors and not result.extensions:
        return '{"data":' + json.dumps(result.data, separators=(",", ":")) + "}"
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return json.dumps(payload, separators=(",", ":"))


class Member:
    """One subscription of one socket in a group: its envelope, its position, its backlog."""

    def __init__(self, consumer, op_id: str, start: int) -> None:
        self.consumer = consumer
        self.prefix = '{"id":' + json.dumps(op_id) + ',"type":"next","payload":'
        self.start = start  # the last event it delivered itself: the group sends only later ones
        self.last = start  # the last event sent or queued to it: the cursor to resume from
        self.backlog: deque[str] = deque()  # payloads waiting for the client to read (slow sockets)
        self.drainer: asyncio.Task | None = None
        self.overflowed = False
        self.ending = False  # the group ended: complete once the backlog is out
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()

    def finish(self, outcome: object = "complete") -> None:
        if not self.done.done():
            self.done.set_result(outcome)

    async def offer(self, payload: str, pk: int | None) -> None:
        if self.done.done() or self.overflowed:
            return
        consumer = self.consumer
        if consumer._too_slow:
            self.finish("closed")
            return
        if self.drainer is not None or self.backlog or consumer.unsent() > _outbox_high():
            if len(self.backlog) >= live.QUEUE_LIMIT:
                self.overflowed = True  # nothing more queued: it ends after the backlog
            else:
                self.backlog.append(payload)
                self.last = pk if pk is not None else self.last
            if self.drainer is None:
                self.drainer = asyncio.create_task(self._drain())
            return
        self.last = pk if pk is not None else self.last
        try:
            await consumer.send(text_data=self.prefix + payload + "}")
        except Exception as error:
            self.finish(error)

    def end(self) -> None:
        """The group's stream ended: complete, once the backlog is out."""
        self.ending = True
        if self.drainer is None and not self.backlog:
            self.finish("complete")

    async def _drain(self) -> None:
        try:
            while self.backlog:
                if not await self.consumer.room():
                    self.finish("closed")  # closed for being too slow (4008)
                    return
                payload = self.backlog.popleft()
                await self.consumer.send(text_data=self.prefix + payload + "}")
            if self.overflowed:
                error = GraphQLError(
                    f'Too far behind: subscription ended. Resubscribe with after: "{self.last}" to resume.'
                )
                await self.consumer.send(
                    text_data=self.prefix + json.dumps({"data": None, "errors": [error.formatted]}) + "}"
                )
                self.finish("complete")
            elif self.ending:
                self.finish("complete")
        except Exception as error:
            self.finish(error)
        finally:
            self.drainer = None


def _outbox_high() -> int:
    from .ws import OUTBOX_HIGH

    return OUTBOX_HIGH


class Group:
    """One live stream of one document in this process, and the sockets it writes to."""

    def __init__(
        self, key: tuple, schema, query: str, variables: dict | None, operation_name: str | None
    ) -> None:
        self.key = key
        self.members: dict[Member, None] = {}
        self.holds = 0  # subscriptions that may join (still replaying, or just registered)
        self.loop = asyncio.get_running_loop()
        self.context = StreamContext(live_only=True, registered=self._registered)
        self.ready = asyncio.Event()
        self.origin: int | None = None
        self.finished = False
        self.results = 0  # results executed and encoded (one per event)
        context = contextvars.copy_context()
        context.run(TICKET.set, None)  # the group's own stream hands over to no one
        self.task = asyncio.create_task(self._run(schema, query, variables, operation_name), context=context)

    def _registered(self, position: int) -> None:
        self.origin = position
        self.ready.set()

    @property
    def pulled(self) -> int:
        """The last event the group's stream has taken from the hub (or its position at registration)."""
        cursor = self.context.cursor
        return cursor if cursor is not None else (self.origin or 0)

    def add(self, consumer, op_id: str, start: int) -> Member:
        member = Member(consumer, op_id, start)
        self.members[member] = None
        return member

    def hold(self) -> None:
        self.holds += 1

    def release(self) -> None:
        self.holds -= 1
        self._end_if_unused()

    def remove(self, member: Member) -> None:
        self.members.pop(member, None)
        self._end_if_unused()

    def _end_if_unused(self) -> None:
        if not self.members and self.holds <= 0 and not self.finished:
            self.finished = True
            if _groups.get(self.key) is self:
                del _groups[self.key]
            self.task.cancel()

    async def _run(self, schema, query: str, variables: dict | None, operation_name: str | None) -> None:
        try:
            stream = await schema.stream(
                query, variable_values=variables, context_value=self.context, operation_name=operation_name
            )
            async with aclosing(stream):
                async for result in stream:
                    if isinstance(result, PreExecutionError) or not isinstance(result, ExecutionResult):
                        logger.error("a fanned-out subscription could not start: %s", result.errors)
                        return
                    await self.deliver(result)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("a fanned-out subscription's stream failed")
        finally:
            self.finished = True
            if _groups.get(self.key) is self:
                del _groups[self.key]
            self.ready.set()  # nobody waits for a stream that will not register
            for member in list(self.members):
                member.end()

    async def deliver(self, result: ExecutionResult) -> None:
        """Encode the result once and hand it to every member that has not delivered its event itself."""
        self.results += 1
        payload = encode_payload(result)
        ended = result.data is None and bool(result.errors)  # the stream's own error: for everyone
        pk = None if ended else self.context.cursor
        for n, member in enumerate(list(self.members), 1):
            if pk is not None and pk <= member.start:
                continue  # it delivered this event itself before joining
            await member.offer(payload, pk)
            if n % YIELD_EVERY == 0:
                # Writes below the outbox limit never wait: without this the whole fan-out would
                # hold the event loop. A member joining meanwhile starts after this event.
                await asyncio.sleep(0)


_groups: dict[tuple, Group] = {}


def groups() -> dict[tuple, Group]:
    return _groups


class Ticket:
    """One WebSocket subscription's way into its document's group (``schema.ws`` sets it in its task)."""

    def __init__(self, schema, consumer, operation) -> None:
        self.schema = schema
        self.consumer = consumer
        self.operation = operation
        self.key: tuple | None = None
        self.member: Member | None = None
        self.group: Group | None = None
        self.handoff: Handoff | None = None

    def handoff_for(self, info) -> Handoff | None:
        """What the stream of ``info``'s field calls to hand over once live (None: it stays alone)."""
        if self.consumer is None or self.key is not None:
            return None
        raw = info._raw_info
        if len(raw.field_nodes) != 1:
            return None
        after = [a.value for a in raw.field_nodes[0].arguments or () if a.name.value == "after"]
        skipped = {after[0].name.value} if after and isinstance(after[0], VariableNode) else set()
        variables = self.operation.variables or {}
        try:
            shown = json.dumps(
                {k: v for k, v in variables.items() if k not in skipped},
                sort_keys=True,
                separators=(",", ":"),
            )
        except (TypeError, ValueError):
            return None
        self.key = (
            self.operation.query,
            self.operation.operation_name,
            shown,
            answer_scope(self.consumer),
        )
        self.handoff = Handoff(self)
        return self.handoff

    def group_now(self) -> Group:
        group = _groups.get(self.key)
        if group is None or group.finished or group.loop is not asyncio.get_running_loop():
            op = self.operation
            group = _groups[self.key] = Group(
                self.key, self.schema, op.query, op.variables, op.operation_name
            )
        return group

    async def follow(self) -> object:
        """Wait until the group is done with this subscription; its outcome ("complete" to complete)."""
        assert self.member is not None
        return await asyncio.shield(self.member.done)

    def leave(self) -> None:
        if self.handoff is not None:
            self.handoff.release()
        member, group = self.member, self.group
        if member is None or group is None:
            return
        member.finish("left")
        if member.drainer is not None:
            member.drainer.cancel()
        group.remove(member)


class Handoff:
    """Called by ``live.stream_events`` at each moment its subscription could hand over to the group."""

    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket
        self.group: Group | None = None
        self.given_up = False
        self._hold(ticket.group_now())

    def _hold(self, group: Group | None) -> None:
        """Keep ``group`` going while this subscription may still join it (and let go of any other)."""
        if self.group is not None:
            previous, self.group = self.group, None
            previous.release()
        if group is not None:
            group.hold()
        self.group = group

    def release(self) -> None:
        self._hold(None)

    async def ready(self) -> bool:
        """Wait (briefly) until the group's stream has registered with the hub."""
        if self.given_up:
            return False
        if self.group.finished:
            self._hold(self.ticket.group_now())
        if not self.group.ready.is_set():
            try:
                async with asyncio.timeout(READY_WAIT):
                    await self.group.ready.wait()
            except TimeoutError:
                return False
        if self.group.finished:
            self.given_up = True  # its stream could not start: this subscription carries on alone
            return False
        return True

    def join(self, last: int) -> bool:
        """Join the group (True) if it has taken no event after ``last``, the last one delivered.

        Called only while the subscription's own queue is empty, without awaiting in between.
        """
        group = self.group
        if (
            self.given_up
            or group is None
            or group.finished
            or not group.ready.is_set()
            or group.pulled > last
        ):
            return False
        ticket = self.ticket
        ticket.group = group
        ticket.member = group.add(ticket.consumer, ticket.operation.id, last)
        self.release()  # a member now: the membership keeps the group going
        return True
