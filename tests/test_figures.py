"""The derived figures the API and the console read (``results.figures``), with exact values.

Turnout is ballot papers counted (rejected included) over the electorate; in a
multi-member ward a vote share is a share of all votes cast in the ballot (each
voter has as many votes as seats), not of voters; the national tally sums the
day's stored standings.
"""

from __future__ import annotations

import datetime as dt
import re

from results import figures, services
from results.models import Ballot, Candidacy, Election
from results.parties import refresh
from results.preview import preview_result
from results.standings import stored_standing

from . import factories as f


def _candidacy(ballot: Ballot, surname: str) -> Candidacy:
    return Candidacy.objects.select_related("ballot__election").get(pk=f.pk(ballot, surname))


def _two_councils_and_a_mayor() -> dict:
    """Ashfield: Labour gain from the Conservatives; Bolsover: Labour lose to NOC; Mansfield's
    mayor still counting."""
    ashfield = f.election("ashfield", seats_total=4, before={"PP52": (3, 0), "PP53": (1, 0)})
    north = f.ballot(
        ashfield,
        "North",
        [("Ann Able", "PP53"), ("Bob Baker", "PP53"), ("Cat Cole", "PP52"), ("Dan Dale", "PP52")],
        seats=2,
        previous={"PP52": 2},
    )
    south = f.ballot(
        ashfield,
        "South",
        [("Eve Eden", "PP53"), ("Fay Ford", "PP53"), ("Gil Gray", "PP52")],
        seats=2,
        previous={"PP52": 1, "PP53": 1},
    )
    bolsover = f.election("bolsover", seats_total=2, before={"PP53": (2, 0)})
    central = f.ballot(
        bolsover,
        "Central",
        [("Hal Hill", "PP53"), ("Ian Irwin", "PP52"), ("Jo Jones", "PP53")],
        seats=2,
        previous={"PP53": 2},
    )
    mayor = f.election("mansfield", kind="mayor")
    mayoralty = f.ballot(mayor, None, [("Kim King", "PP53"), ("Lee Lowe", "PP52")])
    services.declare_ballot(
        north,
        votes=f.votes(north, Able=500, Baker=400, Cole=300, Dale=200),
        electorate=2000,
        ballot_papers_counted=812,
        rejected_ballots=12,
    )
    services.declare_ballot(south, votes=f.votes(south, Eden=700, Ford=650, Gray=600))
    services.declare_ballot(central, votes=f.votes(central, Hill=300, Irwin=280, Jones=100))
    return {
        "ashfield": ashfield,
        "bolsover": bolsover,
        "mayor": mayor,
        "north": north,
        "south": south,
        "central": central,
        "mayoralty": mayoralty,
    }


def test_turnout_counts_the_rejected_ballot_papers():
    day = _two_councils_and_a_mayor()
    north = Ballot.objects.get(pk=day["north"].pk)
    # 812 papers counted, 12 of them rejected, 2,000 electors: 812 / 2,000, not 800 / 2,000.
    assert figures.ballot_turnout(north) == 812 / 2000 == 0.406
    # No electorate or papers given: no turnout; an undeclared ballot has none either.
    assert figures.ballot_turnout(Ballot.objects.get(pk=day["south"].pk)) is None
    assert figures.ballot_turnout(Ballot.objects.get(pk=day["mayoralty"].pk)) is None


def test_a_multi_member_wards_vote_share_is_of_all_votes_cast_not_of_voters():
    day = _two_councils_and_a_mayor()
    north = day["north"]
    # Two seats: each of the 800 valid papers carries up to two votes, 1,400 in all.
    shares = {s: figures.vote_share(_candidacy(north, s)) for s in ("Able", "Baker", "Cole", "Dale")}
    assert shares == {"Able": 500 / 1400, "Baker": 400 / 1400, "Cole": 300 / 1400, "Dale": 200 / 1400}
    assert shares["Able"] == 5 / 14
    # An undeclared ballot's candidates have no share.
    assert figures.vote_share(_candidacy(day["mayoralty"], "King")) is None


def test_a_ballots_seat_changes_are_read_as_stored():
    day = _two_councils_and_a_mayor()
    refresh()
    north = Ballot.objects.get(pk=day["north"].pk)
    changes = [
        (c.party.ec_id, c.kind.value, c.previous.ec_id, c.headline) for c in figures.seat_changes(north)
    ]
    assert changes == [
        ("PP53", "gain", "PP52", "Labour gain North from Conservatives"),
        ("PP53", "gain", "PP52", "Labour gain North from Conservatives"),
    ]
    assert figures.seat_changes(Ballot.objects.get(pk=day["mayoralty"].pk)) == []


def test_the_national_tally_over_two_councils():
    day = _two_councils_and_a_mayor()
    refresh()
    elections = list(Election.objects.select_related("council", "standing").order_by("council__name"))
    tally = figures.national_tally(elections)
    rows = [(r.party.ec_id, r.councils, r.councils_change, r.seats, r.seats_change) for r in tally.parties]
    # Labour: gains Ashfield (4 of 4 seats won, +3), loses Bolsover to NOC (1 of 2, -1).
    # Conservatives: lose Ashfield (0 seats won there, -3), win one in Bolsover (+1).
    assert rows == [("PP53", 1, 0, 5, 2), ("PP52", 0, -1, 1, -2)]
    assert (tally.councils_total, tally.councils_called) == (2, 2)
    assert (tally.noc_councils, tally.noc_change) == (1, 1)
    # Ballots of the day, the mayoralty's included: 3 of 4 declared.
    assert (tally.ballots_declared, tally.ballots_total) == (3, 4)
    assert day["mayor"].is_mayoral


def test_the_national_tally_before_any_call():
    f.election("ashfield", seats_total=4, before={"PP52": (3, 0), "PP53": (1, 0)})
    refresh()
    tally = figures.national_tally(Election.objects.select_related("council", "standing"))
    assert [
        (r.party.ec_id, r.councils, r.councils_change, r.seats, r.seats_change) for r in tally.parties
    ] == [
        ("PP52", 0, 0, 0, 0),
        ("PP53", 0, 0, 0, 0),
    ]
    assert (tally.councils_total, tally.councils_called, tally.noc_councils, tally.noc_change) == (1, 0, 0, 0)
    assert (tally.ballots_declared, tally.ballots_total) == (0, 0)


def test_a_published_versions_figures():
    snapshot = {"electorate": 2000, "ballot_papers_counted": 812, "rejected_ballots": 12}
    rows = [{"votes": 500}, {"votes": 400}, {"votes": 300}, {"votes": 200}]
    version = figures.version_figures(snapshot, rows)
    assert version.turnout == 0.406
    assert version.shares == (500 / 1400, 400 / 1400, 300 / 1400, 200 / 1400)
    assert version.share(3) == 1 / 7
    # An uncontested ballot's version: no votes, so no shares and no turnout without counts.
    uncontested = figures.version_figures({}, [{"votes": None}, {"votes": None}])
    assert (uncontested.turnout, uncontested.shares, uncontested.share(0)) == (None, (), None)
    assert figures.NO_VERSION_FIGURES.share(0) is None


def test_the_nights_progress_on_the_overview():
    day = _two_councils_and_a_mayor()
    now = dt.datetime(2023, 5, 5, 2, 30, tzinfo=dt.UTC)
    Ballot.objects.filter(pk=day["north"].pk).update(declared_at=now - dt.timedelta(hours=1))
    Ballot.objects.filter(pk=day["south"].pk).update(declared_at=now)
    Ballot.objects.filter(pk=day["mayoralty"].pk).update(status=Ballot.Status.RECOUNT)
    refresh()
    rows = []
    for election in Election.objects.select_related("council", "standing").order_by("council__name"):
        rows.append((figures.election_progress(election), stored_standing(election)))
    ashfield, bolsover, mansfield = (p for p, _ in rows)
    assert (ashfield.ballots_total, ashfield.ballots_declared, ashfield.to_declare, ashfield.complete) == (
        2,
        2,
        0,
        True,
    )
    assert ashfield.last_declared_at == now
    assert (
        mansfield.ballots_total,
        mansfield.ballots_declared,
        mansfield.to_declare,
        mansfield.complete,
    ) == (
        1,
        0,
        1,
        False,
    )
    assert [b.pk for b in mansfield.in_recount] == [day["mayoralty"].pk]
    assert (mansfield.mayor, mansfield.last_declared_at) == ((), None)
    assert bolsover.complete
    night = figures.night_progress(rows)
    assert (night.ballots_declared, night.ballots_total, night.in_recount) == (3, 4, 1)
    assert (night.councils_called, night.councils_total) == (2, 2)


def test_a_declared_mayoralty_shows_its_winner_on_the_overview():
    e = f.election("mansfield", kind="mayor")
    b = f.ballot(e, None, [("Kim King", "PP53"), ("Lee Lowe", "PP52")])
    services.declare_ballot(b, votes=f.votes(b, King=900, Lowe=800))
    progress = figures.election_progress(Election.objects.get(pk=e.pk))
    assert [c.person_name for c in progress.mayor] == ["Kim King"]
    assert (progress.ballots_declared, progress.complete) == (1, True)


def test_a_previews_composition_moves():
    e = f.election("ashfield", seats_total=4, before={"PP52": (3, 0), "PP53": (1, 0)})
    north = f.ballot(
        e,
        "North",
        [("Ann Able", "PP53"), ("Bob Baker", "PP53"), ("Cat Cole", "PP52"), ("Dan Dale", "PP52")],
        seats=2,
        previous={"PP52": 2},
    )
    f.ballot(e, "South", [("Eve Eden", "PP53"), ("Gil Gray", "PP52"), ("Hal Hill", "PP90")], seats=2)
    election = Election.objects.with_results().get(pk=e.pk)
    preview = preview_result(
        election, north.pk, votes=f.votes(north, Able=500, Baker=400, Cole=300, Dale=200)
    )
    moves = figures.composition_moves(preview.standing_before, preview.standing_after)
    assert [(m.party.ec_id, m.before_poll, m.now, m.after, m.delta, m.change) for m in moves] == [
        ("PP53", 1, 0, 2, 2, 2),
        ("PP52", 3, 0, 0, 0, -2),
    ]


def test_the_ballot_pages_preview_shows_the_composition_moves():
    from .desk import client_for, entry_url, form_data, staff

    e = f.election(seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    north, south = (
        f.ballot(e, name, [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
        for name in ("North", "South")
    )
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    page = client_for(staff("desk")).post(
        entry_url(south), {**form_data(south, Able="700", Baker="300"), "_preview": "1"}
    )
    html = page.content.decode()
    table = html[html.index('id="preview-council"') :]
    rows = {
        party: re.sub(r"<[^>]+>|\s+", " ", cells).split()
        for party, cells in re.findall(r'<tr data-party="([^"]+)">.*?</th>(.*?)</tr>', table, re.S)
    }
    # Before the poll, declared so far, after this (what this result moves), net change.
    assert rows == {"PP53": ["1", "1", "2", "(+1)", "+2"], "PP52": ["2", "0", "0", "-2"]}
