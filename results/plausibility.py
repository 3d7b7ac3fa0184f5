"""Plausibility of a ward's figures, as pure functions over plain values.

Results are typed while the returning officer reads them out, by tired people,
fast. Two kinds of finding:

- **impossible**: no count can produce these figures (a candidate with more
  votes than there are electors, more votes in all than electors times
  seats). The services refuse them, like any other invalid input.
- **improbable**: a count could produce them, but a slip of the keyboard is
  the likelier cause (one candidate ten times the next, a figure whose digits
  repeat another box's, a turnout outside 5–90 %, a figure doubled or halved
  against the one saved before). The console warns and asks for a deliberate second
  action before publishing.

Candidate keys are opaque hashables (the console uses candidacy ids); the
thresholds come from the settings through ``Thresholds.from_settings``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

Key = Hashable


class Severity(enum.Enum):
    """How sure we are the figures are wrong."""

    IMPOSSIBLE = "impossible"  # refused by the services
    IMPROBABLE = "improbable"  # warned about by the console


class Check(enum.Enum):
    """Which rule found the problem."""

    VOTES_ABOVE_ELECTORATE = "votes_above_electorate"
    VOTES_ABOVE_PAPERS = "votes_above_papers"
    TOTAL_ABOVE_ELECTORATE = "total_above_electorate"
    TOTAL_ABOVE_PAPERS = "total_above_papers"
    DOMINANT = "dominant"
    REPEATED_DIGITS = "repeated_digits"
    TURNOUT = "turnout"
    CHANGE = "change"


@dataclass(frozen=True)
class Thresholds:
    """Where improbable begins. Defaults suit English local elections.

    ``dominance``: the leader having more than this many times the runner-up's
    votes. ``turnout_low``/``turnout_high``: turnout (0..1) outside this range.
    ``change``: a figure more than this many times, or less than one this-many-th
    of, the figure saved before (2: doubled or halved; a digit lost or added is 10). ``repeat_digits``: the fewest digits a figure must have for its
    repetition inside another figure to count as a slip.
    """

    dominance: float = 10.0
    turnout_low: float = 0.05
    turnout_high: float = 0.90
    change: float = 2.0
    repeat_digits: int = 3

    @classmethod
    def from_settings(cls) -> Thresholds:
        """The thresholds set in Django's settings (``PLAUSIBILITY_*``), else the defaults."""
        from django.conf import settings

        return cls(
            dominance=float(getattr(settings, "PLAUSIBILITY_DOMINANCE", cls.dominance)),
            turnout_low=float(getattr(settings, "PLAUSIBILITY_TURNOUT_LOW", cls.turnout_low)),
            turnout_high=float(getattr(settings, "PLAUSIBILITY_TURNOUT_HIGH", cls.turnout_high)),
            change=float(getattr(settings, "PLAUSIBILITY_CHANGE_FACTOR", cls.change)),
            repeat_digits=int(getattr(settings, "PLAUSIBILITY_REPEAT_DIGITS", cls.repeat_digits)),
        )


@dataclass(frozen=True)
class Finding:
    """One problem with the figures.

    ``key`` is the candidate concerned, or the name of the count field
    (``"electorate"``, ``"ballot_papers_counted"``), or ``None`` for the
    ballot as a whole. ``params``: the figures the message states, by name
    (``candidacy`` and ``name`` for a candidate's), for callers that word or
    place it themselves.
    """

    check: Check
    severity: Severity
    key: Key | None
    message: str
    params: dict = dataclasses.field(default_factory=dict, compare=False, hash=False)


def _n(value: int) -> str:
    return f"{value:,}"


def _repeats(figure: int, other: int, min_digits: int) -> bool:
    """Whether ``figure``'s digits are ``other``'s typed twice, or ``other``'s run into another figure.

    The slips of a box that was not cleared: "800" typed over 800 gives
    800800; "1300" typed over 1204 gives 13001204 (or 12041300).
    """
    typed, seen = str(figure), str(other)
    if len(seen) < min_digits or len(typed) <= len(seen):
        return False
    rest = len(typed) - len(seen)
    return rest >= 2 and (typed.startswith(seen) or typed.endswith(seen))


def _changed(before: int, now: int, factor: float) -> bool:
    """Whether ``now`` is more than ``factor`` times ``before``, or less than ``before / factor``."""
    if before <= 0:
        return False  # nothing to compare with
    return now > factor * before or now * factor < before


def _factor(before: int, now: int) -> str:
    if now >= before:
        return f"{now / before:.1f} times"
    return "none of" if now == 0 else f"1/{before / now:.1f} of"


def check_figures(
    votes: Mapping[Key, int | None],
    *,
    seats: int,
    electorate: int | None = None,
    ballot_papers_counted: int | None = None,
    rejected_ballots: int | None = None,
    saved: Mapping[Key, int | None] | None = None,
    names: Mapping[Key, str] | None = None,
    thresholds: Thresholds | None = None,
) -> tuple[Finding, ...]:
    """Every impossible and improbable thing about one ballot's figures, impossible ones first.

    ``votes`` maps candidate keys to votes (``None`` = not typed yet, ignored);
    ``seats`` is the ballot's winner count (each voter has that many votes).
    ``saved`` holds the figures saved before (a draft, or the declaration
    being corrected), by the same keys and with ``"electorate"`` and
    ``"ballot_papers_counted"`` for the counts; ``names`` names candidates in
    the messages. Negative figures are the caller's to refuse: they are
    ignored here.
    """
    limits = thresholds or Thresholds()
    saved = saved or {}
    names = names or {}
    typed = {k: v for k, v in votes.items() if isinstance(v, int) and v >= 0}

    def name(key: Key) -> str:
        return str(names.get(key, key))

    valid = None
    if ballot_papers_counted is not None:
        valid = max(ballot_papers_counted - (rejected_ballots or 0), 0)
    counts = {"electorate": electorate, "ballot_papers_counted": ballot_papers_counted}
    return (
        *_impossible_votes(typed, name, electorate=electorate, valid=valid),
        *_impossible_total(sum(typed.values()), seats=seats, electorate=electorate, valid=valid),
        *_dominant(typed, name, seats=seats, complete=len(typed) == len(votes), limits=limits),
        *_repeated_digits(typed, saved, name, limits),
        *_turnout(electorate, ballot_papers_counted, limits),
        *_changes(typed, saved, counts, name, limits),
    )


# ---------------------------------------------------------------- impossible


def _impossible_votes(
    typed: Mapping[Key, int], name: Callable[[Key], str], *, electorate: int | None, valid: int | None
) -> list[Finding]:
    """A candidate with more votes than electors, or than valid ballot papers."""
    findings = []
    for key, v in typed.items():
        if electorate is not None and v > electorate:
            findings.append(
                Finding(
                    Check.VOTES_ABOVE_ELECTORATE,
                    Severity.IMPOSSIBLE,
                    key,
                    f"{name(key)}: {_n(v)} votes is more than the electorate of {_n(electorate)}.",
                    {"candidacy": key, "name": name(key), "votes": v, "electorate": electorate},
                )
            )
        elif valid is not None and v > valid:
            findings.append(
                Finding(
                    Check.VOTES_ABOVE_PAPERS,
                    Severity.IMPOSSIBLE,
                    key,
                    f"{name(key)}: {_n(v)} votes is more than the {_n(valid)} valid ballot papers counted.",
                    {"candidacy": key, "name": name(key), "votes": v, "valid": valid},
                )
            )
    return findings


def _impossible_total(total: int, *, seats: int, electorate: int | None, valid: int | None) -> list[Finding]:
    """More votes in all than electors, or than valid ballot papers, times the seats."""
    if electorate is not None and total > electorate * seats:
        return [
            Finding(
                Check.TOTAL_ABOVE_ELECTORATE,
                Severity.IMPOSSIBLE,
                None,
                f"{_n(total)} votes in all is more than the electorate of {_n(electorate)} "
                f"times {seats} seat{'s' if seats != 1 else ''}.",
                {"total": total, "electorate": electorate, "seats": seats},
            )
        ]
    if valid is not None and total > valid * seats:
        return [
            Finding(
                Check.TOTAL_ABOVE_PAPERS,
                Severity.IMPOSSIBLE,
                None,
                f"{_n(total)} votes in all is more than the {_n(valid)} valid ballot papers counted "
                f"times {seats} seat{'s' if seats != 1 else ''}.",
                {"total": total, "valid": valid, "seats": seats},
            )
        ]
    return []


# ---------------------------------------------------------------- improbable


def _dominant(
    typed: Mapping[Key, int], name: Callable[[Key], str], *, seats: int, complete: bool, limits: Thresholds
) -> list[Finding]:
    """The leader more than ``limits.dominance`` times the next candidate, once every figure is typed
    (``complete``) and there are more candidates than seats."""
    ranked = sorted(typed.items(), key=lambda kv: -kv[1])
    if not (len(ranked) > seats and complete):
        return []
    # The last winner against the first loser: a slip inflates one figure.
    (lead_key, lead), (_, next_votes) = ranked[0], ranked[1]
    if next_votes > 0 and lead > limits.dominance * next_votes:
        return [
            Finding(
                Check.DOMINANT,
                Severity.IMPROBABLE,
                lead_key,
                f"{name(lead_key)} has {_n(lead)} votes, more than {limits.dominance:g} times the "
                f"next candidate's {_n(next_votes)}.",
            )
        ]
    return []


def _repeated_digits(
    typed: Mapping[Key, int],
    saved: Mapping[Key, int | None],
    name: Callable[[Key], str],
    limits: Thresholds,
) -> list[Finding]:
    """A figure whose digits repeat another candidate's, or the figure saved before (``_repeats``)."""
    findings = []
    for key, v in typed.items():
        others = [(k, o) for k, o in typed.items() if k != key]
        before = saved.get(key)
        if isinstance(before, int):
            others.append(("saved", before))
        for other_key, other in others:
            if _repeats(v, other, limits.repeat_digits):
                where = "the figure saved before" if other_key == "saved" else f"{name(other_key)}'s"
                findings.append(
                    Finding(
                        Check.REPEATED_DIGITS,
                        Severity.IMPROBABLE,
                        key,
                        f"{name(key)}: {_n(v)} repeats the digits of {where} {_n(other)}: "
                        "was the box cleared before typing?",
                    )
                )
                break
    return findings


def _turnout(electorate: int | None, ballot_papers_counted: int | None, limits: Thresholds) -> list[Finding]:
    """A turnout outside ``limits.turnout_low``..``limits.turnout_high``."""
    if not electorate or ballot_papers_counted is None:
        return []
    share = ballot_papers_counted / electorate
    if limits.turnout_low <= share <= limits.turnout_high:
        return []
    return [
        Finding(
            Check.TURNOUT,
            Severity.IMPROBABLE,
            "ballot_papers_counted",
            f"Turnout would be {share:.1%} ({_n(ballot_papers_counted)} of {_n(electorate)} electors), "
            f"outside {limits.turnout_low:.0%}–{limits.turnout_high:.0%}.",
        )
    ]


def _changes(
    typed: Mapping[Key, int],
    saved: Mapping[Key, int | None],
    counts: Mapping[str, int | None],
    name: Callable[[Key], str],
    limits: Thresholds,
) -> list[Finding]:
    """A candidate's votes, then a count, changed by more than ``limits.change`` against the figure
    saved before."""
    findings = []
    for key, v in typed.items():
        before = saved.get(key)
        if isinstance(before, int) and _changed(before, v, limits.change):
            findings.append(
                Finding(
                    Check.CHANGE,
                    Severity.IMPROBABLE,
                    key,
                    f"{name(key)}: {_n(before)} → {_n(v)} is {_factor(before, v)} the figure saved before.",
                )
            )
    for field, label in (("electorate", "Electorate"), ("ballot_papers_counted", "Ballot papers counted")):
        now, before = counts[field], saved.get(field)
        if isinstance(now, int) and isinstance(before, int) and _changed(before, now, limits.change):
            findings.append(
                Finding(
                    Check.CHANGE,
                    Severity.IMPROBABLE,
                    field,
                    f"{label}: {_n(before)} → {_n(now)} is {_factor(before, now)} the figure saved before.",
                )
            )
    return findings


def impossible(findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """The findings the services refuse."""
    return tuple(f for f in findings if f.severity is Severity.IMPOSSIBLE)


def improbable(findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """The findings the console warns about."""
    return tuple(f for f in findings if f.severity is Severity.IMPROBABLE)
