"""Before the night: composition and previous winners."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from .. import rules
from ..errors import ErrorCode, Refusals, refusal, refuse
from ..models import Ballot, CompositionBefore, Election, Event, Party, PreviousWinner
from ..standings import counting_party
from .ballots import _control_change_event, _signature, ballot_snapshot, lock_ballot
from .events import new_event, record_event, record_events
from .reference import election_snapshot


def set_composition(
    election: Election | int,
    *,
    seats_total: int,
    rows: Sequence[tuple[Party, int, int]],
    seats_total_before: int | None = None,
    cycle: str | None = None,
    user=None,
) -> Election:
    """Replace an election's composition before the poll: ``(party, seats held, seats not up)``.

    Control on the eve of the poll is derived: the party holding a majority
    of the council's size before the poll (``seats_total_before``, or the sum
    of seats held). If the change alters the control call, a
    ``control_called`` event is recorded.
    """
    with transaction.atomic():
        pk = election.pk if isinstance(election, Election) else election
        election = (
            Election.objects.select_for_update(of=("self",), no_key=True)
            .select_related("council")
            .order_by()
            .get(pk=pk)
        )
        errors = Refusals()
        if election.is_mayoral:
            raise refuse(
                "election", ErrorCode.MAYORALTY, f"{election} is a mayoralty: it has no council composition."
            )
        if not isinstance(seats_total, int) or seats_total < 1:
            raise refuse("seats_total", ErrorCode.NO_SEATS, "A council has at least one seat.")
        checked = [CompositionRow(party.ec_id, party.name, held, not_up) for party, held, not_up in rows]
        for refused in composition_refusals(
            checked, seats_total=seats_total, seats_total_before=seats_total_before, cycle=cycle
        ):
            errors.include(refused.field, refused.error)
        errors.check()
        held_by, parties = _held_by(rows)
        signature_before = _signature(election.pk)
        size_before = seats_total_before or sum(held for _, held, _ in rows)
        election.seats_total = seats_total
        election.seats_total_before = seats_total_before
        election.control_before = _control_before(held_by, parties, size_before)
        if cycle is not None:
            election.cycle = cycle
        _write_composition(election, rows, signature_before, user)
        return election


@dataclass(frozen=True)
class CompositionRow:
    """One party's row of a composition before the poll, as ``composition_refusals`` checks it."""

    party: str  # its EC id
    name: str
    held: int  # seats held on the eve of the poll
    not_up: int  # of which not up this time


@dataclass(frozen=True)
class CompositionRefusal:
    """One refusal of a composition: the index of the row it concerns (``None``: the totals), its field."""

    row: int | None
    field: str
    error: ValidationError


def composition_refusals(
    rows: Sequence[CompositionRow], *, seats_total: int, seats_total_before: int | None, cycle: str | None
) -> list[CompositionRefusal]:
    """What is wrong with a composition before the poll (by ``set_composition`` and the importer):
    each row (a party once, seats not negative, no more not up than held), then the totals against
    the council's seats, and the cycle."""
    refusals = []

    def refuse_(row: int | None, field: str, code: ErrorCode, message: str, **params) -> None:
        refusals.append(CompositionRefusal(row, field, refusal(code, message, **params)))

    seen = set()
    for i, row in enumerate(rows):
        if row.party in seen:
            refuse_(i, "party", ErrorCode.PARTY_TWICE, f"{row.name} is listed twice.", party=row.party)
        seen.add(row.party)
        if row.held < 0 or row.not_up < 0:
            refuse_(
                i,
                "seats_before",
                ErrorCode.SEATS_NEGATIVE,
                f"{row.name}: seats cannot be negative.",
                party=row.party,
            )
        elif row.not_up > row.held:
            refuse_(
                i,
                "seats_not_up",
                ErrorCode.NOT_UP_ABOVE_HELD,
                f"{row.name}: {row.not_up} seats not up is more than the {row.held} it held.",
                party=row.party,
                not_up=row.not_up,
                held=row.held,
            )
    held_total = sum(r.held for r in rows)
    not_up_total = sum(r.not_up for r in rows)
    if not_up_total > seats_total:
        refuse_(
            None,
            "seats_not_up",
            ErrorCode.NOT_UP_ABOVE_SEATS,
            f"{not_up_total} seats not up is more than the {seats_total} seats on the council.",
            not_up=not_up_total,
            seats_total=seats_total,
        )
    if seats_total_before is not None and held_total > seats_total_before:
        refuse_(
            None,
            "seats_total_before",
            ErrorCode.HELD_ABOVE_SEATS,
            f"Parties held {held_total} seats, more than the council's {seats_total_before}.",
            held=held_total,
            seats_total_before=seats_total_before,
        )
    if cycle is not None and cycle not in Election.Cycle.values:
        refuse_(
            None,
            "cycle",
            ErrorCode.UNKNOWN_CYCLE,
            f"Unknown cycle {cycle!r}: use one of {', '.join(Election.Cycle.values)}.",
            cycle=cycle,
        )
    return refusals


def _held_by(rows: Sequence[tuple[Party, int, int]]) -> tuple[dict[str, int], dict[str, Party]]:
    """The seats held before the poll by counting party (a joint description counts for its lead
    party), and those parties."""
    held_by: dict[str, int] = {}
    parties: dict[str, Party] = {}
    for party, held, _ in rows:
        lead = counting_party(party)
        parties[lead.ec_id] = lead
        held_by[lead.ec_id] = held_by.get(lead.ec_id, 0) + held
    return held_by, parties


def previous_winners_refusal(seats: int, winner_count: int) -> ValidationError | None:
    """More previous winners than the ballot's seats, refused (by the services and the importer)."""
    if seats <= winner_count:
        return None
    return refusal(
        ErrorCode.PREVIOUS_ABOVE_SEATS,
        f"{seats} previous winners for a ballot of {winner_count} seats.",
        seats=seats,
        winner_count=winner_count,
    )


def _control_before(
    held_by: Mapping[str, int], parties: Mapping[str, Party], size_before: int
) -> Party | None:
    """Control on the eve of the poll: the party holding a majority of the council's size before it
    (``held_by``: seats held by counting party; Independents never control)."""
    if not size_before:
        return None
    independents = {k for k, p in parties.items() if p.is_independent}
    control_key = rules.controlling_party(held_by, size_before, independents)
    return parties[control_key] if control_key else None


def _write_composition(
    election: Election, rows: Sequence[tuple[Party, int, int]], signature_before, user
) -> None:
    """Save the election and replace its composition before the poll, with its event (and the
    control call's, if it changed)."""
    election.version += 1
    election.save()
    election.composition_before.all().delete()
    composition = CompositionBefore.objects.bulk_create(
        CompositionBefore(election=election, party=party, seats_held=held, seats_not_up=not_up)
        for party, held, not_up in rows
    )
    changed = new_event(
        Event.Kind.ELECTION_CHANGED,
        user=user,
        payload={"change": "composition", **election_snapshot(election, composition)},
        election=election,
        council=election.council,
    )
    control = _control_change_event(election.pk, signature_before, user)
    record_events([changed, *([control] if control else [])], fresh=[election.pk])


def set_previous_winners(ballot: Ballot | int, rows: Sequence[tuple[Party, int]], *, user=None) -> Ballot:
    """Replace the parties of a ballot's previous winners: ``(party, seats)``.

    On a declared ballot this changes its published seat changes, so it
    records a ``ballot_corrected`` event.
    """
    with transaction.atomic():
        ballot = lock_ballot(ballot)
        seats = sum(n for _, n in rows)
        if any(n < 1 for _, n in rows):
            raise refuse(
                "seats", ErrorCode.PREVIOUS_SEATS_BELOW_ONE, "Each party's previous seats must be at least 1."
            )
        if len({p.pk for p, _ in rows}) != len(rows):
            raise refuse("party", ErrorCode.PARTY_TWICE, "A party is listed twice for the same ballot.")
        if refused := previous_winners_refusal(seats, ballot.winner_count):
            raise ValidationError({"seats": [refused]})
        # Previous winners decide seat changes, never control: no control call to re-derive.
        ballot.previous_winners.all().delete()
        PreviousWinner.objects.bulk_create(
            PreviousWinner(ballot=ballot, party=party, seats=n) for party, n in rows
        )
        ballot.version += 1
        ballot.save(update_fields=["version"])
        previous = [{"party_id": p.ec_id, "seats": n} for p, n in rows]
        if not ballot.is_published:
            record_event(
                Event.Kind.PREVIOUS_WINNERS,
                user=user,
                payload={
                    "ballot_paper_id": ballot.ballot_paper_id,
                    "election_id": ballot.election.election_id,
                    "status": ballot.status,
                    "version": ballot.version,
                    "previous_winners": previous,
                    "party_names": {p.ec_id: p.short_name for p, _ in rows},
                },
                ballot=ballot,
                election=ballot.election,
                council=ballot.election.council,
            )
        else:
            # Its published seat changes have changed.
            record_event(
                Event.Kind.BALLOT_CORRECTED,
                user=user,
                payload={
                    **ballot_snapshot(ballot, list(ballot.candidacies.select_related("party"))),
                    "reason": "previous winners changed",
                    "previous_winners": previous,
                },
                ballot=ballot,
                election=ballot.election,
                council=ballot.election.council,
            )
        return ballot
