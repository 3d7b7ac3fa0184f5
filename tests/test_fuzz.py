"""Thousands of random documents, valid and not: never a 5xx, a masked error or a logged traceback.

A walker over the schema builds valid documents (random fields, arguments of
the right types or deliberately wrong ones, aliases, fragments, variables), and
mutates them into invalid ones (cut short, characters dropped or doubled,
tokens shuffled, unknown names); random JSON bodies and hypothesis's text go
through too. Every answer must be a JSON object in the GraphQL shape with a
status below 500, no "Unexpected server error." and nothing logged at ERROR.
"""

import json
import logging
import random
import string

import pytest
from django.test import Client
from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
    get_named_type,
)
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from schema import schema

from . import factories as f

GRJ = "application/graphql-response+json"
SCHEMA = schema._schema
VALUES = {
    "ID": ['"local.fuzzshire.2023-05-04"', '"PP53"', '"x"', '"local.fuzzshire.ward-0.2023-05-04"'],
    "String": ['"fuzzshire"', '"2023-05-04"', '""', '"0"', '"-1"', '"é\\u00e9"', '"a b"'],
    "Int": ["0", "1", "5", "500", "-3", "2147483647"],
    "Float": ["0.5", "1e3"],
    "Boolean": ["true", "false"],
    "Date": ['"2023-05-04"', '"2023-13-45"', '"not a date"'],
    "DateTime": ['"2023-05-05T01:00:00+00:00"', '"yesterday"'],
}
WRONG = ['"x"', "1", "true", "null", "[1, 2]", "{a: 1}", "ENUM_VALUE", "$undeclared"]


class Walker:
    """Random documents over the schema; valid unless ``wrong`` arguments are drawn."""

    def __init__(self, rng: random.Random, wrong: float = 0.0):
        self.rng = rng
        self.wrong = wrong
        self.fragments: list[str] = []
        self.aliases = 0

    def value(self, type_) -> str:
        if self.rng.random() < self.wrong:
            return self.rng.choice(WRONG)
        if isinstance(type_, GraphQLNonNull):
            return self.value(type_.of_type)
        if isinstance(type_, GraphQLList):
            return "[" + ", ".join(self.value(type_.of_type) for _ in range(self.rng.randint(0, 3))) + "]"
        if isinstance(type_, GraphQLEnumType):
            return self.rng.choice(list(type_.values))
        if isinstance(type_, GraphQLInputObjectType):
            return "{" + ", ".join(f"{n}: {self.value(fl.type)}" for n, fl in type_.fields.items()) + "}"
        if (
            type_ in (GraphQLInt, GraphQLFloat, GraphQLBoolean, GraphQLID, GraphQLString)
            or type_.name in VALUES
        ):
            return self.rng.choice(VALUES.get(type_.name, ['"x"']))
        return '"x"'

    def arguments(self, field) -> str:
        chosen = [
            f"{name}: {self.value(arg.type)}"
            for name, arg in field.args.items()
            if isinstance(arg.type, GraphQLNonNull) or self.rng.random() < 0.5
        ]
        return f"({', '.join(chosen)})" if chosen else ""

    def selection(self, type_: GraphQLObjectType, depth: int) -> str:
        fields = list(type_.fields.items())
        picked = self.rng.sample(fields, k=min(len(fields), self.rng.randint(1, 4)))
        parts = []
        for name, field in picked:
            inner = get_named_type(field.type)
            if isinstance(inner, GraphQLObjectType):
                if depth >= 5:
                    continue
                body = "{ " + self.selection(inner, depth + 1) + " }"
                if self.rng.random() < 0.15:
                    fragment = f"F{len(self.fragments)}"
                    self.fragments.append(f"fragment {fragment} on {inner.name} {body}")
                    body = "{ ..." + fragment + " }"
            else:
                body = ""
            alias = ""
            if self.rng.random() < 0.1:
                self.aliases += 1
                alias = f"a{self.aliases}: "
            parts.append(f"{alias}{name}{self.arguments(field)} {body}".strip())
        if self.rng.random() < 0.1:
            parts.append("__typename")
        return " ".join(parts) or "__typename"

    def document(self) -> str:
        kind = self.rng.random()
        if kind < 0.1:
            root, keyword = SCHEMA.subscription_type, "subscription"
        else:
            root, keyword = SCHEMA.query_type, "query"
        operation = f"{keyword} {{ {self.selection(root, 1)} }}"
        return " ".join([operation, *self.fragments])


def mutate(rng: random.Random, document: str) -> str:
    """An invalid neighbour of a document."""
    how = rng.randrange(6)
    if how == 0:
        return document[: rng.randrange(len(document) + 1)]
    if how == 1:
        i = rng.randrange(len(document))
        return document[:i] + document[i + 1 :]
    if how == 2:
        i = rng.randrange(len(document))
        return document[:i] + rng.choice('{}()[]:$@!."\\#,=|&') + document[i:]
    if how == 3:
        tokens = document.split()
        rng.shuffle(tokens)
        return " ".join(tokens)
    if how == 4:
        return document.replace(rng.choice(["id", "name", "slug", "events", "ballots"]), "nonsense", 1)
    return "".join(rng.choice(string.printable) for _ in range(rng.randrange(1, 80)))


def random_body(rng: random.Random) -> bytes:
    shapes = [
        b"null",
        b"[]",
        b"{}",
        b'{"query": 5}',
        b'{"query": "{ parties { id } }", "variables": []}',
        b'{"query": "{ parties { id } }", "operationName": 7}',
        b'{"query": "query A { parties { id } } query B { councils { slug } }"}',
        b'{"query": "query A { parties { id } } query B { councils { slug } }", "operationName": "C"}',
        b'{"query": "mutation { x }"}',
        b'{"query": "subscription { events { id } }"}',
        b'{"query": "query($n: Int!) { events(first: $n) { id } }", "variables": {"n": 99999999999}}',
        b'{"query": "query($s: String) { council(slug: $s) { slug } }", "variables": {"s": {"a": 1}}}',
        b'{"query": "{ events(after: \\"99999999999999999999999\\") { id } }"}',
        b'{"query": "{ posts(after: \\"%%%\\") { edges { cursor } } }"}',
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60))),
    ]
    return rng.choice(shapes)


class ErrorLogs(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def error_logs():
    handler = ErrorLogs()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)


@pytest.fixture
def small_night():
    e = f.election("fuzzshire", seats_total=2, before={"PP52": (2, 0)})
    from results import services

    for i in range(2):
        b = f.ballot(e, f"Ward {i}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
        services.declare_ballot(b, votes=f.votes(b, Able=10, Baker=5))


def check(response, sent) -> str:
    assert response.status_code < 500, (sent, response.status_code, response.content[:300])
    body = response.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), (sent, body)
    assert "Unexpected server error." not in response.content.decode(), (sent, body)
    return "error" if body.get("errors") else "ok"


def test_thousands_of_random_documents_never_fail_the_server(small_night, error_logs):
    rng = random.Random(20230504)
    client = Client()
    outcomes = {"valid ok": 0, "valid error": 0, "invalid": 0, "bodies": 0}
    for i in range(2500):
        walker = Walker(rng, wrong=0.0 if i % 2 == 0 else 0.15)
        document = walker.document()
        if i % 3 == 2:
            document = mutate(rng, document)
            outcomes["invalid"] += 1
            kind = None
        else:
            kind = "valid"
        response = client.post(
            "/graphql", data=json.dumps({"query": document}), content_type="application/json", HTTP_ACCEPT=GRJ
        )
        outcome = check(response, document)
        if kind:
            outcomes[f"valid {outcome}"] += 1
    for _ in range(500):
        body = random_body(rng)
        check(client.post("/graphql", data=body, content_type="application/json", HTTP_ACCEPT=GRJ), body)
        outcomes["bodies"] += 1
    print(f"\nfuzzed: {outcomes}")
    assert outcomes["valid ok"] > 500  # the walker's documents mostly run
    assert [r.getMessage() for r in error_logs] == []


@hypothesis_settings(max_examples=500)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_arbitrary_text_as_a_document_is_a_clear_answer(text):
    response = Client().post(
        "/graphql", data=json.dumps({"query": text}), content_type="application/json", HTTP_ACCEPT=GRJ
    )
    check(response, text)
