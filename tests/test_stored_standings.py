"""Compute on write: every election's stored standing equals the one the rules derive from its rows.

The services store an election's figures (``ElectionStanding``) in the
transaction that changes them; the reads never run the rules. These tests
recompute every figure from the rows and compare: for every election of the
demo, and after every step of generated sequences of declarations,
corrections, retractions, status changes, compositions and previous winners.
"""

from __future__ import annotations

import io
import itertools

from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from results import services
from results.models import Ballot, Election, ElectionStanding, Party
from results.standings import refresh_standings, standing_figures

from . import factories as f

FIELDS = [
    field.name
    for field in ElectionStanding._meta.concrete_fields
    if field.name not in ("election", "computed_at")
]


def stored(election: Election) -> dict:
    row = ElectionStanding.objects.get(election=election)
    return {name: getattr(row, name) for name in FIELDS}


def recomputed(election: Election) -> dict:
    return standing_figures(Election.objects.with_results().get(pk=election.pk))


def test_every_election_of_the_demo_has_its_recomputed_standing_stored():
    call_command("load_demo", stdout=io.StringIO())  # inside the test's transaction: rolled back
    elections = list(Election.objects.order_by("election_id"))
    assert len(elections) == 25
    for election in elections:
        assert stored(election) == recomputed(election), election.election_id
    assert ElectionStanding.objects.filter(control_called=True).count() == 21


def test_refreshing_an_unchanged_election_stores_the_same_figures():
    e = f.election(seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    b = f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
    services.declare_ballot(b, votes=f.votes(b, Able=20, Baker=10))
    before = stored(e)
    refresh_standings([e.pk])
    assert stored(e) == before
    assert before["control_called"] is False
    assert before["composition"] == [
        {"party": "PP53", "seats": 1, "seats_before": 1, "change": 1, "seats_won": 1, "seats_not_up": 0,
         "seats_needed": 1},
        {"party": "PP52", "seats": 0, "seats_before": 2, "change": -1, "seats_won": 0, "seats_not_up": 0,
         "seats_needed": 2},
    ]  # fmt: skip
    assert before["ballot_figures"][str(b.pk)]["changes"] == [
        ["PP53", "gain", "PP52", "Labour gain North from Conservatives"]
    ]


def test_a_council_renamed_restores_its_headline():
    e = f.election(seats_total=1, before={"PP52": (1, 0)})
    b = f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
    services.declare_ballot(b, votes=f.votes(b, Able=20, Baker=10))
    assert stored(e)["headline"] == "Labour gain Testshire"
    council = e.council
    services.save_council(council, values={"name": "Test Vale"}, expected_version=council.version)
    assert stored(e)["headline"] == "Labour gain Test Vale"
    assert stored(e) == recomputed(e)


def test_a_party_renamed_restores_the_headlines_that_name_it():
    e = f.election(seats_total=1, before={"PP52": (1, 0)})
    b = f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
    services.declare_ballot(b, votes=f.votes(b, Able=20, Baker=10))
    labour = Party.objects.get(ec_id="PP53")
    services.save_party(labour, values={"short_name": "Labour Party"}, expected_version=labour.version)
    assert stored(e)["headline"] == "Labour Party gain Testshire"
    assert stored(e) == recomputed(e)


# ---------------------------------------------------------------- generated sequences

WARDS = [("North", 1), ("South", 1), ("East", 2)]
CANDIDATES = [("Ann Able", "PP53"), ("Bob Baker", "PP52"), ("Cy Cole", "PP90"), ("Di Dee", "ynmp-party:2")]
JOINT = ("Eve Eames", "joint-party:53-119")  # counts for Labour

_councils = itertools.count()

declare = st.tuples(
    st.just("result"), st.integers(0, 2), st.lists(st.integers(0, 900), min_size=5, max_size=5)
)
retract = st.tuples(st.just("retract"), st.integers(0, 2))
status = st.tuples(
    st.just("status"), st.integers(0, 2), st.sampled_from(["counting", "recount", "postponed"])
)
composition = st.tuples(
    st.just("composition"),
    st.lists(st.integers(0, 4), min_size=3, max_size=3),  # held by Con, Lab, LD
    st.integers(0, 6),  # seats not up (taken from what they hold)
)
previous = st.tuples(
    st.just("previous"), st.integers(0, 2), st.lists(st.sampled_from(["PP52", "PP53", "PP90"]))
)
steps = st.lists(st.one_of(declare, retract, status, composition, previous), min_size=1, max_size=8)


def apply(step, election: Election, ballots: list[Ballot]) -> None:
    kind = step[0]
    if kind == "result":
        ballot = Ballot.objects.get(pk=ballots[step[1]].pk)
        candidacies = list(ballot.candidacies.order_by("pk"))
        # Distinct votes: no tie at the cut-off, so no lots to draw.
        votes = {c.pk: v * 10 + i for i, (c, v) in enumerate(zip(candidacies, step[2], strict=False))}
        counted = max(sum(votes.values()) // ballot.winner_count, max(votes.values())) + 5
        figures = dict(votes=votes, electorate=counted * 3, ballot_papers_counted=counted, rejected_ballots=0)
        if ballot.status == Ballot.Status.POSTPONED:
            services.set_ballot_status(ballot, "counting")
        if ballot.is_published:
            services.correct_ballot(ballot, reason="typo", **figures)
        else:
            services.declare_ballot(ballot, **figures)
    elif kind == "retract":
        ballot = Ballot.objects.get(pk=ballots[step[1]].pk)
        if ballot.is_published:
            services.retract_declaration(ballot, reason="wrong ward")
    elif kind == "status":
        ballot = Ballot.objects.get(pk=ballots[step[1]].pk)
        if not ballot.is_published:
            services.set_ballot_status(ballot, step[2])
    elif kind == "composition":
        held = dict(zip(["PP52", "PP53", "PP90"], step[1], strict=True))
        not_up_left, rows = step[2], []
        for party, seats in held.items():
            not_up = min(seats, not_up_left)
            not_up_left -= not_up
            rows.append((Party.objects.get(ec_id=party), seats, not_up))
        seats_up = sum(seats for _, seats in WARDS)
        services.set_composition(election, seats_total=seats_up + sum(n for _, _, n in rows), rows=rows)
    elif kind == "previous":
        ballot = ballots[step[1]]
        counts: dict[str, int] = {}
        for party in step[2][: ballot.winner_count]:
            counts[party] = counts.get(party, 0) + 1
        services.set_previous_winners(ballot, [(Party.objects.get(ec_id=p), n) for p, n in counts.items()])


@settings(max_examples=40)
@given(steps=steps)
def test_the_stored_standing_equals_the_recomputed_one_after_every_step(steps):
    slug = f"hypo-{next(_councils)}"
    election = f.election(slug, seats_total=4, before={"PP52": (3, 0), "PP53": (1, 0)})
    ballots = [
        f.ballot(election, name, [*CANDIDATES, JOINT], seats=seats, previous={"PP52": seats})
        for name, seats in WARDS
    ]
    assert stored(election) == recomputed(election)
    for step in steps:
        apply(step, election, ballots)
        assert stored(election) == recomputed(election), step


def test_retracting_everything_returns_the_standing_to_the_eve_of_the_poll():
    e = f.election(seats_total=2, before={"PP52": (2, 0)})
    ballots = [
        f.ballot(e, name, [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
        for name in ("North", "South")
    ]
    eve = stored(e)
    for b in ballots:
        services.declare_ballot(b, votes=f.votes(b, Able=20, Baker=10))
    assert stored(e)["headline"] == "Labour gain Testshire"
    for b in ballots:
        services.retract_declaration(b, reason="declared in error")
    assert stored(e) == eve == recomputed(e)


def test_a_reset_to_the_eve_restores_every_stored_standing_of_the_day():
    e = f.election(seats_total=2, before={"PP52": (2, 0)})
    ballots = [
        f.ballot(e, name, [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
        for name in ("North", "South")
    ]
    eve = stored(e)
    services.start_rehearsal(f.POLL_DATE, label="dress rehearsal")
    for b in ballots:
        services.declare_ballot(b, votes=f.votes(b, Able=20, Baker=10))
    assert stored(e)["headline"] == "Labour gain Testshire"
    services.reset_to_eve(f.POLL_DATE)
    assert stored(e) == eve == recomputed(e)
    assert eve["seats_declared"] == 0 and eve["control_called"] is False
