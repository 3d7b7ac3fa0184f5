"""The rules of UK local elections, as pure functions over plain values.

Nothing here touches the database: querysets and services feed these functions
plain rows, so every rule is unit-tested exhaustively without one. Party keys
are opaque hashables (the services use Electoral Commission ids); a key of
``None`` in a control result means no overall control (NOC).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

PartyKey = Hashable


# --------------------------------------------------------------------------
# Majority
# --------------------------------------------------------------------------


def majority(seats_total: int) -> int:
    """The "magic number": seats a party needs to control the council.

    More than half of all seats, seats not up included: exactly half is not a
    majority. A 44-seat council needs 23; a 51-seat one needs 26.
    """
    if seats_total < 1:
        raise ValueError("a council has at least one seat")
    return seats_total // 2 + 1


def controlling_party(
    seats: Mapping[PartyKey, int],
    seats_total: int,
    non_groups: Iterable[PartyKey] = (),
) -> PartyKey | None:
    """The party holding a majority of ``seats_total``, or ``None`` for NOC.

    ``non_groups`` lists keys that are not a group (Independents share a party
    row but never control a council together).
    """
    excluded = set(non_groups)
    needed = majority(seats_total)
    for party, held in seats.items():
        if party not in excluded and held >= needed:
            return party
    return None


# --------------------------------------------------------------------------
# Winners of one ballot
# --------------------------------------------------------------------------


def is_uncontested(candidates: int, seats: int) -> bool:
    """Whether a ballot of this many candidates is uncontested: no more candidates than
    seats, so no poll is held and every candidate is elected unopposed."""
    return candidates <= seats


def ballot_paper_order(person_name: str) -> tuple[str, str]:
    """How ballot papers list candidates: by surname (the last word of the name), then the
    whole name; case does not count."""
    words = person_name.split()
    return (words[-1].casefold() if words else "", person_name.casefold())


def result_order(votes: int | None, elected_by_lot: bool, name) -> tuple:
    """How a result lists candidates: most votes first; at equal votes, a winner by lot
    ahead of those it beat; then by ``name`` (whatever key of the name the caller sorts by)."""
    return (-(votes or 0), not elected_by_lot, name)


class TieUnresolved(ValueError):
    """Candidates tie at the cut-off and the lot has not been recorded."""

    def __init__(self, tied: Sequence[Hashable], places: int):
        self.tied = tuple(tied)
        self.places = places
        super().__init__(
            f"{len(self.tied)} candidates tie for the last {places} "
            f"place{'s' if places != 1 else ''}: record who won the lot"
        )


class InvalidLot(ValueError):
    """Lot winners were given that the count does not call for."""


@dataclass(frozen=True)
class Outcome:
    """Who won one ballot, in rank order.

    ``elected`` are the winners, strongest first. ``by_lot`` is the subset
    decided by drawing lots. ``uncontested`` is true when there were no more
    candidates than seats (no poll is held); ``vacancies`` counts the seats
    left empty when there were fewer candidates than seats.
    """

    ranking: tuple[Hashable, ...]
    elected: tuple[Hashable, ...]
    by_lot: frozenset = frozenset()
    uncontested: bool = False
    vacancies: int = 0


def decide_winners(
    votes: Mapping[Hashable, int | None],
    seats: int,
    lot_winners: Iterable[Hashable] = (),
) -> Outcome:
    """Elect the top ``seats`` candidates by votes.

    ``votes`` maps each candidate's key to their votes (ignored, and may be
    ``None``, when the ballot is uncontested). A tie at the cut-off (tied
    candidates straddle the last seat) needs ``lot_winners``: exactly as many
    of the tied candidates as there are places left. A tie wholly above or
    below the cut-off needs no lot, and lot winners given then are refused.

    The ranking orders candidates by votes, lot winners ahead of the others
    they tied with, then by key so the order is stable.
    """
    if seats < 1:
        raise ValueError("a ballot elects at least one candidate")
    lot = frozenset(lot_winners)
    unknown = lot - set(votes)
    if unknown:
        raise InvalidLot(f"lot winners are not candidates here: {sorted(map(str, unknown))}")

    if is_uncontested(len(votes), seats):
        if lot:
            raise InvalidLot("an uncontested ballot has no lot to draw")
        ranking = tuple(sorted(votes, key=str))
        return Outcome(
            ranking=ranking,
            elected=ranking,
            uncontested=True,
            vacancies=seats - len(votes),
        )

    missing = [k for k, v in votes.items() if v is None]
    if missing:
        raise ValueError(f"a contested ballot needs votes for every candidate: {missing}")
    if any(v < 0 for v in votes.values()):
        raise ValueError("votes cannot be negative")

    ranking = tuple(sorted(votes, key=lambda k: (-votes[k], k not in lot, str(k))))
    cutoff = votes[ranking[seats - 1]]
    above = [k for k in ranking if votes[k] > cutoff]
    at_cutoff = [k for k in ranking if votes[k] == cutoff]
    places = seats - len(above)

    if len(at_cutoff) <= places:
        # Everyone at the cut-off value fits: no tie for the last seat.
        if lot:
            raise InvalidLot("no tie at the cut-off: the lot decides nothing here")
        return Outcome(ranking=ranking, elected=ranking[:seats])

    if not lot:
        raise TieUnresolved(sorted(at_cutoff, key=str), places)
    not_tied = lot - set(at_cutoff)
    if not_tied:
        raise InvalidLot(f"lot winners did not tie at the cut-off: {sorted(map(str, not_tied))}")
    if len(lot) != places:
        raise InvalidLot(
            f"{len(lot)} lot winners given for {places} place{'s' if places != 1 else ''} decided by lot"
        )
    return Outcome(ranking=ranking, elected=ranking[:seats], by_lot=lot)


class LotProblem(enum.Enum):
    """What is wrong with the lot winners given, in the order it is reported."""

    NOT_TIED = "not_tied"  # a lot winner is not level with the last seat's votes
    NO_TIE = "no_tie"  # no tie at the cut-off: nothing to draw
    WRONG_COUNT = "wrong_count"  # not as many lot winners as places decided by lot


@dataclass(frozen=True)
class LotCheck:
    """A lot that does not fit the votes: the problem, the lot winners not level at the
    cut-off (``NOT_TIED``), and the places the lot decides (``WRONG_COUNT``)."""

    problem: LotProblem
    not_tied: tuple[Hashable, ...] = ()
    places: int = 0


def lot_problem(
    votes: Mapping[Hashable, int], seats: int, lot_winners: Iterable[Hashable]
) -> LotCheck | None:
    """What is wrong with ``lot_winners`` for a contested ballot's complete ``votes``, or ``None``.

    A lot winner not level with the last seat's votes is named first; then a lot
    where no tie straddles the cut-off; then a lot of the wrong size.
    """
    lot = set(lot_winners)
    if not lot:
        return None
    ranking = sorted(votes.values(), reverse=True)
    cutoff = ranking[seats - 1]
    not_tied = tuple(
        k for k in [*votes, *sorted(lot - set(votes), key=str)] if k in lot and votes.get(k) != cutoff
    )
    if not_tied:
        return LotCheck(LotProblem.NOT_TIED, not_tied=not_tied)
    tied = sum(1 for v in votes.values() if v == cutoff)
    places = seats - sum(1 for v in votes.values() if v > cutoff)
    if tied <= places:
        return LotCheck(LotProblem.NO_TIE, places=places)
    if len(lot) != places:
        return LotCheck(LotProblem.WRONG_COUNT, places=places)
    return None


# --------------------------------------------------------------------------
# Composition and control of a council
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PartySeats:
    """One party's line in a council's composition."""

    party: PartyKey
    seats: int  # seats won so far plus seats not up
    seats_before: int  # seats held on the eve of the poll
    seats_won: int  # seats won at this election, declared so far
    seats_not_up: int  # seats not up this time
    change: int  # net change over declared ballots, against their previous winners
    seats_needed: int  # seats still needed for a majority (0 once reached)


class ControlOutcome(enum.Enum):
    """How control after the election compares with the eve of the poll."""

    HOLD = "hold"  # the same party keeps its majority
    GAIN = "gain"  # a party wins a majority it did not have (from a party or from NOC)
    LOSS_TO_NOC = "loss_to_noc"  # the controlling party loses its majority, no one else has one
    NOC_REMAINS = "noc_remains"  # no overall control before and after


@dataclass(frozen=True)
class ControlCall:
    """Whether control can be called yet, and for whom.

    ``called`` is true once the declared seats and the seats not up make the
    result certain. ``party`` is the controlling party (``None`` = NOC) and
    ``outcome`` compares it with ``party_before``; both are ``None`` until
    called.
    """

    called: bool
    party: PartyKey | None
    party_before: PartyKey | None
    outcome: ControlOutcome | None
    majority: int
    seats_declared: int
    seats_to_declare: int


@dataclass(frozen=True)
class Composition:
    """A council's state during or after the count."""

    seats_total: int
    seats_up: int
    seats_not_up: int
    seats_declared: int
    seats_to_declare: int
    majority: int
    parties: tuple[PartySeats, ...]
    control: ControlCall = field(compare=False)


def compose(
    *,
    seats_total: int,
    before: Mapping[PartyKey, tuple[int, int]],
    declared_winners: Iterable[Sequence[PartyKey]],
    previous_winners: Iterable[Sequence[PartyKey] | None] = (),
    control_before: PartyKey | None = None,
    non_groups: Iterable[PartyKey] = (),
    size_known: bool = True,
) -> Composition:
    """Compose a council from its pre-poll state and the ballots declared so far.

    ``before`` maps each party to ``(seats held before the poll, seats not up
    now)``. ``declared_winners`` holds, per declared ballot, the parties of its
    winners (one entry per seat filled). ``previous_winners`` is parallel to
    it: the parties of that ballot's previous winners, or ``None`` where
    unknown (those ballots count towards seats, not towards change).

    With ``size_known`` false (the council's size after the election is not
    known yet), control is never called.

    Seats to declare are the seats up (``seats_total`` minus seats not up)
    not yet filled by a declared ballot. Vacancies left by uncontested
    ballots with too few candidates therefore stay "to declare", which keeps
    a call conservative.
    """
    non_groups = frozenset(non_groups)
    declared = [tuple(w) for w in declared_winners]
    previous = list(previous_winners)
    if previous and len(previous) != len(declared):
        raise ValueError("previous_winners must be parallel to declared_winners")
    if not previous:
        previous = [None] * len(declared)

    not_up_total = sum(not_up for _, not_up in before.values())
    seats_up = seats_total - not_up_total
    if seats_up < 0:
        raise ValueError("more seats not up than seats on the council")
    won = Counter(p for winners in declared for p in winners)
    seats_declared = sum(won.values())
    if seats_declared > seats_up:
        raise ValueError(f"{seats_declared} seats declared but only {seats_up} are up")
    seats_to_declare = seats_up - seats_declared

    needed_for_majority = majority(seats_total)
    rows = _party_rows(before, won, _net_change(declared, previous), needed_for_majority)
    control = call_control(
        seats_total=seats_total,
        seats={r.party: r.seats for r in rows},
        seats_to_declare=seats_to_declare,
        control_before=control_before,
        non_groups=non_groups,
    )
    if not size_known:
        control = ControlCall(
            called=False,
            party=None,
            party_before=control_before,
            outcome=None,
            majority=needed_for_majority,
            seats_declared=control.seats_declared,
            seats_to_declare=seats_to_declare,
        )
    return Composition(
        seats_total=seats_total,
        seats_up=seats_up,
        seats_not_up=not_up_total,
        seats_declared=seats_declared,
        seats_to_declare=seats_to_declare,
        majority=needed_for_majority,
        parties=tuple(rows),
        control=control,
    )


def _net_change(
    declared: Sequence[Sequence[PartyKey]], previous: Sequence[Sequence[PartyKey] | None]
) -> Counter:
    """Each party's seats won minus seats held before, over the declared ballots whose previous
    winners are known (``previous`` is parallel to ``declared``)."""
    change: Counter = Counter()
    for winners, prev in zip(declared, previous, strict=True):
        if prev is None:
            continue
        change.update(Counter(winners))
        change.subtract(Counter(prev))
    return change


def _party_rows(
    before: Mapping[PartyKey, tuple[int, int]], won: Counter, change: Counter, needed_for_majority: int
) -> list[PartySeats]:
    """A composition's lines, largest first: every party that held seats before, won one, or changed."""
    parties = set(before) | set(won) | {p for p, v in change.items() if v}
    rows = []
    for party in parties:
        held, not_up = before.get(party, (0, 0))
        seats = won[party] + not_up
        rows.append(
            PartySeats(
                party=party,
                seats=seats,
                seats_before=held,
                seats_won=won[party],
                seats_not_up=not_up,
                change=change[party],
                seats_needed=max(0, needed_for_majority - seats),
            )
        )
    rows.sort(key=lambda r: (-r.seats, -r.seats_before, str(r.party)))
    return rows


def call_control(
    *,
    seats_total: int,
    seats: Mapping[PartyKey, int],
    seats_to_declare: int,
    control_before: PartyKey | None,
    non_groups: Iterable[PartyKey] = (),
) -> ControlCall:
    """Call control as soon as it is certain.

    A party is called once it holds the majority (it can lose no seat it has
    won). No overall control is called once no party can reach the majority
    even by winning every seat still to declare; that includes a party with no
    seats yet, so NOC is never called while the seats still to declare could
    make a majority on their own. Independents (``non_groups``) never control.
    """
    needed = majority(seats_total)
    declared = sum(seats.values())
    winner = controlling_party(seats, seats_total, non_groups)
    if winner is not None:
        return ControlCall(
            called=True,
            party=winner,
            party_before=control_before,
            outcome=control_outcome(control_before, winner),
            majority=needed,
            seats_declared=declared,
            seats_to_declare=seats_to_declare,
        )
    excluded = set(non_groups)
    best = max(
        (n for p, n in seats.items() if p not in excluded),
        default=0,
    )
    if best + seats_to_declare < needed:
        return ControlCall(
            called=True,
            party=None,
            party_before=control_before,
            outcome=control_outcome(control_before, None),
            majority=needed,
            seats_declared=declared,
            seats_to_declare=seats_to_declare,
        )
    return ControlCall(
        called=False,
        party=None,
        party_before=control_before,
        outcome=None,
        majority=needed,
        seats_declared=declared,
        seats_to_declare=seats_to_declare,
    )


def control_outcome(before: PartyKey | None, after: PartyKey | None) -> ControlOutcome:
    """Compare control after the election with control on the eve of the poll."""
    if after is None:
        return ControlOutcome.NOC_REMAINS if before is None else ControlOutcome.LOSS_TO_NOC
    return ControlOutcome.HOLD if after == before else ControlOutcome.GAIN


def control_headline(
    outcome: ControlOutcome,
    council: str,
    party: str | None,
    party_before: str | None,
) -> str:
    """The headline for a control call, in the forms the live page uses.

    Party names are the short names used in copy ("Conservatives",
    "Lib Dems"); the verb agrees with them as a newsroom writes it.
    """
    if outcome is ControlOutcome.HOLD:
        return f"{party} hold {council}"
    if outcome is ControlOutcome.GAIN:
        return f"{party} gain {council}"
    if outcome is ControlOutcome.LOSS_TO_NOC:
        return f"{party_before} lose {council} to no overall control"
    return f"{council} remains in no overall control"


# --------------------------------------------------------------------------
# Seat changes of one ballot
# --------------------------------------------------------------------------


class SeatChangeKind(enum.Enum):
    """What happened to one seat against its previous winner."""

    HOLD = "hold"
    GAIN = "gain"


@dataclass(frozen=True)
class SeatChange:
    """One seat filled at this ballot: the winning party, and whom it replaced.

    ``previous`` is the party that held the seat (``None`` for a seat that had
    no previous winner, such as one added by a boundary change).
    """

    party: PartyKey
    kind: SeatChangeKind
    previous: PartyKey | None


def seat_changes(winners: Sequence[PartyKey], previous: Sequence[PartyKey]) -> tuple[SeatChange, ...]:
    """Each seat's winner against the ballot's previous winners, by party.

    Seats a party won and held before are holds; the remaining seats it won
    are gains, paired in order with the seats other parties lost. Works for
    multi-member wards: winners Lab, Lab against previous Lab, Con is one
    Labour hold and one Labour gain from the Conservatives.
    """
    won = Counter(winners)
    held = Counter(previous)
    changes: list[SeatChange] = []
    for party in sorted(won, key=lambda p: (-won[p], str(p))):
        for _ in range(min(won[party], held[party])):
            changes.append(SeatChange(party, SeatChangeKind.HOLD, party))
    losers = [
        p for p in sorted(held, key=lambda p: (-held[p], str(p))) for _ in range(max(0, held[p] - won[p]))
    ]
    for party in sorted(won, key=lambda p: (-won[p], str(p))):
        for _ in range(max(0, won[party] - held[party])):
            previous_party = losers.pop(0) if losers else None
            changes.append(SeatChange(party, SeatChangeKind.GAIN, previous_party))
    return tuple(changes)


def seat_change_headline(ward: str, winner: str, kind: SeatChangeKind, previous: str | None) -> str:
    """A one-seat headline: "Lib Dems gain Blaby from Conservatives"."""
    if kind is SeatChangeKind.HOLD:
        return f"{winner} hold {ward}"
    if previous is None:
        return f"{winner} win {ward}"
    return f"{winner} gain {ward} from {previous}"


# --------------------------------------------------------------------------
# Turnout and vote share (the design's rule 6, stated here once)
#
# Turnout is ballot papers counted, rejected ones included, over the
# electorate. In a multi-member ward each voter has as many votes as there are
# seats, so a vote share is a candidate's share of all votes cast in the
# ballot: a share of votes, not of voters. Every figure of the API, the
# exports and the console is derived with these two functions
# (``results.standings`` stores them on write, ``results.figures`` reads them).
# --------------------------------------------------------------------------


def turnout(ballot_papers_counted: int | None, electorate: int | None) -> float | None:
    """Turnout (rule 6, above), 0..1; ``None`` without an electorate or a count."""
    if not electorate or ballot_papers_counted is None:
        return None
    return ballot_papers_counted / electorate


def vote_shares(votes: Mapping[Hashable, int | None]) -> dict[Hashable, float | None]:
    """Each candidate's share of all votes cast in the ballot (rule 6, above), 0..1."""
    total = sum(v for v in votes.values() if v is not None)
    return {k: (None if v is None or total == 0 else v / total) for k, v in votes.items()}
