"""The live pages as the server renders them (no browser): content, errors, SQL queries, the vendored client.

The browser behaviour (live updates, resuming, accessibility, screenshots) is
in test_live_page_browser.py.
"""

import json
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from live import queries
from results import parties, rehearsal, services
from results.models import Event, Post

from . import factories as f

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "live" / "static" / "live" / "vendor" / "graphql-ws"
NPM_DIST = ROOT / "tests" / "node" / "node_modules" / "graphql-ws" / "dist"


@pytest.fixture(autouse=True)
def empty_cache():
    """Pages are cached under the latest event id, which a rolled-back test may reuse."""
    cache.clear()
    # Cleared with it: the rehearsal state conftest caches (a cold read would add a query to the pins).
    rehearsal.remember(rehearsal.NOT_REHEARSING, 300)
    yield
    cache.clear()


def texts(html: str, pattern: str) -> list[str]:
    """The text of each match of ``pattern`` (one group) in ``html``, tags removed."""
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(pattern, html, re.S)]


def a_night(councils: int, first: int = 0):
    """``councils`` small council elections (two wards declared, one to come), each with a
    declared mayoralty and a post about the council."""
    for n in range(first, first + councils):
        e = f.election(f"council-{n}", seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
        for ward in ("North", "South"):
            b = f.ballot(e, ward, [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
            services.declare_ballot(
                b, votes=f.votes(b, Able=300, Baker=200), electorate=1000, ballot_papers_counted=500
            )
        f.ballot(e, "West", [("Cat Cole", "PP53"), ("Dan Dunn", "PP52")])
        mayor = f.election(f"council-{n}", kind="mayor")
        b = f.ballot(mayor, None, [("Eve Evans", "PP53"), ("Fay Ford", "PP52")])
        services.declare_ballot(b, votes=f.votes(b, Evans=900, Ford=800))
        post = services.save_post(
            Post(),
            changes={
                "headline": f"Counting begins in Council {n}",
                "body": "First.\n\nSecond.",
                "author_name": "Sam Reporter",
            },
            councils=[e.council],
        )
        services.publish_post(post)


def test_the_night_page_lists_calls_most_recent_first_with_the_counting_banner(client):
    a_night(2)
    html = client.get("/").content.decode()
    assert texts(html, r'<li data-election="[^"]+">(.*?)</li>') == [
        "Labour gain Council 1",
        "Labour gain Council 0",
        "Mayor of Council 0: Eve Evans elected",  # no previous winner: no change headline
        "Mayor of Council 1: Eve Evans elected",
    ]
    assert texts(html, r'<p id="banner"[^>]*>(.*?)</p>') == [
        "Counting continues: 6 of 8 ballots declared; 2 of 2 councils called"
    ]
    assert texts(html, r'<article class="post"[^>]*>\s*<h3>(.*?)</h3>') == [
        "Counting begins in Council 1",
        "Counting begins in Council 0",
    ]
    config = json.loads(texts(html, r'<script id="live-config" type="application/json">(.*?)</script>')[0])
    assert config["after"] == str(Event.objects.latest("id").id)
    assert config["subscription"] == queries.documented()["live-events"]


def test_pages_of_a_night_render_in_the_same_number_of_queries_at_two_sizes(client):
    a_night(1)
    parties.refresh()  # the process's shared parties, read once per process
    with CaptureQueriesContext(connection) as small:
        assert client.get("/live/2023-05-04/").status_code == 200
    with CaptureQueriesContext(connection) as small_council:
        assert client.get("/live/2023-05-04/council-0/").status_code == 200
    a_night(3, first=1)  # four councils now
    with CaptureQueriesContext(connection) as large:
        assert client.get("/live/2023-05-04/").status_code == 200
    with CaptureQueriesContext(connection) as large_council:
        assert client.get("/live/2023-05-04/council-3/").status_code == 200
    assert (len(small), len(large)) == (9, 9)  # 11 before compute on write
    assert (len(small_council), len(large_council)) == (5, 5)  # 7 before compute on write


def test_a_page_is_served_from_the_cache_until_the_next_event(client):
    a_night(1)

    def banner():
        return texts(client.get("/live/2023-05-04/").content.decode(), r'<p id="banner"[^>]*>(.*?)</p>')

    assert banner() == ["Counting continues: 3 of 4 ballots declared; 1 of 1 councils called"]
    with CaptureQueriesContext(connection) as again:
        assert banner() == ["Counting continues: 3 of 4 ballots declared; 1 of 1 councils called"]
    assert len(again) == 1  # the cursor
    a_night(1, first=1)  # new events: the next request renders afresh
    assert banner() == ["Counting continues: 6 of 8 ballots declared; 2 of 2 councils called"]
    response = client.get("/live/2023-05-04/council-1/")
    assert response["Cache-Control"] == "public, max-age=5"


def test_a_council_page_has_the_magic_number_chart_and_every_ward(client):
    a_night(1)
    html = client.get("/live/2023-05-04/council-0/").content.decode()
    assert texts(html, r'<p class="headline">(.*?)</p>') == ["Labour gain Council 0"]
    assert "<strong>2</strong> seats for a majority (the magic number) of 3" in html
    assert "<strong>2</strong> seats declared, <strong>1</strong> still to declare" in html
    assert texts(html, r"<desc[^>]*>(.*?)</desc>") == [
        "Before: Conservatives 2, Labour 1. Now: Labour 2, To declare 1. 2 seats for a majority."
    ]
    assert texts(html, r'<article class="ward [a-z]+"[^>]*>\s*<h3>(.*?)</h3>') == ["North", "South", "West"]
    assert "Labour gain North from Conservatives" in html
    assert "turnout 50.0%" in html


def test_a_mayors_page_shows_the_votes_and_the_winner(client):
    e = f.election("townville", kind="mayor")
    b = f.ballot(e, None, [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    services.declare_ballot(b, votes=f.votes(b, Able=9987, Baker=5832))
    html = client.get("/live/2023-05-04/townville/mayor/").content.decode()
    assert texts(html, r"<tr[^>]*><th scope=\"row\">(.*?)</th>") == ["Ann Able Elected", "Bob Baker"]
    assert '<td class="n">9,987</td><td class="n">63.1%</td>' in html


@pytest.mark.parametrize(
    "path",
    [
        "/live/2023-05-04/nowhere/",
        "/live/2023-05-04/nowhere/mayor/",
        "/live/2023-02-30/",
        "/live/1999-01-01/",
    ],
)
def test_unknown_pages_are_not_found(client, path):
    a_night(1)
    assert client.get(path).status_code == 404


def test_the_front_page_says_so_when_there_are_no_elections(client):
    assert "No elections yet" in client.get("/").content.decode()


@pytest.mark.pure
def test_the_pages_run_only_documented_queries():
    assert set(queries.documented()) >= {"night-page", "council-page", "ballot-page", "live-events"}
    source = (ROOT / "live" / "views.py").read_text()
    assert set(re.findall(r'queries\.run(?:_cached)?\("([^"]+)"', source)) == {
        "night-page",
        "council-page",
        "ballot-page",
    }


@pytest.mark.pure
@pytest.mark.skipif(not NPM_DIST.exists(), reason="npm graphql-ws not installed (cd tests/node && npm ci)")
def test_the_vendored_graphql_ws_client_is_the_npm_package_pinned_in_tests_node():
    for name in ("client.js", "common-CGW11Fyb.js"):
        assert (VENDOR / name).read_bytes() == (NPM_DIST / name).read_bytes(), name
