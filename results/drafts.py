"""Figures typed while a ballot is still being counted: kept for the data desk, never published.

Also the two-person check: a declaration typed by one editor waits here,
unpublished, until a second editor types the same figures.

The data desk types a ward's votes as the returning officer reads them, and
may save them before declaring. Nothing here is public (the API shows votes
only of declared ballots), so no ``Event`` is recorded. The ballot's version
is bumped all the same, so that a second editor's save of the same ballot is
refused rather than silently overwriting these figures. The admin records
who saved what in its own log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction

from . import services
from .errors import ErrorCode, refuse
from .models import Ballot, Candidacy, Event, PendingCheck


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
        _not_declared(ballot)
        candidacies = list(ballot.candidacies.order_by("pk"))
        _check_counts(ballot, candidacies, votes, electorate, ballot_papers_counted, rejected_ballots)

        for c in candidacies:
            c.votes = votes.get(c.pk)
        Candidacy.objects.bulk_update(candidacies, ["votes"])
        ballot.electorate = electorate
        ballot.ballot_papers_counted = ballot_papers_counted
        ballot.rejected_ballots = rejected_ballots
        ballot.version += 1
        ballot.save(update_fields=["electorate", "ballot_papers_counted", "rejected_ballots", "version"])
        return ballot


# --------------------------------------------------------------------------
# The two-person check (settings.TWO_PERSON_CHECK)
# --------------------------------------------------------------------------

COUNT_NAMES = {
    "ballot_papers_counted": "ballot papers counted",
    "rejected_ballots": "rejected ballot papers",
    "electorate": "electorate",
}


def _figures(votes, lot_winners, counts: Mapping[str, int | None]) -> dict:
    return {
        "votes": {str(pk): v for pk, v in sorted(votes.items())},
        "lot_winners": sorted(str(pk) for pk in lot_winners),
        **{name: counts.get(name) for name in COUNT_NAMES},
    }


@dataclass(frozen=True)
class CheckOutcome:
    """What a second editor's figures did: published (``event``) or, differing, replaced the first's."""

    event: Event | None
    differ: tuple[str, ...] = ()


def submit_for_check(
    ballot: Ballot | int,
    *,
    votes: Mapping[int, int | None],
    lot_winners: Iterable[int] = (),
    electorate: int | None = None,
    ballot_papers_counted: int | None = None,
    rejected_ballots: int | None = None,
    user,
    expected_version: int | None = None,
) -> PendingCheck:
    """Keep a declaration typed by ``user`` until a second editor types the same figures (not public).

    Refuses a declared or postponed ballot, a stale version and figures the
    count cannot have, as a declaration would. Replaces any figures already
    waiting for a check.
    """
    with transaction.atomic():
        ballot = services.lock_ballot(ballot)
        services.check_version(ballot, expected_version)
        _can_declare(ballot)
        _check_counts(
            ballot, ballot.candidacies.all(), votes, electorate, ballot_papers_counted, rejected_ballots
        )
        counts = {
            "electorate": electorate,
            "ballot_papers_counted": ballot_papers_counted,
            "rejected_ballots": rejected_ballots,
        }
        pending, _ = PendingCheck.objects.update_or_create(
            ballot=ballot, defaults={"typed_by": user, "figures": _figures(votes, lot_winners, counts)}
        )
        ballot.version += 1
        ballot.save(update_fields=["version"])
        return pending


def confirm_check(
    ballot: Ballot | int,
    *,
    votes: Mapping[int, int | None],
    lot_winners: Iterable[int] = (),
    electorate: int | None = None,
    ballot_papers_counted: int | None = None,
    rejected_ballots: int | None = None,
    user,
    expected_version: int | None = None,
) -> CheckOutcome:
    """A second editor's figures for a ballot waiting for a check: publish them if they match.

    The editor who typed the waiting figures cannot confirm them (raises
    ``ValidationError``). Matching figures are declared through
    ``services.declare_ballot``, the event naming who typed them. Differing
    ones publish nothing: they replace the waiting figures (now waiting for
    an editor other than this one), and the boxes that differ are returned.
    """
    with transaction.atomic():
        ballot = services.lock_ballot(ballot)
        services.check_version(ballot, expected_version)
        _can_declare(ballot)
        pending = (
            PendingCheck.objects.select_for_update().select_related("typed_by").filter(ballot=ballot).first()
        )
        if pending is None:
            raise refuse(
                "status", ErrorCode.NOTHING_TO_CHECK, f"No figures of {ballot.label} are waiting for a check."
            )
        if pending.typed_by_id == user.pk:
            raise refuse(
                "checked_by",
                ErrorCode.SAME_EDITOR,
                f"You typed the figures of {ballot.label} waiting for a check: a second editor "
                "must type them again to publish them.",
            )
        counts = {
            "electorate": electorate,
            "ballot_papers_counted": ballot_papers_counted,
            "rejected_ballots": rejected_ballots,
        }
        mine = _figures(votes, lot_winners, counts)
        if mine != pending.figures:
            names = {str(c.pk): c.person_name for c in ballot.candidacies.all()}
            theirs = pending.figures
            differ = [
                f"{names.get(pk, pk)}'s votes"
                for pk in sorted(set(mine["votes"]) | set(theirs["votes"]), key=lambda k: names.get(k, k))
                if mine["votes"].get(pk) != theirs["votes"].get(pk)
            ]
            differ += [label for name, label in COUNT_NAMES.items() if mine[name] != theirs[name]]
            if mine["lot_winners"] != theirs["lot_winners"]:
                differ.append("the drawing of lots")
            _check_counts(
                ballot, ballot.candidacies.all(), votes, electorate, ballot_papers_counted, rejected_ballots
            )
            pending.typed_by = user
            pending.figures = mine
            pending.save()
            ballot.version += 1
            ballot.save(update_fields=["version"])
            return CheckOutcome(event=None, differ=tuple(differ))
        typed_by = pending.typed_by
        pending.delete()
        event = services.declare_ballot(
            ballot,
            votes=votes,
            lot_winners=lot_winners,
            **counts,
            user=user,
            expected_version=ballot.version,
            typed_by=typed_by,
        )
        return CheckOutcome(event=event)


def _not_declared(ballot: Ballot) -> None:
    """Refuse figures for a declared ballot: a correction changes it."""
    if ballot.is_published:
        raise refuse(
            "status",
            ErrorCode.ALREADY_DECLARED,
            f"{ballot.label} is declared: correct the declaration instead.",
        )


def _can_declare(ballot: Ballot) -> None:
    _not_declared(ballot)
    if ballot.status == Ballot.Status.POSTPONED:
        raise refuse("status", ErrorCode.POSTPONED, f"{ballot.label} is postponed: it cannot be declared.")


def _check_counts(
    ballot: Ballot,
    candidacies: Iterable[Candidacy],
    votes,
    electorate: int | None,
    ballot_papers_counted: int | None,
    rejected_ballots: int | None,
) -> None:
    """Refuse figures the count cannot have (``services.count_errors``), by field."""
    errors = services.count_errors(
        ballot,
        {c.pk: c.person_name for c in candidacies},
        votes,
        electorate=electorate,
        ballot_papers_counted=ballot_papers_counted,
        rejected_ballots=rejected_ballots,
    )
    errors.check()
