"""The queries of docs/queries.md, run against the demo data, with their exact answers."""

import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from schema import schema

from .cleanup import wipe_results

DOC = Path(__file__).resolve().parent.parent / "docs" / "queries.md"
QUERY = re.compile(r"<!-- query: (\S+) variables: (.*?) -->\n```graphql\n(.*?)```", re.S)
QUERIES = {name: (json.loads(variables), text) for name, variables, text in QUERY.findall(DOC.read_text())}


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("load_demo", stdout=io.StringIO())
    yield
    with django_db_blocker.unblock():
        wipe_results()


def run(name: str, **overrides):
    variables, text = QUERIES[name]
    with CaptureQueriesContext(connection) as queries:
        result = schema.execute_sync(text, variable_values={**variables, **overrides})
    assert result.errors is None, result.errors
    return result.data, len(queries.captured_queries)


def test_the_document_holds_the_five_queries():
    assert sorted(QUERIES) == ["ballot-page", "council-page", "live-posts", "national", "partner-poll"]


def test_council_page(loaded):
    data, queries = run("council-page")
    election = data["election"]
    assert queries == 5
    assert {k: election[k] for k in ("seatsTotal", "majority", "seatsDeclared", "seatsToDeclare")} == {
        "seatsTotal": 34,
        "majority": 18,
        "seatsDeclared": 34,
        "seatsToDeclare": 0,
    }
    assert (election["ballotsDeclared"], election["ballotsTotal"]) == (15, 15)
    assert election["control"] == {
        "called": True,
        "party": {"id": "PP90", "shortName": "Lib Dems", "colour": "#FAA61A"},
        "outcome": "HOLD",
        "headline": "Lib Dems hold Hinckley and Bosworth",
    }
    # The seed: "They secured 22 of the 34 seats ... Conservatives ... 10 ... two seats ... Labour."
    assert [
        (r["party"]["shortName"], r["seats"], r["seatsBefore"], r["change"], r["seatsNeeded"])
        for r in election["composition"]
    ] == [
        ("Lib Dems", 22, 21, 1, 0),
        ("Conservatives", 10, 10, 0, 8),
        ("Labour", 2, 2, 0, 16),
        ("Independents", 0, 1, -1, 18),
    ]
    assert sum(v["votes"] for v in election["voteShare"]) == 68164
    barwell = next(b for b in election["ballots"] if b["label"] == "Barwell")
    assert (barwell["status"], barwell["seats"]) == ("DECLARED", 3)
    green = next(c for c in barwell["candidacies"] if c["name"] == "Charlotte Green")
    assert (green["party"]["shortName"], green["elected"]) == ("Labour", True)
    assert "Labour gain Barwell from Conservatives" in [c["headline"] for c in barwell["changes"]]


def test_ballot_page_of_the_mansfield_mayoralty(loaded):
    data, queries = run("ballot-page")
    ballot = data["ballot"]
    assert queries == 5
    assert (ballot["label"], ballot["status"], ballot["votesPerVoter"]) == (
        "Mayor of Mansfield",
        "DECLARED",
        1,
    )
    assert [
        (c["name"], c["party"]["shortName"], c["votes"], c["elected"]) for c in ballot["candidacies"]
    ] == [
        ("Andy Abrahams", "Labour", 9987, True),
        ("Andre Camilleri", "Conservatives", 5832, False),
        ("Mick Barton", "Mansfield Independents", 4992, False),
        ("Julie Tasker-Love-Birks", "Independents", 936, False),
        ("Karen Seymour", "TUSC", 420, False),
    ]
    assert ballot["candidacies"][0]["share"] == 9987 / 22167
    assert ballot["changes"] == [{"kind": "HOLD", "headline": "Labour hold Mayor of Mansfield"}]
    assert ballot["election"] == {
        "id": "mayor.mansfield.2023-05-04",
        "kind": "MAYOR",
        "council": {"name": "Mansfield"},
    }


def test_national_view(loaded):
    data, queries = run("national")
    summary = data["nationalSummary"]
    assert queries == 5
    assert (summary["councilsTotal"], summary["councilsCalled"]) == (23, 21)
    assert summary["noOverallControl"] == {"councils": 7, "councilsChange": 1}
    assert [
        (p["party"]["shortName"], p["councils"], p["councilsChange"]) for p in summary["parties"][:4]
    ] == [
        ("Labour", 10, 4),
        ("Lib Dems", 2, 0),
        ("Conservatives", 1, -5),
        ("Ashfield Independents", 1, 0),
    ]
    headlines = {e["council"]["name"]: e["control"]["headline"] for e in summary["elections"]}
    assert headlines["North East Derbyshire"] == "Labour gain North East Derbyshire"
    assert headlines["Derby"] == "Derby remains in no overall control"
    assert headlines["Rushcliffe"] is None
    assert [
        [c["name"] for c in m["ballots"][0]["candidacies"] if c["elected"]] for m in summary["mayoralties"]
    ] == [
        ["Sir Peter Soulsby"],
        ["Andy Abrahams"],
    ]


def test_live_posts_column(loaded):
    data, _ = run("live-posts")
    page = data["posts"]
    assert [e["node"]["headline"] for e in page["edges"]] == [
        "Labour's Andy Abrahams re-elected as Mansfield Mayor",
        "Conservative chair: 'National party needs to engage with local'",
        "Blaby Lib Dems might be 'popping champagne'",
    ]
    first = page["edges"][0]["node"]
    assert (first["publishedAt"], first["breaking"], first["keyPoint"]) == (
        "2023-05-05T11:33:00+00:00",
        True,
        True,
    )
    assert first["author"] == {"name": "Kevin Stanley", "role": "Reporter", "outlet": "BBC Radio Nottingham"}
    assert page["pageInfo"]["hasNextPage"] is True
    following, _ = run("live-posts", after=page["pageInfo"]["endCursor"])
    assert (
        following["posts"]["edges"][0]["node"]["headline"] == "Erewash: Labour MP candidate feeling confident"
    )


def test_partner_polling_resumes_from_its_cursor(loaded):
    data, _ = run("partner-poll")
    first = data["events"]
    assert [e["kind"] for e in first] == ["BALLOT_DECLARED"] * 3
    assert first[0]["ballot"]["id"] == "local.ashfield.huthwaite-and-brierley.2023-05-04"
    hollis = next(c for c in first[0]["ballot"]["candidacies"] if c["name"] == "Tom Hollis")
    assert (hollis["votes"], hollis["elected"]) == (854, True)
    ids = [int(e["id"]) for e in first]
    assert ids == sorted(ids)
    following, _ = run("partner-poll", after=first[-1]["id"], first=2)
    assert [int(e["id"]) for e in following["events"]][0] > ids[-1]
