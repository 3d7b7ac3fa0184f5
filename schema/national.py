"""The national view of one polling day: every council's call and the parties' tallies."""

from __future__ import annotations

import datetime as dt

import strawberry
import strawberry_django
from django.db.models import Max

from results import models
from results.figures import national_tally

from .elections import Election, Party, elections_lean, load_elections, selects_below, standing_of


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

    @strawberry_django.field(
        description="Council elections whose control is called, most recently called first (in the order "
        "of their latest control call in the event log): a live page's key points, from each one's "
        "`control { headline }`.",
        # It reads the event log: strawberry_django's field runs it in a thread under async execution.
        disable_optimization=True,
    )
    def calls(self) -> list[Election]:
        called = [e for e in self.elections if standing_of(e).control_called]
        # One query, only when asked: each election's latest control call in the log.
        latest = dict(
            models.Event.objects.filter(kind=models.Event.Kind.CONTROL_CALLED, election__in=called)
            .values("election")
            .annotate(last=Max("id"))
            .values_list("election", "last")
        )
        return sorted(called, key=lambda e: -latest.get(e.pk, 0))


def summarise(poll_date: dt.date, elections: list[models.Election]) -> NationalSummary:
    """The day's tallies (``results.figures.national_tally``: from each election's stored standing,
    a row per election, no ballot is read)."""
    tally = national_tally(elections)
    return NationalSummary(
        poll_date=poll_date,
        elections=[e for e in elections if not e.is_mayoral],
        mayoralties=[e for e in elections if e.is_mayoral],
        councils_total=tally.councils_total,
        councils_called=tally.councils_called,
        parties=[
            NationalParty(
                party=row.party,
                councils=row.councils,
                councils_change=row.councils_change,
                seats=row.seats,
                seats_change=row.seats_change,
            )
            for row in tally.parties
        ],
        no_overall_control=NoOverallControl(councils=tally.noc_councils, councils_change=tally.noc_change),
        ballots_declared=tally.ballots_declared,
        ballots_total=tally.ballots_total,
    )


@strawberry.type
class NationalQuery:
    @strawberry_django.field(
        description="The national view of a polling day: every council election with its call and "
        "composition, councils controlled and seats by party, with changes.",
        disable_optimization=True,
    )
    def national_summary(self, info: strawberry.Info, poll_date: dt.date) -> NationalSummary:
        elections = load_elections(
            elections_lean(info).filter(poll_date=poll_date).order_by("council__name", "kind"), ballots=False
        )
        # Ballots only for the lists that select them: a page listing the mayors' candidates
        # reads the mayoralties' ballots, not the day's thousands of council wards.
        for mayoral, lists in ((False, ("elections", "calls")), (True, ("mayoralties",))):
            if any(selects_below(info, name, "ballots") for name in lists):
                load_elections(
                    [e for e in elections if e.is_mayoral == mayoral],
                    candidacies=any(selects_below(info, name, "candidacies") for name in lists),
                )
        return summarise(poll_date, elections)
