"""The overview and the work list: what they show, and a fixed number of queries however many rows."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from results import parties, services
from results.models import Ballot, Candidacy, Election, Ward

from . import factories as f
from .desk import client_for, staff, text


def council_with(slug: str, wards: int, *, declared: int = 0, recount: int = 0) -> Election:
    """A council of ``wards`` single-seat wards, Conservative before the poll; some declared for Labour."""
    e = f.election(slug, seats_total=wards, before={"PP52": (wards, 0)})
    ballots = []
    for i in range(wards):
        ward = Ward.objects.create(council=e.council, slug=f"ward-{i:03}", name=f"Ward {i:03}")
        b = Ballot.objects.create(
            ballot_paper_id=f"local.{slug}.ward-{i:03}.2023-05-04", election=e, ward=ward, winner_count=1
        )
        for name, party in (("Ann Able", "PP53"), ("Bob Baker", "PP52"), ("Cat Cole", "PP90")):
            Candidacy.objects.create(ballot=b, person_name=f"{name} {i}", party=f.party(party))
        services.set_previous_winners(b, [(f.party("PP52"), 1)])
        ballots.append(b)
    for b in ballots[:declared]:
        services.declare_ballot(
            b, votes={c.pk: 120 - 10 * k for k, c in enumerate(b.candidacies.order_by("pk"))}
        )
    for b in ballots[declared : declared + recount]:
        services.set_ballot_status(b, "recount")
    return e


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


# ---------------------------------------------------------------- overview


def test_the_admin_index_links_to_election_night():
    page = client_for(staff("desk")).get("/admin/")
    html = page.content.decode()
    assert re.search(r'<a href="/admin/election-night/" id="overview-link">', html)
    assert re.search(r'<a href="/admin/results/ballot/\?progress=to_declare" id="work-list-link">', html)
    assert re.search(r'<a href="/admin/import/" id="import-link">', html)
    assert 'id="new-post-link"' not in html  # the data desk does not write posts


def test_the_overview_shows_each_elections_progress_and_control_call():
    e = council_with("testshire", 3, declared=2, recount=1)
    mayor = f.election("mansfield", kind="mayor")
    mb = f.ballot(mayor, None, [("Andy Abrahams", "PP53"), ("Andre Camilleri", "PP52")])
    services.declare_ballot(mb, votes=f.votes(mb, Abrahams=9987, Camilleri=5832))
    page = client_for(staff("desk")).get("/admin/election-night/")
    rows = page.context["rows"]
    assert [(r.election.election_id, r.ballots_declared, r.ballots_total) for r in rows] == [
        ("local.testshire.2023-05-04", 2, 3),
        ("mayor.mansfield.2023-05-04", 1, 1),
    ]
    testshire = rows[0]
    assert testshire.standing.headline == "Labour gain Testshire"
    assert [b.label for b in testshire.in_recount] == ["Ward 002"]
    assert testshire.last_declared_at == Ballot.objects.get(ballot_paper_id__contains="ward-001").declared_at
    assert testshire.work_list_url == f"/admin/results/ballot/?election__id__exact={e.pk}&progress=to_declare"
    shown = text(page)
    assert "3 of 4 ballots declared · 1 of 1 councils called · 1 in recount" in shown
    assert (
        "Testshire Council · 4 May 2023 2 of 3 2 of 3 Labour gain Testshire Magic number 2 of 3 seats"
        in shown
    )
    assert "Lab 2 (+2) Con 0 (-2)" in shown
    assert "Ward 002 1 to declare" in shown
    assert "Andy Abrahams (Labour) elected" in shown


def test_the_overview_lists_councils_still_counting_first():
    council_with("ashfield", 2, declared=2)
    council_with("zeal", 2, declared=1)
    council_with("bolsover", 2, declared=0)
    page = client_for(staff("desk")).get("/admin/election-night/")
    assert [(r.election.council.slug, r.complete) for r in page.context["rows"]] == [
        ("bolsover", False),
        ("zeal", False),
        ("ashfield", True),
    ]


def test_the_overview_runs_a_fixed_number_of_queries():
    client = client_for(staff("desk"))
    council_with("small", 2, declared=1)
    parties.refresh()  # the process's shared parties, read once per process
    small = queries(client, "/admin/election-night/")
    for slug in ("one", "two", "three"):
        council_with(slug, 12, declared=6, recount=2)
    large = queries(client, "/admin/election-night/")
    # 10 before compute on write: the composition before the poll and previous winners are no
    # longer read, each election's standing is stored.
    assert (small, large) == (8, 8)


# ---------------------------------------------------------------- the ballot list and work list


def test_the_ballot_list_runs_the_same_number_of_queries_for_10_and_60_ballots():
    client = client_for(staff("desk"))
    ten_council = council_with("ten", 10, declared=4).council
    url = "/admin/results/ballot/"
    queries(client, url)  # warm the content-type cache
    ten = queries(client, url)
    council_with("fifty", 50, declared=20, recount=3)
    sixty = queries(client, url)
    assert (ten, sixty) == (9, 9)
    filtered = f"{url}?progress=to_declare&election__council__id__exact={ten_council.pk}"
    assert queries(client, filtered) == 9  # a filtered list counts its rows and all ballots


def test_the_work_list_shows_only_ballots_still_to_declare_in_ward_order():
    e = council_with("testshire", 4, declared=2, recount=1)
    page = client_for(staff("desk")).get(
        f"/admin/results/ballot/?election__id__exact={e.pk}&progress=to_declare"
    )
    ballots = list(page.context["cl"].result_list)
    assert [(b.label, b.status) for b in ballots] == [("Ward 002", "recount"), ("Ward 003", "awaiting")]


def test_the_ballot_list_finds_a_ward_or_a_candidate_by_name():
    council_with("testshire", 12)
    client = client_for(staff("desk"))
    by_candidate = client.get("/admin/results/ballot/?q=Baker 11")
    assert [b.label for b in by_candidate.context["cl"].result_list] == ["Ward 011"]
    by_ward = client.get("/admin/results/ballot/?q=Ward 004")
    assert [b.label for b in by_ward.context["cl"].result_list] == ["Ward 004"]


def test_the_ballot_list_shows_the_winners_of_declared_ballots():
    council_with("testshire", 2, declared=1)
    page = client_for(staff("desk")).get("/admin/results/ballot/")
    shown = text(page)
    assert re.search(
        # Its previous winners, set before the night, touched it too.
        r"Ward 001 Testshire 1 Awaiting count Wait for the count 3 an import or a script \d\d:\d\d:\d\d — — "
        r"Ward 000 Testshire 1 Declared Declared: correct if needed 3 an import or a script \d\d:\d\d:\d\d — "
        r"Ann Able 0 \(Lab\)",
        shown,
    )


def test_the_ballot_page_runs_the_same_number_of_queries_in_a_small_and_a_large_council():
    client = client_for(staff("desk"))
    small = council_with("small", 3, declared=1)
    large = council_with("large", 40, declared=20, recount=2)
    counts = []
    queries(
        client, f"/admin/results/ballot/{small.ballots.first().pk}/change/"
    )  # warm the content-type cache
    for e in (small, large):
        ballot = e.ballots.order_by("ward__name").last()  # undeclared, with a status change in its history
        counts.append(queries(client, f"/admin/results/ballot/{ballot.pk}/change/"))
    assert counts == [13, 13]
