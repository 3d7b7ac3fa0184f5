"""Execute each live event's payload once per distinct subscription document.

On election night thousands of partners and pages subscribe with a handful
of distinct documents. The hub hands every subscription the same loaded
``Event`` object; this executor stores the execution result on that object,
keyed by the document, the operation and the values of the variables its
payload selection uses, so each distinct document is executed once per event
and every other subscriber with the same document sends the stored result.

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
milliseconds instead.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from channels.db import database_sync_to_async
from graphql import OperationType, VariableNode, print_ast
from graphql.language import Node
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from results.models import Event

from .fast_fields import FastCompletion
from .limits import check_deadline

_RESULTS = "_shared_payload_results"


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


class SharedEventExecutor(FastCompletion, StrawberryGraphQLCoreExecutionContext):
    """The schema's execution context: shares subscription payloads (above), checks the
    operation's deadline (``schema.limits.TimeLimit``) before each object's fields, and
    completes the plain fields in place (``schema.fast_fields.FastCompletion``)."""

    before_fields = staticmethod(check_deadline)  # FastCompletion calls it before each object's fields

    def _payload_key(self) -> tuple:
        operation = self.operation
        document = operation.loc.source.body if operation.loc else print_ast(operation)
        used = payload_variables(operation, self.fragments)
        values = tuple(sorted((name, repr(self.variable_values.get(name))) for name in used))
        return (document, operation.name.value if operation.name else None, values)

    def execute_operation(self, serially: bool | None = None):
        event = self.root_value
        if (
            serially is not False
            or not isinstance(event, Event)
            or self.operation.operation is not OperationType.SUBSCRIPTION
        ):
            return super().execute_operation(serially)
        results: dict = event.__dict__.setdefault(_RESULTS, {})
        key = self._payload_key()
        shared = results.get(key)
        if shared is None:
            shared = results[key] = asyncio.ensure_future(_off_loop(super().execute_operation, serially))
        if isinstance(shared, asyncio.Future):
            return _await(shared)
        return shared


async def _off_loop(operation, serially):
    """Run the execution in a worker thread (with the caller's context, and any database
    connection it opened closed after); finish in the loop whatever it left to await."""
    outcome = await database_sync_to_async(operation, thread_sensitive=False)(serially)
    if inspect.isawaitable(outcome):
        outcome = await outcome
    return outcome


async def _await(future: asyncio.Future):
    # shield: one subscriber going away must not cancel the others' result.
    return await asyncio.shield(future)
