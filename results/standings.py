"""Derived figures of elections and ballots, computed once, here, and stored.

These functions read model instances (with their related rows prefetched by
the querysets in ``results.querysets``) and hand plain values to
``results.rules``, so a figure is derived one way only. The services call
``store_standing`` / ``refresh_standings`` inside the transaction of every
write that changes an election's figures (compute on write); the readers
(the API, the exports, the admin) read the stored ``ElectionStanding``
(``stored_standing`` gives it the shape ``election_standing`` returns). The
console's preview still derives standings from rows, as it must: it shows
figures that are not stored yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from . import rules
from .models import Ballot, Election, Party, PreviousWinner
from .models import ElectionStanding as ElectionStandingRow


def counting_party(party: Party) -> Party:
    """The party a candidacy's seat counts for: the lead party of a joint description."""
    return party.lead_party if party.lead_party_id else party


def ballot_winner_parties(ballot: Ballot) -> list[Party]:
    """Counting parties of a published ballot's winners, strongest first."""
    if not ballot.is_published:
        return []
    winners = [c for c in ballot.candidacies.all() if c.elected]
    winners.sort(key=lambda c: rules.result_order(c.votes, c.elected_by_lot, c.person_name))
    return [counting_party(c.party) for c in winners]


def ballot_previous_parties(ballot: Ballot) -> list[Party] | None:
    """Parties of the ballot's previous winners, one per seat; ``None`` when unknown."""
    return previous_parties(ballot.previous_winners.all())


def previous_parties(rows: Iterable[PreviousWinner]) -> list[Party] | None:
    """Counting parties of a ballot's previous winners (rows with their party and lead party), one per
    seat; ``None`` when there are none (unknown)."""
    rows = list(rows)
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
    return seat_changes_of(ballot.label, ballot_winner_parties(ballot), ballot_previous_parties(ballot))


def seat_changes_of(label: str, winners: list[Party], previous: list[Party] | None) -> list[BallotChange]:
    """Seat changes of the ballot called ``label``: its winners' counting parties (strongest first)
    against its previous winners' (one per seat; ``None`` when unknown)."""
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
                    label, party.short_name, change.kind, prev.short_name if prev else None
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


# ---------------------------------------------------------------- compute on write


def standing_figures(election: Election, standing: ElectionStanding | None | bool = False) -> dict:
    """Every derived figure of an election, as stored in ``ElectionStanding`` (plain values).

    Expects the rows ``with_results`` loads. The one place the reads' figures
    are computed: the services store them on write, the migration and
    ``refresh_standings`` fill them for existing data.
    """
    if standing is False:
        standing = election_standing(election)
    ballots = list(election.ballots.all())
    published = [b for b in ballots if b.is_published]
    figures = {
        "ballots_total": len(ballots),
        "ballots_declared": len(published),
        "last_declared_at": max((b.declared_at for b in published), default=None),
        "turnout": _turnout(published),
        "vote_share": _vote_share(published),
        "ballot_figures": {str(ballot.pk): _ballot_figures(ballot) for ballot in published},
    }
    if standing is None:  # a mayoralty: no composition, no control call
        return {**figures, **_mayoral_figures(ballots, published)}
    return {**figures, **_council_figures(standing)}


def _turnout(published: list[Ballot]) -> float | None:
    """Turnout over the published ballots that give both their count and their electorate."""
    rows = [
        (b.ballot_papers_counted, b.electorate)
        for b in published
        if b.ballot_papers_counted is not None and b.electorate
    ]
    if not rows:
        return None
    return rules.turnout(sum(c for c, _ in rows), sum(e for _, e in rows))


def _vote_share(published: list[Ballot]) -> list[dict]:
    """Votes and share by counting party over the published ballots, most votes first."""
    totals: dict[str, int] = {}
    for ballot in published:
        for c in ballot.candidacies.all():
            if c.votes is not None:
                key = counting_party(c.party).ec_id
                totals[key] = totals.get(key, 0) + c.votes
    shares = rules.vote_shares(totals)
    return [
        {"party": k, "votes": v, "share": shares[k]}
        for k, v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _ballot_figures(ballot: Ballot) -> dict:
    """A published ballot's stored figures: vote shares by candidacy id, seat changes."""
    candidacies = list(ballot.candidacies.all())
    shares = rules.vote_shares({c.pk: c.votes for c in candidacies if c.votes is not None})
    return {
        "shares": {str(pk): share for pk, share in shares.items()},
        "changes": [
            [
                change.party.ec_id,
                change.kind.value,
                change.previous.ec_id if change.previous else None,
                change.headline,
            ]
            for change in ballot_changes(ballot)
        ],
    }


def _mayoral_figures(ballots: list[Ballot], published: list[Ballot]) -> dict:
    seats_up = sum(b.winner_count for b in ballots)
    seats_declared = sum(b.winner_count for b in published)
    return {
        "seats_total": seats_up,
        "seats_up": seats_up,
        "majority": None,
        "seats_declared": seats_declared,
        "seats_to_declare": seats_up - seats_declared,
        "control_called": False,
        "control_party": "",
        "control_party_before": "",
        "control_outcome": "",
        "headline": "",
        "composition": None,
    }


def _council_figures(standing: ElectionStanding) -> dict:
    composition = standing.composition
    call = composition.control
    return {
        "seats_total": composition.seats_total,
        "seats_up": composition.seats_up,
        "majority": composition.majority,
        "seats_declared": composition.seats_declared,
        "seats_to_declare": composition.seats_to_declare,
        "control_called": call.called,
        "control_party": call.party or "",
        "control_party_before": call.party_before or "",
        "control_outcome": call.outcome.value if call.outcome else "",
        "headline": standing.headline or "",
        "composition": [
            {
                "party": row.party,
                "seats": row.seats,
                "seats_before": row.seats_before,
                "change": row.change,
                "seats_won": row.seats_won,
                "seats_not_up": row.seats_not_up,
                "seats_needed": row.seats_needed,
            }
            for row in composition.parties
        ],
    }


def computed_standing(election: Election) -> ElectionStandingRow:
    """An unsaved ``ElectionStanding`` computed from the election's loaded rows."""
    return ElectionStandingRow(election=election, **standing_figures(election))


def store_standing(election: Election) -> tuple[ElectionStandingRow, ElectionStanding | None]:
    """Compute the election's figures from its loaded rows and store them (inside the writer's
    transaction). Returns the stored row and the rules' standing it came from."""
    standing = election_standing(election)
    row = ElectionStandingRow(election=election, **standing_figures(election, standing))
    row.save()
    election._state.fields_cache["standing"] = row
    return row, standing


def refresh_standings(election_pks) -> list[ElectionStandingRow]:
    """Recompute and store the standings of these elections (one load for them all)."""
    pks = sorted(set(election_pks))
    if not pks:
        return []
    return [store_standing(e)[0] for e in Election.objects.with_results().filter(pk__in=pks).order_by("pk")]


def standing_row(election: Election) -> ElectionStandingRow:
    """The election's stored standing row (compute on write: the services keep it current).

    Loaders select it with the election (``select_related("standing")``). An
    election no service has written yet (rows made directly, e.g. by a
    fixture) has none: its figures are then derived from its rows, once per
    loaded instance (not stored).
    """
    cache = election._state.fields_cache
    row = cache.get("standing")
    if row is None:
        if "standing" not in cache:
            row = ElectionStandingRow.objects.filter(election_id=election.pk).first()
        if row is None:
            row = computed_standing(Election.objects.with_results().get(pk=election.pk))
        cache["standing"] = row
    return row


def stored_signature(election_pk: int) -> tuple | None | bool:
    """The stored control call's signature (see ``control_signature``); ``False`` when none is stored."""
    row = (
        ElectionStandingRow.objects.filter(election_id=election_pk)
        .values_list("composition", "control_called", "control_party")
        .first()
    )
    if row is None:
        return False
    composition, called, party = row
    if composition is None:
        return None
    return (called, party or None)


def stored_standing(election: Election) -> ElectionStanding | None:
    """The election's standing as stored (no rule runs): the shape ``election_standing`` returns.

    Needs ``election.standing`` (select it with the election) and the shared
    parties (``results.parties``); ``None`` for a mayoralty. For the readers
    that predate the stored figures (the exports, the admin's overview).
    """
    from . import parties as shared

    row = election._state.fields_cache.get("standing")
    if row is None:
        row = ElectionStandingRow.objects.filter(election_id=election.pk).first()
        if row is None:
            row = computed_standing(Election.objects.with_results().get(pk=election.pk))
        election._state.fields_cache["standing"] = row
    if row.composition is None:
        return None
    parties = {r["party"]: shared.shared_by_ec_id(r["party"]) for r in row.composition}
    for key in (row.control_party, row.control_party_before):
        if key:
            parties[key] = shared.shared_by_ec_id(key)
    call = rules.ControlCall(
        called=row.control_called,
        party=row.control_party or None,
        party_before=row.control_party_before or None,
        outcome=rules.ControlOutcome(row.control_outcome) if row.control_outcome else None,
        majority=row.majority,
        seats_declared=row.seats_declared,
        seats_to_declare=row.seats_to_declare,
    )
    composition = rules.Composition(
        seats_total=row.seats_total,
        seats_up=row.seats_up,
        seats_not_up=row.seats_total - row.seats_up,
        seats_declared=row.seats_declared,
        seats_to_declare=row.seats_to_declare,
        majority=row.majority,
        parties=tuple(rules.PartySeats(**r) for r in row.composition),
        control=call,
    )
    return ElectionStanding(
        composition=composition,
        parties=parties,
        ballots_total=row.ballots_total,
        ballots_declared=row.ballots_declared,
        control_party=parties[row.control_party] if row.control_party else None,
        control_before=shared.shared(election.control_before_id) if election.control_before_id else None,
        headline=row.headline or None,
    )


def stored_changes(ballot: Ballot) -> list[BallotChange]:
    """A published ballot's seat changes as stored with its election's standing (no rule runs)."""
    if not ballot.is_published:
        return []
    stored_standing(ballot.election)  # loads the row if it is not yet
    figures = ballot.election._state.fields_cache["standing"].ballot_figures.get(str(ballot.pk), {})
    return decode_changes(figures.get("changes", []))


def decode_changes(stored: list) -> list[BallotChange]:
    """Seat changes as ``standing_figures`` stores them (``[party, kind, previous, headline]``), with
    the parties resolved to the process's shared rows."""
    from . import parties as shared

    return [
        BallotChange(
            party=shared.shared_by_ec_id(party),
            kind=rules.SeatChangeKind(kind),
            previous=shared.shared_by_ec_id(previous) if previous else None,
            headline=headline,
        )
        for party, kind, previous, headline in stored
    ]
