"""The national view of one polling day: every council's call and the parties' tallies."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import strawberry
import strawberry_django
from django.db.models import Max

from results import models
from results.rules import ControlOutcome

from .elections import Election, Party, elections_with_results, standing_of


@strawberry.type(description="A party's tally across every council election of the day.")
class NationalParty:
    party: Party = strawberry.field(description="The party (joint descriptions count for their lead party).")
    councils: int = strawberry.field(description="Councils it controls, among those called.")
    councils_change: int = strawberry.field(
        description="Councils gained minus councils lost, among those called."
    )
    seats: int = strawberry.field(description="Seats won so far at these elections (seats not up excluded).")
    seats_change: int = strawberry.field(description="Net change in seats over declared ballots.")


@strawberry.type(description="Councils in no overall control, among those called.")
class NoOverallControl:
    councils: int = strawberry.field(description="Councils called as no overall control.")
    councils_change: int = strawberry.field(
        description="Change against the eve of the poll, among those called."
    )


@strawberry.type(description="Every council election of one polling day, with tallies by party.")
class NationalSummary:
    poll_date: dt.date = strawberry.field(description="The polling day.")
    elections: list[Election] = strawberry.field(description="The council elections, by council name.")
    mayoralties: list[Election] = strawberry.field(description="The mayoral elections, by council name.")
    councils_total: int = strawberry.field(description="Council elections on the day.")
    councils_called: int = strawberry.field(description="Councils whose control has been called.")
    parties: list[NationalParty] = strawberry.field(
        description="Parties by councils controlled, then seats won."
    )
    no_overall_control: NoOverallControl = strawberry.field(description="Councils in no overall control.")
    ballots_declared: int = strawberry.field(
        description="Ballots declared (or uncontested) so far, council and mayoral, e.g. 412 of 437."
    )
    ballots_total: int = strawberry.field(description="Ballots of the day, council and mayoral.")

    @strawberry.field(
        description="Council elections whose control is called, most recently called first (in the order "
        "of their latest control call in the event log): a live page's key points, from each one's "
        "`control { headline }`."
    )
    def calls(self) -> list[Election]:
        called = [e for e in self.elections if standing_of(e).composition.control.called]
        # One query, only when asked: each election's latest control call in the log.
        latest = dict(
            models.Event.objects.filter(kind=models.Event.Kind.CONTROL_CALLED, election__in=called)
            .values("election")
            .annotate(last=Max("id"))
            .values_list("election", "last")
        )
        return sorted(called, key=lambda e: -latest.get(e.pk, 0))


def summarise(poll_date: dt.date, elections: list[models.Election]) -> NationalSummary:
    councils_held: dict[str, int] = defaultdict(int)
    councils_change: dict[str, int] = defaultdict(int)
    seats: dict[str, int] = defaultdict(int)
    seats_change: dict[str, int] = defaultdict(int)
    parties: dict[str, models.Party] = {}
    noc = noc_change = called = 0
    council_elections = [e for e in elections if not e.is_mayoral]
    for election in council_elections:
        standing = standing_of(election)
        for party, row in standing.party_rows():
            parties[party.ec_id] = party
            seats[party.ec_id] += row.seats_won
            seats_change[party.ec_id] += row.change
        call = standing.composition.control
        if not call.called:
            continue
        called += 1
        after, before = call.party, call.party_before
        if after is None:
            noc += 1
        else:
            councils_held[after] += 1
        if call.outcome in (ControlOutcome.GAIN, ControlOutcome.LOSS_TO_NOC):
            if after is None:
                noc_change += 1
            else:
                councils_change[after] += 1
            if before is None:
                noc_change -= 1
            else:
                councils_change[before] -= 1
                parties.setdefault(before, standing.control_before)
    rows = [
        NationalParty(
            party=parties[k],
            councils=councils_held[k],
            councils_change=councils_change[k],
            seats=seats[k],
            seats_change=seats_change[k],
        )
        for k in parties
    ]
    rows.sort(key=lambda r: (-r.councils, -r.seats, r.party.name))
    return NationalSummary(
        poll_date=poll_date,
        elections=council_elections,
        mayoralties=[e for e in elections if e.is_mayoral],
        councils_total=len(council_elections),
        councils_called=called,
        parties=rows,
        no_overall_control=NoOverallControl(councils=noc, councils_change=noc_change),
        ballots_declared=sum(1 for e in elections for b in e.ballots.all() if b.is_published),
        ballots_total=sum(len(e.ballots.all()) for e in elections),
    )


@strawberry.type
class NationalQuery:
    @strawberry_django.field(
        description="The national view of a polling day: every council election with its call and "
        "composition, councils controlled and seats by party, with changes.",
        disable_optimization=True,
    )
    def national_summary(self, poll_date: dt.date) -> NationalSummary:
        elections = list(
            elections_with_results().filter(poll_date=poll_date).order_by("council__name", "kind")
        )
        return summarise(poll_date, elections)
