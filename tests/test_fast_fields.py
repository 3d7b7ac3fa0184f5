"""The plain fields' direct resolvers (schema/fast_fields.py) answer as Strawberry's own would.

Every answer of the demo is pinned by tests/test_demo_answers.py; here, which fields take the
direct path, the same answers with and without it over a declared council, and the hand-overs
to the original resolver (a relation or a column not loaded, a queryset returned).
"""

import strawberry
import strawberry_django
from django.db import connection
from django.test.utils import CaptureQueriesContext
from strawberry import auto

from results import models, services
from schema import fast_fields, schema
from schema.elections import prefetched
from schema.root import ElectionSchema, Query, SharedEventExecutor, Subscription

from . import factories as f


def _direct(type_name: str, field_name: str) -> bool:
    return hasattr(schema._schema.get_type(type_name).fields[field_name].resolve, "original")


def test_plain_fields_are_resolved_directly_and_the_others_by_strawberry():
    for type_name, field_name in [
        ("Party", "name"),  # an attribute of a plain type
        ("Party", "id"),  # a function of the parent
        ("Candidacy", "name"),
        ("Candidacy", "votes"),  # a method taking self and root
        ("Candidacy", "party"),
        ("Ward", "name"),
        ("Ballot", "id"),  # strawberry-django: a column under another name
        ("Ballot", "ward"),  # strawberry-django: a many-to-one relation
        ("Ballot", "label"),  # strawberry-django: a prefetched resolver
        ("Ballot", "candidacies"),
        ("Election", "id"),
        ("Election", "council"),
        ("Election", "composition"),
        ("PartySeats", "seats"),
    ]:
        assert _direct(type_name, field_name), (type_name, field_name)
    for type_name, field_name in [
        ("Query", "election"),  # arguments
        ("Council", "elections"),  # info
        ("Ballot", "versions"),  # may query: strawberry-django runs it in a thread under async
        ("Post", "councils"),
    ]:
        assert not _direct(type_name, field_name), (type_name, field_name)


def _declared_council():
    e = f.election("fastshire", seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    for i in range(3):
        b = f.ballot(e, f"Ward {i}", [("Ann Able", "PP53"), ("Bob Baker", "PP52"), ("Cy Cole", "PP90")])
        if i < 2:
            services.declare_ballot(b, votes=f.votes(b, Able=10 + i, Baker=5, Cole=7 - i))
    return e


def test_the_answers_are_those_of_strawberrys_own_resolvers():
    _declared_council()
    plain = ElectionSchema(
        query=Query,
        subscription=Subscription,
        execution_context_class=SharedEventExecutor,
        extensions=schema.extensions,
    )
    document = """{ election(id: "local.fastshire.2023-05-04") {
      id pollDate kind cycle seatsTotal majority seatsDeclared lastDeclaredAt turnout
      council { slug name officialName } controlBefore { id name leadParty { id } }
      control { called party { id shortName colour isIndependent } outcome headline majority }
      composition { party { id abbreviation } seats seatsBefore change seatsWon seatsNotUp seatsNeeded }
      voteShare { party { name } votes share }
      ballots { id label seats status declaredAt electorate turnout votesPerVoter zeroCounts
        ward { slug name seats } election { id }
        candidacies { name personId description votes share elected electedByLot party { id name } }
        changes { party { id } kind previousParty { id } headline } } } }"""
    fast, slow = schema.execute_sync(document), plain.execute_sync(document)
    assert fast.errors is None and slow.errors is None, (fast.errors, slow.errors)
    assert fast.data == slow.data
    assert fast.data["election"]["ballots"][0]["candidacies"][0]["votes"] == 10


def test_a_relation_or_column_not_loaded_is_read_by_strawberry_django():
    e = _declared_council()
    ballot = models.Ballot.objects.defer("declared_at").get(election=e, ward__name="Ward 0")
    ward = schema._schema.get_type("Ballot").fields["ward"].resolve
    declared_at = schema._schema.get_type("Ballot").fields["declaredAt"].resolve
    with CaptureQueriesContext(connection) as queries:
        assert ward(ballot, None).name == "Ward 0"
        assert declared_at(ballot, None) is not None
    assert len(queries.captured_queries) == 2  # each read by the original resolver


@strawberry_django.type(models.Council)
class CouncilWithOthers:
    slug: auto

    @strawberry_django.field
    @prefetched
    def others(self, root: strawberry.Parent[models.Council]) -> list["CouncilWithOthers"]:
        return models.Council.objects.exclude(pk=root.pk).order_by("slug")  # a queryset


@strawberry.type
class CouncilsQuery:
    @strawberry.field
    def councils(self) -> list[CouncilWithOthers]:
        return list(models.Council.objects.order_by("slug"))


def test_a_prefetched_resolver_returning_a_queryset_is_evaluated_by_strawberry_django():
    f.council("aashire")
    f.council("bbshire")
    direct = strawberry.Schema(query=CouncilsQuery)
    counts = fast_fields.install(direct)
    assert counts["django-resolver"] == 1
    assert hasattr(direct._schema.get_type("CouncilWithOthers").fields["others"].resolve, "original")
    document = "{ councils { slug others { slug } } }"
    result = direct.execute_sync(document)
    assert result.errors is None, result.errors
    assert result.data == strawberry.Schema(query=CouncilsQuery).execute_sync(document).data
    assert result.data["councils"][0] == {"slug": "aashire", "others": [{"slug": "bbshire"}]}
