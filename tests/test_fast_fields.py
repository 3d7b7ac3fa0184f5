"""The plain fields' direct resolvers (schema/fast_fields.py) answer as Strawberry's own would.

Every answer of the demo is pinned by tests/test_demo_answers.py; here, which fields take the
direct path, the same answers with and without it over a declared council, and the hand-overs
to the original resolver (a relation or a column not loaded, a queryset returned).
"""

import pytest
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


@strawberry_django.type(models.Ward)
class PlainWard:
    name: auto


@strawberry_django.type(models.Ballot)
class PlainBallot:
    declared_at: auto
    ward: PlainWard | None


@strawberry.type
class BallotsQuery:
    @strawberry.field
    def ballots(self) -> list[PlainBallot]:
        # Neither the ward (no select_related) nor the declaration time (deferred) is loaded.
        return list(models.Ballot.objects.defer("declared_at").order_by("ballot_paper_id"))


def test_a_relation_or_column_not_loaded_is_read_by_strawberry_django():
    _declared_council()
    direct = strawberry.Schema(query=BallotsQuery, execution_context_class=SharedEventExecutor)
    assert fast_fields.install(direct)["django-attribute"] == 3
    document = "{ ballots { declaredAt ward { name } } }"
    with CaptureQueriesContext(connection) as queries:
        result = direct.execute_sync(document)
    assert result.errors is None, result.errors
    assert len(queries.captured_queries) == 1 + 3 + 3  # the ballots, then each one's column and ward
    assert result.data == strawberry.Schema(query=BallotsQuery).execute_sync(document).data
    assert [b["ward"]["name"] for b in result.data["ballots"]] == ["Ward 0", "Ward 1", "Ward 2"]
    assert [b["declaredAt"] is None for b in result.data["ballots"]] == [False, False, True]


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


@strawberry.type
class Odd:
    tag: int = 0

    @strawberry.field
    def first(self) -> int:
        return 1

    @strawberry.field
    def missing(self) -> int:
        return None  # type: ignore[return-value]  # null for a non-null field

    @strawberry.field
    def fails(self) -> str | None:
        raise ValueError("no")

    @strawberry.field
    def refused(self) -> int | None:
        return "x"  # type: ignore[return-value]  # not an Int

    @strawberry.field
    def huge(self) -> int | None:
        return 2**40  # beyond GraphQL's Int

    @strawberry.field
    def ratio(self) -> float:
        return 0.5

    @strawberry.field
    def whole(self) -> float:
        return 1  # an int for a Float: 1.0

    @strawberry.field
    def flag(self) -> bool:
        return 0  # type: ignore[return-value]  # an int for a Boolean: false

    @strawberry.field
    def inner(self) -> "Odd | None":
        return Odd(tag=self.tag + 1)

    @strawberry.field
    def items(self) -> list["Odd"]:
        return [Odd(tag=i) for i in range(3)]

    @strawberry.field
    def holes(self) -> list["Odd | None"] | None:
        return [Odd(tag=1), None, Odd(tag=3)]

    @strawberry.field
    def broken_items(self) -> list["Odd"] | None:
        return [Odd(tag=1), None]  # type: ignore[list-item]  # a null item in a list of non-null ones

    @strawberry.field
    def nothing(self) -> "Odd | None":
        return None

    @strawberry.field
    def no_items(self) -> list["Odd"] | None:
        return None

    @strawberry.field
    def lost(self) -> "Odd":
        return None  # type: ignore[return-value]

    @strawberry.field
    def raising(self) -> "Odd | None":
        raise ValueError("no object")

    @strawberry.field
    async def later(self) -> int:
        return self.tag

    @strawberry.field
    def last(self) -> str:
        return "z"


@strawberry.type
class OddQuery:
    @strawberry.field
    def odd(self) -> Odd:
        return Odd()

    @strawberry.field
    def maybe(self) -> Odd | None:
        return Odd()


ODD_DOCUMENTS = [
    "{ odd { last inner { last first } first fails refused } }",
    "{ odd { huge ratio whole flag inner { huge whole } } }",
    "{ odd { first inner { last missing } last } }",
    "{ odd { missing } }",
    "{ odd { tag items { tag first } holes { tag } last } }",
    "{ odd { items { tag missing } } maybe { first } }",
    "{ maybe { items { tag missing } } odd { first } }",
    "{ maybe { holes { tag missing } inner { inner { missing } } } }",
    "{ maybe { brokenItems { tag } last } }",
    "{ maybe { lost { tag } } }",
    "{ odd { nothing { tag } noItems { tag } inner { nothing { tag } } last } }",
    "{ maybe { raising { tag } first } }",
    "{ maybe { items { fails inner { refused } } } }",
]


def _answer(result) -> tuple:
    errors = sorted((e.message, tuple(e.path or ())) for e in result.errors or ())
    return repr(result.data), errors  # repr: the same keys in the same order


def test_fields_completed_in_place_keep_graphql_cores_errors_and_the_selections_order():
    direct = strawberry.Schema(query=OddQuery, execution_context_class=SharedEventExecutor)
    counts = fast_fields.install(direct)
    assert counts["resolver"] == 19 and counts["attribute"] == 1, counts
    plain = strawberry.Schema(query=OddQuery)
    for document in ODD_DOCUMENTS:
        assert _answer(direct.execute_sync(document)) == _answer(plain.execute_sync(document)), document
    assert list(direct.execute_sync("{ odd { last inner { last } first } }").data["odd"]) == [
        "last",
        "inner",
        "first",
    ]


@pytest.mark.anyio
async def test_fields_completed_in_place_await_what_their_objects_await():
    direct = strawberry.Schema(query=OddQuery, execution_context_class=SharedEventExecutor)
    fast_fields.install(direct)
    plain = strawberry.Schema(query=OddQuery)
    for document in [
        "{ odd { items { tag later } inner { later inner { later } } later last } }",
        "{ maybe { holes { later missing } items { later } } }",
        "{ odd { items { later missing } } }",
        *ODD_DOCUMENTS,
    ]:
        assert _answer(await direct.execute(document)) == _answer(await plain.execute(document)), document


def test_a_pure_types_object_is_completed_once_per_operation_and_selection(monkeypatch):
    _declared_council()
    party_type = schema._schema.type_map["Party"]
    assert party_type.fast_pure is True  # declared pure, and every field of it is direct
    assert not getattr(schema._schema.type_map["Candidacy"], "fast_pure", False)
    fast, coerce, non_null = party_type.fields["colour"].fast_leaf
    calls = []

    def counted(source, info):
        calls.append(source.ec_id)
        return fast(source, info)

    monkeypatch.setattr(party_type.fields["colour"], "fast_leaf", (counted, coerce, non_null))
    document = """{ election(id: "local.fastshire.2023-05-04") {
      ballots { candidacies { name party { id colour } } }
      composition { party { id colour } } } }"""
    result = schema.execute_sync(document)
    assert result.errors is None
    ballots = result.data["election"]["ballots"]
    assert [c["party"] for b in ballots for c in b["candidacies"] if c["name"] == "Ann Able"] == [
        {"id": "PP53", "colour": models.Party.objects.get(ec_id="PP53").colour}
    ] * 3
    in_composition = [row["party"]["id"] for row in result.data["election"]["composition"]]
    assert sorted(in_composition) == ["PP52", "PP53"]
    # Three parties under nine candidacies, two in the composition (another selection): five, not eleven.
    assert sorted(calls) == sorted(["PP52", "PP53", "PP90", *in_composition])
    calls.clear()
    assert schema.execute_sync(document).data == result.data  # a new operation completes them again
    assert len(calls) == 5
