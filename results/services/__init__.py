"""The only write path for published data.

Each function runs in one transaction, validates before it writes (bad input
raises ``ValidationError`` naming the field and changes nothing), records its
``Event`` in that same transaction, and schedules the broadcast with
``transaction.on_commit``. The admin, the importers and the tests all call
these; nothing else writes results, control calls or posts.

Lock order
----------
Every write takes its locks in this order, and never in any other, so that
no two writers can each hold a lock the other waits for (no deadlock):

1. ballot rows (``lock_ballot``; several at once in ascending id order,
   ``lock_ballots``);
2. the election row (``_lock_election``), when the write can change the
   council's standing (a declaration, correction or retraction, a
   composition);
3. a post row (posts never take ballot or election locks);
4. last, the event-log lock (``record_events``), taken just before the
   event rows are inserted and held only until the commit that follows.
   The rehearsal switch (``Rehearsal``, one row) is read and written only
   under it, so every event is flagged exactly when it commits during a
   rehearsal (``start_rehearsal``, ``set_zero_counts``, ``reset_to_eve``).

Row locks are ``SELECT … FOR NO KEY UPDATE OF <that table>`` with no join:
they lock the one row the write needs, and they never block the
``FOR KEY SHARE`` lock PostgreSQL takes on the rows an inserted event (or
candidacy) refers to. (A ``FOR UPDATE`` that joined the council, through
``Election.Meta.ordering``, used to lock the council row too, and a writer
holding the event-log lock then waited for it: a deadlock.) Everything a
write computes (winners, the council's standing, the control call, the
payloads) is computed before step 4, so the event-log lock, which every
publishing transaction of every council shares, is held for the time of one
INSERT and the commit: see ``record_events`` for why it is needed at all.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import parties as shared_parties
from .. import plausibility, rules, versions
from .. import rehearsal as rehearsal_state
from ..broadcast import schedule_broadcast
from ..errors import ErrorCode, Refusals, refusal, refuse
from ..models import (
    Ballot,
    Candidacy,
    CompositionBefore,
    Council,
    Election,
    Event,
    Party,
    PendingCheck,
    Post,
    PreviousWinner,
    Rehearsal,
    Ward,
)
from ..standings import (
    control_signature,
    counting_party,
    election_standing,
    refresh_standings,
    store_standing,
    stored_signature,
)


class StaleEdit(ValidationError):
    """Someone else saved the object since the editor loaded it."""


# --------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------


# Any constant: the key of the advisory lock that orders event commits.
EVENT_LOG_LOCK = 7_020_523


# Events of the service calls inside ``deferred_events``, inserted together when it ends.
_deferred: contextvars.ContextVar[list[Event] | None] = contextvars.ContextVar(
    "deferred_events", default=None
)


# A ballot's published result, as a declaration, a correction and a reset write it.
RESULT_FIELDS = [
    "status",
    "declared_at",
    "electorate",
    "ballot_papers_counted",
    "rejected_ballots",
    "certification",
    "source",
    "source_url",
    "version",
]


@contextlib.contextmanager
def deferred_events():
    """One transaction for several service calls, their events inserted together at its end.

    An importer writes a ballot's nominations, then declares it, in one
    transaction. Each service call would take the event-log lock when it
    records its event, and a later call would then lock a ballot or an
    election row while holding it: against the lock order (the event-log
    lock is always last). Inside this block the services queue their
    events, and the block inserts them all, in order, as its last step.
    It yields the list of queued events; the events returned by the
    services inside it have no id yet.
    """
    if (outer := _deferred.get()) is not None:  # already inside one: the outer block inserts them
        with transaction.atomic():
            yield outer
        return
    token = _deferred.set([])
    try:
        with transaction.atomic():
            yield _deferred.get()
            pending = _deferred.get()
            _deferred.set(None)
            record_events(pending)
    finally:
        _deferred.reset(token)


def record_events(events: Sequence[Event], *, fresh: Iterable[int] = ()) -> list[Event]:
    """Insert unsaved ``events`` in the current transaction, in order; broadcast them once committed.

    The last step of every write (see the lock order above). On PostgreSQL
    it first takes a transaction-level advisory lock, released at commit:
    event ids come from a sequence, and without the lock a transaction that
    drew id N+1 could commit before the one that drew N, so a reader who had
    seen N+1 would never see N (the cursor contract: a reader past id N
    never later finds a committed event below N). With it, ids are drawn and
    committed one transaction at a time, in id order. Taken here, last, it
    is held for one INSERT and the commit, never while anything is computed.
    SQLite serialises writers already.

    Before that, it recomputes and stores the standing of each election the
    events change (``_standings_changed_by``), except those in ``fresh``: the
    service stored them itself, after its last change, in this transaction.
    (Inside ``deferred_events`` every one is recomputed once, at the end.)
    """
    events = list(events)
    if not events:
        return []
    pending = _deferred.get()
    if pending is not None:
        pending.extend(events)  # inserted (and flagged) when ``deferred_events`` ends
        return events
    # Compute on write: the standing of every election these events changed, stored
    # in this transaction (before the event-log lock: see the lock order above).
    refresh_standings(_standings_changed_by(events) - set(fresh))
    _lock_event_log()
    # Read under the lock: the rehearsal switch changes only under it too, so an event is
    # flagged exactly when it commits during a rehearsal.
    rehearsing = Rehearsal.objects.filter(pk=1, active=True).exists()
    for event in events:
        event.rehearsal = event.rehearsal or rehearsing
    if len(events) == 1:
        events[0].save()
    else:
        Event.objects.bulk_create(events)
    for event in events:
        schedule_broadcast(event)
    return events


# Events that never change an election's derived figures: certification and
# undeclared status changes (counting, recount) touch nothing the standing reads.
_NO_STANDING_CHANGE = frozenset(
    {
        Event.Kind.BALLOT_CERTIFIED,
        Event.Kind.BALLOT_STATUS,
        Event.Kind.POST_PUBLISHED,
        Event.Kind.POST_UPDATED,
        Event.Kind.POST_WITHDRAWN,
    }
)
# A party's fields the stored figures read: headlines name its short name; the
# others decide which party a seat counts for and whether it can control.
_PARTY_STANDING_FIELDS = frozenset({"short_name", "lead_party", "is_independent"})


def _standings_changed_by(events: Sequence[Event]) -> set[int]:
    """Ids of the elections whose stored standing these (unsaved) events make stale."""
    pks: set[int] = set()
    for event in events:
        if event.kind in _NO_STANDING_CHANGE:
            continue
        if event.election_id is not None:
            pks.add(event.election_id)
        elif event.kind == Event.Kind.RESET:  # every election of the day, back to the eve
            pks.update(
                Election.objects.filter(poll_date=event.payload["poll_date"]).values_list("pk", flat=True)
            )
        elif event.kind == Event.Kind.REFERENCE_CHANGED and event.payload.get("change") == "changed":
            what = event.payload.get("object")
            changed = set(event.payload.get("after", {}))
            if what == "council" and "name" in changed and event.council_id is not None:
                # Headlines name the council.
                pks.update(Election.objects.filter(council_id=event.council_id).values_list("pk", flat=True))
            elif what == "party" and changed & _PARTY_STANDING_FIELDS:
                party = event.payload["party_id"]
                pks.update(
                    Election.objects.filter(
                        Q(ballots__candidacies__party__ec_id=party)
                        | Q(composition_before__party__ec_id=party)
                        | Q(control_before__ec_id=party)
                        | Q(ballots__previous_winners__party__ec_id=party)
                        | Q(ballots__candidacies__party__lead_party__ec_id=party)
                    )
                    .order_by()
                    .values_list("pk", flat=True)
                    .distinct()
                )
    return pks


def _lock_event_log() -> None:
    """Take the event-log lock (PostgreSQL; a no-op on SQLite, which serialises writers)."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EVENT_LOG_LOCK])


def new_event(kind: str, *, user=None, payload: dict, **targets) -> Event:
    """An unsaved event, for ``record_events``."""
    return Event(kind=kind, actor=_actor(user), payload=payload, **targets)


def record_event(kind: str, *, user=None, payload: dict, **targets) -> Event:
    """Write one event in the current transaction (the last step of a write) and broadcast it once committed."""
    return record_events([new_event(kind, user=user, payload=payload, **targets)])[0]


def _actor(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def check_version(obj, expected_version: int | None) -> None:
    """Refuse a write made from a stale copy: raise ``StaleEdit`` naming who changed ``obj``.

    ``obj`` must be the locked row; ``None`` skips the check.
    """
    if expected_version is None or expected_version == obj.version:
        return
    last = obj.events.select_related("actor").order_by("-id").first() if hasattr(obj, "events") else None
    who = (last.actor.get_username() if last and last.actor else "someone else") if last else "someone else"
    when = f" at {timezone.localtime(last.created_at):%H:%M:%S}" if last else ""
    what = f" ({last.get_kind_display().lower()})" if last else ""
    message = (
        f"{obj} was changed by {who}{when}{what} after you opened it. "
        "Reload to see their change; nothing of yours was saved."
    )
    raise StaleEdit({"version": [refusal(ErrorCode.STALE, message)]})


# --------------------------------------------------------------------------
# Ballots
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Before the night: composition and previous winners
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Reference data: parties, councils, wards; elections and ballots created
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# Nominations: candidates of an undeclared ballot
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Posts
# --------------------------------------------------------------------------

POST_FIELDS = (
    "headline",
    "body",
    "author_name",
    "author_role",
    "author_outlet",
    "breaking",
    "key_point",
    "image_url",
    "image_caption",
    "image_credit",
    "published_at",
)


def post_snapshot(post: Post) -> dict:
    return {
        "uid": str(post.uid),
        "headline": post.headline,
        "body": post.body,
        "author_name": post.author_name,
        "author_role": post.author_role,
        "author_outlet": post.author_outlet,
        "published_at": post.published_at.isoformat() if post.published_at else None,
        "breaking": post.breaking,
        "key_point": post.key_point,
        "image_url": post.image_url,
        "image_caption": post.image_caption,
        "image_credit": post.image_credit,
        "councils": sorted(post.councils.values_list("slug", flat=True)),
        "ballots": sorted(post.ballots.values_list("ballot_paper_id", flat=True)),
        "version": post.version,
    }


def save_post(
    post: Post,
    *,
    changes: Mapping[str, object] | None = None,
    councils: Iterable | None = None,
    ballots: Iterable | None = None,
    user=None,
    expected_version: int | None = None,
) -> Post:
    """Create or edit a post. Editing a published post publishes the update (``post_updated``)."""
    changes = dict(changes or {})
    unknown = set(changes) - set(POST_FIELDS)
    if unknown:
        raise refuse(
            "__all__",
            ErrorCode.UNKNOWN_FIELDS,
            f"Unknown post fields: {sorted(unknown)}",
            fields=sorted(unknown),
        )
    with transaction.atomic():
        if post.pk:
            # Edit the row as stored, not the caller's possibly stale copy.
            post = Post.objects.select_for_update(no_key=True).order_by().get(pk=post.pk)
            check_version(post, expected_version)
        for name, value in changes.items():
            setattr(post, name, value)
        post.full_clean(exclude=["councils", "ballots"])
        post.version += 1
        post.save()
        if councils is not None:
            post.councils.set(councils)
        if ballots is not None:
            post.ballots.set(ballots)
        if post.status == Post.Status.PUBLISHED:
            record_event(Event.Kind.POST_UPDATED, user=user, payload=post_snapshot(post), post=post)
        return post


def publish_post(
    post: Post, *, published_at: dt.datetime | None = None, user=None, expected_version: int | None = None
) -> Event:
    """Publish a draft (or re-publish a withdrawn post). It becomes public at once."""
    with transaction.atomic():
        post = Post.objects.select_for_update(no_key=True).order_by().get(pk=post.pk)
        check_version(post, expected_version)
        if post.status == Post.Status.PUBLISHED:
            raise refuse(
                "status",
                ErrorCode.POST_PUBLISHED,
                f"“{post.headline}” is already published: update it instead.",
            )
        post.status = Post.Status.PUBLISHED
        post.published_at = published_at or post.published_at or timezone.now()
        post.full_clean(exclude=["councils", "ballots"])
        post.version += 1
        post.save()
        return record_event(Event.Kind.POST_PUBLISHED, user=user, payload=post_snapshot(post), post=post)


def withdraw_post(post: Post, *, reason: str = "", user=None, expected_version: int | None = None) -> Event:
    """Take a published post down: it no longer exists publicly."""
    with transaction.atomic():
        post = Post.objects.select_for_update(no_key=True).order_by().get(pk=post.pk)
        check_version(post, expected_version)
        if post.status != Post.Status.PUBLISHED:
            raise refuse(
                "status",
                ErrorCode.POST_NOT_PUBLISHED,
                f"“{post.headline}” is not published: nothing to withdraw.",
            )
        post.status = Post.Status.WITHDRAWN
        post.version += 1
        post.save(update_fields=["status", "version", "updated_at"])
        return record_event(
            Event.Kind.POST_WITHDRAWN,
            user=user,
            payload={"uid": str(post.uid), "reason": reason, "version": post.version},
            post=post,
        )


# --------------------------------------------------------------------------
# Rehearsal: the switch, zero counts, and the reset to the eve of the poll
# --------------------------------------------------------------------------


def _no_ballots_polled(poll_date: dt.date, then: str) -> ValidationError:
    return refuse(
        "poll_date",
        ErrorCode.NO_BALLOTS_POLLED,
        f"No ballots are polled on {poll_date:%d %B %Y}{then}.",
        poll_date=poll_date,
    )


def _rehearsal_row() -> Rehearsal:
    """The switches' row, locked. Only ever called under the event-log lock (see ``record_events``)."""
    row, _ = Rehearsal.objects.select_for_update().get_or_create(pk=1)
    return row


def _ballots_of(poll_date: dt.date):
    return Ballot.objects.filter(election__poll_date=poll_date)


def start_rehearsal(poll_date: dt.date, *, label: str = "", user=None) -> Event:
    """Start rehearsing the poll of ``poll_date``: from now on every event is flagged as a rehearsal.

    The poll must be at its eve (nothing declared): each ballot's status is
    kept so that ``reset_to_eve`` can return to it. Records a
    ``rehearsal_started`` event (itself flagged). Refused while a rehearsal
    is already running.
    """
    label = label.strip()
    if len(label) > Rehearsal._meta.get_field("label").max_length:
        raise refuse("label", ErrorCode.LABEL_TOO_LONG, "That label is too long (200 characters at most).")
    with transaction.atomic():
        ballots = lock_ballots(_ballots_of(poll_date).values_list("pk", flat=True))
        if not ballots:
            raise _no_ballots_polled(poll_date, ": nothing to rehearse")
        declared = sorted(b.ballot_paper_id for b in ballots.values() if b.is_published)
        if declared:
            raise refuse(
                "poll_date",
                ErrorCode.BALLOTS_DECLARED,
                f"{len(declared)} ballots of {poll_date:%d %B %Y} are declared (the first is "
                f"{declared[0]}): a rehearsal starts from the eve of the poll. Reset first.",
                poll_date=poll_date,
                ballots=tuple(declared),
            )
        _lock_event_log()
        row = _rehearsal_row()
        if row.active:
            raise refuse(
                "active",
                ErrorCode.ALREADY_REHEARSING,
                f"Already rehearsing {row.poll_date:%d %B %Y} ({row.label or 'untitled'}): reset it first.",
                poll_date=row.poll_date,
            )
        row.active = True
        row.label = label
        row.started_at = timezone.now()
        row.poll_date = poll_date
        row.paused = False
        row.eve = {
            "ballots": {b.ballot_paper_id: b.status for b in ballots.values()},
            "zero_counts": row.zero_counts.isoformat() if row.zero_counts else None,
        }
        row.save()
        rehearsal_state.forget()
        return record_event(
            Event.Kind.REHEARSAL_STARTED,
            user=user,
            payload={"poll_date": poll_date.isoformat(), "label": label, "ballots": len(ballots)},
        )


def set_zero_counts(poll_date: dt.date | None, *, user=None) -> Event:
    """Show every undeclared ballot of ``poll_date`` at zero votes (``None``: switch it off).

    The API says so on every such ballot (``zeroCounts``); declared ballots
    always show their result. Records a ``zero_counts`` event.
    """
    with transaction.atomic():
        if poll_date is not None and not _ballots_of(poll_date).exists():
            raise _no_ballots_polled(poll_date, "")
        _lock_event_log()
        row = _rehearsal_row()
        before = row.zero_counts
        row.zero_counts = poll_date
        row.save(update_fields=["zero_counts"])
        rehearsal_state.forget()
        return record_event(
            Event.Kind.ZERO_COUNTS,
            user=user,
            payload={
                "poll_date": (poll_date or before).isoformat() if (poll_date or before) else None,
                "on": poll_date is not None,
            },
        )


def set_replay_paused(paused: bool) -> None:
    """Pause or resume a running replay (``replay_night`` waits while paused). Publishes nothing."""
    with transaction.atomic():
        Rehearsal.objects.get_or_create(pk=1)
        Rehearsal.objects.filter(pk=1).update(paused=paused)
        rehearsal_state.forget()


def reset_to_eve(poll_date: dt.date, *, posts: Iterable[Post] = (), user=None, reason: str = "") -> Event:
    """Return the poll of ``poll_date`` to its eve, and end the rehearsal if one is running.

    Every ballot of the day loses its result (votes, winners, figures,
    declaration time) and goes back to its status when the rehearsal
    started (awaiting, outside a rehearsal); posts published during the
    rehearsal, and ``posts``, are withdrawn (each with its
    ``post_withdrawn`` event); zero counts return to their state before the
    rehearsal. Then one ``reset`` event, which tells clients to reload.
    Nothing is deleted: the event log keeps the rehearsal, flagged, and
    every cursor stays valid. Locks in the lock order: ballots, elections,
    posts, the rehearsal row under the event-log lock.
    """
    with transaction.atomic():
        ballots = lock_ballots(_ballots_of(poll_date).values_list("pk", flat=True))
        if not ballots:
            raise _no_ballots_polled(poll_date, ": nothing to reset")
        for election_pk in sorted({b.election_id for b in ballots.values()}):
            _lock_election(election_pk)
        stored = Rehearsal.objects.filter(pk=1).first()
        rehearsing = stored is not None and stored.active and stored.poll_date == poll_date
        eve = stored.eve if rehearsing else {}
        rehearsal_posts = (
            Post.objects.filter(
                status=Post.Status.PUBLISHED,
                events__rehearsal=True,
                events__kind__in=[Event.Kind.POST_PUBLISHED, Event.Kind.POST_UPDATED],
            )
            if rehearsing
            else Post.objects.none()
        )
        post_pks = sorted({p.pk for p in posts} | set(rehearsal_posts.values_list("pk", flat=True)))
        withdrawn = list(
            Post.objects.select_for_update(no_key=True)
            .order_by("pk")
            .filter(pk__in=post_pks, status=Post.Status.PUBLISHED)
        )
        _reset_ballots(ballots, eve.get("ballots", {}))
        for post in withdrawn:
            post.status = Post.Status.WITHDRAWN
            post.version += 1
            post.save(update_fields=["status", "version", "updated_at"])
        # Compute on write: every election of the day back to its standing on the eve.
        elections = sorted({b.election_id for b in ballots.values()})
        refresh_standings(elections)
        _lock_event_log()
        row = _rehearsal_row()
        if rehearsing:
            row.active = False
            row.paused = False
            row.label, row.started_at, row.poll_date = "", None, None
            row.eve = {}
            row.zero_counts = dt.date.fromisoformat(eve["zero_counts"]) if eve.get("zero_counts") else None
            row.save()
        rehearsal_state.forget()
        events = _reset_events(poll_date, ballots, withdrawn, rehearsing=rehearsing, reason=reason, user=user)
        return record_events(events, fresh=elections)[-1]


def _reset_ballots(ballots: Mapping[int, Ballot], eve_status: Mapping[str, str]) -> None:
    """Clear the locked ballots' results (and their figures waiting for a check); each goes back to
    its status at the eve (``eve_status`` by ballot paper id; awaiting otherwise)."""
    Candidacy.objects.filter(ballot__in=list(ballots)).update(votes=None, elected=None, elected_by_lot=False)
    PendingCheck.objects.filter(ballot__in=list(ballots)).delete()
    for ballot in ballots.values():
        ballot.status = eve_status.get(ballot.ballot_paper_id, Ballot.Status.AWAITING)
        ballot.declared_at = None
        ballot.electorate = ballot.ballot_papers_counted = ballot.rejected_ballots = None
        ballot.certification = ballot.source = ballot.source_url = ""
        ballot.version += 1
    Ballot.objects.bulk_update(
        list(ballots.values()),
        RESULT_FIELDS,
    )


def _reset_events(
    poll_date: dt.date,
    ballots: Mapping[int, Ballot],
    withdrawn: list[Post],
    *,
    rehearsing: bool,
    reason: str,
    user,
) -> list[Event]:
    """A reset's unsaved events: each post withdrawn, then the ``reset`` (flagged as rehearsal when
    it ends one)."""
    events = [
        new_event(
            Event.Kind.POST_WITHDRAWN,
            user=user,
            payload={"uid": str(p.uid), "reason": "reset to the eve of the poll", "version": p.version},
            post=p,
        )
        for p in withdrawn
    ]
    events.append(
        new_event(
            Event.Kind.RESET,
            user=user,
            payload={
                "poll_date": poll_date.isoformat(),
                "ballots": len(ballots),
                # Each ballot now awaits its count, but for these (back to their status at the eve).
                "statuses": {
                    b.ballot_paper_id: b.status
                    for b in sorted(ballots.values(), key=lambda b: b.ballot_paper_id)
                    if b.status != Ballot.Status.AWAITING
                },
                "posts_withdrawn": [str(p.uid) for p in withdrawn],
                "ended_rehearsal": rehearsing,
                "reason": reason.strip(),
                "reload": True,
            },
        )
    )
    for event in events:
        # Part of the rehearsal it ends: flagged, like everything it undoes.
        event.rehearsal = rehearsing
    return events
