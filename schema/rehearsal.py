"""Rehearsal in the API: the flag on every answer, the public ``rehearsal`` field, zero counts.

While the deployment rehearses (``results.services.start_rehearsal`` until
``reset_to_eve``), every GraphQL answer carries
``extensions.rehearsal = {active, label, startedAt, pollDate, zeroCounts}``,
``Query.rehearsal`` says the same for a front end's banner, and every event
says ``rehearsal: true``. With the zero-counts switch on for a poll date,
each undeclared ballot of that date says ``zeroCounts: true`` and shows its
candidates at 0 votes, share 0, not elected. Outside a rehearsal, with zero
counts off, answers carry no ``rehearsal`` extension: they are exactly those
of a deployment that never rehearsed.

The state is read once per operation (from the cache; see
``results.rehearsal``) and kept in a context variable for the resolvers,
which run in the event loop and must not query.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar

import strawberry
from asgiref.sync import sync_to_async
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from results import rehearsal
from results.models import Ballot as BallotModel

from .limits import parse_bounded

_state: ContextVar[rehearsal.State | None] = ContextVar("rehearsal_state", default=None)
# One thread (so one database connection) for the rare cache miss of an async request:
# the event loop must not run a query itself.
_reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rehearsal-state")


def load_state() -> rehearsal.State:
    """The rehearsal state, from the cache, reading the database on a miss (off the event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return rehearsal.current()
    state = rehearsal.cached()
    if state is None:
        state = _reader.submit(rehearsal.current).result()
    return state


def state_now() -> rehearsal.State:
    """The state this operation started with (read now if it runs outside the extension)."""
    state = _state.get()
    return state if state is not None else load_state()


def zero_counts_apply(ballot: BallotModel) -> bool:
    """Whether ``ballot`` shows zero counts: the switch is on for its poll date and it is undeclared."""
    day = state_now().zero_counts
    return day is not None and not ballot.is_published and ballot.election.poll_date == day


def flag(state: rehearsal.State) -> dict | None:
    """The ``rehearsal`` extension of an answer; ``None`` when there is nothing to flag."""
    return rehearsal.public_flag(state)


class RehearsalExtension(SchemaExtension):
    """Reads the state once per operation; adds ``extensions.rehearsal`` while there is one to flag.

    A subscription lasts for hours, so it keeps no state of its own: its
    payloads read the (cached) state as each event is sent.
    """

    def on_operation(self):
        yield from self._with_state(load_state)

    def _with_state(self, read):
        if self._is_subscription():
            yield
            return
        self._state = read()
        token = _state.set(self._state)
        try:
            yield
        finally:
            # Left in another context (an async generator's finaliser): harmless.
            with contextlib.suppress(ValueError):
                _state.reset(token)

    def _is_subscription(self) -> bool:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            # ``on_operation`` runs before the parsing hook: parse here (bounded and cached, as
            # ``DocumentLimits`` does, which then finds it done). Without it, graphql-transport-ws
            # (which allows any operation) left every subscribe reading the state from the cache,
            # synchronously, in the event loop: a Redis connection per WebSocket.
            try:
                context.graphql_document = parse_bounded(context.schema._schema, context.query)
            except GraphQLError:
                return False  # refused by the parsing hook, an error answer flagged like any other
        try:
            return context.operation_type is OperationType.SUBSCRIPTION
        except Exception:  # the document does not parse: an error answer, flagged like any other
            return False

    def get_results(self) -> dict:
        state = getattr(self, "_state", None)
        answer = flag(state) if state is not None else None
        return {"rehearsal": answer} if answer else {}


class AsyncRehearsalExtension(RehearsalExtension):
    """The same, for async execution: a cache miss reads the row through ``sync_to_async``
    (the request's own database thread), never in the event loop."""

    async def on_operation(self):
        if self._is_subscription():
            yield
            return
        state = rehearsal.cached()
        if state is None:
            state = await sync_to_async(rehearsal.current)()
        self._state = state
        token = _state.set(state)
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):
                _state.reset(token)


def rehearsal_extension() -> RehearsalExtension:
    """The extension for this execution: strawberry picks a hook's sync or async form by its class."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return RehearsalExtension()
    return AsyncRehearsalExtension()


@strawberry.type(
    description="Whether this deployment is rehearsing: everything it publishes is then test data, never a "
    "real result. Show a banner while `active` is true."
)
class Rehearsal:
    active: bool = strawberry.field(
        description="True from the start of a rehearsal until the reset to the eve of the poll "
        "(also after a replay has finished)."
    )
    label: str = strawberry.field(
        description='What the newsroom called it, e.g. "Dress rehearsal"; may be empty.'
    )
    started_at: dt.datetime | None = strawberry.field(
        description="When the rehearsal started; null when not rehearsing."
    )
    poll_date: dt.date | None = strawberry.field(
        description="The poll being rehearsed; null when not rehearsing."
    )
    zero_counts: dt.date | None = strawberry.field(
        description="The poll date whose undeclared ballots show zero counts (`Ballot.zeroCounts`); null = off."
    )


@strawberry.type
class RehearsalQuery:
    @strawberry.field(description="Whether this deployment is rehearsing, for a banner on every page.")
    def rehearsal(self) -> Rehearsal:
        state = state_now()
        return Rehearsal(
            active=state.active,
            label=state.label,
            started_at=state.started_at,
            poll_date=state.poll_date,
            zero_counts=state.zero_counts,
        )
