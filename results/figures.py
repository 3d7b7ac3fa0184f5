"""The derived figures the readers show, as plain frozen dataclasses: computed here, once.

The API (``schema``) and the console only read these: a resolver or a page
maps their fields and does no arithmetic on votes or seats. Figures that are
stored on write (``ElectionStanding``, see ``results.standings``) are read
from the stored row, never re-derived: the national tally of a polling day
is a sum over the day's stored standings (a row per election, no ballot is
read). Turnout and vote shares follow rule 6 as ``results.rules`` states it
(``rules.turnout``, ``rules.vote_shares``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from . import rules
from .models import Ballot, Candidacy, Election, Party
from .parties import shared_by_ec_id
from .standings import (
    BallotChange,
    ElectionStanding,
    counting_party,
    decode_changes,
    seat_changes_of,
    standing_row,
)

# ---------------------------------------------------------------- one ballot


def ballot_turnout(ballot: Ballot) -> float | None:
    """A published ballot's turnout (``rules.turnout``); ``None`` until it is published."""
    if not ballot.is_published:
        return None
    return rules.turnout(ballot.ballot_papers_counted, ballot.electorate)


def _stored_ballot_figures(ballot: Ballot) -> dict:
    return standing_row(ballot.election).ballot_figures.get(str(ballot.pk), _NO_FIGURES)


_NO_FIGURES: dict = {"shares": {}, "changes": []}


def vote_share(candidacy: Candidacy) -> float | None:
    """A published candidacy's share of all votes cast in its ballot (``rules.vote_shares``), as stored
    with its election's standing; ``None`` until published, and for an uncontested ballot."""
    ballot = candidacy.ballot
    if not ballot.is_published or candidacy.votes is None:
        return None
    return _stored_ballot_figures(ballot)["shares"].get(str(candidacy.pk))


def seat_changes(ballot: Ballot) -> list[BallotChange]:
    """A published ballot's seat changes, as stored with its election's standing; empty until published."""
    if not ballot.is_published:
        return []
    return decode_changes(_stored_ballot_figures(ballot)["changes"])


# ---------------------------------------------------------------- a published version of a ballot


@dataclass(frozen=True)
class VersionFigures:
    """The figures of one published version of a ballot (an event's snapshot)."""

    turnout: float | None
    shares: tuple[float | None, ...]  # parallel to the snapshot's candidacies; empty when any has no votes

    def share(self, index: int) -> float | None:
        """The share of the snapshot's ``index``-th candidacy; ``None`` when there are no shares."""
        return self.shares[index] if self.shares else None


NO_VERSION_FIGURES = VersionFigures(turnout=None, shares=())


def version_figures(snapshot: dict, candidacies: Sequence[dict]) -> VersionFigures:
    """Turnout and vote shares of a ballot snapshot (``services.ballot_snapshot``) and its candidacies."""
    votes = {i: c.get("votes") for i, c in enumerate(candidacies)}
    shares = rules.vote_shares(votes) if votes and all(v is not None for v in votes.values()) else {}
    return VersionFigures(
        turnout=rules.turnout(snapshot.get("ballot_papers_counted"), snapshot.get("electorate")),
        shares=tuple(shares.get(i) for i in range(len(candidacies))) if shares else (),
    )


def version_seat_changes(
    label: str, candidacies: Sequence[dict], parties: Mapping[str, Party], previous: list[Party] | None
) -> list[BallotChange]:
    """The seat changes one published version of the ballot called ``label`` made: its snapshot's
    ``candidacies`` (as ``services.ballot_snapshot`` writes them), the ``parties`` they name by id
    (with their lead parties), against its ``previous`` winners' parties
    (``standings.previous_parties``). Winners whose party is not in ``parties`` are left out."""
    winners = [c for c in candidacies if c.get("elected") and c.get("party_id") in parties]
    winners.sort(key=lambda c: rules.result_order(c.get("votes"), c.get("elected_by_lot"), c["person_name"]))
    return seat_changes_of(label, [counting_party(parties[c["party_id"]]) for c in winners], previous)


# ---------------------------------------------------------------- a polling day, nationally


@dataclass(frozen=True)
class PartyTally:
    """One party's tally across the council elections of a day (joint descriptions count for their lead)."""

    party: Party
    councils: int  # councils it controls, among those called
    councils_change: int  # councils gained minus councils lost, among those called
    seats: int  # seats won at these elections so far (seats not up excluded)
    seats_change: int  # net change in seats over declared ballots


@dataclass(frozen=True)
class NationalTally:
    """The tallies of a polling day's elections, from their stored standings."""

    councils_total: int  # council elections (mayoralties are not councils)
    councils_called: int
    parties: tuple[PartyTally, ...]  # by councils controlled, then seats won, then name
    noc_councils: int  # councils called as no overall control
    noc_change: int  # against the eve of the poll, among those called
    ballots_declared: int  # council and mayoral
    ballots_total: int  # council and mayoral


# Outcomes in which a council changes hands: a gain (from a party or from NOC), a loss to NOC.
_CHANGED_HANDS = (rules.ControlOutcome.GAIN.value, rules.ControlOutcome.LOSS_TO_NOC.value)


def national_tally(elections: Iterable[Election]) -> NationalTally:
    """Tally a day's elections (council and mayoral) from each one's stored standing (``standing_row``)."""
    elections = list(elections)
    councils_held: dict[str, int] = defaultdict(int)
    councils_change: dict[str, int] = defaultdict(int)
    seats: dict[str, int] = defaultdict(int)
    seats_change: dict[str, int] = defaultdict(int)
    parties: dict[str, Party] = {}
    noc = noc_change = called = 0
    council_elections = [e for e in elections if not e.is_mayoral]
    for election in council_elections:
        standing = standing_row(election)
        for row in standing.composition or ():
            key = row["party"]
            if key not in parties:
                parties[key] = shared_by_ec_id(key)
            seats[key] += row["seats_won"]
            seats_change[key] += row["change"]
        if not standing.control_called:
            continue
        called += 1
        after, before = standing.control_party or None, standing.control_party_before or None
        if after is None:
            noc += 1
        else:
            councils_held[after] += 1
        if standing.control_outcome in _CHANGED_HANDS:
            if after is None:
                noc_change += 1
            else:
                councils_change[after] += 1
            if before is None:
                noc_change -= 1
            else:
                councils_change[before] -= 1
                if before not in parties:
                    parties[before] = shared_by_ec_id(before)
    rows = [
        PartyTally(
            party=parties[k],
            councils=councils_held[k],
            councils_change=councils_change[k],
            seats=seats[k],
            seats_change=seats_change[k],
        )
        for k in parties
    ]
    rows.sort(key=lambda r: (-r.councils, -r.seats, r.party.name))
    standings = [standing_row(e) for e in elections]
    return NationalTally(
        councils_total=len(council_elections),
        councils_called=called,
        parties=tuple(rows),
        noc_councils=noc,
        noc_change=noc_change,
        ballots_declared=sum(s.ballots_declared for s in standings),
        ballots_total=sum(s.ballots_total for s in standings),
    )


# ---------------------------------------------------------------- the night's progress (the console's overview)


@dataclass(frozen=True)
class ElectionProgress:
    """How far one election's count has gone, from its loaded ballots (and their candidacies)."""

    ballots_total: int
    ballots_declared: int  # declared or uncontested
    in_recount: tuple[Ballot, ...]
    last_declared_at: dt.datetime | None
    mayor: tuple[Candidacy, ...]  # a declared mayoralty's winner

    @property
    def to_declare(self) -> int:
        return self.ballots_total - self.ballots_declared

    @property
    def complete(self) -> bool:
        return self.ballots_total > 0 and self.to_declare == 0


def election_progress(election: Election, ballots: Sequence[Ballot] | None = None) -> ElectionProgress:
    """The election's progress; ``ballots``: its ballots as loaded (``election.ballots.all()`` otherwise)."""
    ballots = list(election.ballots.all()) if ballots is None else ballots
    published = [b for b in ballots if b.is_published]
    mayor: tuple[Candidacy, ...] = ()
    if election.is_mayoral and published:
        mayor = tuple(c for b in published for c in b.candidacies.all() if c.elected)
    return ElectionProgress(
        ballots_total=len(ballots),
        ballots_declared=len(published),
        in_recount=tuple(b for b in ballots if b.status == Ballot.Status.RECOUNT),
        last_declared_at=max((b.declared_at for b in published if b.declared_at), default=None),
        mayor=mayor,
    )


@dataclass(frozen=True)
class NightProgress:
    """The night's totals over every election shown."""

    ballots_declared: int
    ballots_total: int
    councils_called: int
    councils_total: int  # council elections (mayoralties have no control call)
    in_recount: int  # ballots in recount


def night_progress(rows: Iterable[tuple[ElectionProgress, ElectionStanding | None]]) -> NightProgress:
    """Totals over ``(progress, standing)`` of each election (``standing`` ``None`` for a mayoralty)."""
    rows = list(rows)
    councils = [standing for _, standing in rows if standing is not None]
    return NightProgress(
        ballots_declared=sum(p.ballots_declared for p, _ in rows),
        ballots_total=sum(p.ballots_total for p, _ in rows),
        councils_called=sum(1 for s in councils if s.composition.control.called),
        councils_total=len(councils),
        in_recount=sum(len(p.in_recount) for p, _ in rows),
    )


# ---------------------------------------------------------------- a ballot's preview (the console's ballot entry)


@dataclass(frozen=True)
class CompositionMove:
    """One party's seats as a previewed result would move them."""

    party: Party
    before_poll: int  # seats held on the eve of the poll
    now: int  # seats now, before this result
    after: int  # seats once this result is published
    delta: int  # what this result moves: after - now
    change: int  # net change over declared ballots once it is published


def composition_moves(before: ElectionStanding, after: ElectionStanding) -> tuple[CompositionMove, ...]:
    """How a result moves a council's composition: each party with seats before the poll, now or after."""
    so_far = {party.ec_id: row.seats for party, row in before.party_rows()}
    moves = []
    for party, row in after.party_rows():
        now = so_far.get(party.ec_id, 0)
        if row.seats or now or row.seats_before:
            moves.append(
                CompositionMove(
                    party=party,
                    before_poll=row.seats_before,
                    now=now,
                    after=row.seats,
                    delta=row.seats - now,
                    change=row.change,
                )
            )
    return tuple(moves)
