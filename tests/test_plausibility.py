"""Plausibility of a ward's figures: pure functions, exhaustive edges, then properties for any input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from results.plausibility import Check, Severity, Thresholds, check_figures, impossible, improbable

pytestmark = pytest.mark.pure

NAMES = {"a": "Ann Able", "b": "Bob Baker", "c": "Cat Cole"}


def checks(findings) -> list[tuple[str, str, object]]:
    return [(f.check.value, f.severity.value, f.key) for f in findings]


def test_plausible_figures_raise_nothing():
    findings = check_figures(
        {"a": 1204, "b": 1010, "c": 150},
        seats=1,
        electorate=6100,
        ballot_papers_counted=2380,
        rejected_ballots=16,
        saved={"a": 1190, "b": 1000, "c": 160, "electorate": 6100},
        names=NAMES,
    )
    assert findings == ()


# ---------------------------------------------------------------- impossible


def test_a_candidate_above_the_electorate_is_impossible():
    findings = check_figures({"a": 800800, "b": 1010}, seats=1, electorate=6100, names=NAMES)
    assert [(f.check, f.severity, f.key, f.message) for f in impossible(findings)] == [
        (
            Check.VOTES_ABOVE_ELECTORATE,
            Severity.IMPOSSIBLE,
            "a",
            "Ann Able: 800,800 votes is more than the electorate of 6,100.",
        ),
        (
            Check.TOTAL_ABOVE_ELECTORATE,
            Severity.IMPOSSIBLE,
            None,
            "801,810 votes in all is more than the electorate of 6,100 times 1 seat.",
        ),
    ]


def test_a_candidate_above_the_valid_papers_is_impossible():
    findings = check_figures(
        {"a": 2365, "b": 10}, seats=1, ballot_papers_counted=2380, rejected_ballots=16, names=NAMES
    )
    assert [f.message for f in impossible(findings)] == [
        "Ann Able: 2,365 votes is more than the 2,364 valid ballot papers counted.",
        "2,375 votes in all is more than the 2,364 valid ballot papers counted times 1 seat.",
    ]


@pytest.mark.parametrize(
    ("total_b", "expected"),
    [(1000, []), (1001, [("total_above_electorate", "impossible", None)])],  # b + d
)
def test_all_votes_may_reach_electorate_times_seats_in_a_multi_member_ward(total_b, expected):
    # Three seats, 1,000 electors: each has three votes, so at most 3,000 votes in all.
    votes = {"a": 1000, "b": total_b - 1, "c": 1000, "d": 1}
    assert checks(impossible(check_figures(votes, seats=3, electorate=1000))) == expected


def test_all_votes_above_valid_papers_times_seats_is_impossible():
    votes = {"a": 900, "b": 900, "c": 900, "d": 1}
    assert checks(impossible(check_figures(votes, seats=3, ballot_papers_counted=900))) == [
        ("total_above_papers", "impossible", None)
    ]
    assert impossible(check_figures({**votes, "d": 0}, seats=3, ballot_papers_counted=900)) == ()


def test_figures_not_typed_yet_and_negative_ones_are_ignored():
    assert check_figures({"a": None, "b": -5}, seats=1, electorate=10) == ()


# ---------------------------------------------------------------- improbable


@pytest.mark.parametrize(
    ("lead", "warned"),
    [(10100, False), (10101, True)],  # more than ten times the next one's 1,010
)
def test_one_candidate_more_than_n_times_the_next_is_improbable(lead, warned):
    findings = check_figures({"a": lead, "b": 1010, "c": 150}, seats=1, names=NAMES)
    assert checks(f for f in findings if f.check is Check.DOMINANT) == (
        [("dominant", "improbable", "a")] if warned else []
    )


def test_the_dominance_ratio_is_a_setting():
    findings = check_figures({"a": 300, "b": 100}, seats=1, thresholds=Thresholds(dominance=2))
    assert [f.message for f in findings] == ["a has 300 votes, more than 2 times the next candidate's 100."]


def test_dominance_is_not_judged_before_every_figure_is_typed_or_against_nobody():
    assert check_figures({"a": 5000, "b": 10, "c": None}, seats=1) == ()
    assert check_figures({"a": 5000, "b": 0}, seats=1) == ()  # no runner-up to compare with
    assert check_figures({"a": 5000}, seats=1) == ()  # no contest


def test_800_typed_over_800_is_a_repeated_digits_slip():
    findings = check_figures({"a": 1204, "b": 1010, "c": 800800}, seats=1, saved={"c": 800}, names=NAMES)
    assert [(f.check, f.key, f.message) for f in findings if f.check is Check.REPEATED_DIGITS] == [
        (
            Check.REPEATED_DIGITS,
            "c",
            "Cat Cole: 800,800 repeats the digits of the figure saved before 800: "
            "was the box cleared before typing?",
        )
    ]


@pytest.mark.parametrize(
    ("typed", "other", "warned"),
    [
        (13001204, 1204, True),  # "1300" typed in front of 1204
        (12041300, 1204, True),  # ...or after it
        (800800, 800, True),
        (8008, 800, False),  # one digit more: a real figure as likely as a slip
        (80080, 800, True),
        (1204, 1204, False),  # the same figure is not a repetition
        (5050, 50, False),  # figures of fewer than three digits repeat by chance
        (120400, 1204, True),
        (991204, 1204, True),
        (12345, 234, False),  # inside, not at either end
    ],
)
def test_a_figure_that_runs_into_another_boxs_digits_is_improbable(typed, other, warned):
    findings = check_figures({"a": typed, "b": other}, seats=1, thresholds=Thresholds(dominance=1e9))
    assert checks(findings) == ([("repeated_digits", "improbable", "a")] if warned else [])


@pytest.mark.parametrize(
    ("counted", "warned"),
    [(49, True), (50, False), (900, False), (901, True)],
)
def test_turnout_outside_5_to_90_percent_is_improbable(counted, warned):
    findings = check_figures({"a": 10, "b": 9}, seats=1, electorate=1000, ballot_papers_counted=counted)
    assert checks(findings) == ([("turnout", "improbable", "ballot_papers_counted")] if warned else [])


def test_turnout_limits_are_settings():
    limits = Thresholds(turnout_low=0.2, turnout_high=0.3)
    findings = check_figures(
        {"a": 10, "b": 9}, seats=1, electorate=1000, ballot_papers_counted=350, thresholds=limits
    )
    assert [f.message for f in findings] == [
        "Turnout would be 35.0% (350 of 1,000 electors), outside 20%–30%."
    ]


@pytest.mark.parametrize(
    ("before", "now", "warned"),
    [
        (400, 800, False),
        (400, 801, True),
        (400, 200, False),
        (400, 199, True),
        (1204, 124, True),
        (400, 0, True),
    ],
)
def test_a_figure_doubled_or_halved_against_the_saved_one_is_improbable(before, now, warned):
    findings = check_figures(
        {"a": 1000, "b": now}, seats=1, saved={"a": 1000, "b": before}, thresholds=Thresholds(dominance=1e9)
    )
    assert checks(f for f in findings if f.check is Check.CHANGE) == (
        [("change", "improbable", "b")] if warned else []
    )


def test_a_changed_count_against_the_saved_one_is_improbable():
    findings = check_figures(
        {"a": 10, "b": 9}, seats=1, electorate=61000, saved={"electorate": 6100}, names=NAMES
    )
    assert [f.message for f in findings] == [
        "Electorate: 6,100 → 61,000 is 10.0 times the figure saved before."
    ]


def test_thresholds_come_from_the_settings(settings):
    settings.PLAUSIBILITY_DOMINANCE = 3
    settings.PLAUSIBILITY_TURNOUT_LOW = 0.1
    settings.PLAUSIBILITY_TURNOUT_HIGH = 0.8
    settings.PLAUSIBILITY_CHANGE_FACTOR = 1.5
    settings.PLAUSIBILITY_REPEAT_DIGITS = 4
    assert Thresholds.from_settings() == Thresholds(
        dominance=3, turnout_low=0.1, turnout_high=0.8, change=1.5, repeat_digits=4
    )


# ---------------------------------------------------------------- properties

votes_maps = st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 10**7), min_size=1)


@given(votes=votes_maps, seats=st.integers(1, 4), electorate=st.integers(1, 10**6))
def test_impossible_exactly_when_a_candidate_or_the_total_exceeds_what_electors_can_give(
    votes, seats, electorate
):
    found = impossible(check_figures(votes, seats=seats, electorate=electorate))
    expected = any(v > electorate for v in votes.values()) or sum(votes.values()) > electorate * seats
    assert bool(found) == expected


@given(votes=votes_maps, seats=st.integers(1, 4))
def test_without_counts_or_saved_figures_only_dominance_and_repeats_can_warn(votes, seats):
    findings = check_figures(votes, seats=seats)
    assert impossible(findings) == ()
    assert {f.check for f in improbable(findings)} <= {Check.DOMINANT, Check.REPEATED_DIGITS}


@given(
    votes=votes_maps,
    seats=st.integers(1, 4),
    electorate=st.integers(1, 10**6),
    counted=st.integers(0, 10**6),
    saved=votes_maps,
)
def test_every_finding_names_one_of_the_figures_or_the_ballot(votes, seats, electorate, counted, saved):
    findings = check_figures(
        votes, seats=seats, electorate=electorate, ballot_papers_counted=counted, saved=saved
    )
    assert all(
        f.key is None or f.key in votes or f.key in ("electorate", "ballot_papers_counted") for f in findings
    )
    assert findings == impossible(findings) + improbable(findings)  # impossible ones first
