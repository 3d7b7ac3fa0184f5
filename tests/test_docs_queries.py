"""The queries of docs/queries.md, run against the demo data, with their exact answers."""

import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from results.models import Event
from schema import schema

from .cleanup import wipe_results
from .test_demo import HEADLINES

DOC = Path(__file__).resolve().parent.parent / "docs" / "queries.md"
QUERY = re.compile(r"<!-- query: (\S+) variables: (.*?) -->\n```graphql\n(.*?)```", re.S)
QUERIES = {name: (json.loads(variables), text) for name, variables, text in QUERY.findall(DOC.read_text())}
SUBSCRIPTION = re.compile(r"<!-- subscription: (\S+) variables: (.*?) -->\n```graphql\n(.*?)```", re.S)
SUBSCRIPTIONS = {name: (json.loads(v), text) for name, v, text in SUBSCRIPTION.findall(DOC.read_text())}


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


def test_the_document_holds_the_eight_queries_and_the_live_subscription():
    assert sorted(QUERIES) == [
        "ballot-page",
        "ballot-versions",
        "council-page",
        "cursor",
        "live-posts",
        "national",
        "night-page",
        "partner-poll",
    ]
    assert sorted(SUBSCRIPTIONS) == ["live-events"]


@pytest.mark.pure
def test_the_live_subscription_is_valid_against_the_schema():
    """It is run for real, in a browser against a live server, by tests/test_live_page_browser.py."""
    from graphql import parse, validate

    variables, text = SUBSCRIPTIONS["live-events"]
    assert validate(schema._schema, parse(text)) == []
    assert variables == {"after": None, "councils": ["rushcliffe"]}


def test_the_cursor_is_the_latest_event_id_in_one_sql_query(loaded):
    data, queries = run("cursor")
    assert data == {"lastEventId": str(Event.objects.latest("id").id)}
    assert queries == 1


def test_council_page(loaded):
    data, queries = run("council-page")
    election = data["election"]
    assert queries == 6
    assert int(data["lastEventId"]) == Event.objects.latest("id").id
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
    assert queries == 6
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
        "council": {"slug": "mansfield", "name": "Mansfield"},
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


def test_ballot_versions_of_the_mansfield_mayoralty(loaded):
    data, queries = run("ballot-versions")
    ballot = data["ballot"]
    assert queries == 6  # the ballot page's five, and one for the versions of the election's ballots
    assert (ballot["certification"], ballot["source"]) == ("DECLARED", None)
    [version] = ballot["versions"]
    assert (
        version["version"],
        version["kind"],
        version["enteredBy"],
        version["reason"],
        version["changes"],
    ) == (
        4,  # created as version 1; each write before the declaration bumped it
        "BALLOT_DECLARED",
        None,
        None,
        [],
    )
    assert [(c["name"], c["partyId"], c["votes"], c["elected"]) for c in version["candidacies"]][:2] == [
        ("Andy Abrahams", "PP53", 9987, True),
        ("Andre Camilleri", "PP52", 5832, False),
    ]


# The seed's summary lines, and the headline the API derives for each (tests/test_demo.py).
SEED_KEY_POINTS = {
    "Labour gain Mansfield": "Labour take control of Mansfield",
    "Labour hold Leicester": "Labour hold Leicester City Council",
    "Derby remains in no overall control": "Derby remains in no overall control",
    "Conservatives lose Newark and Sherwood to no overall control": (
        "Tories lose control of Newark & Sherwood, and Charnwood"
    ),
    "Labour gain High Peak": "Labour gains High Peak from no overall control",
    "Labour gain North East Derbyshire": "Labour gain North East Derbyshire",
    "Conservatives hold Blaby": "Conservatives hold Blaby",
    "Derbyshire Dales remains in no overall control": "Derbyshire Dales still no overall control",
    "Conservatives lose Charnwood to no overall control": "Tories lose control of Newark & Sherwood, and Charnwood",
    "Labour hold Nottingham": "Labour hold Nottingham",
    "Labour gain Broxtowe": "Labour take Broxtowe and hold Gedling",
    "Conservatives lose Harborough to no overall control": "Conservatives lose Harborough to no overall control",
    "Lib Dems hold Oadby and Wigston": "Lib Dems retain Oadby and Wigston",
    "Rutland remains in no overall control": "Rutland remains no overall control",
    "Labour hold Chesterfield": "Labour hold Chesterfield",
    "Labour hold Gedling": "Labour take Broxtowe and hold Gedling",
    "Conservatives lose North West Leicestershire to no overall control": (
        "Tories lose control of North West Leicestershire"
    ),
    "Labour hold Bassetlaw": "Labour hold Bassetlaw and Bolsover",
    "Lib Dems hold Hinckley and Bosworth": "Lib Dems keep control of Hinckley & Bosworth",
    "Labour hold Bolsover": "Labour hold Bassetlaw and Bolsover",
    "Ashfield Independents hold Ashfield": "Ashfield Independents retain control",
}


def test_night_page_has_the_seeds_key_points_most_recently_called_first(loaded):
    data, queries = run("night-page")
    summary = data["nationalSummary"]
    assert queries == 15
    assert int(data["lastEventId"]) == Event.objects.latest("id").id
    headlines = [e["control"]["headline"] for e in summary["calls"]]
    # Every council of the seed's summary, once, in the order the night called them.
    assert headlines == list(SEED_KEY_POINTS)
    assert {h: line for h, line in HEADLINES.values() if h in SEED_KEY_POINTS} == SEED_KEY_POINTS
    calls = Event.objects.filter(kind="control_called").order_by("-id")
    assert headlines == [e.payload["headline"] for e in calls]
    assert [m["ballots"][0]["changes"][0]["headline"] for m in summary["mayoralties"]] == [
        "Labour hold Mayor of Leicester",
        "Labour hold Mayor of Mansfield",
    ]
    assert (summary["ballotsDeclared"], summary["ballotsTotal"]) == (412, 437)
    assert (summary["councilsCalled"], summary["councilsTotal"]) == (21, 23)
    rushcliffe = next(e for e in summary["elections"] if e["council"]["slug"] == "rushcliffe")
    assert (rushcliffe["seatsTotal"], rushcliffe["majority"], rushcliffe["control"]["called"]) == (
        44,
        23,
        False,
    )
    assert len(data["posts"]["edges"]) == 19
    assert data["posts"]["edges"][0]["node"]["author"] == {
        "name": "Kevin Stanley",
        "role": "Reporter",
        "outlet": "BBC Radio Nottingham",
    }
