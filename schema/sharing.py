"""Execute each event's payload once per distinct subscription document and state of the log.

On election night thousands of partners and pages subscribe with a handful
of distinct documents. The hub hands every subscription the same loaded
``Event`` object; this executor stores the execution result on that object,
keyed by the document, the operation and the values of the variables its
payload selection uses, so each distinct document is executed once per event
and every other subscriber with the same document sends the stored result.

Replays read the log in batches from wherever each subscriber resumes, so
subscribers at different cursors hold different objects for the same event.
Their results are shared too, through a process-wide store (``PayloadStore``,
least recently used first out, bounded in entries and in bytes of JSON)
keyed by the same document key, the event's id and the state of the log the
read showed (``schema.live.ReadState``: the newest event known to have
committed, and the rehearsal switches). A payload shows its election, ballot
or post as they stand now, so any newer event changes the key: a result is
only ever reused for a read that showed the same state. Nothing per
subscriber is part of an execution: keys, quotas, subscription slots and use
counts are charged when a subscription starts (``schema.ws``, ``schema.sse``),
before and whatever any payload's execution.

Arguments of the root ``events`` field (``after``, ``councils``, ``kinds``)
only shape the stream, never the payload, so the variables they use are left
out of the key: subscribers resuming from different cursors share results.

That one execution runs in a worker thread, not in the event loop. Its
resolvers read only rows loaded with the event, but a large payload (a
council page's: every ward with its candidates) takes tens of milliseconds
of pure Python, and a replay executes one event after another: in the event
loop, every other client's request would wait that long at each of its
steps (a normal query waited 1.5 s behind a single replaying socket). In a
thread, the interpreter hands the event loop its turn every few
milliseconds instead. Replays' executions take turns (``REPLAY_EXECUTIONS``
at once per process), so however many sockets replay from however many
cursors, they hold at most one thread's share of the interpreter; live
events' executions never wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from channels.db import database_sync_to_async
from graphql import OperationType, VariableNode, print_ast
from graphql.language import Node
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from results.models import Event

from .fast_fields import FastCompletion
from .limits import check_deadline
from .live import READ_STATE, ReadState

_RESULTS = "_shared_payload_results"
PAYLOADS_MAX_ENTRIES = 4_096  # executed payloads kept across reads
PAYLOADS_MAX_BYTES = 16 * 1024 * 1024  # and their size, counted as JSON (a council page's is ~20 kB)
REPLAY_EXECUTIONS = 1  # replayed events' payloads executing at once per process

# How a query's execution is run when not in the event loop: set by the HTTP view for a
# document it judges heavy (``schema.http``), called with graphql-core's execution of the
# operation and its argument; returns what that would (an awaitable, here).
query_runner: ContextVar[Callable | None] = ContextVar("query_runner", default=None)


def _variables_in(node: Any, found: set[str]) -> set[str]:
    """Names of the variables used anywhere under an AST node."""
    if isinstance(node, VariableNode):
        found.add(node.name.value)
    elif isinstance(node, Node):
        for key in node.keys:
            _variables_in(getattr(node, key, None), found)
    elif isinstance(node, list | tuple):
        for item in node:
            _variables_in(item, found)
    return found


_payload_variables: dict[int, tuple[object, frozenset[str]]] = {}


def payload_variables(operation, fragments) -> frozenset[str]:
    """Variables the payload selection of a subscription uses (root field arguments excluded).

    Computed once per parsed operation (strawberry caches parsing, so all
    subscribers of one document share the node).
    """
    cached = _payload_variables.get(id(operation))
    if cached is not None and cached[0] is operation:
        return cached[1]
    used: set[str] = set()
    for selection in operation.selection_set.selections:
        _variables_in(getattr(selection, "selection_set", None), used)
        _variables_in(getattr(selection, "directives", None), used)
    _variables_in(list(fragments.values()), used)
    if len(_payload_variables) > 1000:
        _payload_variables.clear()
    _payload_variables[id(operation)] = (operation, frozenset(used))
    return frozenset(used)


class PayloadStore:
    """Executed payloads by (document key, event id, ``ReadState``): least recently used out first.

    An execution in progress is stored as its future, so a second read of the
    same event waits for it rather than executing again; once done it is
    stored as its result, counted at the size of its JSON.
    """

    def __init__(self, max_entries: int = PAYLOADS_MAX_ENTRIES, max_bytes: int = PAYLOADS_MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple, tuple[object, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple) -> object | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: tuple, value: object, size: int = 0) -> None:
        self.discard(key)
        self._entries[key] = (value, size)
        self.bytes += size
        while len(self._entries) > self.max_entries or (
            self.bytes > self.max_bytes and len(self._entries) > 1
        ):
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped

    def discard(self, key: tuple, value: object | None = None) -> None:
        """Forget ``key`` (only if it still holds ``value``, when given)."""
        entry = self._entries.get(key)
        if entry is not None and (value is None or entry[0] is value):
            del self._entries[key]
            self.bytes -= entry[1]

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


_stores: dict[int, tuple[asyncio.AbstractEventLoop, PayloadStore, asyncio.Semaphore]] = {}


def _loop_state() -> tuple[PayloadStore, asyncio.Semaphore]:
    """The store and the replays' execution turns of the running event loop (one per process)."""
    loop = asyncio.get_running_loop()
    current = _stores.get(id(loop))
    if current is None or current[0] is not loop:
        current = _stores[id(loop)] = (loop, PayloadStore(), asyncio.Semaphore(REPLAY_EXECUTIONS))
    return current[1], current[2]


def payloads() -> PayloadStore:
    """The running event loop's store of executed payloads."""
    return _loop_state()[0]


class SharedEventExecutor(FastCompletion, StrawberryGraphQLCoreExecutionContext):
    """The schema's execution context: shares subscription payloads (above), checks the
    operation's deadline (``schema.limits.TimeLimit``) before each object's fields, and
    completes the plain fields in place (``schema.fast_fields.FastCompletion``)."""

    before_fields = staticmethod(check_deadline)  # FastCompletion calls it before each object's fields

    def _payload_key(self) -> tuple:
        operation = self.operation
        document = operation.loc.source.body if operation.loc else print_ast(operation)
        used = payload_variables(operation, self.fragments)
        # graphql-core 3.3 holds the values in a container (VariableValues.coerced), 3.2 in a dict.
        coerced = getattr(self.variable_values, "coerced", self.variable_values)
        values = tuple(sorted((name, repr(coerced.get(name))) for name in used))
        return (document, operation.name.value if operation.name else None, values)

    def execute_operation(self, serially: bool | None = None):
        event = self.root_value
        if (
            serially is not False
            or not isinstance(event, Event)
            or self.operation.operation is not OperationType.SUBSCRIPTION
        ):
            runner = query_runner.get()
            if runner is not None and self.operation.operation is OperationType.QUERY:
                return runner(super().execute_operation, serially)
            return super().execute_operation(serially)
        results: dict = event.__dict__.setdefault(_RESULTS, {})
        key = self._payload_key()
        shared = results.get(key)
        if shared is None:
            shared = results[key] = self._shared_execution(event, key, serially)
        if isinstance(shared, asyncio.Future):
            return _await(shared)
        return shared

    def _shared_execution(self, event: Event, key: tuple, serially):
        """The result of another read of this event at the same state, or a new execution's future."""
        state: ReadState | None = event.__dict__.get(READ_STATE)
        store, turns = _loop_state()
        # Whether it was read for a replay or live is no part of the key: the payload is the same.
        stored_key = None if state is None else (*key, event.pk, state.latest, state.rehearsal)
        replay = state is not None and state.replay
        if stored_key is not None:
            stored = store.get(stored_key)
            # A live event never waits for a replay's execution that is still waiting for its turn.
            if stored is not None and (replay or not getattr(stored, "waiting_for_turn", False)):
                return stored
        future = asyncio.ensure_future(
            _off_loop(super().execute_operation, serially, turns if replay else None)
        )
        future.waiting_for_turn = replay
        if stored_key is not None:
            store.put(stored_key, future)
            future.add_done_callback(lambda done: _stored(store, stored_key, done))
        return future


def _stored(store: PayloadStore, key: tuple, future: asyncio.Future) -> None:
    """An execution finished: keep its result (and its size), or forget it if it failed."""
    if future.cancelled() or future.exception() is not None:
        store.discard(key, future)
        return
    result, size = future.result()
    if store.get(key) is future:
        store.put(key, result, size)


async def _off_loop(operation, serially, turns: asyncio.Semaphore | None = None):
    """Run the execution in a worker thread (with the caller's context, and any database
    connection it opened closed after); finish in the loop whatever it left to await.
    Returns the result and the size of its JSON (0 if it finished in the loop).

    With ``turns`` (a replay's), wait for one first: replays execute one at a time.
    """
    async with turns if turns is not None else contextlib.nullcontext():
        asyncio.current_task().waiting_for_turn = False
        outcome, size = await database_sync_to_async(_measured(operation), thread_sensitive=False)(serially)
    if inspect.isawaitable(outcome):
        outcome = await outcome
    return outcome, size


def _measured(operation):
    """The operation, returning its result and the size of its JSON when it completes in the thread."""

    def run(serially):
        outcome = operation(serially)
        if inspect.isawaitable(outcome):
            return outcome, 0  # finished in the loop (rare: no resolver here is async)
        return outcome, _json_size(outcome)

    return run


def _json_size(result) -> int:
    try:
        return len(json.dumps(result.data, default=str, separators=(",", ":"))) + 200 * len(
            result.errors or ()
        )
    except (TypeError, ValueError, RecursionError):
        return 0


async def _await(future: asyncio.Future):
    # shield: one subscriber going away must not cancel the others' result.
    result, _size = await asyncio.shield(future)
    return result
