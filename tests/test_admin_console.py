"""The console's desk screens: the work list, the overview's live updates and presence, and small things."""

import re

import pytest
from django.test import Client

from results import parties, services
from results.models import Event

from .desk import client_for, entry_url, form_data, staff, text
from .test_admin_lists import council_with, queries


@pytest.fixture
def desk():
    return staff("desk")


@pytest.fixture(autouse=True)
def _nobody_present():
    """Presence lives in the cache, which outlives each test's database (Redis in CI)."""
    from django.core.cache import cache

    from results import presence

    cache.delete(presence.INDEX_KEY)
    yield
    cache.delete(presence.INDEX_KEY)


def test_view_site_links_to_the_live_results_page(desk):
    page = client_for(desk).get("/admin/")
    assert re.findall(r'<a href="([^"]*)">View site</a>', page.content.decode()) == ["/"]
    live = Client().get("/")
    assert live.status_code == 200
    assert '<a href="/static/live/live.js">live.js</a>' in live.content.decode()


def test_the_site_has_a_favicon():
    redirect = Client().get("/favicon.ico")
    assert (redirect.status_code, redirect["Location"]) == (302, "/static/results/favicon.ico")
    icon = Client().get(redirect["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file


# ---------------------------------------------------------------- the work list


def save_figures(client, ballot, votes: int) -> None:
    """Save a figure for the ballot's first candidate (not public), as the desk does before declaring."""
    ballot.refresh_from_db()
    first = ballot.candidacies.order_by("pk").first()
    data = {**form_data(ballot), f"votes_{first.pk}": str(votes), "_save": "1"}
    assert client.post(entry_url(ballot), data).status_code == 302


def work_list_rows(page) -> list[tuple[str, ...]]:
    """Each row of the work list as the desk reads it: ward, status, next action, candidates, who, recount."""
    rows = []
    for b in page.context["cl"].result_list:
        admin_ = page.context["cl"].model_admin
        touched = re.sub(r"<[^>]+>", "", str(admin_.last_touched(b)))
        rows.append(
            (
                b.label,
                b.get_status_display(),
                admin_.next_action(b),
                str(admin_.candidates(b)),
                re.sub(r"\d\d:\d\d:\d\d", "HH:MM:SS", touched),
                re.sub(r"<[^>]+>", "", str(admin_.recount_flag(b))),
            )
        )
    return rows


def test_the_work_list_shows_who_touched_each_ward_and_its_recounts_sorted_by_what_comes_next(desk):
    e = council_with("testshire", 5, declared=1)
    b = {x.label: x for x in e.ballots.all()}
    bob = staff("bob")
    services.set_ballot_status(b["Ward 001"], "counting", user=bob)
    services.set_ballot_status(b["Ward 002"], "recount", user=bob)
    services.set_ballot_status(b["Ward 003"], "recount", user=bob)
    services.set_ballot_status(b["Ward 003"], "counting", user=bob)
    client = client_for(desk)
    save_figures(client, b["Ward 003"], 50)
    services.set_ballot_status(b["Ward 004"], "postponed", user=bob)
    page = client.get(f"/admin/results/ballot/?election__id__exact={e.pk}")
    assert work_list_rows(page) == [
        ("Ward 002", "Recount", "Type the recount", "3", "bob HH:MM:SS", "In recount"),
        ("Ward 001", "Counting", "Type the figures", "3", "bob HH:MM:SS", "—"),
        ("Ward 003", "Counting", "Type the figures", "3", "desk HH:MM:SS", "Recounted"),
        (
            "Ward 004",
            "Postponed (e.g. a candidate died)",
            "Postponed: nothing to do",
            "3",
            "bob HH:MM:SS",
            "—",
        ),
        ("Ward 000", "Declared", "Declared: correct if needed", "3", "an import or a script HH:MM:SS", "—"),
    ]
    assert page.context["title"] == "Testshire: all ballots"
    html = page.content.decode()
    assert 'id="changelist-filter"' not in html  # no sidebar
    assert "local.testshire.2023-05-04" not in html  # no list of election ids
    # A bar of drop-downs above the list (one council here: no council to choose).
    assert [spec.title for spec in page.context["cl"].filter_specs if spec.has_output()] == [
        "progress",
        "status",
    ]
    assert 'id="work-filters"' in html
    to_declare = client.get(f"/admin/results/ballot/?election__id__exact={e.pk}&progress=to_declare")
    assert to_declare.context["title"] == "Testshire: still to declare"
    assert [row[0] for row in work_list_rows(to_declare)] == ["Ward 002", "Ward 001", "Ward 003", "Ward 004"]


def test_the_work_list_runs_the_same_number_of_queries_for_5_and_50_touched_wards(desk):
    client = client_for(desk)
    small = council_with("small", 5, declared=2, recount=1)
    for ballot in small.ballots.filter(status="awaiting"):
        services.set_ballot_status(ballot, "counting")
    url = "/admin/results/ballot/?progress=to_declare"
    queries(client, url)  # warm the content-type cache
    five = queries(client, url)
    large = council_with("large", 45, declared=20, recount=5)
    for ballot in large.ballots.filter(status="awaiting")[:10]:
        save_figures(client, ballot, 5)
    fifty = queries(client, url)
    assert (five, fifty) == (9, 9)


def test_a_declared_wards_breadcrumb_leads_to_the_declared_ballots(desk):
    e = council_with("testshire", 2, declared=1)
    declared, undeclared = e.ballots.order_by("ward__name")
    crumbs = text(client_for(desk).get(entry_url(declared))).split("Election night › ", 2)[-1]
    assert crumbs.startswith("Testshire: declared › Ward 000")
    html = client_for(desk).get(entry_url(declared)).content.decode()
    assert f'href="/admin/results/ballot/?election__id__exact={e.pk}&amp;progress=published"' in html
    assert "still to declare" not in html
    assert "Testshire: still to declare › Ward 001" in text(client_for(desk).get(entry_url(undeclared)))


# ---------------------------------------------------------------- the overview, live


def test_the_overview_polls_with_the_event_cursor_and_gets_the_table_only_when_something_happened(desk):
    e = council_with("testshire", 3, declared=1)
    client = client_for(desk)
    page = client.get("/admin/election-night/")
    cursor = page.context["cursor"]
    assert cursor == Event.objects.latest("id").id
    assert f'data-cursor="{cursor}"' in page.content.decode()
    assert 'http-equiv="refresh"' not in page.content.decode()  # no reload every 30 s
    quiet = client.get(f"/admin/election-night/updates/?after={cursor}")
    assert quiet.json() == {"cursor": cursor, "changed": False, "html": None, "open_now": {}}
    ballot = e.ballots.order_by("ward__name")[1]
    services.declare_ballot(ballot, votes={c.pk: 100 + c.pk for c in ballot.candidacies.all()})
    news = client.get(f"/admin/election-night/updates/?after={cursor}").json()
    assert (news["cursor"], news["changed"]) == (Event.objects.latest("id").id, True)
    assert '<td class="ballots-declared">2 of 3</td>' in news["html"]
    assert client.get("/admin/election-night/updates/?after=x").status_code == 400


def test_a_quiet_poll_costs_the_same_few_queries_however_big_the_night(desk):
    client = client_for(desk)
    council_with("small", 2, declared=1)
    after = Event.objects.latest("id").id
    small = queries(client, f"/admin/election-night/updates/?after={after}")
    for slug in ("one", "two"):
        council_with(slug, 20, declared=10, recount=2)
    after = Event.objects.latest("id").id
    large = queries(client, f"/admin/election-night/updates/?after={after}")
    # The session, the user, their two permission sets, and whether any event is newer.
    assert (small, large) == (5, 5)


def test_a_poll_after_news_costs_the_same_queries_however_big_the_night(desk):
    client = client_for(desk)
    council_with("small", 2, declared=1)
    parties.refresh()  # the process's shared parties, read once per process
    small = queries(client, "/admin/election-night/updates/?after=0")
    for slug in ("one", "two"):
        council_with(slug, 20, declared=10, recount=2)
    large = queries(client, "/admin/election-night/updates/?after=0")
    # The quiet poll's five, then the cursor and the elections with their stored standings,
    # ballots and candidacies, as the overview (11 before compute on write).
    assert (small, large) == (9, 9)


def test_the_overview_shows_which_wards_other_editors_have_open(desk):
    e = council_with("testshire", 3)
    first, second, _ = e.ballots.order_by("ward__name")
    bob, carol = staff("bob"), staff("carol")
    assert client_for(bob).post("/admin/presence/", {"ballot": first.pk}).json() == {"others": []}
    assert client_for(carol).post("/admin/presence/", {"ballot": first.pk}).json() == {"others": ["bob"]}
    client_for(carol).post("/admin/presence/", {"ballot": second.pk})
    client_for(desk).post("/admin/presence/", {"ballot": second.pk})  # the desk's own page is not news to it
    page = client_for(desk).get("/admin/election-night/")
    assert [(b.label, names) for b, names in page.context["rows"][0].open_now] == [
        ("Ward 000", ("bob", "carol")),
        ("Ward 001", ("carol",)),
    ]
    assert "Ward 000 (bob, carol); Ward 001 (carol)" in text(page)
    quiet = client_for(desk).get(f"/admin/election-night/updates/?after={page.context['cursor']}").json()
    assert quiet["open_now"] == {"local.testshire.2023-05-04": "Ward 000 (bob, carol); Ward 001 (carol)"}
    client_for(carol).post("/admin/presence/", {"ballot": first.pk, "leave": "1"})
    quiet = client_for(desk).get(f"/admin/election-night/updates/?after={page.context['cursor']}").json()
    assert quiet["open_now"] == {"local.testshire.2023-05-04": "Ward 000 (bob); Ward 001 (carol)"}


def test_presence_refuses_a_ballot_that_does_not_exist_and_staff_who_cannot_see_ballots(desk):
    assert client_for(desk).post("/admin/presence/", {"ballot": "999999"}).status_code == 400
    assert client_for(desk).get("/admin/presence/").status_code == 405
    e = council_with("testshire", 1)
    nobody = client_for(staff("nobody", group=None))
    assert nobody.post("/admin/presence/", {"ballot": e.ballots.get().pk}).status_code == 403
    assert nobody.get("/admin/election-night/updates/?after=0").status_code == 403


def test_an_editor_is_present_until_the_ttl_after_their_last_heartbeat(desk):
    from results import presence

    presence.heartbeat(7, desk, now=1000.0)
    presence.heartbeat(7, desk, now=1005.0)
    assert presence.present(now=1005.0 + presence.TTL_SECONDS - 1) == [
        presence.Present(7, desk.pk, "desk", 1000.0)
    ]
    assert presence.present(now=1005.0 + presence.TTL_SECONDS) == []
    presence.heartbeat(8, desk, now=2000.0)
    presence.leave(8, desk)
    assert presence.present(now=2001.0) == []


def test_a_corrected_wards_page_runs_the_same_number_of_queries_with_2_and_12_versions(desk):
    client = client_for(desk)
    e = council_with("testshire", 2, declared=1)
    ballot = e.ballots.order_by("ward__name").first()
    url = entry_url(ballot)

    def correct(times: int) -> None:
        for _ in range(times):
            ballot.refresh_from_db()
            first = ballot.candidacies.order_by("pk").first()
            votes = {c.pk: c.votes for c in ballot.candidacies.all()}
            votes[first.pk] += 1
            services.correct_ballot(ballot, votes=votes, reason="re-read")

    correct(1)
    queries(client, url)  # warm the content-type cache
    two = queries(client, url)
    correct(10)
    twelve = queries(client, url)
    assert (two, twelve) == (
        16,
        16,
    )  # the ballot page's 13, and 3 for the corrections' seat changes and calls
