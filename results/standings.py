"""Derived figures of elections and ballots, computed once, here.

These functions read model instances (with their related rows prefetched by
the querysets in ``results.querysets``) and hand plain values to
``results.rules``. The GraphQL layer, the admin and the services all use them,
so a figure is derived one way only.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import rules
from .models import Ballot, Election, Party


def counting_party(party: Party) -> Party:
    """The party a candidacy's seat counts for: the lead party of a joint description."""
    return party.lead_party if party.lead_party_id else party


def ballot_winner_parties(ballot: Ballot) -> list[Party]:
    """Counting parties of a published ballot's winners, strongest first."""
    if not ballot.is_published:
        return []
    winners = [c for c in ballot.candidacies.all() if c.elected]
    winners.sort(key=lambda c: (-(c.votes or 0), not c.elected_by_lot, c.person_name))
    return [counting_party(c.party) for c in winners]


def ballot_previous_parties(ballot: Ballot) -> list[Party] | None:
    """Parties of the ballot's previous winners, one per seat; ``None`` when unknown."""
    rows = list(ballot.previous_winners.all())
    if not rows:
        return None
    return [counting_party(r.party) for r in rows for _ in range(r.seats)]


@dataclass(frozen=True)
class BallotChange:
    """One seat's change, with the parties resolved to rows."""

    party: Party
    kind: rules.SeatChangeKind
    previous: Party | None
    headline: str


def ballot_changes(ballot: Ballot) -> list[BallotChange]:
    """Seat changes a published ballot made against its previous winners."""
    winners = ballot_winner_parties(ballot)
    previous = ballot_previous_parties(ballot)
    if not winners or previous is None:
        return []
    by_id = {p.ec_id: p for p in winners + previous}
    changes = rules.seat_changes([p.ec_id for p in winners], [p.ec_id for p in previous])
    result = []
    for change in changes:
        party = by_id[change.party]
        prev = by_id.get(change.previous) if change.previous else None
        result.append(
            BallotChange(
                party=party,
                kind=change.kind,
                previous=prev,
                headline=rules.seat_change_headline(
                    ballot.label, party.short_name, change.kind, prev.short_name if prev else None
                ),
            )
        )
    return result


@dataclass(frozen=True)
class ElectionStanding:
    """An election's composition and control call, with parties resolved to rows."""

    composition: rules.Composition
    parties: dict[str, Party]
    ballots_total: int
    ballots_declared: int
    control_party: Party | None
    control_before: Party | None
    headline: str | None

    def party_rows(self) -> list[tuple[Party, rules.PartySeats]]:
        return [(self.parties[row.party], row) for row in self.composition.parties]


def election_standing(election: Election) -> ElectionStanding | None:
    """Compose a council election from its prefetched rows; ``None`` for a mayoralty.

    Expects ``composition_before`` (with party and lead party), ``ballots``
    (with candidacies and previous winners, each with party and lead party)
    and ``control_before`` to be loaded; see ``ElectionQuerySet.with_results``.
    """
    if election.is_mayoral:
        return None
    parties: dict[str, Party] = {}

    def key(party: Party) -> str:
        party = counting_party(party)
        parties[party.ec_id] = party
        return party.ec_id

    before: dict[str, tuple[int, int]] = {}
    for row in election.composition_before.all():
        held, not_up = before.get(key(row.party), (0, 0))
        before[key(row.party)] = (held + row.seats_held, not_up + row.seats_not_up)

    ballots = list(election.ballots.all())
    declared, previous = [], []
    for ballot in ballots:
        if not ballot.is_published:
            continue
        declared.append([key(p) for p in ballot_winner_parties(ballot)])
        prev = ballot_previous_parties(ballot)
        previous.append(None if prev is None else [key(p) for p in prev])

    non_groups = {k for k, p in parties.items() if p.is_independent}
    # Until the composition is imported the council's size is unknown: work
    # from the ballots (control is then never called; see rules.compose).
    seats_total = election.seats_total or max(
        1, sum(b.winner_count for b in ballots) + sum(n for _, n in before.values())
    )
    control_before = election.control_before
    if control_before is not None:
        key(control_before)
    composition = rules.compose(
        seats_total=seats_total,
        before=before,
        declared_winners=declared,
        previous_winners=previous,
        control_before=control_before.ec_id if control_before else None,
        non_groups=non_groups,
        size_known=election.seats_total is not None,
    )
    call = composition.control
    control_party = parties[call.party] if call.party else None
    headline = None
    if call.called:
        headline = rules.control_headline(
            call.outcome,
            election.council.name,
            control_party.short_name if control_party else None,
            control_before.short_name if control_before else None,
        )
    return ElectionStanding(
        composition=composition,
        parties=parties,
        ballots_total=len(ballots),
        ballots_declared=sum(1 for b in ballots if b.is_published),
        control_party=control_party,
        control_before=control_before,
        headline=headline,
    )


def control_signature(standing: ElectionStanding | None) -> tuple | None:
    """What a control call announces: whether called and for whom. Changes emit an event."""
    if standing is None:
        return None
    call = standing.composition.control
    return (call.called, call.party)
