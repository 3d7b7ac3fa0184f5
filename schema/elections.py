"""Parties, councils, elections, ballots and candidacies.

Every derived figure (composition, control call and headline, counts,
turnout, vote shares, seat changes) is read from the election's stored
standing (``ElectionStanding``, kept current by the services: compute on
write); no resolver runs the rules. Top-level queries load elections with
their standing in one query and attach ballots and candidacies (one query
each, grouped in Python) only when the query selects them; parties are the
process's shared rows (``results.parties``). Only published data is exposed:
an undeclared ballot shows its status and candidates, never its votes or
winners.
"""

from __future__ import annotations

import datetime as dt

import strawberry
import strawberry_django
from django.db import connections
from django.db.models import Prefetch, QuerySet
from strawberry import auto

from results import figures, models, parties, rules
from results.parties import shared as party_of_pk
from results.parties import shared_by_ec_id as party_by_ec_id
from results.standings import standing_row as standing_of
from results.versions import version_changes

from . import lean
from .enums import (
    BallotStatus,
    Certification,
    ControlOutcome,
    ElectionCycle,
    ElectionKind,
    ResultSource,
    SeatChangeKind,
)
from .rehearsal import zero_counts_apply
from .versions import FIGURE_KINDS, BallotVersion, ballot_version, versions_of

# ---------------------------------------------------------------- caching


def prefetched(resolver):
    """Mark a resolver that reads only rows its loader prefetched.

    strawberry-django runs plain resolvers in a thread (sync_to_async) when
    the request is async, one hop per field per row; these never query, so
    they run in the event loop. Every loader of these types (``with_results``,
    ``events_queryset``, ``published_posts``) prefetches what they read.
    """
    resolver.is_async_safe = True
    return resolver


def ballots_of(election: models.Election) -> list[models.Ballot]:
    """The election's loaded ballots (``load_elections`` attaches them; a ``Prefetch`` otherwise)."""
    ballots = getattr(election, "_ballots", None)
    if ballots is None:
        ballots = election._ballots = list(election.ballots.all())
    return ballots


def candidacies_of(ballot: models.Ballot) -> list[models.Candidacy]:
    candidacies = getattr(ballot, "_candidacies", None)
    if candidacies is None:
        candidacies = ballot._candidacies = list(ballot.candidacies.all())
        for c in candidacies:
            c._state.fields_cache["ballot"] = ballot  # shares the ballot's loaded rows
    return candidacies


def elections_with_results():
    """Elections with their stored standing, ballots (with wards) and candidacies, for ``Prefetch``.

    Candidacies' parties are the process's shared rows (``results.parties``),
    never joined. Top-level queries use ``load_elections`` instead, which
    attaches children without a queryset per parent and only when selected.
    """
    return models.Election.objects.select_related("council", "standing").prefetch_related(
        Prefetch("ballots", queryset=models.Ballot.objects.select_related("ward").order_by()),
        Prefetch("ballots__candidacies", queryset=models.Candidacy.objects.order_by()),
    )


# The stored standing's larger JSON columns, parsed only when a query selects what they hold.
_BALLOT_FIGURES = ("changes", "share")  # per ballot: seat changes, candidates' shares
_VOTE_SHARE = ("voteShare",)


def elections_lean(info: strawberry.Info | None = None):
    """Elections with their council and stored standing: enough for every figure but the ballots.

    With ``info``, the standing's per-ballot figures and vote shares are read
    only if the query selects them (parsing them is most of the cost of a
    day's elections otherwise).
    """
    qs = models.Election.objects.select_related("council", "standing")
    if info is not None:
        deferred = []
        if not any(selects_anywhere(info, name) for name in _BALLOT_FIGURES):
            deferred.append("standing__ballot_figures")
        if not any(selects_anywhere(info, name) for name in _VOTE_SHARE):
            deferred.append("standing__vote_share")
        if deferred:
            qs = qs.defer(*deferred)
    return qs


def load_elections(
    elections, *, ballots: bool = True, candidacies: bool = True, key: tuple | None = None, params=()
) -> list[models.Election]:
    """Evaluate ``elections`` and attach their ballots and candidacies, one query each, grouped in Python.

    With ``ballots`` false nothing more is read: every election figure is stored. ``key`` and
    ``params`` name the shape of the elections' filters and their values (``lean``): its SQL
    is then compiled once per process and database.
    """
    elections = (
        lean.select_related_instances(elections, key, params)
        if isinstance(elections, QuerySet)
        else list(elections)
    )
    parties.refresh()  # after reading the rows: every party they name is loaded
    if not ballots or not elections:
        return elections
    by_pk = {e.pk: e for e in elections}
    for election in elections:
        election._ballots = []
    pks = list(by_pk)
    db = elections[0]._state.db
    nb = len(_BALLOT_NAMES)
    by_ballot = {}
    for row in lean.value_rows(
        models.Ballot,
        ("ballots", len(pks)) if len(pks) <= _COMPILED_UP_TO else None,
        lambda: models.Ballot.objects.filter(election_id__in=pks).order_by().values_list(*_BALLOT_COLUMNS),
        pks,
    ):
        ballot = lean.instance(models.Ballot, _BALLOT_NAMES, row[:nb], db)
        cache = ballot._state.fields_cache = {}
        cache["ward"] = (
            lean.instance(models.Ward, _WARD_NAMES, row[nb:], db) if ballot.ward_id is not None else None
        )
        election = by_pk[ballot.election_id]
        cache["election"] = election
        election._ballots.append(ballot)
        by_ballot[ballot.pk] = ballot
        if candidacies:
            ballot._candidacies = []
    if candidacies and by_ballot:
        by_party = parties.parties_by_pk()
        for c in lean.instances(
            models.Candidacy,
            _CANDIDACY_NAMES,
            lean.value_rows(
                models.Candidacy,
                ("candidacies", len(pks)) if len(pks) <= _COMPILED_UP_TO else None,
                lambda: (
                    models.Candidacy.objects.filter(ballot__election_id__in=pks)
                    .order_by()
                    .values_list(*_CANDIDACY_NAMES)
                ),
                pks,
            ),
            db,
        ):
            ballot = by_ballot[c.ballot_id]
            c._state.fields_cache = {"ballot": ballot, "party": parties.party(c.party_id, by_party)}
            ballot._candidacies.append(c)
    return elections


# The columns ``load_elections`` reads: every concrete field, as the querysets it replaced did.
_BALLOT_NAMES = lean.attnames(models.Ballot)
_WARD_NAMES = lean.attnames(models.Ward)
_BALLOT_COLUMNS = (*_BALLOT_NAMES, *(f"ward__{name}" for name in _WARD_NAMES))
_CANDIDACY_NAMES = lean.attnames(models.Candidacy)
_POLL_DATE = models.Election._meta.get_field("poll_date")
# Their SQL is compiled once per process and database for up to this many elections (one shape per number).
_COMPILED_UP_TO = 8


def selects_anywhere(info: strawberry.Info, name: str) -> bool:
    """Whether a field of this name is selected anywhere under the current field."""

    def walk(selections) -> bool:
        for selection in selections:
            if getattr(selection, "name", None) == name and hasattr(selection, "arguments"):
                return True
            if walk(getattr(selection, "selections", ()) or ()):
                return True
        return False

    return any(walk(field.selections) for field in info.selected_fields)


def _fields(selections):
    """The fields of a selection set, fragments expanded."""
    for selection in selections:
        if getattr(selection, "type_condition", None) is not None or not hasattr(selection, "arguments"):
            yield from _fields(getattr(selection, "selections", ()) or ())
        else:
            yield selection


def selects_below(info: strawberry.Info, child: str, name: str) -> bool:
    """Whether the current field's ``child`` field selects a field ``name`` anywhere beneath it."""

    def walk(selections) -> bool:
        for selection in selections:
            if getattr(selection, "name", None) == name and hasattr(selection, "arguments"):
                return True
            if walk(getattr(selection, "selections", ()) or ()):
                return True
        return False

    return any(
        walk(f.selections or ())
        for field in info.selected_fields
        for f in _fields(field.selections)
        if f.name == child
    )


def load_for(info: strawberry.Info, elections, key: tuple | None = None, params=()) -> list[models.Election]:
    """``load_elections`` with only what the query selects."""
    ballots = selects_anywhere(info, "ballots")
    return load_elections(
        elections,
        ballots=ballots,
        candidacies=ballots and selects_anywhere(info, "candidacies"),
        key=key,
        params=params,
    )


# ---------------------------------------------------------------- simple types


# Party, Ward and Candidacy are plain Strawberry types over the loaded rows: they are the most
# numerous objects of a page (a party per candidacy), and strawberry_django's per-field wrapper
# cost more than the fields themselves, with nothing to optimise (the loaders attach every row).


def _party_id(root: strawberry.Parent[models.Party]) -> strawberry.ID:
    return strawberry.ID(root.ec_id)


def _lead_party(root: strawberry.Parent[models.Party]) -> Party | None:
    return party_of_pk(root.lead_party_id) if root.lead_party_id else None


@strawberry.type(
    description="A party, the Independent row (`ynmp-party:2`), or a joint description "
    "(`joint-party:53-119`, which counts for its lead party).",
)
class Party:
    id: strawberry.ID = strawberry.field(
        resolver=_party_id, description="Electoral Commission id, e.g. `PP53` (Labour)."
    )
    name: str = strawberry.field(description="Registered name.")
    short_name: str = strawberry.field(description='Name used in headlines, e.g. "Lib Dems".')
    abbreviation: str = strawberry.field(description='Abbreviation, e.g. "LD".')
    colour: str = strawberry.field(description="Hex colour for charts, e.g. `#E4003B`.")
    is_independent: bool = strawberry.field(
        description="True for Independents: they share one row but are not a group and never control a council."
    )
    lead_party: Party | None = strawberry.field(
        resolver=_lead_party, description="For a joint description: the party its seats count for."
    )


@strawberry.type(description="An electoral ward (division) of a council.")
class Ward:
    slug: str = strawberry.field(description='e.g. "allestree".')
    name: str = strawberry.field(description="Ward name.")
    seats: int = strawberry.field(description="Councillors the ward elects.")


@strawberry.type(description="One party's line in a council's composition.")
class PartySeats:
    party: Party = strawberry.field(description="The party (joint descriptions count for their lead party).")
    seats: int = strawberry.field(description="Seats now: won at this election so far plus seats not up.")
    seats_before: int = strawberry.field(description="Seats held on the eve of the poll.")
    change: int = strawberry.field(
        description="Net change over declared ballots against their previous winners (notional where "
        "boundaries changed)."
    )
    seats_won: int = strawberry.field(description="Seats won at this election, declared so far.")
    seats_not_up: int = strawberry.field(description="Seats not up at this election (thirds, halves).")
    seats_needed: int = strawberry.field(description="Seats still needed for a majority; 0 once reached.")


@strawberry.type(description="One party's votes across an election's declared ballots.")
class PartyVotes:
    party: Party = strawberry.field(description="The party (joint descriptions count for their lead party).")
    votes: int = strawberry.field(description="Votes for its candidates in declared ballots.")
    share: float | None = strawberry.field(
        description="Share of all votes cast in declared ballots, 0 to 1. In multi-member wards each voter "
        "has as many votes as seats, so this is a share of votes, not of voters."
    )


@strawberry.type(description="Whether control of a council can be called yet, and for whom.")
class ControlCall:
    called: bool = strawberry.field(
        description="True once declared seats and seats not up make the result certain."
    )
    party: Party | None = strawberry.field(
        description="The controlling party once called; null = no overall control (or not yet called)."
    )
    party_before: Party | None = strawberry.field(
        description="Control on the eve of the poll; null = no overall control."
    )
    outcome: ControlOutcome | None = strawberry.field(
        description="Hold, gain, loss to NOC, NOC remains; null until called."
    )
    headline: str | None = strawberry.field(
        description='e.g. "Labour gain North East Derbyshire", "Derby remains in no overall control"; '
        "null until called."
    )
    majority: int = strawberry.field(description="The magic number: seats // 2 + 1 of all seats.")
    seats_declared: int = strawberry.field(description="Seats declared so far.")
    seats_to_declare: int = strawberry.field(description="Seats up that are still to declare.")


@strawberry.type(
    description="One seat filled at a ballot: the winning party against the seat's previous winner."
)
class SeatChange:
    party: Party = strawberry.field(description="The winning party.")
    kind: SeatChangeKind = strawberry.field(description="HOLD or GAIN.")
    previous_party: Party | None = strawberry.field(
        description="The party that held the seat; null for a seat with no previous winner."
    )
    headline: str = strawberry.field(description='e.g. "Lib Dems gain Blaby South from Conservatives".')


# ---------------------------------------------------------------- candidacies


def _person_name(root: strawberry.Parent[models.Candidacy]) -> str:
    return root.person_name


@strawberry.type(description="A person standing on a ballot.")
class Candidacy:
    name: str = strawberry.field(resolver=_person_name, description="The candidate's name.")

    @strawberry.field(description="Party as on the ballot paper (may be a joint description).")
    def party(self, root: strawberry.Parent[models.Candidacy]) -> Party:
        return party_of_pk(root.party_id)

    @strawberry.field(description="Democracy Club person id; null where unknown.")
    def person_id(self, root: strawberry.Parent[models.Candidacy]) -> str | None:
        return root.person_id or None

    @strawberry.field(description='Ballot paper description, e.g. "Local Conservatives"; null when none.')
    def description(self, root: strawberry.Parent[models.Candidacy]) -> str | None:
        return root.description or None

    @strawberry.field(
        description="Votes; null until the ballot is declared, and for an uncontested one. 0 while the "
        "ballot shows zero counts (`Ballot.zeroCounts`): a placeholder, never a result."
    )
    def votes(self, root: strawberry.Parent[models.Candidacy]) -> int | None:
        if zero_counts_apply(root.ballot):
            return 0
        return root.votes if root.ballot.is_published else None

    @strawberry.field(
        description="Share of all votes cast in the ballot, 0 to 1; null until declared. In a multi-member "
        "ward each voter has as many votes as seats, so this is a share of votes, not of voters."
    )
    def share(self, root: strawberry.Parent[models.Candidacy]) -> float | None:
        ballot = root.ballot
        if zero_counts_apply(ballot):
            return 0.0
        return figures.vote_share(root)

    @strawberry.field(
        description="Elected; null until the ballot is declared (false while it shows zero counts)."
    )
    def elected(self, root: strawberry.Parent[models.Candidacy]) -> bool | None:
        if zero_counts_apply(root.ballot):
            return False
        return bool(root.elected) if root.ballot.is_published else None

    @strawberry.field(description="Won a tie at the cut-off by drawing lots.")
    def elected_by_lot(self, root: strawberry.Parent[models.Candidacy]) -> bool:
        return bool(root.elected_by_lot) if root.ballot.is_published else False


# ---------------------------------------------------------------- ballots


def _surname_order(c: models.Candidacy):
    return rules.ballot_paper_order(c.person_name)


@strawberry_django.type(
    models.Ballot, description="One contest: a ward's election, or a mayoralty (no ward)."
)
class Ballot:
    id: strawberry.ID = strawberry_django.field(
        field_name="ballot_paper_id", description='Ballot paper id, e.g. "local.derby.allestree.2023-05-04".'
    )
    ward: Ward | None = strawberry_django.field(description="The ward; null for a mayoralty.")
    seats: int = strawberry_django.field(field_name="winner_count", description="Seats this ballot fills.")
    declared_at: dt.datetime | None = strawberry_django.field(
        description="When it was declared; null until then."
    )

    @strawberry_django.field(
        description="Registered electors, as the declaration gave them; null until declared "
        "(figures typed while counting are not public)."
    )
    @prefetched
    def electorate(self, root: strawberry.Parent[models.Ballot]) -> int | None:
        return root.electorate if root.is_published else None

    @strawberry_django.field(description="The election this ballot belongs to.")
    @prefetched
    def election(self, root: strawberry.Parent[models.Ballot]) -> Election:
        return root.election

    @strawberry_django.field(
        description="True while the zero-counts switch is on for this ballot's poll date and it is not "
        "declared: its candidates show 0 votes, share 0 and not elected so that pages can be laid out before "
        "any result exists. Never a result: a declared ballot always shows its real figures."
    )
    @prefetched
    def zero_counts(self, root: strawberry.Parent[models.Ballot]) -> bool:
        return zero_counts_apply(root)

    @strawberry_django.field(description='Human name: the ward, or "Mayor of Mansfield".')
    @prefetched
    def label(self, root: strawberry.Parent[models.Ballot]) -> str:
        return root.label

    @strawberry_django.field(description="Where the count stands.")
    @prefetched
    def status(self, root: strawberry.Parent[models.Ballot]) -> BallotStatus:
        return BallotStatus(root.status)

    @strawberry_django.field(description="Ballot papers counted, rejected included; null until declared.")
    @prefetched
    def ballot_papers_counted(self, root: strawberry.Parent[models.Ballot]) -> int | None:
        return root.ballot_papers_counted if root.is_published else None

    @strawberry_django.field(description="Rejected ballot papers; null until declared.")
    @prefetched
    def rejected_ballots(self, root: strawberry.Parent[models.Ballot]) -> int | None:
        return root.rejected_ballots if root.is_published else None

    @strawberry_django.field(
        description="Ballot papers counted (rejected included) over the electorate, 0 to 1; null until declared."
    )
    @prefetched
    def turnout(self, root: strawberry.Parent[models.Ballot]) -> float | None:
        return figures.ballot_turnout(root)

    @strawberry_django.field(
        description="Votes each voter may cast: the number of seats. Vote shares are of all votes cast."
    )
    @prefetched
    def votes_per_voter(self, root: strawberry.Parent[models.Ballot]) -> int:
        return root.winner_count

    @strawberry_django.field(
        description="Candidates: once declared in order of votes (winners first), before that in ballot "
        "paper order (by surname)."
    )
    @prefetched
    def candidacies(self, root: strawberry.Parent[models.Ballot]) -> list[Candidacy]:
        candidacies = candidacies_of(root)
        if not root.is_published:
            return sorted(candidacies, key=_surname_order)
        return sorted(
            candidacies,
            key=lambda c: (not c.elected, rules.result_order(c.votes, c.elected_by_lot, _surname_order(c))),
        )

    @strawberry_django.field(description="How final the published result is; null until declared.")
    @prefetched
    def certification(self, root: strawberry.Parent[models.Ballot]) -> Certification | None:
        return Certification(root.certification) if root.is_published and root.certification else None

    @strawberry_django.field(description="Where the published figures came from; null until declared.")
    @prefetched
    def source(self, root: strawberry.Parent[models.Ballot]) -> ResultSource | None:
        return ResultSource(root.source) if root.is_published and root.source else None

    @strawberry_django.field(
        description="The council's results page the figures were taken from, where there is one; null until "
        "declared."
    )
    @prefetched
    def source_url(self, root: strawberry.Parent[models.Ballot]) -> str | None:
        return (root.source_url or None) if root.is_published else None

    @strawberry_django.field(
        description="Every published version of the result, oldest first: each declaration, correction, "
        "certification and retraction as it was published, with who, when, why and what changed. A "
        "retracted ballot's earlier figures are withheld until it is declared again. One query per "
        "election however many versions."
    )
    def versions(self, root: strawberry.Parent[models.Ballot]) -> list[BallotVersion]:
        events = versions_of(root)
        result, previous = [], None
        for event in events:
            changes = None
            if (
                previous is not None
                and event.kind in FIGURE_KINDS
                and "changes" not in event.payload
                and previous.kind in FIGURE_KINDS
            ):
                changes = list(version_changes(previous.payload, event.payload))
            result.append(ballot_version(event, figures=root.is_published, changes=changes))
            previous = event
        return result

    @strawberry_django.field(
        description="Each seat's winner against its previous winner; empty until declared."
    )
    @prefetched
    def changes(self, root: strawberry.Parent[models.Ballot]) -> list[SeatChange]:
        return [
            SeatChange(
                party=change.party,
                kind=SeatChangeKind(change.kind.value),
                previous_party=change.previous,
                headline=change.headline,
            )
            for change in figures.seat_changes(root)
        ]


# ---------------------------------------------------------------- elections and councils


@strawberry_django.type(models.Election, description="One council's election on one day, or a mayoralty's.")
class Election:
    id: strawberry.ID = strawberry_django.field(
        field_name="election_id", description='e.g. "local.derby.2023-05-04", "mayor.mansfield.2023-05-04".'
    )
    poll_date: auto = strawberry_django.field(description="Day of the poll.")
    council: Council = strawberry_django.field(description="The council.")

    @strawberry_django.field(
        description="Control on the eve of the poll; null = no overall control (always null for a mayoralty)."
    )
    @prefetched
    def control_before(self, root: strawberry.Parent[models.Election]) -> Party | None:
        return party_of_pk(root.control_before_id) if root.control_before_id else None

    @strawberry_django.field(description="Council election or mayoralty.")
    @prefetched
    def kind(self, root: strawberry.Parent[models.Election]) -> ElectionKind:
        return ElectionKind(root.kind)

    @strawberry_django.field(description="All out, halves or thirds.")
    @prefetched
    def cycle(self, root: strawberry.Parent[models.Election]) -> ElectionCycle:
        return ElectionCycle(root.cycle)

    @strawberry_django.field(description="Seats on the council after the election, seats not up included.")
    @prefetched
    def seats_total(self, root: strawberry.Parent[models.Election]) -> int:
        return standing_of(root).seats_total

    @strawberry_django.field(description="Seats up at this election.")
    @prefetched
    def seats_up(self, root: strawberry.Parent[models.Election]) -> int:
        return standing_of(root).seats_up

    @strawberry_django.field(
        description="The magic number: seats a party needs to control the council; null for a mayoralty."
    )
    @prefetched
    def majority(self, root: strawberry.Parent[models.Election]) -> int | None:
        return standing_of(root).majority

    @strawberry_django.field(description="Seats declared so far.")
    @prefetched
    def seats_declared(self, root: strawberry.Parent[models.Election]) -> int:
        return standing_of(root).seats_declared

    @strawberry_django.field(description="Seats up that are still to declare.")
    @prefetched
    def seats_to_declare(self, root: strawberry.Parent[models.Election]) -> int:
        return standing_of(root).seats_to_declare

    @strawberry_django.field(description="Ballots declared (or uncontested) so far.")
    @prefetched
    def ballots_declared(self, root: strawberry.Parent[models.Election]) -> int:
        return standing_of(root).ballots_declared

    @strawberry_django.field(description="Ballots in this election.")
    @prefetched
    def ballots_total(self, root: strawberry.Parent[models.Election]) -> int:
        return standing_of(root).ballots_total

    @strawberry_django.field(description="When the latest ballot was declared; null before the first.")
    @prefetched
    def last_declared_at(self, root: strawberry.Parent[models.Election]) -> dt.datetime | None:
        return standing_of(root).last_declared_at

    @strawberry_django.field(
        description="Seats by party, largest first: seats now, before, change, won, not up, still needed. "
        "Empty for a mayoralty."
    )
    @prefetched
    def composition(self, root: strawberry.Parent[models.Election]) -> list[PartySeats]:
        rows = standing_of(root).composition
        if rows is None:
            return []
        return [
            PartySeats(
                party=party_by_ec_id(row["party"]),
                seats=row["seats"],
                seats_before=row["seats_before"],
                change=row["change"],
                seats_won=row["seats_won"],
                seats_not_up=row["seats_not_up"],
                seats_needed=row["seats_needed"],
            )
            for row in rows
        ]

    @strawberry_django.field(description="The control call; null for a mayoralty.")
    @prefetched
    def control(self, root: strawberry.Parent[models.Election]) -> ControlCall | None:
        standing = standing_of(root)
        if standing.composition is None:
            return None
        return ControlCall(
            called=standing.control_called,
            party=party_by_ec_id(standing.control_party) if standing.control_party else None,
            party_before=party_of_pk(root.control_before_id) if root.control_before_id else None,
            outcome=ControlOutcome(standing.control_outcome) if standing.control_outcome else None,
            headline=standing.headline or None,
            majority=standing.majority,
            seats_declared=standing.seats_declared,
            seats_to_declare=standing.seats_to_declare,
        )

    @strawberry_django.field(
        description="Ballot papers counted over electorate across declared ballots that report both; "
        "null when none do."
    )
    @prefetched
    def turnout(self, root: strawberry.Parent[models.Election]) -> float | None:
        return standing_of(root).turnout

    @strawberry_django.field(
        description="Votes and vote share by party across declared ballots, most votes first."
    )
    @prefetched
    def vote_share(self, root: strawberry.Parent[models.Election]) -> list[PartyVotes]:
        return [
            PartyVotes(party=party_by_ec_id(row["party"]), votes=row["votes"], share=row["share"])
            for row in standing_of(root).vote_share
        ]

    @strawberry_django.field(description="The ballots, in ward order (a mayoralty has one, with no ward).")
    @prefetched
    def ballots(self, root: strawberry.Parent[models.Election]) -> list[Ballot]:
        return sorted(ballots_of(root), key=lambda b: (b.ward.name if b.ward_id else "", b.ballot_paper_id))


@strawberry_django.type(models.Council, description="A local authority.")
class Council:
    slug: auto = strawberry_django.field(description='Democracy Club organisation slug, e.g. "derby".')
    name: auto = strawberry_django.field(description='Name used in headlines, e.g. "Hinckley and Bosworth".')
    official_name: auto = strawberry_django.field(description='e.g. "Derby City Council".')
    official_identifier: auto = strawberry_django.field(description="ONS/GSS code, where known.")

    @strawberry_django.field(description="The council's elections (council and mayoral), newest first.")
    def elections(self, root: strawberry.Parent[models.Council], info: strawberry.Info) -> list[Election]:
        elections = getattr(root, "_elections", None)
        if elections is None:
            elections = load_for(
                info, elections_lean(info).filter(council=root).order_by("-poll_date", "kind")
            )
        return elections


def _selects(selections, name: str) -> bool:
    """Whether a field of this name is selected here, fragments included."""
    for selection in selections:
        if getattr(selection, "type_condition", None) is not None or not hasattr(selection, "arguments"):
            if _selects(getattr(selection, "selections", ()), name):
                return True
        elif selection.name == name:
            return True
    return False


def load_councils(info: strawberry.Info, councils) -> list[models.Council]:
    """Councils, with their elections (and what the query selects of them) loaded in one batch when asked."""
    councils = list(councils)
    if councils and any(_selects(field.selections, "elections") for field in info.selected_fields):
        by_pk = {c.pk: c for c in councils}
        for council in councils:
            council._elections = []
        elections = load_for(
            info, elections_lean(info).filter(council_id__in=list(by_pk)).order_by("-poll_date", "kind")
        )
        for election in elections:
            by_pk[election.council_id]._elections.append(election)
    return councils


# ---------------------------------------------------------------- queries


@strawberry.type
class ElectionQuery:
    @strawberry_django.field(description="Every party, by name.", disable_optimization=True)
    def parties(self) -> list[Party]:
        return sorted(parties.refresh().values(), key=lambda p: (p.name, p.pk))

    @strawberry_django.field(description="Every council, by name.", disable_optimization=True)
    def councils(self, info: strawberry.Info) -> list[Council]:
        return load_councils(info, models.Council.objects.order_by("name"))

    @strawberry_django.field(description='One council by slug, e.g. "derby".', disable_optimization=True)
    def council(self, info: strawberry.Info, slug: str) -> Council | None:
        return next(iter(load_councils(info, models.Council.objects.filter(slug=slug))), None)

    @strawberry_django.field(
        description="Elections, newest first then by council. Filter by poll date, council slug, kind, and "
        "whether control has been called (mayoralties have no control call and are left out by that filter)."
    )
    def elections(
        self,
        info: strawberry.Info,
        poll_date: dt.date | None = None,
        council: str | None = None,
        kind: ElectionKind | None = None,
        control_called: bool | None = None,
    ) -> list[Election]:
        qs = elections_lean(info).order_by("-poll_date", "council__name", "kind")
        params = []  # the filters' values as the database takes them, in the order of the SQL
        if poll_date is not None:
            qs = qs.filter(poll_date=poll_date)
            params.append(_POLL_DATE.get_db_prep_value(poll_date, connections[qs.db]))
        if council is not None:
            qs = qs.filter(council__slug=council)
            params.append(council)
        if kind is not None:
            qs = qs.filter(kind=kind.value)
            params.append(kind.value)
        if control_called is not None:
            # Stored figures: filtered in SQL (mayoralties, with no call, have no stored composition).
            qs = qs.filter(standing__control_called=control_called, standing__composition__isnull=False)
        # A boolean filter is written into the SQL (`AND control_called`, `AND NOT ...`), not passed.
        shape = ("elections", poll_date is not None, council is not None, kind is not None, control_called)
        return load_for(info, qs, shape, params)

    @strawberry_django.field(description='One election by id, e.g. "local.derby.2023-05-04".')
    def election(self, info: strawberry.Info, id: strawberry.ID) -> Election | None:
        return next(
            iter(load_for(info, elections_lean(info).filter(election_id=id), ("election-by-id",), [id])), None
        )

    @strawberry_django.field(
        description='One ballot by ballot paper id, e.g. "local.derby.allestree.2023-05-04".'
    )
    def ballot(self, info: strawberry.Info, id: strawberry.ID) -> Ballot | None:
        elections = load_elections(
            elections_lean(info).filter(ballots__ballot_paper_id=id),
            candidacies=selects_anywhere(info, "candidacies"),
        )
        if not elections:
            return None
        return next(b for b in ballots_of(elections[0]) if b.ballot_paper_id == id)
