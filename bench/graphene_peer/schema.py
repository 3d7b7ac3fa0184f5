"""The peer: graphene-django 3.2 with hand-written prefetching, the way its documentation shows.

Only what ``election(id){ id ballots { label candidacies { name votes party { name } } } }``
reads, with the same rules for what is public (votes only once a ballot is declared).
"""

import graphene
from django.db.models import Prefetch
from graphene_django import DjangoObjectType

from results.models import Ballot, Candidacy, Election, Party


class PartyType(DjangoObjectType):
    class Meta:
        model = Party
        fields = ("name",)


class CandidacyType(DjangoObjectType):
    name = graphene.String(required=True)
    votes = graphene.Int()

    class Meta:
        model = Candidacy
        fields = ("party",)

    def resolve_name(self, info):
        return self.person_name

    def resolve_votes(self, info):
        return self.votes if self.ballot.status in ("declared", "uncontested") else None


class BallotType(DjangoObjectType):
    label = graphene.String(required=True)
    candidacies = graphene.List(graphene.NonNull(CandidacyType), required=True)

    class Meta:
        model = Ballot
        fields = ()

    def resolve_label(self, info):
        return self.ward.name if self.ward_id else f"Mayor of {self.election.council.name}"

    def resolve_candidacies(self, info):
        rows = list(self.candidacies.all())
        for c in rows:
            c.ballot = self
        if self.status not in ("declared", "uncontested"):
            return sorted(rows, key=lambda c: c.person_name)
        return sorted(rows, key=lambda c: (not c.elected, -(c.votes or 0), c.person_name))


class ElectionType(DjangoObjectType):
    id = graphene.ID(required=True)
    ballots = graphene.List(graphene.NonNull(BallotType), required=True)

    class Meta:
        model = Election
        fields = ()

    def resolve_id(self, info):
        return self.election_id

    def resolve_ballots(self, info):
        return sorted(self.ballots.all(), key=lambda b: (b.ward.name if b.ward_id else "", b.ballot_paper_id))


class Query(graphene.ObjectType):
    election = graphene.Field(ElectionType, id=graphene.ID(required=True))

    def resolve_election(self, info, id):
        return (
            Election.objects.prefetch_related(
                Prefetch(
                    "ballots",
                    queryset=Ballot.objects.select_related("ward").prefetch_related(
                        Prefetch("candidacies", queryset=Candidacy.objects.select_related("party"))
                    ),
                )
            )
            .filter(election_id=id)
            .first()
        )


schema = graphene.Schema(query=Query)
