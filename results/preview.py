"""What a declaration, correction or retraction would publish, before anyone confirms it.

Pure: these functions read an election loaded with
``Election.objects.with_results()`` and write nothing. They apply the new
figures to the ballot's rows in memory, derive winners, seat changes and the
council's standing with ``results.rules`` and ``results.standings`` (the same
functions every published figure comes from), then put the rows back as they
were. The services validate again when the change is confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from . import rules
from .models import Ballot, Candidacy, Election
from .standings import BallotChange, ElectionStanding, ballot_changes, control_signature, election_standing


@dataclass(frozen=True)
class Tie:
    """Candidates level at the cut-off: ``places`` of them are elected by drawing lots."""

    tied: tuple[Candidacy, ...]
    places: int


@dataclass(frozen=True)
class Preview:
    """The result a change would publish, and what it would do to the council.

    ``tie`` is set (and nothing is elected) while a tie at the cut-off has no
    lot winners. ``standing_before``/``standing_after`` are ``None`` for a
    mayoralty, which has no council composition.
    """

    ballot: Ballot
    published: bool
    uncontested: bool
    ranking: tuple[Candidacy, ...]
    elected: tuple[Candidacy, ...]
    by_lot: frozenset[int]
    tie: Tie | None
    votes: dict[int, int | None]
    margin: int | None
    turnout: float | None
    changes: tuple[BallotChange, ...]
    standing_before: ElectionStanding | None
    standing_after: ElectionStanding | None

    @property
    def control_changes(self) -> bool:
        """Whether the council's control call would change (called, or for whom)."""
        if self.standing_after is None:
            return False
        return control_signature(self.standing_before) != control_signature(self.standing_after)

    @property
    def complete(self) -> bool:
        """Whether the preview can be confirmed as it stands (no unsettled tie)."""
        return self.tie is None


def ballot_in(election: Election, ballot_pk: int) -> Ballot:
    """The ballot ``ballot_pk`` among the election's prefetched ballots (its rows are the ones previewed)."""
    for ballot in election.ballots.all():
        if ballot.pk == ballot_pk:
            return ballot
    raise Ballot.DoesNotExist(f"ballot {ballot_pk} is not part of {election}")


@contextmanager
def _as_if(
    ballot: Ballot,
    *,
    status: str,
    votes: Mapping[int, int | None],
    elected: set[int] | None,
    by_lot: Iterable[int],
) -> Iterator[None]:
    """Give the ballot's in-memory rows the new figures, and restore them afterwards."""
    candidacies = list(ballot.candidacies.all())
    saved_status = ballot.status
    saved = [(c, c.votes, c.elected, c.elected_by_lot) for c in candidacies]
    lot = set(by_lot)
    try:
        ballot.status = status
        for c in candidacies:
            c.votes = votes.get(c.pk)
            c.elected = None if elected is None else c.pk in elected
            c.elected_by_lot = c.pk in lot
        yield
    finally:
        ballot.status = saved_status
        for c, v, e, b in saved:
            c.votes, c.elected, c.elected_by_lot = v, e, b


def preview_result(
    election: Election,
    ballot_pk: int,
    *,
    votes: Mapping[int, int | None] | None,
    lot_winners: Iterable[int] = (),
    electorate: int | None = None,
    ballot_papers_counted: int | None = None,
) -> Preview:
    """Preview declaring (or correcting) one ballot of ``election`` with these figures.

    ``votes`` maps candidacy ids to votes (ignored for an uncontested ballot).
    Raises ``rules.InvalidLot`` for lot winners the count does not call for and
    ``ValueError`` for missing votes; a tie at the cut-off without lot winners
    is returned as ``tie``, so the desk can be asked who won the lot.
    """
    ballot = ballot_in(election, ballot_pk)
    candidacies = {c.pk: c for c in ballot.candidacies.all()}
    standing_before = election_standing(election)
    uncontested = rules.is_uncontested(len(candidacies), ballot.winner_count)
    figures = {pk: None for pk in candidacies} if uncontested else dict(votes or {})
    lot = frozenset(lot_winners)
    tie = None
    try:
        outcome = rules.decide_winners(figures, ballot.winner_count, lot)
    except rules.TieUnresolved as unresolved:
        tie = Tie(tuple(candidacies[pk] for pk in unresolved.tied), unresolved.places)
        ranking = sorted(figures, key=lambda pk: (-(figures[pk] or 0), str(pk)))
        return Preview(
            ballot=ballot,
            published=False,
            uncontested=False,
            ranking=tuple(candidacies[pk] for pk in ranking),
            elected=(),
            by_lot=frozenset(),
            tie=tie,
            votes=figures,
            margin=None,
            turnout=rules.turnout(ballot_papers_counted, electorate),
            changes=(),
            standing_before=standing_before,
            standing_after=None,
        )
    status = Ballot.Status.UNCONTESTED if uncontested else Ballot.Status.DECLARED
    elected = set(outcome.elected)
    with _as_if(ballot, status=status, votes=figures, elected=elected, by_lot=outcome.by_lot):
        changes = tuple(ballot_changes(ballot))
        standing_after = election_standing(election)
    margin = None
    if not uncontested and len(outcome.ranking) > ballot.winner_count:
        last_in = outcome.ranking[ballot.winner_count - 1]
        first_out = outcome.ranking[ballot.winner_count]
        margin = figures[last_in] - figures[first_out]
    return Preview(
        ballot=ballot,
        published=True,
        uncontested=uncontested,
        ranking=tuple(candidacies[pk] for pk in outcome.ranking),
        elected=tuple(candidacies[pk] for pk in outcome.elected),
        by_lot=outcome.by_lot,
        tie=None,
        votes=figures,
        margin=margin,
        turnout=rules.turnout(ballot_papers_counted, electorate),
        changes=changes,
        standing_before=standing_before,
        standing_after=standing_after,
    )


def preview_retraction(election: Election, ballot_pk: int) -> Preview:
    """Preview withdrawing a ballot's declaration: its result unpublished, control re-derived."""
    ballot = ballot_in(election, ballot_pk)
    standing_before = election_standing(election)
    current = {c.pk: c.votes for c in ballot.candidacies.all()}
    with _as_if(ballot, status=Ballot.Status.COUNTING, votes=current, elected=None, by_lot=()):
        standing_after = election_standing(election)
    return Preview(
        ballot=ballot,
        published=False,
        uncontested=False,
        ranking=(),
        elected=(),
        by_lot=frozenset(),
        tie=None,
        votes=current,
        margin=None,
        turnout=None,
        changes=(),
        standing_before=standing_before,
        standing_after=standing_after,
    )
