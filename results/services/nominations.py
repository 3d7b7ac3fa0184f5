"""Nominations: candidates of an undeclared ballot."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from ..errors import ErrorCode, refusal, refuse
from ..models import Ballot, Candidacy, Event, Party
from .ballots import lock_ballot, nomination_snapshot
from .events import check_version, record_event


def _nominations_event(
    ballot: Ballot, change: dict, user, candidacies: Sequence[Candidacy] | None = None
) -> Event:
    if candidacies is None:
        candidacies = ballot.candidacies.select_related("party")
    candidacies = sorted(candidacies, key=lambda c: (c.person_name, c.person_id))
    return record_event(
        Event.Kind.NOMINATIONS_CHANGED,
        user=user,
        payload={
            "ballot_paper_id": ballot.ballot_paper_id,
            "election_id": ballot.election.election_id,
            "status": ballot.status,
            "seats": ballot.winner_count,
            "ward": ballot.ward.slug if ballot.ward_id else None,
            "version": ballot.version,
            **change,
            "candidacies": [nomination_snapshot(c) for c in candidacies],
        },
        ballot=ballot,
        election=ballot.election,
        council=ballot.election.council,
    )


def _open_for_nominations(ballot: Ballot, expected_version: int | None) -> None:
    check_version(ballot, expected_version)
    if ballot.is_published:
        raise _declared_nominations(ballot)


def _declared_nominations(ballot: Ballot) -> ValidationError:
    return refuse(
        "status",
        ErrorCode.ALREADY_DECLARED,
        f"{ballot.label} is declared: retract the declaration before changing its candidates.",
    )


def _check_candidate(ballot: Ballot, *, person_name: str, person_id: str, exclude: int | None = None) -> None:
    errors: dict[str, list[ValidationError]] = {}
    if not person_name:
        errors["person_name"] = [
            refusal(ErrorCode.NAME_REQUIRED, "Enter the candidate's name as it is on the ballot paper.")
        ]
    elif len(person_name) > Candidacy._meta.get_field("person_name").max_length:
        errors["person_name"] = [
            refusal(ErrorCode.NAME_TOO_LONG, "That name is too long (255 characters at most).")
        ]
    others = ballot.candidacies.exclude(pk=exclude) if exclude else ballot.candidacies.all()
    if person_name and others.filter(person_name=person_name).exists():
        errors["person_name"] = [
            refusal(
                ErrorCode.ALREADY_STANDS, f"{person_name} already stands on {ballot.label}.", name=person_name
            )
        ]
    if person_id and others.filter(person_id=person_id).exists():
        errors["person_id"] = [
            refusal(
                ErrorCode.ALREADY_STANDS,
                f"Person {person_id} already stands on {ballot.label}.",
                person_id=person_id,
            )
        ]
    if errors:
        raise ValidationError(errors)


def add_candidacy(
    ballot: Ballot | int,
    *,
    person_name: str,
    party: Party,
    description: str = "",
    person_id: str = "",
    user=None,
    expected_version: int | None = None,
) -> Candidacy:
    """Add a candidate the import missed to an undeclared ballot. Records a ``nominations`` event."""
    with transaction.atomic():
        ballot = lock_ballot(ballot)
        _open_for_nominations(ballot, expected_version)
        person_name, person_id, description = person_name.strip(), person_id.strip(), description.strip()
        _check_candidate(ballot, person_name=person_name, person_id=person_id)
        candidacy = Candidacy.objects.create(
            ballot=ballot, person_name=person_name, person_id=person_id, party=party, description=description
        )
        ballot.version += 1
        ballot.save(update_fields=["version"])
        _nominations_event(
            ballot, {"change": "added", "person_name": person_name, "party_id": party.ec_id}, user
        )
        return candidacy


def change_candidacy(
    candidacy: Candidacy | int,
    *,
    person_name: str | None = None,
    party: Party | None = None,
    description: str | None = None,
    person_id: str | None = None,
    user=None,
    expected_version: int | None = None,
) -> Candidacy:
    """Correct a candidate's details (a misspelt name, the party, the description) before declaration.

    ``expected_version`` is the version of the candidate's ballot the editor
    loaded. Records a ``nominations`` event naming the old and new details.
    """
    pk = candidacy.pk if isinstance(candidacy, Candidacy) else candidacy
    with transaction.atomic():
        ballot_pk = Candidacy.objects.values_list("ballot_id", flat=True).get(pk=pk)
        ballot = lock_ballot(ballot_pk)
        _open_for_nominations(ballot, expected_version)
        candidacy = Candidacy.objects.select_related("party").get(pk=pk)
        before = {
            "person_name": candidacy.person_name,
            "party_id": candidacy.party.ec_id,
            "description": candidacy.description,
            "person_id": candidacy.person_id,
        }
        wanted = {
            "person_name": candidacy.person_name if person_name is None else person_name.strip(),
            "person_id": candidacy.person_id if person_id is None else person_id.strip(),
            "description": candidacy.description if description is None else description.strip(),
        }
        _check_candidate(ballot, person_name=wanted["person_name"], person_id=wanted["person_id"], exclude=pk)
        for name, value in wanted.items():
            setattr(candidacy, name, value)
        if party is not None:
            candidacy.party = party
        after = {**wanted, "party_id": candidacy.party.ec_id}
        if after == before:
            return candidacy  # nothing changed: no version, no event
        candidacy.save(update_fields=["person_name", "person_id", "description", "party"])
        ballot.version += 1
        ballot.save(update_fields=["version"])
        _nominations_event(
            ballot,
            {
                "change": "changed",
                "person_name": candidacy.person_name,
                "before": {k: v for k, v in before.items() if after[k] != v},
                "after": {k: v for k, v in after.items() if before[k] != v},
            },
            user,
        )
        return candidacy


def withdraw_candidacy(
    candidacy: Candidacy | int,
    *,
    reason: str,
    user=None,
    expected_version: int | None = None,
) -> Event:
    """Take a candidate off an undeclared ballot, e.g. one who died: the poll is countermanded.

    The ballot is postponed (a new poll is held later, set it back to
    counting then). The candidacy row goes; the ``nominations`` event keeps
    who it was and why. A reason is required.
    """
    pk = candidacy.pk if isinstance(candidacy, Candidacy) else candidacy
    with transaction.atomic():
        ballot_pk = Candidacy.objects.values_list("ballot_id", flat=True).get(pk=pk)
        ballot = lock_ballot(ballot_pk)
        _open_for_nominations(ballot, expected_version)
        if not reason.strip():
            raise refuse(
                "reason",
                ErrorCode.REASON_REQUIRED,
                "Say why the candidate is withdrawn: it is kept in the history.",
            )
        candidacy = Candidacy.objects.select_related("party").get(pk=pk)
        withdrawn = {"person_name": candidacy.person_name, "party_id": candidacy.party.ec_id}
        candidacy.delete()
        status_before = ballot.status
        ballot.status = Ballot.Status.POSTPONED
        ballot.version += 1
        ballot.save(update_fields=["status", "version"])
        return _nominations_event(
            ballot,
            {"change": "withdrawn", **withdrawn, "reason": reason.strip(), "status_before": status_before},
            user,
        )
