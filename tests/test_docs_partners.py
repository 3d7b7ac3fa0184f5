"""docs/partners.md, tried against the demo: its requests, queries and error answers."""

import io
import json
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from graphql import parse, validate

from partners import keys
from schema import limits, schema

from .cleanup import wipe_results

DOC = (Path(__file__).resolve().parent.parent / "docs" / "partners.md").read_text()
QUERIES = {
    name: (json.loads(variables), text)
    for name, variables, text in re.findall(
        r"<!-- query: (\S+) variables: (.*?) -->\n```graphql\n(.*?)```", DOC, re.S
    )
}
RESPONSES = {
    name: (int(status), json.loads(text))
    for name, status, text in re.findall(
        r"<!-- response: (\S+) status: (\d+) -->\n```json\n(.*?)```", DOC, re.S
    )
}
[CURL] = re.findall(r"<!-- request: poll-first -->\n```sh\n(.*?)```", DOC, re.S)
GRJ = "application/graphql-response+json"


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("load_demo", stdout=io.StringIO())
    yield
    with django_db_blocker.unblock():
        wipe_results()


@pytest.fixture
def key(loaded):
    partner = keys.create_partner("Derby Telegraph", per_minute=600)
    return keys.issue_key(partner, "docs")[1]


def post(body: dict, key: str | None = None):
    headers = {"X-API-Key": key} if key else {}
    return Client().post("/graphql", data=json.dumps(body), content_type="application/json", headers=headers)


def test_the_guide_holds_its_examples():
    assert sorted(QUERIES) == ["poll", "subscribe"]
    assert sorted(RESPONSES) == ["no-key", "over-quota"]


def test_the_curl_example_polls_with_a_key(key):
    words = shlex.split(CURL.replace("\\\n", " "))
    body = json.loads(words[words.index("-d") + 1])
    assert words[words.index("-H") + 1] == "X-API-Key: eln_..."
    response = post(body, key)
    assert response.status_code == 200
    assert response["RateLimit-Limit"] == "600"
    events = response.json()["data"]["events"]
    assert [e["kind"] for e in events] == ["BALLOT_DECLARED"] * 3
    assert [int(e["id"]) for e in events] == sorted(int(e["id"]) for e in events)


def test_polling_with_the_cursor_gets_each_event_once_in_order(key):
    variables, query = QUERIES["poll"]
    seen = []
    after = variables["after"]
    for _ in range(4):
        response = post({"query": query, "variables": {**variables, "after": after}}, key)
        events = response.json()["data"]["events"]
        assert len(events) == 3
        seen += [int(e["id"]) for e in events]
        after = events[-1]["id"]
    assert seen == sorted(set(seen))
    assert events[0]["ballot"]["candidacies"][0].keys() == {"name", "party", "votes", "elected"}
    # Catching up 500 at a time is within the limits.
    big = limits.measure(schema._schema, parse(query))["Poll"]
    assert big.cost == 22501 and big.cost < limits.MAX_COST


def test_the_subscription_is_valid_and_within_the_limits():
    _, text = QUERIES["subscribe"]
    document = parse(text)
    assert validate(schema._schema, document) == []
    assert limits.measure(schema._schema, document)["Live"].cost < limits.MAX_COST


def test_the_documented_error_answers_are_the_servers(key, settings):
    settings.PUBLIC_API = "keys"
    status, body = RESPONSES["no-key"]
    response = post({"query": "{ parties { id } }"})
    assert (response.status_code, response.json()) == (status, body)

    status, body = RESPONSES["over-quota"]
    partner = keys.create_partner("Tiny Gazette", per_minute=1)
    tiny = keys.issue_key(partner)[1]
    post({"query": "{ parties { id } }"}, tiny)
    response = post({"query": "{ parties { id } }"}, tiny)
    assert response.status_code == status
    retry = response["Retry-After"]
    documented = json.dumps(body).replace("600", "1").replace("42", retry)
    assert response.json() == json.loads(documented)
