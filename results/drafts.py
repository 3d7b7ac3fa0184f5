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
        ballot = services.lock_ballot(ballot)
        services.check_version(ballot, expected_version)
        if ballot.is_published:
            raise ValidationError({"status": f"{ballot.label} is declared: correct the declaration instead."})
        candidacies = list(ballot.candidacies.order_by("pk"))
        names = {c.pk: c.person_name for c in candidacies}
        errors = services.count_errors(
            ballot,
            names,
            votes,
            electorate=electorate,
            ballot_papers_counted=ballot_papers_counted,
            rejected_ballots=rejected_ballots,
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
