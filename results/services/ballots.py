"""Ballots: declarations, corrections, retractions, certification and status.

Also the ballot and election row locks (``lock_ballot``, ``lock_ballots``,
``_lock_election``) and a ballot's snapshots, which the other sections use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from .. import plausibility, rules, versions
from ..errors import ErrorCode, Refusals, refusal, refuse
from ..models import Ballot, Candidacy, Election, Event, PendingCheck
from ..standings import control_signature, election_standing, store_standing, stored_signature
from .events import RESULT_FIELDS, check_version, new_event, record_event, record_events


def nomination_snapshot(candidacy: Candidacy) -> dict:
    """A candidacy as its ballot's nominations stand (a ``nominations`` event's payload lists them)."""
    return {
        "person_name": candidacy.person_name,
        "person_id": candidacy.person_id,
        "party_id": candidacy.party.ec_id,
        "description": candidacy.description,
    }


def candidacy_snapshot(candidacy: Candidacy) -> dict:
    """A candidacy with its result, as a published version of its ballot stores it (``ballot_snapshot``)."""
    return {
        **nomination_snapshot(candidacy),
        "votes": candidacy.votes,
        "elected": candidacy.elected,
        "elected_by_lot": candidacy.elected_by_lot,
    }


def ballot_snapshot(ballot: Ballot, candidacies: Sequence[Candidacy]) -> dict:
    """What a declaration published, as stored in its event (the history of versions)."""
    return {
        "ballot_paper_id": ballot.ballot_paper_id,
        "election_id": ballot.election.election_id,
        "status": ballot.status,
        "declared_at": ballot.declared_at.isoformat() if ballot.declared_at else None,
        "electorate": ballot.electorate,
        "ballot_papers_counted": ballot.ballot_papers_counted,
        "rejected_ballots": ballot.rejected_ballots,
        "certification": ballot.certification,
        "source": ballot.source,
        "source_url": ballot.source_url,
        "version": ballot.version,
        "candidacies": [
            candidacy_snapshot(c) for c in sorted(candidacies, key=lambda c: (-(c.votes or 0), c.person_name))
        ],
    }


def lock_ballot(ballot: Ballot | int) -> Ballot:
    """The ballot's row, locked until the transaction ends (writers of one ballot queue up).

    ``FOR NO KEY UPDATE OF`` the ballot table only: the council and ward are
    read in the same query but not locked (see the lock order above).
    """
    pk = ballot.pk if isinstance(ballot, Ballot) else ballot
    return (
        Ballot.objects.select_for_update(of=("self",), no_key=True)
        .select_related("election__council", "ward")
        .order_by()
        .get(pk=pk)
    )


def lock_ballots(pks: Iterable[int]) -> dict[int, Ballot]:
    """Several ballots' rows, locked in ascending id order (the lock order), by id."""
    ballots = (
        Ballot.objects.select_for_update(of=("self",), no_key=True)
        .select_related("election__council", "ward")
        .filter(pk__in=sorted(set(pks)))
        .order_by("pk")
    )
    return {b.pk: b for b in ballots}


def _lock_election(election_pk: int) -> None:
    """Serialise writes within one election, so that each control call change is
    seen by exactly one transaction (always lock the ballot first, then this).

    No join (``order_by()`` drops ``Election.Meta.ordering``'s join of the
    council) and ``FOR NO KEY UPDATE``: only this row is locked, and inserting
    an event that refers to it is never blocked.
    """
    list(
        Election.objects.select_for_update(of=("self",), no_key=True)
        .order_by()
        .filter(pk=election_pk)
        .values_list("pk")
    )


def _standing(election_pk: int):
    election = Election.objects.with_results().get(pk=election_pk)
    return election, election_standing(election)


def count_errors(
    ballot: Ballot,
    names: Mapping,
    votes: Mapping,
    *,
    electorate: int | None,
    ballot_papers_counted: int | None,
    rejected_ballots: int | None,
) -> Refusals:
    """What is wrong with a ballot's figures, by field: coded refusals in the data desk's words.

    ``names`` maps the ballot's candidacy ids to names; ``votes`` maps
    candidacy ids to votes (``None`` = not typed yet). Checks whole numbers
    of zero or more, no more papers than electors, no more rejected than
    counted, no candidate above the valid papers counted, and candidacies of
    this ballot only. ``ballot`` needs only its ``ballot_paper_id`` and
    ``winner_count``. Shared by declarations, figures saved before one and
    the console's form (see ``results.errors`` for the codes and params).
    """
    errors = _count_refusals(electorate, ballot_papers_counted, rejected_ballots)
    foreign = set(votes) - set(names)
    if foreign:
        _not_on_ballot(errors, foreign, ballot.ballot_paper_id)
    valid = None
    if (
        ballot_papers_counted is not None
        and "ballot_papers_counted" not in errors
        and "rejected_ballots" not in errors
    ):
        valid = ballot_papers_counted - (rejected_ballots or 0)
    for pk, value in votes.items():
        if value is None or pk in foreign:
            continue
        row = {"candidacy": pk, "name": names[pk], "votes": value}
        if not isinstance(value, int) or isinstance(value, bool):
            errors.add(
                "votes", ErrorCode.VOTES_NOT_WHOLE, f"{names[pk]}: votes must be a whole number.", **row
            )
        elif value < 0:
            errors.add(
                "votes", ErrorCode.VOTES_NEGATIVE, f"{names[pk]}: votes cannot be negative ({value}).", **row
            )
        elif valid is not None and value > valid:
            errors.add(
                "votes",
                ErrorCode.VOTES_ABOVE_VALID,
                f"{names[pk]}: {value} votes is more than the {valid} valid ballot papers counted.",
                **row,
                valid=valid,
                counted=ballot_papers_counted,
                rejected=rejected_ballots or 0,
            )
    if "electorate" not in errors and "votes" not in errors:
        # What no count can produce: more votes than electors (each has one per candidate and
        # as many as there are seats), more votes in all than valid papers times seats.
        figures = {pk: v for pk, v in votes.items() if pk not in foreign}
        findings = plausibility.check_figures(
            figures,
            seats=ballot.winner_count,
            electorate=electorate,
            ballot_papers_counted=None if valid is None else ballot_papers_counted,
            rejected_ballots=rejected_ballots,
            names=names,
        )
        for finding in plausibility.impossible(findings):
            if finding.check is not plausibility.Check.VOTES_ABOVE_PAPERS:  # refused above already
                errors.add("votes", ErrorCode(finding.check.value), finding.message, **finding.params)
    return errors


def _count_refusals(
    electorate: int | None, ballot_papers_counted: int | None, rejected_ballots: int | None
) -> Refusals:
    """What is wrong with a ballot's counts: not whole numbers, more papers than electors,
    more rejected than counted."""
    errors = Refusals()
    counts = {
        "electorate": electorate,
        "ballot_papers_counted": ballot_papers_counted,
        "rejected_ballots": rejected_ballots,
    }
    for name, value in counts.items():
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            errors.add(name, ErrorCode.NOT_A_COUNT, "Must be a whole number, zero or more.", value=value)
    if not errors:
        if (
            electorate is not None
            and ballot_papers_counted is not None
            and ballot_papers_counted > electorate
        ):
            errors.add(
                "ballot_papers_counted",
                ErrorCode.PAPERS_ABOVE_ELECTORATE,
                f"{ballot_papers_counted} ballot papers counted is more than the electorate of {electorate}.",
                counted=ballot_papers_counted,
                electorate=electorate,
            )
        if (
            rejected_ballots is not None
            and ballot_papers_counted is not None
            and rejected_ballots > ballot_papers_counted
        ):
            errors.add(
                "rejected_ballots",
                ErrorCode.REJECTED_ABOVE_PAPERS,
                f"{rejected_ballots} rejected is more than the {ballot_papers_counted} ballot papers counted.",
                rejected=rejected_ballots,
                counted=ballot_papers_counted,
            )
    return errors


def _not_on_ballot(errors: Refusals, foreign: set, ballot_paper_id: str) -> None:
    errors.add(
        "candidacy",
        ErrorCode.NOT_ON_BALLOT,
        f"Candidacy {sorted(foreign)} does not stand on {ballot_paper_id}.",
        candidacies=tuple(sorted(foreign)),
    )


@dataclass(frozen=True)
class Outcome:
    """What a valid result decides: the ballot's status, who is elected, who by lot."""

    status: str
    elected: frozenset
    by_lot: frozenset


def check_result(
    ballot: Ballot,
    names: Mapping,
    *,
    votes: Mapping | None,
    winners: Iterable | None,
    lot_winners: Iterable = (),
    electorate: int | None = None,
    ballot_papers_counted: int | None = None,
    rejected_ballots: int | None = None,
    label: str | None = None,
) -> Outcome:
    """Validate a result without touching the database; raise coded ``ValidationError``s by field.

    ``names`` maps the keys of the ballot's candidacies (ids, or any key a
    caller uses before the candidacies exist, as the importer does) to
    names; ``votes``, ``winners`` and ``lot_winners`` use the same keys.
    ``ballot`` needs only its ``ballot_paper_id`` and ``winner_count``.
    Returns the ``Outcome`` the declaration would store.
    """
    label = label or ballot.label
    votes = {k: v for k, v in (votes or {}).items() if v is not None}
    lot = set(lot_winners or ())
    winner_set = None if winners is None else set(winners)
    errors = count_errors(
        ballot,
        names,
        votes,
        electorate=electorate,
        ballot_papers_counted=ballot_papers_counted,
        rejected_ballots=rejected_ballots,
    )
    foreign = (lot | (winner_set or set())) - set(names)
    if foreign:
        _not_on_ballot(errors, foreign, ballot.ballot_paper_id)
    if not names:
        errors.add(
            "candidacy", ErrorCode.NO_CANDIDATES, f"{ballot.ballot_paper_id} has no candidates to declare."
        )
    errors.check()

    seats = ballot.winner_count
    if rules.is_uncontested(len(names), seats):
        return _uncontested_outcome(names, seats, votes, lot, winner_set, label)
    if votes:
        return _counted_outcome(names, seats, votes, lot, winner_set)
    if winner_set:
        # A source that gives winners only (no counts).
        if lot:
            raise refuse("lot_winners", ErrorCode.LOT_WITHOUT_VOTES, "A lot needs the votes that tied.")
        if len(winner_set) != seats:
            raise refuse(
                "winners",
                ErrorCode.WINNERS_WRONG_COUNT,
                f"{len(winner_set)} winners given for {seats} seat{'s' if seats != 1 else ''}.",
                given=len(winner_set),
                seats=seats,
            )
        return Outcome(Ballot.Status.DECLARED, frozenset(winner_set), frozenset())
    raise refuse("votes", ErrorCode.VOTES_REQUIRED, f"Enter the votes of every candidate on {label}.")


def _uncontested_outcome(names: Mapping, seats: int, votes, lot, winner_set, label: str) -> Outcome:
    if votes:
        raise refuse(
            "votes",
            ErrorCode.UNCONTESTED_HAS_VOTES,
            f"{label} is uncontested ({len(names)} candidates for "
            f"{seats} seats): there was no poll, so there are no votes.",
            candidates=len(names),
            seats=seats,
        )
    if lot:
        raise refuse("lot_winners", ErrorCode.LOT_UNCONTESTED, "An uncontested ballot has no lot to draw.")
    if winner_set is not None and winner_set != set(names):
        raise refuse(
            "winners",
            ErrorCode.WINNERS_UNCONTESTED,
            "On an uncontested ballot every candidate is elected unopposed.",
        )
    outcome = rules.decide_winners({pk: None for pk in names}, seats)
    return Outcome(Ballot.Status.UNCONTESTED, frozenset(outcome.elected), frozenset())


def _counted_outcome(names: Mapping, seats: int, votes, lot, winner_set) -> Outcome:
    missing = [pk for pk in names if pk not in votes]
    if missing:
        raise refuse(
            "votes",
            ErrorCode.VOTES_MISSING,
            f"Votes are missing for {', '.join(names[pk] for pk in missing)}.",
            candidacies=tuple(missing),
        )
    try:
        outcome = rules.decide_winners(votes, seats, lot)
    except rules.TieUnresolved as tie:
        tied = ", ".join(names[pk] for pk in tie.tied)
        raise refuse(
            "lot_winners",
            ErrorCode.TIE_UNRESOLVED,
            f"{tied} tie for the last {tie.places} seat"
            f"{'s' if tie.places != 1 else ''}: record who won the drawing of lots.",
            candidacies=tie.tied,
            places=tie.places,
        ) from tie
    except rules.InvalidLot as bad:
        raise ValidationError({"lot_winners": [lot_refusal(votes, seats, lot, names)]}) from bad
    elected = frozenset(outcome.elected)
    if winner_set is not None and winner_set != elected:
        expected = ", ".join(sorted(names[pk] for pk in elected))
        given = ", ".join(sorted(names[pk] for pk in winner_set))
        raise refuse(
            "winners",
            ErrorCode.WINNERS_DIFFER,
            f"The votes elect {expected}, but the winners given are {given}.",
            candidacies=tuple(sorted(elected, key=str)),
        )
    return Outcome(Ballot.Status.DECLARED, elected, frozenset(outcome.by_lot))


def lot_refusal(votes: Mapping, seats: int, lot: Iterable, names: Mapping) -> ValidationError:
    """The refusal of lot winners that do not fit complete ``votes`` (``rules.lot_problem``), on
    ``lot_winners``: who did not tie (params ``candidacies``), no tie, or how many places."""
    lot = set(lot)
    check = rules.lot_problem(votes, seats, lot)
    if check is None:  # a lot ``decide_winners`` refuses for a reason ``lot_problem`` does not see
        return refusal(ErrorCode.LOT_NOT_NEEDED, "The drawing of lots does not fit the votes.")
    if check.problem is rules.LotProblem.NOT_TIED:
        return refusal(
            ErrorCode.LOT_NOT_TIED,
            f"{', '.join(str(names.get(pk, pk)) for pk in check.not_tied)} did not tie for the last seat, "
            "so cannot win it by lot.",
            candidacies=check.not_tied,
        )
    if check.problem is rules.LotProblem.NO_TIE:
        return refusal(
            ErrorCode.LOT_NOT_NEEDED, "There is no tie for the last seat: no drawing of lots is needed."
        )
    places = check.places
    return refusal(
        ErrorCode.LOT_WRONG_COUNT,
        f"{len(lot)} lot winners chosen, but {places} seat{'s are' if places != 1 else ' is'} decided by lot.",
        given=len(lot),
        places=places,
    )


def _apply_result(
    ballot: Ballot,
    *,
    votes: Mapping[int, int | None] | None,
    winners: Iterable[int] | None,
    lot_winners: Iterable[int],
    electorate: int | None,
    ballot_papers_counted: int | None,
    rejected_ballots: int | None,
) -> list[Candidacy]:
    """Validate a result against the ballot's candidacies, then write it. Returns the candidacies."""
    candidacies = _candidacies_in(ballot)
    outcome = check_result(
        ballot,
        {c.pk: c.person_name for c in candidacies},
        votes=votes,
        winners=winners,
        lot_winners=lot_winners,
        electorate=electorate,
        ballot_papers_counted=ballot_papers_counted,
        rejected_ballots=rejected_ballots,
    )
    votes = votes or {}
    ballot.status = outcome.status
    ballot.electorate = electorate
    ballot.ballot_papers_counted = ballot_papers_counted
    ballot.rejected_ballots = rejected_ballots
    for c in candidacies:
        c.votes = votes.get(c.pk)
        c.elected = c.pk in outcome.elected
        c.elected_by_lot = c.pk in outcome.by_lot
    Candidacy.objects.bulk_update(candidacies, ["votes", "elected", "elected_by_lot"])
    return candidacies


@dataclass
class ResultEntry:
    """One ballot's result for ``publish_results``: the inputs of ``declare_ballot`` or ``correct_ballot``."""

    ballot: int
    correct: bool = False
    votes: Mapping[int, int | None] | None = None
    winners: Iterable[int] | None = None
    lot_winners: Iterable[int] = ()
    electorate: int | None = None
    ballot_papers_counted: int | None = None
    rejected_ballots: int | None = None
    declared_at: dt.datetime | None = None
    reason: str = ""
    expected_version: int | None = None
    extra: dict = field(default_factory=dict)
    # Under the two-person check: the editor who typed the figures that ``user`` confirmed.
    typed_by: object = None
    # Provenance: where the figures came from (``Ballot.Source``) and the council's page, if any;
    # a correction keeps the earlier ones unless given. How final: ``Ballot.Certification``
    # (declared by default; a correction is always "corrected").
    source: str = ""
    source_url: str = ""
    certification: str = ""


def publish_results(
    entries: Sequence[ResultEntry], *, user=None, loaded: Election | None = None
) -> list[Event]:
    """Declare or correct several ballots of one election in one transaction.

    Each entry is validated and written as ``declare_ballot`` or
    ``correct_ballot`` would; any error rolls the whole batch back. The
    council's standing is derived twice in all (before and after), not twice
    per ballot, so an import of an election's N ballots takes time linear in
    N. Records one event per ballot, in the entries' order, then one
    ``control_called`` event if the call changed. Returns the events.

    The election is loaded once (compute on write: its standing after is
    derived from the rows as written, and stored). ``loaded``: the election
    with its results as the caller already read it (the console, for its
    preview); used instead of reading it again when nothing changed since.
    """
    if not entries:
        return []
    with transaction.atomic():
        ballots = lock_ballots(e.ballot for e in entries)
        elections = _check_batch(entries, ballots)
        (election_pk,) = elections
        _lock_election(election_pk)
        signature_before = _signature(election_pk)
        # The one load of the election (its rows are locked or behind its lock now): the
        # ballots are written through it, and the standing after is derived from it in memory.
        election = _loaded_election(election_pk, ballots, loaded)
        in_election = {b.pk: b for b in election.ballots.all()}
        events = []
        now = timezone.now()
        for entry in entries:
            events.append(_write_result(in_election[entry.ballot], entry, now=now, user=user))
        # Figures waiting for a second editor's check are settled once the ballot is declared.
        PendingCheck.objects.filter(ballot__in=list(ballots)).delete()
        control = _control_change_event(election_pk, signature_before, user, election=election)
        return record_events([*events, *([control] if control else [])], fresh=[election_pk])


def _check_batch(entries: Sequence[ResultEntry], ballots: Mapping[int, Ballot]) -> set[int]:
    """Refuse a batch that ``publish_results`` cannot write: unknown or repeated ballots, more
    than one election, a stale version, a result in the wrong state, bad provenance. Returns
    the batch's election (a set of one id)."""
    missing = {e.ballot for e in entries} - set(ballots)
    if missing:
        raise refuse(
            "ballot",
            ErrorCode.NO_SUCH_BALLOT,
            f"No ballot with id {sorted(missing)}.",
            ballots=tuple(sorted(missing)),
        )
    if len(ballots) != len(entries):
        raise refuse("ballot", ErrorCode.BALLOT_TWICE, "A ballot appears twice in one batch.")
    elections = {b.election_id for b in ballots.values()}
    if len(elections) != 1:
        raise refuse("ballot", ErrorCode.ONE_ELECTION, "A batch of results belongs to one election.")
    for entry in entries:
        ballot = ballots[entry.ballot]
        check_version(ballot, entry.expected_version)
        if entry.correct and not ballot.is_published:
            raise refuse(
                "status",
                ErrorCode.NOT_DECLARED,
                f"{ballot.label} has not been declared, so there is nothing to correct.",
            )
        if entry.correct and not entry.reason.strip():
            # A published result changes: the history must say why.
            raise refuse(
                "reason",
                ErrorCode.REASON_REQUIRED,
                f"Say why {ballot.label} is being corrected: the reason is kept in its history.",
            )
        if not entry.correct and ballot.is_published:
            raise refuse(
                "status",
                ErrorCode.ALREADY_DECLARED,
                f"{ballot.label} is already declared: correct it instead.",
            )
        if ballot.status == Ballot.Status.POSTPONED:
            raise refuse(
                "status", ErrorCode.POSTPONED, f"{ballot.label} is postponed: it cannot be declared."
            )
        _check_provenance(entry)
    return elections


def _write_result(ballot: Ballot, entry: ResultEntry, *, now: dt.datetime, user) -> Event:
    """Validate and write one entry of ``publish_results`` (its ballot locked and loaded with its
    election); returns its unsaved event, with what a correction changed."""
    before = ballot_snapshot(ballot, _candidacies_in(ballot)) if ballot.is_published else None
    candidacies = _apply_result(
        ballot,
        votes=entry.votes,
        winners=entry.winners,
        lot_winners=entry.lot_winners,
        electorate=entry.electorate,
        ballot_papers_counted=entry.ballot_papers_counted,
        rejected_ballots=entry.rejected_ballots,
    )
    if not entry.correct or entry.declared_at is not None:
        ballot.declared_at = entry.declared_at or now
    if entry.correct:
        ballot.certification = Ballot.Certification.CORRECTED
        ballot.source = entry.source or ballot.source
        ballot.source_url = entry.source_url or ballot.source_url
    else:
        ballot.certification = entry.certification or Ballot.Certification.DECLARED
        ballot.source, ballot.source_url = entry.source, entry.source_url
    ballot.version += 1
    ballot.save(update_fields=RESULT_FIELDS)
    payload = {**ballot_snapshot(ballot, candidacies), **entry.extra}
    if before is not None:  # what this version changed, as the history shows it
        payload["changes"] = list(versions.version_changes(before, payload))
    if entry.reason:
        payload["reason"] = entry.reason.strip()
    if entry.typed_by is not None:  # the two-person check: typed by one editor, confirmed by ``user``
        payload["typed_by"] = entry.typed_by.get_username()
    return new_event(
        Event.Kind.BALLOT_CORRECTED if entry.correct else Event.Kind.BALLOT_DECLARED,
        user=user,
        payload=payload,
        ballot=ballot,
        election=ballot.election,
        council=ballot.election.council,
    )


def _candidacies_in(ballot: Ballot) -> list[Candidacy]:
    """A loaded ballot's candidacies (with parties), in id order."""
    return sorted(ballot.candidacies.all(), key=lambda c: c.pk)


def _loaded_election(election_pk: int, locked: Mapping[int, Ballot], loaded: Election | None) -> Election:
    """The election with its results, for a write holding its lock: ``loaded`` (what the caller
    read before the lock, e.g. the console's preview) when nothing has changed since, else read now.

    Every write that changes what a standing reads bumps a version: the election's (its
    composition), or a ballot's (its result, status, nominations, previous winners). One small
    query of the ballots' versions, against the loaded ones, tells whether ``loaded`` is current.
    """
    if loaded is not None and loaded.pk == election_pk:
        current = Election.objects.filter(pk=election_pk).order_by().values_list("version", flat=True).first()
        versions = dict(
            Ballot.objects.filter(election_id=election_pk).order_by().values_list("pk", "version")
        )
        mine = {b.pk: b.version for b in loaded.ballots.all()}
        if (
            current == loaded.version
            and versions == mine
            and all(locked[pk].version == mine.get(pk) for pk in locked)
        ):
            return loaded
    return Election.objects.with_results().get(pk=election_pk)


def _check_provenance(entry: ResultEntry) -> None:
    errors = Refusals()
    if entry.source and entry.source not in Ballot.Source.values:
        errors.add(
            "source",
            ErrorCode.UNKNOWN_SOURCE,
            f"Unknown source {entry.source!r}: use one of {', '.join(Ballot.Source.values)}.",
            source=entry.source,
        )
    if entry.certification and (
        entry.certification not in Ballot.Certification.values
        or entry.certification == Ballot.Certification.CORRECTED
    ):
        errors.add(
            "certification",
            ErrorCode.INVALID_CERTIFICATION,
            "A declaration is provisional, declared or certified (a correction is corrected).",
        )
    if entry.source_url:
        try:
            URLValidator(schemes=["http", "https"])(entry.source_url)
        except ValidationError:
            errors.add(
                "source_url",
                ErrorCode.INVALID_URL,
                "Enter the full address of the council's page (https://...).",
            )
    errors.check()


def certify_ballot(
    ballot: Ballot | int,
    *,
    source: str = "",
    source_url: str = "",
    user=None,
    expected_version: int | None = None,
) -> Event:
    """Mark a published result certified: checked against the returning officer's formal declaration.

    The figures do not change; records a ``ballot_certified`` event with the version.
    """
    with transaction.atomic():
        ballot = lock_ballot(ballot)
        check_version(ballot, expected_version)
        if not ballot.is_published:
            raise refuse(
                "status", ErrorCode.NOT_DECLARED, f"{ballot.label} has not been declared: nothing to certify."
            )
        if ballot.certification == Ballot.Certification.CERTIFIED:
            raise refuse(
                "certification", ErrorCode.ALREADY_CERTIFIED, f"{ballot.label} is already certified."
            )
        _check_provenance(ResultEntry(ballot=ballot.pk, source=source, source_url=source_url))
        ballot.certification = Ballot.Certification.CERTIFIED
        ballot.source = source or ballot.source
        ballot.source_url = source_url or ballot.source_url
        ballot.version += 1
        ballot.save(update_fields=["certification", "source", "source_url", "version"])
        return record_event(
            Event.Kind.BALLOT_CERTIFIED,
            user=user,
            payload=ballot_snapshot(ballot, list(ballot.candidacies.select_related("party"))),
            ballot=ballot,
            election=ballot.election,
            council=ballot.election.council,
        )


def _publish_ballot(ballot: Ballot | int, *, correct: bool, user, loaded=None, **inputs) -> Event:
    pk = ballot.pk if isinstance(ballot, Ballot) else ballot
    return publish_results([ResultEntry(ballot=pk, correct=correct, **inputs)], user=user, loaded=loaded)[0]


def declare_ballot(
    ballot: Ballot | int,
    *,
    votes: Mapping[int, int | None] | None = None,
    winners: Iterable[int] | None = None,
    lot_winners: Iterable[int] = (),
    electorate: int | None = None,
    ballot_papers_counted: int | None = None,
    rejected_ballots: int | None = None,
    declared_at: dt.datetime | None = None,
    user=None,
    expected_version: int | None = None,
    typed_by=None,
    source: str = "",
    source_url: str = "",
    certification: str = "",
    loaded: Election | None = None,
) -> Event:
    """Declare a ballot's result and publish it.

    ``votes`` maps candidacy ids to votes; winners are derived from them (a
    tie at the cut-off needs ``lot_winners``). A ballot with no more
    candidates than seats is declared uncontested (no votes allowed). A
    source that gives only winners passes ``winners`` without votes; with
    votes, ``winners`` is checked against them. Records a
    ``ballot_declared`` event, and a ``control_called`` one if the council's
    control call changes. ``typed_by``: under the two-person check, the
    editor who typed the figures that ``user`` confirmed. ``loaded``: see
    ``publish_results``.
    """
    return _publish_ballot(
        ballot,
        correct=False,
        loaded=loaded,
        typed_by=typed_by,
        source=source,
        source_url=source_url,
        certification=certification,
        votes=votes,
        winners=winners,
        lot_winners=lot_winners,
        electorate=electorate,
        ballot_papers_counted=ballot_papers_counted,
        rejected_ballots=rejected_ballots,
        declared_at=declared_at,
        user=user,
        expected_version=expected_version,
    )


def correct_ballot(
    ballot: Ballot | int,
    *,
    votes: Mapping[int, int | None] | None = None,
    winners: Iterable[int] | None = None,
    lot_winners: Iterable[int] = (),
    electorate: int | None = None,
    ballot_papers_counted: int | None = None,
    rejected_ballots: int | None = None,
    reason: str = "",
    user=None,
    expected_version: int | None = None,
    source: str = "",
    source_url: str = "",
    loaded: Election | None = None,
) -> Event:
    """Correct a declared ballot: same inputs as ``declare_ballot``, and a ``reason`` (required).

    Winners, changes and control are re-derived; the declaration time is kept.
    Records a ``ballot_corrected`` event holding the new version (the earlier
    events keep the earlier versions).
    """
    return _publish_ballot(
        ballot,
        correct=True,
        loaded=loaded,
        votes=votes,
        winners=winners,
        lot_winners=lot_winners,
        electorate=electorate,
        ballot_papers_counted=ballot_papers_counted,
        rejected_ballots=rejected_ballots,
        declared_at=None,
        user=user,
        expected_version=expected_version,
        reason=reason.strip(),
        source=source,
        source_url=source_url,
    )


def retract_declaration(
    ballot: Ballot | int,
    *,
    reason: str = "",
    user=None,
    expected_version: int | None = None,
) -> Event:
    """Withdraw a declaration: the ballot goes back to counting, its result unpublished.

    The votes typed in are kept for the data desk (they are not public while
    the ballot is undeclared); winners are cleared.
    """
    with transaction.atomic():
        ballot = lock_ballot(ballot)
        check_version(ballot, expected_version)
        if not ballot.is_published:
            raise refuse(
                "status", ErrorCode.NOT_DECLARED, f"{ballot.label} has not been declared: nothing to retract."
            )
        _lock_election(ballot.election_id)
        signature_before = _signature(ballot.election_id)
        ballot.candidacies.update(elected=None, elected_by_lot=False)
        ballot.status = Ballot.Status.COUNTING
        ballot.declared_at = None
        ballot.certification = ""
        ballot.version += 1
        ballot.save(update_fields=["status", "declared_at", "certification", "version"])
        event = new_event(
            Event.Kind.BALLOT_RETRACTED,
            user=user,
            payload={
                "ballot_paper_id": ballot.ballot_paper_id,
                "election_id": ballot.election.election_id,
                "status": ballot.status,
                "version": ballot.version,
                "reason": reason,
            },
            ballot=ballot,
            election=ballot.election,
            council=ballot.election.council,
        )
        control = _control_change_event(ballot.election_id, signature_before, user)
        return record_events([event, *([control] if control else [])], fresh=[ballot.election_id])[0]


def set_ballot_status(
    ballot: Ballot | int,
    status: str,
    *,
    user=None,
    expected_version: int | None = None,
) -> Event:
    """Move an undeclared ballot between awaiting, counting, recount and postponed."""
    if status not in Ballot.SETTABLE_STATUSES:
        raise refuse(
            "status",
            ErrorCode.STATUS_NOT_SETTABLE,
            "Use declare, correct or retract to publish or withdraw a result.",
            status=status,
        )
    with transaction.atomic():
        ballot = lock_ballot(ballot)
        check_version(ballot, expected_version)
        if ballot.is_published:
            raise refuse(
                "status",
                ErrorCode.ALREADY_DECLARED,
                f"{ballot.label} is declared: retract the declaration first.",
            )
        ballot.status = status
        ballot.version += 1
        ballot.save(update_fields=["status", "version"])
        return record_event(
            Event.Kind.BALLOT_STATUS,
            user=user,
            payload={
                "ballot_paper_id": ballot.ballot_paper_id,
                "election_id": ballot.election.election_id,
                "status": status,
                "version": ballot.version,
            },
            ballot=ballot,
            election=ballot.election,
            council=ballot.election.council,
        )


def _signature(election_pk: int):
    """The control call's signature before a change: from the stored standing (one small
    query), or derived from the rows where none is stored yet."""
    signature = stored_signature(election_pk)
    if signature is False:
        signature = control_signature(_standing(election_pk)[1])
    return signature


def _control_change_event(
    election_pk: int, signature_before, user, *, election: Election | None = None
) -> Event | None:
    """An unsaved ``control_called`` event if the council's call changed, else ``None``.

    Derives the election's standing once, after the change, and stores it
    (compute on write): the caller passes the election as ``fresh`` to
    ``record_events``.
    """
    if election is None:
        election = Election.objects.with_results().get(pk=election_pk)
    _, standing = store_standing(election)
    if control_signature(standing) == signature_before:
        return None
    call = standing.composition.control
    return new_event(
        Event.Kind.CONTROL_CALLED,
        user=user,
        payload={
            "election_id": election.election_id,
            "called": call.called,
            "party_id": call.party,
            "party_before_id": call.party_before,
            "outcome": call.outcome.value if call.outcome else None,
            "headline": standing.headline,
            "seats_declared": call.seats_declared,
            "seats_to_declare": call.seats_to_declare,
        },
        election=election,
        council=election.council,
    )
