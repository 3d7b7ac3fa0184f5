"""The election rules, as pure functions: exhaustive edges, then properties for any input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from results import rules
from results.rules import ControlOutcome, SeatChange, SeatChangeKind

pytestmark = pytest.mark.pure


# ---------------------------------------------------------------- majority


@pytest.mark.parametrize(("seats", "magic"), [(1, 1), (2, 2), (3, 2), (34, 18), (44, 23), (51, 26), (52, 27)])
def test_majority_is_more_than_half_of_all_seats(seats, magic):
    assert rules.majority(seats) == magic


def test_exactly_half_the_seats_is_not_a_majority():
    assert rules.controlling_party({"LAB": 22, "CON": 22}, 44) is None
    assert rules.controlling_party({"LAB": 23, "CON": 21}, 44) == "LAB"


def test_independents_never_control_a_council():
    assert rules.controlling_party({"IND": 30, "LAB": 5}, 35, non_groups={"IND"}) is None


def test_majority_of_a_council_with_no_seats_is_an_error():
    with pytest.raises(ValueError):
        rules.majority(0)


# ---------------------------------------------------------------- winners


def test_top_candidates_by_votes_are_elected_in_rank_order():
    outcome = rules.decide_winners({"a": 10, "b": 30, "c": 20}, 2)
    assert outcome.ranking == ("b", "c", "a")
    assert outcome.elected == ("b", "c")
    assert outcome.by_lot == frozenset()
    assert outcome.uncontested is False


def test_tie_at_cutoff_without_lot_is_unresolved():
    with pytest.raises(rules.TieUnresolved) as exc:
        rules.decide_winners({"a": 50, "b": 20, "c": 20}, 2)
    assert exc.value.tied == ("b", "c")
    assert exc.value.places == 1


def test_tie_at_cutoff_is_decided_by_lot():
    outcome = rules.decide_winners({"a": 50, "b": 20, "c": 20}, 2, lot_winners={"c"})
    assert outcome.elected == ("a", "c")
    assert outcome.by_lot == frozenset({"c"})
    assert outcome.ranking == ("a", "c", "b")


def test_three_way_tie_for_two_places_needs_two_lot_winners():
    votes = {"a": 9, "b": 9, "c": 9, "d": 1}
    with pytest.raises(rules.InvalidLot):
        rules.decide_winners(votes, 2, lot_winners={"a"})
    outcome = rules.decide_winners(votes, 2, lot_winners={"a", "c"})
    assert outcome.elected == ("a", "c")


def test_tie_below_cutoff_needs_no_lot():
    outcome = rules.decide_winners({"a": 50, "b": 40, "c": 20, "d": 20}, 2)
    assert outcome.elected == ("a", "b")
    assert outcome.by_lot == frozenset()


def test_tie_above_cutoff_needs_no_lot():
    outcome = rules.decide_winners({"a": 50, "b": 50, "c": 20}, 2)
    assert set(outcome.elected) == {"a", "b"}


def test_lot_winner_that_is_not_tied_is_refused():
    with pytest.raises(rules.InvalidLot, match="did not tie"):
        rules.decide_winners({"a": 50, "b": 20, "c": 20}, 2, lot_winners={"a"})


def test_lot_when_there_is_no_tie_is_refused():
    with pytest.raises(rules.InvalidLot, match="no tie"):
        rules.decide_winners({"a": 50, "b": 30, "c": 20}, 2, lot_winners={"b"})


def test_more_lot_winners_than_places_is_refused():
    with pytest.raises(rules.InvalidLot, match="2 lot winners given for 1 place"):
        rules.decide_winners({"a": 50, "b": 20, "c": 20}, 2, lot_winners={"b", "c"})


def test_lot_winner_who_is_not_a_candidate_is_refused():
    with pytest.raises(rules.InvalidLot, match="not candidates"):
        rules.decide_winners({"a": 5, "b": 5}, 1, lot_winners={"z"})


def test_fewer_candidates_than_seats_are_elected_unopposed_leaving_a_vacancy():
    outcome = rules.decide_winners({"a": None, "b": None}, 3)
    assert outcome.uncontested is True
    assert outcome.elected == ("a", "b")
    assert outcome.vacancies == 1


def test_as_many_candidates_as_seats_are_elected_unopposed():
    outcome = rules.decide_winners({"a": None, "b": None}, 2)
    assert outcome.uncontested is True
    assert outcome.vacancies == 0


def test_contested_ballot_needs_every_candidates_votes():
    with pytest.raises(ValueError, match="needs votes"):
        rules.decide_winners({"a": 5, "b": None}, 1)


def test_negative_votes_are_refused():
    with pytest.raises(ValueError, match="negative"):
        rules.decide_winners({"a": 5, "b": -1}, 1)


def test_mayoral_ballot_is_first_past_the_post():
    # Mansfield 2023, from the seed.
    votes = {"Abrahams": 9987, "Camilleri": 5832, "Barton": 4992, "Tasker-Love-Birks": 936, "Seymour": 420}
    outcome = rules.decide_winners(votes, 1)
    assert outcome.elected == ("Abrahams",)
    assert outcome.ranking == ("Abrahams", "Camilleri", "Barton", "Tasker-Love-Birks", "Seymour")


# ---------------------------------------------------------------- control


def test_control_is_called_for_a_party_before_the_last_ward_declares():
    # 44 seats, 23 needed; Labour has 23 with 10 still to declare.
    call = rules.call_control(
        seats_total=44, seats={"LAB": 23, "CON": 11}, seats_to_declare=10, control_before="CON"
    )
    assert call.called is True
    assert call.party == "LAB"
    assert call.outcome is ControlOutcome.GAIN
    assert call.seats_to_declare == 10


def test_control_is_not_called_while_a_party_can_still_reach_the_majority():
    call = rules.call_control(
        seats_total=44, seats={"LAB": 20, "CON": 14}, seats_to_declare=10, control_before="CON"
    )
    assert call.called is False
    assert call.party is None
    assert call.outcome is None


def test_noc_is_called_when_no_party_can_still_reach_the_majority():
    # 44 seats, 23 needed: Lab 18 + 4 to declare = 22 at most.
    call = rules.call_control(
        seats_total=44, seats={"LAB": 18, "CON": 17, "LD": 5}, seats_to_declare=4, control_before="CON"
    )
    assert call.called is True
    assert call.party is None
    assert call.outcome is ControlOutcome.LOSS_TO_NOC


def test_noc_is_not_called_while_the_seats_to_declare_could_make_a_majority_alone():
    call = rules.call_control(
        seats_total=44, seats={"LAB": 10, "CON": 10}, seats_to_declare=23, control_before=None
    )
    assert call.called is False


def test_independents_seats_do_not_stop_a_noc_call():
    call = rules.call_control(
        seats_total=10,
        seats={"IND": 6, "LAB": 2},
        seats_to_declare=2,
        control_before=None,
        non_groups={"IND"},
    )
    assert call.called is True
    assert call.party is None
    assert call.outcome is ControlOutcome.NOC_REMAINS


def test_council_elected_by_thirds_where_seats_not_up_decide_control():
    # 51 seats, 17 up. Conservatives hold 24 of the 34 not up: two wins make 26.
    before = {"CON": (30, 24), "LAB": (15, 8), "LD": (6, 2)}
    comp = rules.compose(
        seats_total=51, before=before, declared_winners=[["CON"], ["CON"]], control_before="CON"
    )
    assert comp.seats_up == 17
    assert comp.seats_not_up == 34
    assert comp.seats_declared == 2
    assert comp.seats_to_declare == 15
    assert comp.control.called is True
    assert comp.control.party == "CON"
    assert comp.control.outcome is ControlOutcome.HOLD
    con = next(p for p in comp.parties if p.party == "CON")
    assert (con.seats, con.seats_won, con.seats_not_up, con.seats_before, con.seats_needed) == (
        26,
        2,
        24,
        30,
        0,
    )


def test_thirds_council_can_be_called_before_any_ward_declares():
    comp = rules.compose(
        seats_total=30, before={"LAB": (20, 16), "CON": (10, 4)}, declared_winners=[], control_before="LAB"
    )
    assert comp.control.called is True
    assert comp.control.party == "LAB"


def test_composition_counts_seats_changes_and_seats_needed():
    comp = rules.compose(
        seats_total=5,
        before={"CON": (3, 0), "LAB": (2, 0)},
        declared_winners=[["LAB", "LAB"], ["CON"]],
        previous_winners=[["CON", "LAB"], ["CON"]],
        control_before="CON",
    )
    rows = {p.party: p for p in comp.parties}
    assert rows["LAB"].seats == 2
    assert rows["LAB"].change == 1
    assert rows["CON"].change == -1
    assert rows["LAB"].seats_needed == 1
    assert comp.seats_to_declare == 2
    assert comp.control.called is False
    assert [p.party for p in comp.parties] == ["LAB", "CON"]


def test_ballots_with_unknown_previous_winners_count_for_seats_not_change():
    comp = rules.compose(
        seats_total=3, before={}, declared_winners=[["LAB"], ["LAB"]], previous_winners=[None, ["CON"]]
    )
    rows = {p.party: p for p in comp.parties}
    assert rows["LAB"].seats == 2
    assert rows["LAB"].change == 1
    assert rows["CON"].change == -1


def test_correction_that_flips_control_back():
    before = {"CON": (22, 0), "LAB": (12, 0)}
    first = rules.compose(
        seats_total=34, before=before, declared_winners=[["LAB"]] * 18 + [["CON"]] * 16, control_before="CON"
    )
    assert (first.control.party, first.control.outcome) == ("LAB", ControlOutcome.GAIN)
    corrected = rules.compose(
        seats_total=34, before=before, declared_winners=[["LAB"]] * 17 + [["CON"]] * 17, control_before="CON"
    )
    assert corrected.control.called is True
    assert (corrected.control.party, corrected.control.outcome) == (None, ControlOutcome.LOSS_TO_NOC)


def test_unknown_council_size_is_never_called():
    comp = rules.compose(seats_total=2, before={}, declared_winners=[["LAB"], ["LAB"]], size_known=False)
    assert comp.control.called is False


def test_more_seats_declared_than_up_is_an_error():
    with pytest.raises(ValueError, match="declared"):
        rules.compose(seats_total=2, before={"CON": (2, 1)}, declared_winners=[["LAB"], ["LAB"]])


@pytest.mark.parametrize(
    ("before", "after", "outcome"),
    [
        ("LAB", "LAB", ControlOutcome.HOLD),
        ("CON", "LAB", ControlOutcome.GAIN),
        (None, "LAB", ControlOutcome.GAIN),
        ("CON", None, ControlOutcome.LOSS_TO_NOC),
        (None, None, ControlOutcome.NOC_REMAINS),
    ],
)
def test_control_outcome_compares_with_the_eve_of_the_poll(before, after, outcome):
    assert rules.control_outcome(before, after) is outcome


@pytest.mark.parametrize(
    ("outcome", "council", "party", "before", "headline"),
    [
        (ControlOutcome.HOLD, "Chesterfield", "Labour", "Labour", "Labour hold Chesterfield"),
        (
            ControlOutcome.GAIN,
            "North East Derbyshire",
            "Labour",
            "Conservatives",
            "Labour gain North East Derbyshire",
        ),
        (ControlOutcome.GAIN, "High Peak", "Labour", None, "Labour gain High Peak"),
        (
            ControlOutcome.LOSS_TO_NOC,
            "Harborough",
            None,
            "Conservatives",
            "Conservatives lose Harborough to no overall control",
        ),
        (ControlOutcome.NOC_REMAINS, "Derby", None, None, "Derby remains in no overall control"),
    ],
)
def test_control_headlines_read_as_the_seed_does(outcome, council, party, before, headline):
    assert rules.control_headline(outcome, council, party, before) == headline


# ---------------------------------------------------------------- seat changes


def test_single_seat_gain_names_who_lost_it():
    assert rules.seat_changes(["LD"], ["CON"]) == (SeatChange("LD", SeatChangeKind.GAIN, "CON"),)


def test_multi_member_ward_pairs_holds_and_gains():
    changes = rules.seat_changes(["LAB", "LAB"], ["LAB", "CON"])
    assert changes == (
        SeatChange("LAB", SeatChangeKind.HOLD, "LAB"),
        SeatChange("LAB", SeatChangeKind.GAIN, "CON"),
    )


def test_two_members_of_one_party_both_hold():
    # Two Ashfield Independents elected in one ward, both held before.
    changes = rules.seat_changes(["AI", "AI"], ["AI", "AI"])
    assert [c.kind for c in changes] == [SeatChangeKind.HOLD, SeatChangeKind.HOLD]


def test_new_seat_without_previous_winner_is_a_gain_from_nobody():
    assert rules.seat_changes(["LAB", "CON"], ["LAB"]) == (
        SeatChange("LAB", SeatChangeKind.HOLD, "LAB"),
        SeatChange("CON", SeatChangeKind.GAIN, None),
    )


@pytest.mark.parametrize(
    ("kind", "previous", "headline"),
    [
        (SeatChangeKind.GAIN, "Conservatives", "Lib Dems gain Blaby South from Conservatives"),
        (SeatChangeKind.HOLD, "Lib Dems", "Lib Dems hold Blaby South"),
        (SeatChangeKind.GAIN, None, "Lib Dems win Blaby South"),
    ],
)
def test_seat_change_headlines(kind, previous, headline):
    assert rules.seat_change_headline("Blaby South", "Lib Dems", kind, previous) == headline


# ---------------------------------------------------------------- turnout and share


def test_turnout_counts_rejected_ballot_papers():
    assert rules.turnout(1_000, 4_000) == 0.25
    assert rules.turnout(None, 4_000) is None
    assert rules.turnout(10, 0) is None


def test_vote_share_is_of_all_votes_cast_in_the_ballot():
    assert rules.vote_shares({"a": 30, "b": 10}) == {"a": 0.75, "b": 0.25}
    assert rules.vote_shares({"a": 0, "b": 0}) == {"a": None, "b": None}


# ---------------------------------------------------------------- properties

PARTIES = ["CON", "LAB", "LD", "GRN", "IND"]


@st.composite
def councils(draw):
    """A council mid-count: before composition, declared ballots, seats to come."""
    ballots = draw(
        st.lists(
            st.lists(st.sampled_from(PARTIES), min_size=1, max_size=3),
            max_size=15,
        )
    )
    previous = [
        draw(st.none() | st.lists(st.sampled_from(PARTIES), min_size=len(b), max_size=len(b)))
        for b in ballots
    ]
    not_up = draw(st.dictionaries(st.sampled_from(PARTIES), st.integers(0, 10)))
    before = {p: (n + draw(st.integers(0, 10)), n) for p, n in not_up.items()}
    declared = sum(len(b) for b in ballots)
    still = draw(st.integers(0, 20))
    seats_total = declared + sum(not_up.values()) + still
    if seats_total == 0:
        seats_total, still = 1, 1
    control_before = draw(st.none() | st.sampled_from(PARTIES))
    return dict(
        seats_total=seats_total,
        before=before,
        declared_winners=ballots,
        previous_winners=previous,
        control_before=control_before,
        non_groups={"IND"},
    ), still


@given(councils())
def test_composition_sums_to_seats_declared_plus_seats_not_up(data):
    kwargs, still = data
    comp = rules.compose(**kwargs)
    assert sum(p.seats for p in comp.parties) == comp.seats_declared + comp.seats_not_up
    assert comp.seats_to_declare == still
    assert comp.seats_declared + comp.seats_to_declare + comp.seats_not_up == comp.seats_total


@given(councils())
def test_seats_won_never_exceed_seats_up(data):
    kwargs, _ = data
    comp = rules.compose(**kwargs)
    assert sum(p.seats_won for p in comp.parties) <= comp.seats_up


@given(councils())
def test_net_changes_sum_to_zero_when_previous_winners_fill_every_seat(data):
    kwargs, _ = data
    comp = rules.compose(**kwargs)
    assert sum(p.change for p in comp.parties) == 0


@given(councils(), st.data())
def test_a_call_never_changes_as_later_wards_declare(data, more):
    kwargs, still = data
    comp = rules.compose(**kwargs)
    if not comp.control.called:
        return
    extra = more.draw(st.lists(st.sampled_from(PARTIES), min_size=still, max_size=still))
    final = rules.compose(
        **{
            **kwargs,
            "declared_winners": kwargs["declared_winners"] + [[p] for p in extra],
            "previous_winners": kwargs["previous_winners"] + [None] * still,
        }
    )
    assert final.control.called is True
    assert final.control.party == comp.control.party


@given(councils())
def test_every_count_is_called_once_all_seats_are_declared(data):
    kwargs, still = data
    kwargs["declared_winners"] = kwargs["declared_winners"] + [["LD"]] * still
    kwargs["previous_winners"] = kwargs["previous_winners"] + [None] * still
    comp = rules.compose(**kwargs)
    assert comp.seats_to_declare == 0
    assert comp.control.called is True
    assert comp.control.party == rules.controlling_party(
        {p.party: p.seats for p in comp.parties}, comp.seats_total, {"IND"}
    )


@given(
    st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 50), min_size=1, max_size=8),
    st.integers(1, 4),
)
def test_winners_outpoll_everyone_not_elected(votes, seats):
    try:
        outcome = rules.decide_winners(votes, seats)
    except rules.TieUnresolved as tie:
        outcome = rules.decide_winners(votes, seats, lot_winners=tie.tied[: tie.places])
        assert len(outcome.by_lot) == tie.places
    assert len(outcome.elected) == min(seats, len(votes))
    if not outcome.uncontested:
        losers = set(votes) - set(outcome.elected)
        assert min(votes[k] for k in outcome.elected) >= max(votes[k] for k in losers)


@given(
    st.lists(st.sampled_from(PARTIES), min_size=1, max_size=4),
    st.lists(st.sampled_from(PARTIES), max_size=4),
)
def test_every_winner_is_a_hold_or_a_gain(winners, previous):
    changes = rules.seat_changes(winners, previous)
    assert sorted(c.party for c in changes) == sorted(winners)
    holds = sum(1 for c in changes if c.kind is SeatChangeKind.HOLD)
    assert holds == sum(min(winners.count(p), previous.count(p)) for p in set(winners))
    assert all(c.previous == c.party for c in changes if c.kind is SeatChangeKind.HOLD)
    assert all(c.previous != c.party for c in changes if c.kind is SeatChangeKind.GAIN)
