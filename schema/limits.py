"""Bounds on every GraphQL document, checked before it is validated or executed.

A public API must refuse an expensive document before spending anything on
it. Each document is, in this order and in time linear in its length:

1. at most ``MAX_QUERY_LENGTH`` characters and ``MAX_TOKENS`` lexical tokens
   (the parser stops counting there, so a huge document costs nothing more);
2. measured once over its syntax tree, each fragment measured once however
   often it is spread (memoised), so 30 fragments each spreading the next
   twice cost 31 visits, not 2^30: the depth of its deepest field, its
   aliases, its field selections with every fragment expanded, and a cost
   estimate (each field 1, a list field's selection multiplied by the number of
   items it may hold, a few heavy fields weighted);
3. validated by graphql-core's rules only when within every bound, with the
   rules built once so the validation cache hits for a repeated document.

The parse and the measurement of a document are cached by its text, so the
honest path (a page sending the same query again and again) pays neither.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    get_named_type,
    parse,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

MAX_QUERY_LENGTH = 20_000  # characters of the document (the council page's query is ~1,000)
MAX_TOKENS = 2_000  # lexical tokens (the council page's query has ~200)
MAX_DEPTH = 12  # levels of nested fields
MAX_ALIASES = 20  # aliased fields, fragments expanded
MAX_FIELDS = 500  # field selections, fragments expanded
MAX_FRAGMENTS = 50  # fragment definitions
MAX_COST = 150_000  # estimated fields resolved (the partner feed's query at first: 500 is ~25,000)

# How many items a list field holds on a typical night, as the cost estimate counts
# them (4 May 2023: 230 councils polled, 25 wards and 5 candidates each on average;
# an election's ballots at the largest council's size).
# An estimate, not a bound: what it lets through still runs under GRAPHQL_TIMEOUT.
LIST_SIZES = {
    ("Query", "elections"): 250,
    ("Query", "councils"): 250,
    ("Query", "parties"): 100,
    ("NationalSummary", "elections"): 250,
    ("NationalSummary", "mayoralties"): 10,
    ("NationalSummary", "parties"): 15,
    ("Council", "elections"): 2,
    # Not the average (25) but the largest council's wards (Birmingham, 69): a council far above
    # the average must not let an accepted document run past the time limit.
    ("Election", "ballots"): 70,
    ("Election", "composition"): 8,
    ("Election", "voteShare"): 8,
    ("Ballot", "candidacies"): 6,
    ("Ballot", "changes"): 2,
    ("Post", "councils"): 3,
    ("Post", "ballots"): 5,
    ("PostConnection", "edges"): 1,  # sized by `posts(first:)`
}
DEFAULT_LIST_SIZE = 20
# Lists sized by their `first` argument: (its default, its maximum); a variable counts as the maximum.
PAGED = {("Query", "events"): (100, 500), ("Query", "posts"): (20, 100)}
# Fields that cost far more than one: the national summary reads every election of the day.
FIELD_WEIGHTS = {("Query", "nationalSummary"): 40_000}


class DocumentRefused(GraphQLError):
    """A document over one of the bounds: refused before validation and execution."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


@dataclass(frozen=True)
class Measure:
    """What executing a selection would cost, fragments expanded."""

    depth: int = 0
    aliases: int = 0
    fields: int = 0
    cost: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.fields + other.fields,
            self.cost + other.cost,
        )


class _Measurer:
    """Measures a document's operations, each fragment once per parent type."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[str, Measure] = {}
        self.visiting: set[str] = set()

    def _list_size(self, type_name: str | None, field: FieldNode, field_type) -> int:
        inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        key = (type_name, field.name.value)
        if key in PAGED:
            default, maximum = PAGED[key]
            for argument in field.arguments or ():
                if argument.name.value == "first":
                    if isinstance(argument.value, IntValueNode):
                        return max(1, min(int(argument.value.value), maximum))
                    return maximum  # a variable: any value up to the maximum
            return default
        if not isinstance(inner, GraphQLList):
            return 1
        return LIST_SIZES.get(key, DEFAULT_LIST_SIZE)

    def selection_set(self, node: SelectionSetNode | None, parent: GraphQLObjectType | None) -> Measure:
        total = Measure()
        if node is None:
            return total
        for selection in node.selections or ():
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                type_ = parent
                if selection.type_condition is not None:
                    type_ = self.schema.get_type(selection.type_condition.name.value)
                total += self.selection_set(selection.selection_set, type_)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def field(self, node: FieldNode, parent: GraphQLObjectType | None) -> Measure:
        definition = None
        type_name = getattr(parent, "name", None)
        if parent is not None and hasattr(parent, "fields"):
            definition = parent.fields.get(node.name.value)
        if definition is None:  # unknown here: validation names it; count it as a leaf
            inner = Measure()
            size = 1
        else:
            inner = self.selection_set(node.selection_set, get_named_type(definition.type))
            size = self._list_size(type_name, node, definition.type)
        weight = FIELD_WEIGHTS.get((type_name, node.name.value), 1)
        return Measure(
            depth=inner.depth + 1 if node.selection_set else 1,
            aliases=inner.aliases + (1 if node.alias else 0),
            fields=inner.fields + 1,
            cost=weight + size * inner.cost,
        )

    def fragment(self, name: str) -> Measure:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.visiting:
            return Measure()  # unknown or cyclic: validation reports it
        self.visiting.add(name)
        try:
            type_ = self.schema.get_type(definition.type_condition.name.value)
            measure = self.selection_set(definition.selection_set, type_)
        finally:
            self.visiting.discard(name)
        self.memo[name] = measure
        return measure

    def operation(self, operation: OperationDefinitionNode) -> Measure:
        root = {
            "query": self.schema.query_type,
            "mutation": self.schema.mutation_type,
            "subscription": self.schema.subscription_type,
        }[operation.operation.value]
        return self.selection_set(operation.selection_set, root)


def measure(schema: GraphQLSchema, document: DocumentNode) -> dict[str, Measure]:
    """Each operation's measure (by name; an anonymous one is ``None``), fragments expanded once."""
    measurer = _Measurer(schema, document)
    return {
        (d.name.value if d.name else None): measurer.operation(d)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    }


def check(schema: GraphQLSchema, document: DocumentNode) -> dict[str | None, Measure]:
    """Each operation's measure; raise ``DocumentRefused`` when any exceeds a bound."""
    fragments = sum(isinstance(d, FragmentDefinitionNode) for d in document.definitions)
    if fragments > MAX_FRAGMENTS:
        raise DocumentRefused(
            f"The document defines {fragments} fragments; at most {MAX_FRAGMENTS} are allowed.",
            "TOO_MANY_FRAGMENTS",
        )
    measures = measure(schema, document)
    for name, m in measures.items():
        label = f"Operation '{name}'" if name else "The operation"
        if m.depth > MAX_DEPTH:
            raise DocumentRefused(
                f"{label} nests fields {m.depth} deep; at most {MAX_DEPTH} levels are allowed.",
                "TOO_DEEP",
            )
        if m.aliases > MAX_ALIASES:
            raise DocumentRefused(
                f"{label} has {m.aliases} aliases with fragments expanded; at most {MAX_ALIASES} are allowed.",
                "TOO_MANY_ALIASES",
            )
        if m.fields > MAX_FIELDS:
            raise DocumentRefused(
                f"{label} selects {m.fields} fields with fragments expanded; at most {MAX_FIELDS} are allowed.",
                "TOO_MANY_FIELDS",
            )
        if m.cost > MAX_COST:
            raise DocumentRefused(
                f"{label} is estimated to resolve {m.cost} fields; at most {MAX_COST} are allowed: "
                "ask for fewer items (a smaller `first`) or fewer nested lists.",
                "TOO_COSTLY",
            )
    return measures


@lru_cache(maxsize=256)
def _parse_and_check(
    schema: GraphQLSchema, query: str
) -> tuple[DocumentNode, dict[str | None, Measure]] | GraphQLError:
    # The outcome (a document with its operations' measures, or the error refusing it) is
    # cached by text: a repeated document is neither parsed nor measured again.
    if len(query) > MAX_QUERY_LENGTH:
        return DocumentRefused(
            f"The document is {len(query)} characters long; at most {MAX_QUERY_LENGTH} are allowed.",
            "DOCUMENT_TOO_LONG",
        )
    try:
        document = parse(query, max_lexical_tokens=MAX_TOKENS, max_comments=MAX_TOKENS)
    except GraphQLError as error:
        if error.message.startswith("Syntax Error: Document contains more than"):
            return DocumentRefused(
                f"The document has more than {MAX_TOKENS} tokens; at most {MAX_TOKENS} are allowed.",
                "TOO_MANY_TOKENS",
            )
        return error
    try:
        measures = check(schema, document)
    except DocumentRefused as error:
        return error
    for node in _strings_in(document):
        if unstorable(node.value):
            return DocumentRefused(f"A string in the document {UNSTORABLE}.", "BAD_STRING")
    return document, measures


def parse_bounded(schema: GraphQLSchema, query: str) -> DocumentNode:
    """The parsed document, or a GraphQLError (a syntax error or a bound exceeded)."""
    outcome = _parse_and_check(schema, query)
    if isinstance(outcome, GraphQLError):
        # A fresh copy each time: graphql-core's errors are mutable (path, locations).
        raise GraphQLError(
            outcome.message,
            source=outcome.source,
            positions=outcome.positions,
            extensions=outcome.extensions,
        )
    return outcome[0]


def estimated_cost(schema: GraphQLSchema, query: str, operation_name: str | None = None) -> int:
    """The cost estimate of the operation a request names (its only one when unnamed; the
    document's costliest when the name matches none), from the measure cached with the parse;
    0 for a document that does not parse or is refused, or for an ``operationName`` that is not
    a string (the view refuses it with 400)."""
    if operation_name is not None and not isinstance(operation_name, str):
        return 0
    outcome = _parse_and_check(schema, query)
    if isinstance(outcome, GraphQLError):
        return 0
    measures = outcome[1]
    if operation_name in measures:
        return measures[operation_name].cost
    return max((m.cost for m in measures.values()), default=0)


def unstorable(value: str) -> bool:
    """True for a string no database column can hold: a NUL or an unpaired surrogate."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


UNSTORABLE = "contains a NUL character or an unpaired surrogate, which no name, slug or id can hold"


def _strings_in(document: DocumentNode) -> Iterator[StringValueNode]:
    stack: list = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, StringValueNode):
            yield node
        elif isinstance(node, Node):
            stack.extend(getattr(node, key, None) for key in node.keys if key != "loc")
        elif isinstance(node, list | tuple):
            stack.extend(node)


def check_variables(variables: object) -> None:
    """Refuse variable values carrying a string no column can hold (walked without recursion)."""
    if not isinstance(variables, dict):
        return  # graphql-core refuses variables that are not an object
    stack: list[tuple[str, object]] = [(f"${name}", value) for name, value in variables.items()]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if unstorable(value):
                raise DocumentRefused(f"Variable '{where.split('.')[0]}' {UNSTORABLE}.", "BAD_STRING")
        elif isinstance(value, dict):
            stack.extend((f"{where}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((where, v) for v in value)


class DocumentLimits(SchemaExtension):
    """Parses each document within the bounds above, or refuses it (HTTP and WebSocket alike)."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            context.graphql_document = parse_bounded(context.schema._schema, context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        check_variables(self.execution_context.variables)
        yield


_deadline: ContextVar[float | None] = ContextVar("graphql_deadline", default=None)


class TimeLimitExceeded(GraphQLError):
    """A query ran past ``GRAPHQL_TIMEOUT``: every field resolved after that fails with this."""

    def __init__(self) -> None:
        super().__init__(
            f"The request took more than {settings.GRAPHQL_TIMEOUT:g} seconds and was stopped: "
            "ask for less (a smaller `first`, fewer nested lists).",
            extensions={"code": "TIME_LIMIT"},
        )


class TimeLimit(SchemaExtension):
    """Stops a query's execution at ``GRAPHQL_TIMEOUT`` seconds, in the event loop too.

    The HTTP view's ``asyncio.timeout`` stops what the request awaits (resolvers in
    threads, database reads); it cannot interrupt the resolvers that run in the event
    loop over loaded rows. This extension sets the deadline for the operation, and the
    execution context (``schema.sharing.SharedEventExecutor``) checks it before it
    resolves each object's fields (``check_deadline``), so past it the execution
    unwinds at once, each remaining object failing with ``TIME_LIMIT`` (the view
    answers 503). What runs between two checks is small: one object's fields over
    loaded rows (their objects check again), and the document limits bound how many
    objects there are. It is not a ``resolve`` hook: graphql-core would wrap every
    field, each scalar included, in it (a few percent of a page's time for a check a
    scalar never needs). Subscriptions have no deadline: each event's payload is
    bounded by the document limits alone.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.operation_type is OperationType.SUBSCRIPTION:
            yield
            return
        token = _deadline.set(time.monotonic() + settings.GRAPHQL_TIMEOUT)
        try:
            yield
        finally:
            _deadline.reset(token)


def check_deadline() -> None:
    """Raise ``TimeLimitExceeded`` once the current operation is past its deadline (if it has one)."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise TimeLimitExceeded()
