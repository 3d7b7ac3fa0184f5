"""Reference data: parties, councils, wards; elections and ballots created."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import transaction

from .. import parties as shared_parties
from ..errors import ErrorCode, Refusals, refuse
from ..models import Ballot, Candidacy, CompositionBefore, Council, Election, Event, Party, Ward
from .ballots import lock_ballot
from .events import check_version, record_event
from .nominations import _declared_nominations, _nominations_event

PARTY_FIELDS = ("name", "short_name", "abbreviation", "colour", "lead_party", "is_independent")
COUNCIL_FIELDS = ("name", "official_name", "official_identifier", "seats_total")
WARD_FIELDS = ("name", "seats")


def party_snapshot(party: Party) -> dict:
    """A party as the API shows it, as stored in its events."""
    return {
        "party_id": party.ec_id,
        "name": party.name,
        "short_name": party.short_name,
        "abbreviation": party.abbreviation,
        "colour": party.colour,
        "lead_party_id": party.lead_party.ec_id if party.lead_party_id else None,
        "is_independent": party.is_independent,
        "version": party.version,
    }


def council_snapshot(council: Council) -> dict:
    """A council as the API shows it, as stored in its events."""
    return {
        "council": council.slug,
        "name": council.name,
        "official_name": council.official_name,
        "official_identifier": council.official_identifier,
        "seats_total": council.seats_total,
        "version": council.version,
    }


def ward_snapshot(ward: Ward) -> dict:
    """A ward as the API shows it, as stored in its events."""
    return {
        "council": ward.council.slug,
        "ward": ward.slug,
        "name": ward.name,
        "seats": ward.seats,
        "version": ward.version,
    }


def _plain(value):
    return value.ec_id if isinstance(value, Party) else value


def _save_reference(
    model, obj, *, create: dict, values: Mapping, fields, user, expected_version, snapshot, what, targets_of
):
    """Create (``obj`` None) or change a reference row under its lock, with a ``reference`` event."""
    unknown = set(values) - set(fields)
    if unknown:
        raise refuse(
            "__all__",
            ErrorCode.UNKNOWN_FIELDS,
            f"Unknown {what} fields: {sorted(unknown)}",
            fields=sorted(unknown),
        )
    with transaction.atomic():
        if obj is None or obj.pk is None:
            obj = model(**create)
            for name, value in values.items():
                setattr(obj, name, value)
            # Field values only: the callers (an admin form, a checked import) have looked the
            # related rows up and checked the natural id is new; the database refuses a duplicate.
            obj.full_clean(
                exclude=[f.name for f in model._meta.concrete_fields if f.is_relation],
                validate_unique=False,
                validate_constraints=False,
            )
            obj.version = 1
            obj.save()
            change, before, after = "created", {}, {}
        else:
            obj = model.objects.select_for_update(of=("self",), no_key=True).order_by().get(pk=obj.pk)
            check_version(obj, expected_version)
            before = {name: _plain(getattr(obj, name)) for name in values}
            for name, value in values.items():
                setattr(obj, name, value)
            obj.full_clean()
            after = {name: _plain(getattr(obj, name)) for name in values}
            changed = {k for k in after if after[k] != before[k]}
            if not changed:
                return obj  # nothing changed: no version, no event
            before = {k: before[k] for k in sorted(changed)}
            after = {k: after[k] for k in sorted(changed)}
            obj.version += 1
            obj.save()
            change = "changed"
        record_event(
            Event.Kind.REFERENCE_CHANGED,
            user=user,
            payload={
                "object": what,
                "change": change,
                **snapshot(obj),
                **({"before": before, "after": after} if change == "changed" else {}),
            },
            **targets_of(obj),
        )
        return obj


def save_party(
    party: Party | None,
    *,
    ec_id: str = "",
    values: Mapping[str, object],
    user=None,
    expected_version: int | None = None,
) -> Party:
    """Create a party (``party`` None, its ``ec_id`` given) or change its name, short name, colour...

    Party names and colours are in every headline and chart: each change
    records a ``reference`` event with the values before and after, and
    every process reloads its shared parties (``results.parties``) once it commits.
    """
    party = _save_reference(
        Party,
        party,
        create={"ec_id": ec_id.strip()},
        values=values,
        fields=PARTY_FIELDS,
        user=user,
        expected_version=expected_version,
        snapshot=party_snapshot,
        what="party",
        targets_of=lambda p: {},
    )
    transaction.on_commit(shared_parties.invalidate)
    return party


def save_council(
    council: Council | None,
    *,
    slug: str = "",
    values: Mapping[str, object],
    user=None,
    expected_version: int | None = None,
) -> Council:
    """Create a council (``council`` None, its ``slug`` given) or change its names or size.

    Records a ``reference`` event naming the council.
    """
    return _save_reference(
        Council,
        council,
        create={"slug": slug.strip()},
        values=values,
        fields=COUNCIL_FIELDS,
        user=user,
        expected_version=expected_version,
        snapshot=council_snapshot,
        what="council",
        targets_of=lambda c: {"council": c},
    )


def save_ward(
    ward: Ward | None,
    *,
    council: Council | None = None,
    slug: str = "",
    values: Mapping[str, object],
    user=None,
    expected_version: int | None = None,
) -> Ward:
    """Create a ward of ``council`` (``ward`` None, its ``slug`` given) or change its name or seats.

    Records a ``reference`` event naming the council.
    """
    return _save_reference(
        Ward,
        ward,
        create={"council": council, "slug": slug.strip()},
        values=values,
        fields=WARD_FIELDS,
        user=user,
        expected_version=expected_version,
        snapshot=ward_snapshot,
        what="ward",
        targets_of=lambda w: {"council": w.council},
    )


def create_election(
    election_id: str, *, kind: str, council: Council, poll_date: dt.date, user=None
) -> Election:
    """Create a council's (or a mayoralty's) election: an ``election`` event."""
    with transaction.atomic():
        election = Election(election_id=election_id, kind=kind, council=council, poll_date=poll_date)
        election.full_clean()
        election.version = 1
        election.save()
        record_event(
            Event.Kind.ELECTION_CHANGED,
            user=user,
            payload={"change": "created", **election_snapshot(election, [])},
            election=election,
            council=council,
        )
        return election


def election_snapshot(election: Election, composition: Sequence[CompositionBefore]) -> dict:
    """An election's settings and composition before the poll, as stored in its events."""
    return {
        "election_id": election.election_id,
        "council": election.council.slug,
        "kind": election.kind,
        "poll_date": election.poll_date.isoformat(),
        "cycle": election.cycle,
        "seats_total": election.seats_total,
        "seats_total_before": election.seats_total_before,
        "control_before_id": election.control_before.ec_id if election.control_before_id else None,
        "composition_before": [
            {"party_id": c.party.ec_id, "seats_held": c.seats_held, "seats_not_up": c.seats_not_up}
            for c in sorted(composition, key=lambda c: (-c.seats_held, c.party.ec_id))
        ],
        "version": election.version,
    }


@dataclass
class Nominee:
    """A candidate for ``create_ballot`` and ``import_nominations``."""

    person_name: str
    party: Party
    person_id: str = ""
    description: str = ""

    def candidacy(self, ballot: Ballot) -> Candidacy:
        """Its candidacy on ``ballot``, unsaved."""
        return Candidacy(
            ballot=ballot,
            person_name=self.person_name,
            person_id=self.person_id,
            party=self.party,
            description=self.description,
        )


def _nominee_errors(nominees: Sequence[Nominee]) -> Refusals:
    errors = Refusals()
    seen_ids, seen_names = set(), set()
    for n in nominees:
        if not n.person_name:
            errors.add("candidacy", ErrorCode.NOMINEE_UNNAMED, "A candidate has no name.")
        if n.person_id:
            if n.person_id in seen_ids:
                errors.add(
                    "candidacy",
                    ErrorCode.NOMINEE_TWICE,
                    f"Person {n.person_id} stands twice.",
                    person_id=n.person_id,
                )
            seen_ids.add(n.person_id)
        else:
            # Without a person id, a name is all that tells two candidates apart.
            if n.person_name in seen_names:
                errors.add(
                    "candidacy",
                    ErrorCode.NOMINEE_TWICE,
                    f"{n.person_name} stands twice and nothing (no person id) tells them apart.",
                    name=n.person_name,
                )
            seen_names.add(n.person_name)
    return errors


def create_ballot(
    ballot_paper_id: str,
    *,
    election: Election,
    ward: Ward | None,
    seats: int,
    nominees: Sequence[Nominee] = (),
    user=None,
) -> Ballot:
    """Create a ballot with its candidates: a ``nominations`` event (change ``ballot_created``)."""
    with transaction.atomic():
        _nominee_errors(nominees).check()
        if not isinstance(seats, int) or seats < 1:
            raise refuse("seats", ErrorCode.NO_SEATS, "A ballot fills at least one seat.")
        ballot = Ballot(ballot_paper_id=ballot_paper_id, election=election, ward=ward, winner_count=seats)
        ballot.full_clean(exclude=["election", "ward"], validate_unique=False, validate_constraints=False)
        ballot.version = 1
        ballot.save()
        candidacies = Candidacy.objects.bulk_create(n.candidacy(ballot) for n in nominees)
        _nominations_event(ballot, {"change": "ballot_created"}, user, candidacies)
        return ballot


def import_nominations(
    ballot: Ballot | int,
    *,
    seats: int,
    changes: Mapping[int, Nominee],
    new: Sequence[Nominee] = (),
    user=None,
    expected_version: int | None = None,
) -> tuple[Ballot, list[Candidacy]]:
    """Apply a file's nominations to an undeclared ballot: its seats, changed candidates (by
    candidacy id), new ones. One ``nominations`` event (change ``imported``) if anything changed.

    Returns the ballot and the new candidacies.
    """
    with transaction.atomic():
        ballot = lock_ballot(ballot)
        check_version(ballot, expected_version)
        stored = {c.pk: c for c in ballot.candidacies.select_related("party")}
        if ballot.is_published and (new or changes or seats != ballot.winner_count):
            raise _declared_nominations(ballot)
        final = [
            changes.get(pk) or Nominee(c.person_name, c.party, c.person_id, c.description)
            for pk, c in stored.items()
        ]
        _nominee_errors([*final, *new]).check()
        changed = []
        for pk, nominee in changes.items():
            c = stored[pk]
            before = (c.person_name, c.person_id, c.party_id, c.description)
            c.person_name, c.person_id, c.party, c.description = (
                nominee.person_name,
                nominee.person_id,
                nominee.party,
                nominee.description,
            )
            if before != (c.person_name, c.person_id, c.party_id, c.description):
                changed.append(c)
        if changed:
            Candidacy.objects.bulk_update(changed, ["person_name", "person_id", "party", "description"])
        created = Candidacy.objects.bulk_create(n.candidacy(ballot) for n in new)
        seats_before = ballot.winner_count
        if not changed and not created and seats == seats_before:
            return ballot, []
        ballot.winner_count = seats
        ballot.full_clean(exclude=["ballot_paper_id"])
        ballot.version += 1
        ballot.save(update_fields=["winner_count", "version"])
        _nominations_event(
            ballot,
            {
                "change": "imported",
                "added": [n.person_name for n in new],
                "changed": [c.person_name for c in changed],
                **({"seats_before": seats_before, "seats": seats} if seats != seats_before else {}),
            },
            user,
        )
        return ballot, created
