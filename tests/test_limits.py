"""Every document is bounded before it is validated or executed, in time linear in its length."""

import time

import pytest
from graphql import parse
from strawberry.extensions import validation_cache

from schema import limits, schema


def fragment_bomb(levels: int) -> str:
    """30 fragments each spreading the next twice: 2^30 `parties { id }` once expanded, in 1.2 kB."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ parties {{ id }} }}")
    return "query { ...F0 } " + " ".join(fragments)


def refusal(query: str) -> tuple[str, str | None]:
    result = schema.execute_sync(query)
    assert result.data is None
    [error] = result.errors
    return error.message, (error.extensions or {}).get("code")


@pytest.mark.pure
def fastest_refusal(query: str) -> float:
    """Seconds to refuse the document, uncached, at best of three (the machine may be busy)."""
    times = []
    for _ in range(3):
        limits._parse_and_check.cache_clear()
        started = time.perf_counter()
        refusal(query)
        times.append(time.perf_counter() - started)
    return min(times)


def test_the_fragment_bomb_is_refused_in_milliseconds():
    assert fastest_refusal(fragment_bomb(30)) < 0.05
    message, code = refusal(fragment_bomb(30))
    assert (message, code) == (
        f"The operation selects {2**31} fields with fragments expanded; at most 500 are allowed.",
        "TOO_MANY_FIELDS",
    )


@pytest.mark.pure
def test_each_fragment_is_measured_once_however_often_it_is_spread(monkeypatch):
    visits = []
    original = limits._Measurer.selection_set

    def counting(self, node, parent):
        visits.append(node)
        return original(self, node, parent)

    monkeypatch.setattr(limits._Measurer, "selection_set", counting)
    limits.measure(schema._schema, parse(fragment_bomb(30)))
    # the operation, the 31 fragments, `parties` and its leaf `id`
    assert len(visits) == 34


@pytest.mark.parametrize(
    ("query", "message", "code"),
    [
        (
            "{ " + " ".join(f"a{i}: parties {{ id }}" for i in range(21)) + " }",
            "The operation has 21 aliases with fragments expanded; at most 20 are allowed.",
            "TOO_MANY_ALIASES",
        ),
        (
            "{ " + " ".join(f"a{i}: parties {{ id }}" for i in range(5000)) + " }",
            "The document is 108893 characters long; at most 20000 are allowed.",
            "DOCUMENT_TOO_LONG",
        ),
        (
            "{ " + "parties { id } " * 600 + "}",
            "The document has more than 2000 tokens; at most 2000 are allowed.",
            "TOO_MANY_TOKENS",
        ),
        (
            "{ " + "parties { id } " * 300 + "}",
            "The operation selects 600 fields with fragments expanded; at most 500 are allowed.",
            "TOO_MANY_FIELDS",
        ),
        (
            "query Deep { elections { " + "ballots { election { " * 6 + "id" + " } }" * 6 + " } }",
            "Operation 'Deep' nests fields 14 deep; at most 12 levels are allowed.",
            "TOO_DEEP",
        ),
        (
            '{ a: nationalSummary(pollDate: "2023-05-04") { councilsTotal } '
            'b: nationalSummary(pollDate: "2023-05-04") { councilsTotal } '
            'c: nationalSummary(pollDate: "2023-05-04") { councilsTotal } '
            'd: nationalSummary(pollDate: "2023-05-04") { councilsTotal } }',
            "The operation is estimated to resolve 160004 fields; at most 150000 are allowed: "
            "ask for fewer items (a smaller `first`) or fewer nested lists.",
            "TOO_COSTLY",
        ),
        (
            "{ events(first: 500) { council { elections { ballots { candidacies { name } } } } } }",
            "The operation is estimated to resolve 492001 fields; at most 150000 are allowed: "
            "ask for fewer items (a smaller `first`) or fewer nested lists.",
            "TOO_COSTLY",
        ),
        (
            "{ ...F } " + " ".join(f"fragment F{i or ''} on Query {{ parties {{ id }} }}" for i in range(51)),
            "The document defines 51 fragments; at most 50 are allowed.",
            "TOO_MANY_FRAGMENTS",
        ),
    ],
)
@pytest.mark.pure
def test_documents_over_a_bound_are_refused_with_a_clear_error(query, message, code):
    assert refusal(query) == (message, code)
    assert fastest_refusal(query) < 0.05


@pytest.mark.pure
def test_the_published_queries_are_well_within_the_bounds():
    import re
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "queries.md").read_text()
    measures = {}
    for query in re.findall(r"```graphql\n(.*?)```", docs, re.S):
        measures.update(limits.measure(schema._schema, parse(query)))
    assert {name: m.cost for name, m in measures.items()} == {
        "CouncilPage": 5763,
        "BallotPage": 83,
        "National": 51983,
        "NightPage": 78509,
        "LivePosts": 2701,
        "PartnerPoll": 22501,
        "Cursor": 1,
        "LiveEvents": 218,
        "BallotVersions": 2225,
        "Banner": 6,
    }
    assert max(m.depth for m in measures.values()) == 6
    assert max(m.fields for m in measures.values()) == 92


def test_a_repeated_document_is_parsed_and_validated_once():
    query = "{ parties { id name } councils { slug } }"
    limits._parse_and_check.cache_clear()
    validate = validation_cache._get_validate_cache(256)
    validate.cache_clear()
    for _ in range(3):
        assert schema.execute_sync(query).errors is None
    assert (limits._parse_and_check.cache_info().misses, limits._parse_and_check.cache_info().hits) == (1, 2)
    assert (validate.cache_info().misses, validate.cache_info().hits) == (1, 2)
