"""Parties, councils and elections (a first cut; the public API issue completes it)."""

from __future__ import annotations

import strawberry
import strawberry_django
from strawberry import auto

from results import models
from results.standings import election_standing


@strawberry_django.type(models.Party, description="A party, the Independent row, or a joint description.")
class Party:
    id: strawberry.ID = strawberry_django.field(
        field_name="ec_id", description="Electoral Commission id, e.g. PP53."
    )
    name: auto = strawberry_django.field(description="Registered name.")
    short_name: auto = strawberry_django.field(description="Name used in headlines.")
    colour: auto = strawberry_django.field(description="Hex colour for charts.")


@strawberry_django.type(models.Council, description="A local authority.")
class Council:
    slug: auto = strawberry_django.field(description="Democracy Club organisation slug.")
    name: auto = strawberry_django.field(description="Name used in headlines.")


@strawberry.type(description="Whether control of a council can be called yet, and the outcome.")
class ControlCall:
    called: bool = strawberry.field(description="True once declared seats and seats not up make it certain.")
    party: Party | None = strawberry.field(description="Controlling party; null = no overall control.")
    headline: str | None = strawberry.field(
        description='e.g. "Labour gain North East Derbyshire"; null until called.'
    )


@strawberry_django.type(models.Election, description="One council's election on one day, or a mayoralty's.")
class Election:
    id: strawberry.ID = strawberry_django.field(
        field_name="election_id", description='e.g. "local.derby.2023-05-04".'
    )
    poll_date: auto = strawberry_django.field(description="Day of the poll.")
    council: Council = strawberry_django.field(description="The council.")

    @strawberry_django.field(description="The control call; null for a mayoralty.")
    def control(self, root: strawberry.Parent[models.Election]) -> ControlCall | None:
        standing = election_standing(root)
        if standing is None:
            return None
        call = standing.composition.control
        return ControlCall(called=call.called, party=standing.control_party, headline=standing.headline)


@strawberry.type
class ElectionQuery:
    parties: list[Party] = strawberry_django.field(description="All parties.")
    councils: list[Council] = strawberry_django.field(description="All councils.")

    @strawberry_django.field(description='One election by id, e.g. "local.derby.2023-05-04".')
    def election(self, id: strawberry.ID) -> Election | None:
        return models.Election.objects.with_results().filter(election_id=id).first()
