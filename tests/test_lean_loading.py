"""The loaders' fast path (``schema.lean``): the same instances as the ORM's, never stale SQL or rows.

Only the compiled SQL of a query shape is kept (per process and database); rows are
read on every request, so a declaration committed is in the next read.
"""

from __future__ import annotations

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from results import services
from results.models import Ballot, Election, ElectionStanding
from schema import lean
from schema.elections import elections_lean, load_elections

from . import factories as f

pytestmark = pytest.mark.django_db


def _state(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if not k.startswith("_")}  # columns, not attached rows


def _two_councils():
    a = f.election("aville", seats_total=3, before={"PP53": (2, 0), "PP52": (1, 0)})
    b1 = f.ballot(a, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    f.ballot(a, "South", [("Cat Cole", "PP53"), ("Dan Dee", "PP90")])
    b = f.election("bton", seats_total=1, before={"PP52": (1, 0)})
    f.ballot(b, "East", [("Eve Ely", "PP52"), ("Fay Fox", "PP63")])
    mayor = f.election("cburgh", kind="mayor")
    f.ballot(mayor, None, [("Gus Gray", "PP53")])
    return a, b, mayor, b1


def test_elections_with_their_council_and_standing_are_the_instances_the_orm_builds():
    _two_councils()
    ElectionStanding.objects.filter(election__council__slug="cburgh").delete()  # one with no standing
    qs = elections_lean().defer("standing__ballot_figures", "standing__vote_share").order_by("pk")
    expected = list(qs)
    got = lean.select_related_instances(qs)
    assert [e.pk for e in got] == [e.pk for e in expected] and len(got) == 3
    for mine, theirs in zip(got, expected, strict=True):
        assert type(mine) is Election and _state(mine) == _state(theirs)
        assert mine._state.adding is False and mine._state.db == theirs._state.db == "default"
        assert mine.get_deferred_fields() == theirs.get_deferred_fields() == set()
        assert _state(mine.council) == _state(theirs.council)
        if theirs._state.fields_cache["standing"] is None:
            assert mine._state.fields_cache["standing"] is None
            continue
        standing, their_standing = mine.standing, theirs.standing
        assert (
            standing.get_deferred_fields()
            == their_standing.get_deferred_fields()
            == {
                "ballot_figures",
                "vote_share",
            }
        )
        assert _state(standing) == _state(their_standing)
        assert standing.election is mine
        assert standing.vote_share == their_standing.vote_share  # a deferred field still loads


def test_ballots_and_candidacies_are_the_rows_the_orm_reads():
    a, b, mayor, _ = _two_councils()
    for election in (a, b, mayor):
        (loaded,) = load_elections(Election.objects.filter(pk=election.pk))
        ballots = sorted(loaded._ballots, key=lambda x: x.pk)
        expected = list(Ballot.objects.filter(election=election).select_related("ward").order_by("pk"))
        assert [_state(x) for x in ballots] == [_state(x) for x in expected]
        for mine, theirs in zip(ballots, expected, strict=True):
            assert (mine.ward and _state(mine.ward)) == (theirs.ward and _state(theirs.ward))
            assert mine.election is loaded
            assert sorted(_state(c).items() for c in mine._candidacies) == sorted(
                _state(c).items() for c in theirs.candidacies.all()
            )
            assert all(c.ballot is mine and c.party.pk == c.party_id for c in mine._candidacies)


def test_a_compiled_shape_runs_with_each_request_s_parameters_and_reads_committed_rows():
    a, b, _, b1 = _two_councils()
    lean._compiled.clear()
    (first,) = load_elections(Election.objects.filter(pk=a.pk))
    assert sorted(x.label for x in first._ballots) == ["North", "South"]
    # The same shapes (one election), compiled once, now with the other election's id.
    with CaptureQueriesContext(connection) as ctx:
        (other,) = load_elections(Election.objects.filter(pk=b.pk))
    assert [x.label for x in other._ballots] == ["East"]
    assert {c.person_name for c in other._ballots[0]._candidacies} == {"Eve Ely", "Fay Fox"}
    assert len(ctx.captured_queries) == 3
    assert {("ballots", 1), ("candidacies", 1)} <= set(lean._shapes(connections["default"]))

    services.declare_ballot(b1, votes=f.votes(b1, Able=10, Baker=5))
    (again,) = load_elections(Election.objects.filter(pk=a.pk))
    north = next(x for x in again._ballots if x.label == "North")
    assert north.status == "declared" and north.declared_at is not None  # converted as the ORM does
    assert type(north.declared_at) is type(Ballot.objects.get(pk=b1.pk).declared_at)
    assert {c.person_name: c.votes for c in north._candidacies} == {"Ann Able": 10, "Bob Baker": 5}
    assert {c.person_name: c.elected for c in north._candidacies} == {"Ann Able": True, "Bob Baker": False}


def test_a_shape_whose_parameters_are_not_the_given_ones_is_never_reused():
    a, b, _, _ = _two_councils()
    lean._compiled.clear()

    def build(pk):
        return lambda: (
            Ballot.objects.filter(election_id=pk, winner_count__gte=1).order_by("pk").values_list("pk")
        )

    # The queryset has a parameter the caller did not name: its SQL is not kept.
    assert lean.value_rows(Ballot, ("odd",), build(a.pk), [a.pk]) == [
        (pk,) for pk in Ballot.objects.filter(election=a).order_by("pk").values_list("pk", flat=True)
    ]
    assert ("odd",) not in lean._shapes(connections["default"])
    assert lean.value_rows(Ballot, ("odd",), build(b.pk), [b.pk]) == [
        (pk,) for pk in Ballot.objects.filter(election=b).values_list("pk", flat=True)
    ]


ELECTIONS = """query($date: Date!, $called: Boolean, $kind: ElectionKind) {
  elections(pollDate: $date, controlCalled: $called, kind: $kind) { id control { called } }
}"""


def test_the_root_fields_compiled_shapes_answer_each_request_s_filters():
    from schema import schema

    a, b, mayor, b1 = _two_councils()
    lean._compiled.clear()

    def ids(**variables):
        result = schema.execute_sync(ELECTIONS, variable_values={"date": "2023-05-04", **variables})
        assert result.errors is None
        return [e["id"] for e in result.data["elections"]]

    everything = ["local.aville.2023-05-04", "local.bton.2023-05-04", "mayor.cburgh.2023-05-04"]
    assert ids() == everything
    assert ids(called=False) == everything[:2]
    assert ids(called=True) == []
    services.declare_ballot(b.ballots.get(), votes=f.votes(b.ballots.get(), Ely=10, Fox=5))
    # Each shape compiled once: the value of `called` is part of the shape (SQL writes it inline).
    assert ids(called=True) == ["local.bton.2023-05-04"]
    assert ids(called=False) == ["local.aville.2023-05-04"]
    assert ids(kind="MAYOR") == ["mayor.cburgh.2023-05-04"]
    assert ids(kind="LOCAL") == everything[:2]
    assert ids() == everything
    assert ids(date="2024-05-02") == []
    shapes = {key[:5] for key in lean._shapes(connections["default"]) if key[0] == "elections"}
    assert shapes == {
        ("elections", True, False, False, None),
        ("elections", True, False, False, True),
        ("elections", True, False, False, False),
        ("elections", True, False, True, None),
    }

    page = "query($id: ID!) { election(id: $id) { id seatsDeclared ballots { label candidacies { name votes } } } }"
    for election, declared in ((a, 0), (b, 1), (a, 0)):
        data = schema.execute_sync(page, variable_values={"id": election.election_id}).data["election"]
        assert data["id"] == election.election_id and data["seatsDeclared"] == declared
    assert schema.execute_sync(page, variable_values={"id": "local.nowhere.2023-05-04"}).data == {
        "election": None
    }
    services.declare_ballot(b1, votes=f.votes(b1, Able=10, Baker=5))
    data = schema.execute_sync(page, variable_values={"id": a.election_id}).data["election"]
    assert data["seatsDeclared"] == 1
    assert {c["name"]: c["votes"] for c in data["ballots"][0]["candidacies"]} == {
        "Ann Able": 10,
        "Bob Baker": 5,
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_shape_compiled_in_one_request_thread_is_reused_by_the_next():
    """Under ASGI each request's database work runs in a thread (and connection wrapper) of its
    own: the compiled SQL must outlive them, or every request compiles it again."""
    import threading

    a, b, _, _ = _two_councils()
    lean._compiled.clear()
    compiled = []
    real = lean._compile

    def counting(queryset, params):
        compiled.append(queryset.model.__name__)
        return real(queryset, params)

    def request(pk):
        try:
            load_elections(Election.objects.filter(pk=pk))
        finally:
            connections.close_all()

    lean._compile = counting
    try:
        for pk in (a.pk, b.pk, a.pk):
            thread = threading.Thread(target=request, args=(pk,))
            thread.start()
            thread.join()
    finally:
        lean._compile = real
    assert compiled == ["Ballot", "Candidacy"]  # the first request's two shapes, then none
