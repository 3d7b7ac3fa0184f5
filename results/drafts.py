"""Figures typed while a ballot is still being counted: kept for the data desk, never published.

The data desk types a ward's votes as the returning officer reads them, and
may save them before declaring. Nothing here is public (the API shows votes
only of declared ballots), so no ``Event`` is recorded. The ballot's version
is bumped all the same, so that a second editor's save of the same ballot is
refused rather than silently overwriting these figures. The admin records
who saved what in its own log.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction

from . import services
from .models import Ballot, Candidacy


def save_count_in_progress(
    ballot: Ballot | int,
    *,
    votes: Mapping[int, int | None],
    electorate: int | None = None,
    ballot_papers_counted: int | None = None,
    rejected_ballots: int | None = None,
    expected_version: int | None = None,
) -> Ballot:
    """Keep the figures typed so far for an undeclared ballot.

    ``votes`` maps candidacy ids to votes; ``None`` (or a missing candidacy)
    means not typed yet. Refuses a declared ballot (correct it instead), a
    candidacy of another ballot, and figures the count cannot have (negative
    numbers, more votes than valid ballot papers, more papers than electors),
    raising ``ValidationError`` by field as the services do; a stale
    ``expected_version`` raises ``services.StaleEdit``. Returns the ballot.
    """
    with transaction.atomic():
        # The services' own lock and version check: writers of one ballot queue up.
        ballot = services._locked_ballot(ballot)
        services._check_version(ballot, expected_version)
        if ballot.is_published:
            raise ValidationError({"status": f"{ballot.label} is declared: correct the declaration instead."})
        candidacies = list(ballot.candidacies.order_by("pk"))
        names = {c.pk: c.person_name for c in candidacies}
        errors: dict[str, list[str]] = {}

        def add(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        foreign = set(votes) - set(names)
        if foreign:
            add("candidacy", f"Candidacy {sorted(foreign)} does not stand on {ballot.ballot_paper_id}.")
        for name, message in services._count_fields(
            ballot, electorate, ballot_papers_counted, rejected_ballots
        ).items():
            add(name, message)
        valid = None if ballot_papers_counted is None else ballot_papers_counted - (rejected_ballots or 0)
        for pk, value in votes.items():
            if value is None or pk in foreign:
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                add("votes", f"{names[pk]}: votes must be a whole number.")
            elif value < 0:
                add("votes", f"{names[pk]}: votes cannot be negative ({value}).")
            elif valid is not None and value > valid:
                add(
                    "votes",
                    f"{names[pk]}: {value} votes is more than the {valid} valid ballot papers counted.",
                )
        if errors:
            raise ValidationError(errors)

        for c in candidacies:
            c.votes = votes.get(c.pk)
        Candidacy.objects.bulk_update(candidacies, ["votes"])
        ballot.electorate = electorate
        ballot.ballot_papers_counted = ballot_papers_counted
        ballot.rejected_ballots = rejected_ballots
        ballot.version += 1
        ballot.save(update_fields=["electorate", "ballot_papers_counted", "rejected_ballots", "version"])
        return ballot
