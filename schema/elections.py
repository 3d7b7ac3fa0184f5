"""Parties, councils, elections, ballots and candidacies.

Election trees (composition, control, ballots, candidacies, changes) are
loaded in a fixed number of queries by ``Election.objects.with_results()``
and every derived figure is read from ``results.standings``, computed once per
election per request. Only published data is exposed: an undeclared ballot
shows its status and candidates, never its votes or winners.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import strawberry
import strawberry_django
from django.db.models import Prefetch
from strawberry import auto

from results import models, rules
from results.standings import ballot_changes, counting_party, election_standing
from results.versions import version_changes

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


def standing_of(election: models.Election):
    """The election's standing, computed once per loaded instance."""
    cached = getattr(election, "_standing_cache", None)
    if cached is None:
        cached = election._standing_cache = (election_standing(election),)
    return cached[0]


def changes_of(ballot: models.Ballot):
    cached = getattr(ballot, "_changes_cache", None)
    if cached is None:
        cached = ballot._changes_cache = ballot_changes(ballot)
    return cached


def elections_with_results():
    return models.Election.objects.with_results()


# ---------------------------------------------------------------- simple types


@strawberry_django.type(
    models.Party,
    description="A party, the Independent row (`ynmp-party:2`), or a joint description "
    "(`joint-party:53-119`, which counts for its lead party).",
)
class Party:
    id: strawberry.ID = strawberry_django.field(
        field_name="ec_id", description="Electoral Commission id, e.g. `PP53` (Labour)."
    )
    name: auto = strawberry_django.field(description="Registered name.")
    short_name: auto = strawberry_django.field(description='Name used in headlines, e.g. "Lib Dems".')
    abbreviation: auto = strawberry_django.field(description='Abbreviation, e.g. "LD".')
    colour: auto = strawberry_django.field(description="Hex colour for charts, e.g. `#E4003B`.")
    is_independent: auto = strawberry_django.field(
        description="True for Independents: they share one row but are not a group and never control a council."
    )
    lead_party: Party | None = strawberry_django.field(
        description="For a joint description: the party its seats count for."
    )


@strawberry_django.type(models.Ward, description="An electoral ward (division) of a council.")
class Ward:
    slug: auto = strawberry_django.field(description='e.g. "allestree".')
    name: auto = strawberry_django.field(description="Ward name.")
    seats: auto = strawberry_django.field(description="Councillors the ward elects.")


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


@strawberry_django.type(models.Candidacy, description="A person standing on a ballot.")
class Candidacy:
    name: str = strawberry_django.field(field_name="person_name", description="The candidate's name.")
    party: Party = strawberry_django.field(
        description="Party as on the ballot paper (may be a joint description)."
    )

    @strawberry_django.field(description="Democracy Club person id; null where unknown.")
    @prefetched
    def person_id(self, root: strawberry.Parent[models.Candidacy]) -> str | None:
        return root.person_id or None

    @strawberry_django.field(
        description='Ballot paper description, e.g. "Local Conservatives"; null when none.'
    )
    @prefetched
    def description(self, root: strawberry.Parent[models.Candidacy]) -> str | None:
        return root.description or None

    @strawberry_django.field(
        description="Votes; null until the ballot is declared, and for an uncontested one. 0 while the "
        "ballot shows zero counts (`Ballot.zeroCounts`): a placeholder, never a result."
    )
    @prefetched
    def votes(self, root: strawberry.Parent[models.Candidacy]) -> int | None:
        if zero_counts_apply(root.ballot):
            return 0
        return root.votes if root.ballot.is_published else None

    @strawberry_django.field(
        description="Share of all votes cast in the ballot, 0 to 1; null until declared. In a multi-member "
        "ward each voter has as many votes as seats, so this is a share of votes, not of voters."
    )
    @prefetched
    def share(self, root: strawberry.Parent[models.Candidacy]) -> float | None:
        ballot = root.ballot
        if zero_counts_apply(ballot):
            return 0.0
        if not ballot.is_published or root.votes is None:
            return None
        return rules.vote_shares({c.pk: c.votes for c in ballot.candidacies.all()})[root.pk]

    @strawberry_django.field(
        description="Elected; null until the ballot is declared (false while it shows zero counts)."
    )
    @prefetched
    def elected(self, root: strawberry.Parent[models.Candidacy]) -> bool | None:
        if zero_counts_apply(root.ballot):
            return False
        return bool(root.elected) if root.ballot.is_published else None

    @strawberry_django.field(description="Won a tie at the cut-off by drawing lots.")
    @prefetched
    def elected_by_lot(self, root: strawberry.Parent[models.Candidacy]) -> bool:
        return bool(root.elected_by_lot) if root.ballot.is_published else False


# ---------------------------------------------------------------- ballots


def _surname_order(c: models.Candidacy):
    parts = c.person_name.split()
    return (parts[-1].lower() if parts else "", c.person_name.lower())


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
        return rules.turnout(root.ballot_papers_counted, root.electorate) if root.is_published else None

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
        candidacies = list(root.candidacies.all())
        for c in candidacies:
            c.ballot = root  # shares the ballot's prefetched rows
        if not root.is_published:
            return sorted(candidacies, key=_surname_order)
        return sorted(
            candidacies,
            key=lambda c: (not c.elected, -(c.votes or 0), not c.elected_by_lot, _surname_order(c)),
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
                party=c.party,
                kind=SeatChangeKind(c.kind.value),
                previous_party=c.previous,
                headline=c.headline,
            )
            for c in changes_of(root)
        ]


# ---------------------------------------------------------------- elections and councils


@strawberry_django.type(models.Election, description="One council's election on one day, or a mayoralty's.")
class Election:
    id: strawberry.ID = strawberry_django.field(
        field_name="election_id", description='e.g. "local.derby.2023-05-04", "mayor.mansfield.2023-05-04".'
    )
    poll_date: auto = strawberry_django.field(description="Day of the poll.")
    council: Council = strawberry_django.field(description="The council.")
    control_before: Party | None = strawberry_django.field(
        description="Control on the eve of the poll; null = no overall control (always null for a mayoralty)."
    )

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
        standing = standing_of(root)
        return (
            standing.composition.seats_total if standing else sum(b.winner_count for b in root.ballots.all())
        )

    @strawberry_django.field(description="Seats up at this election.")
    @prefetched
    def seats_up(self, root: strawberry.Parent[models.Election]) -> int:
        standing = standing_of(root)
        return standing.composition.seats_up if standing else sum(b.winner_count for b in root.ballots.all())

    @strawberry_django.field(
        description="The magic number: seats a party needs to control the council; null for a mayoralty."
    )
    @prefetched
    def majority(self, root: strawberry.Parent[models.Election]) -> int | None:
        standing = standing_of(root)
        return standing.composition.majority if standing else None

    @strawberry_django.field(description="Seats declared so far.")
    @prefetched
    def seats_declared(self, root: strawberry.Parent[models.Election]) -> int:
        standing = standing_of(root)
        if standing:
            return standing.composition.seats_declared
        return sum(b.winner_count for b in root.ballots.all() if b.is_published)

    @strawberry_django.field(description="Seats up that are still to declare.")
    @prefetched
    def seats_to_declare(self, root: strawberry.Parent[models.Election]) -> int:
        standing = standing_of(root)
        if standing:
            return standing.composition.seats_to_declare
        return sum(b.winner_count for b in root.ballots.all() if not b.is_published)

    @strawberry_django.field(description="Ballots declared (or uncontested) so far.")
    @prefetched
    def ballots_declared(self, root: strawberry.Parent[models.Election]) -> int:
        return sum(1 for b in root.ballots.all() if b.is_published)

    @strawberry_django.field(description="Ballots in this election.")
    @prefetched
    def ballots_total(self, root: strawberry.Parent[models.Election]) -> int:
        return len(root.ballots.all())

    @strawberry_django.field(description="When the latest ballot was declared; null before the first.")
    @prefetched
    def last_declared_at(self, root: strawberry.Parent[models.Election]) -> dt.datetime | None:
        return max((b.declared_at for b in root.ballots.all() if b.is_published), default=None)

    @strawberry_django.field(
        description="Seats by party, largest first: seats now, before, change, won, not up, still needed. "
        "Empty for a mayoralty."
    )
    @prefetched
    def composition(self, root: strawberry.Parent[models.Election]) -> list[PartySeats]:
        standing = standing_of(root)
        if standing is None:
            return []
        return [
            PartySeats(
                party=party,
                seats=row.seats,
                seats_before=row.seats_before,
                change=row.change,
                seats_won=row.seats_won,
                seats_not_up=row.seats_not_up,
                seats_needed=row.seats_needed,
            )
            for party, row in standing.party_rows()
        ]

    @strawberry_django.field(description="The control call; null for a mayoralty.")
    @prefetched
    def control(self, root: strawberry.Parent[models.Election]) -> ControlCall | None:
        standing = standing_of(root)
        if standing is None:
            return None
        call = standing.composition.control
        return ControlCall(
            called=call.called,
            party=standing.control_party,
            party_before=standing.control_before,
            outcome=ControlOutcome(call.outcome.value) if call.outcome else None,
            headline=standing.headline,
            majority=call.majority,
            seats_declared=call.seats_declared,
            seats_to_declare=call.seats_to_declare,
        )

    @strawberry_django.field(
        description="Ballot papers counted over electorate across declared ballots that report both; "
        "null when none do."
    )
    @prefetched
    def turnout(self, root: strawberry.Parent[models.Election]) -> float | None:
        rows = [
            (b.ballot_papers_counted, b.electorate)
            for b in root.ballots.all()
            if b.is_published and b.ballot_papers_counted is not None and b.electorate
        ]
        if not rows:
            return None
        return rules.turnout(sum(c for c, _ in rows), sum(e for _, e in rows))

    @strawberry_django.field(
        description="Votes and vote share by party across declared ballots, most votes first."
    )
    @prefetched
    def vote_share(self, root: strawberry.Parent[models.Election]) -> list[PartyVotes]:
        totals: dict[str, int] = defaultdict(int)
        parties: dict[str, models.Party] = {}
        for ballot in root.ballots.all():
            if not ballot.is_published:
                continue
            for c in ballot.candidacies.all():
                if c.votes is None:
                    continue
                party = counting_party(c.party)
                parties[party.ec_id] = party
                totals[party.ec_id] += c.votes
        shares = rules.vote_shares(totals)
        return [
            PartyVotes(party=parties[k], votes=v, share=shares[k])
            for k, v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        ]

    @strawberry_django.field(description="The ballots, in ward order (a mayoralty has one, with no ward).")
    @prefetched
    def ballots(self, root: strawberry.Parent[models.Election]) -> list[Ballot]:
        return sorted(root.ballots.all(), key=lambda b: (b.ward.name if b.ward_id else "", b.ballot_paper_id))


@strawberry_django.type(models.Council, description="A local authority.")
class Council:
    slug: auto = strawberry_django.field(description='Democracy Club organisation slug, e.g. "derby".')
    name: auto = strawberry_django.field(description='Name used in headlines, e.g. "Hinckley and Bosworth".')
    official_name: auto = strawberry_django.field(description='e.g. "Derby City Council".')
    official_identifier: auto = strawberry_django.field(description="ONS/GSS code, where known.")

    @strawberry_django.field(description="The council's elections (council and mayoral), newest first.")
    def elections(self, root: strawberry.Parent[models.Council]) -> list[Election]:
        elections = getattr(root, "_elections", None)
        if elections is None:
            elections = list(elections_with_results().filter(council=root).order_by("-poll_date", "kind"))
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


def councils_queryset(info: strawberry.Info):
    """Councils, with their elections' results loaded in one batch when the query asks for them."""
    qs = models.Council.objects.order_by("name")
    if any(_selects(field.selections, "elections") for field in info.selected_fields):
        qs = qs.prefetch_related(
            Prefetch(
                "elections",
                queryset=elections_with_results().order_by("-poll_date", "kind"),
                to_attr="_elections",
            )
        )
    return qs


# ---------------------------------------------------------------- queries


def filter_elections(elections: list[models.Election], control_called: bool | None) -> list[models.Election]:
    if control_called is None:
        return elections
    return [
        e
        for e in elections
        if (s := standing_of(e)) is not None and s.composition.control.called == control_called
    ]


@strawberry.type
class ElectionQuery:
    parties: list[Party] = strawberry_django.field(description="Every party, by name.")

    @strawberry_django.field(description="Every council, by name.", disable_optimization=True)
    def councils(self, info: strawberry.Info) -> list[Council]:
        return list(councils_queryset(info))

    @strawberry_django.field(description='One council by slug, e.g. "derby".', disable_optimization=True)
    def council(self, info: strawberry.Info, slug: str) -> Council | None:
        return councils_queryset(info).filter(slug=slug).first()

    @strawberry_django.field(
        description="Elections, newest first then by council. Filter by poll date, council slug, kind, and "
        "whether control has been called (mayoralties have no control call and are left out by that filter)."
    )
    def elections(
        self,
        poll_date: dt.date | None = None,
        council: str | None = None,
        kind: ElectionKind | None = None,
        control_called: bool | None = None,
    ) -> list[Election]:
        qs = elections_with_results().order_by("-poll_date", "council__name", "kind")
        if poll_date is not None:
            qs = qs.filter(poll_date=poll_date)
        if council is not None:
            qs = qs.filter(council__slug=council)
        if kind is not None:
            qs = qs.filter(kind=kind.value)
        return filter_elections(list(qs), control_called)

    @strawberry_django.field(description='One election by id, e.g. "local.derby.2023-05-04".')
    def election(self, id: strawberry.ID) -> Election | None:
        return elections_with_results().filter(election_id=id).first()

    @strawberry_django.field(
        description='One ballot by ballot paper id, e.g. "local.derby.allestree.2023-05-04".'
    )
    def ballot(self, id: strawberry.ID) -> Ballot | None:
        election = elections_with_results().filter(ballots__ballot_paper_id=id).first()
        if election is None:
            return None
        return next(b for b in election.ballots.all() if b.ballot_paper_id == id)
