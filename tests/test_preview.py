"""Previewing a declaration: the result and the council's standing it would publish, written nowhere."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from results import rules, services
from results.models import Ballot, Election
from results.preview import preview_result, preview_retraction

from . import factories as f


@pytest.fixture
def council3():
    e = f.election(seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    wards = [
        f.ballot(e, name, [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
        for name in ("North", "South", "East")
    ]
    return e, wards


def loaded(e: Election) -> Election:
    return Election.objects.with_results().get(pk=e.pk)


def test_preview_derives_winners_changes_and_the_control_call_it_would_make(council3):
    e, (north, south, _) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    election = loaded(e)
    votes = f.votes(south, Able=700, Baker=300)
    with CaptureQueriesContext(connection) as captured:
        preview = preview_result(
            election,
            south.pk,
            votes=votes,
            electorate=4000,
            ballot_papers_counted=1010,
        )
    assert [q["sql"] for q in captured.captured_queries] == []
    assert [c.person_name for c in preview.elected] == ["Ann Able"]
    assert [c.person_name for c in preview.ranking] == ["Ann Able", "Bob Baker"]
    assert (preview.margin, preview.turnout, preview.uncontested, preview.tie) == (400, 0.2525, False, None)
    assert [c.headline for c in preview.changes] == ["Labour gain South from Conservatives"]
    assert preview.standing_before.headline is None
    assert preview.standing_after.headline == "Labour gain Testshire"
    assert preview.control_changes is True


def test_preview_leaves_the_loaded_rows_as_they_were(council3):
    e, (north, *_) = council3
    election = loaded(e)
    preview_result(election, north.pk, votes=f.votes(north, Able=1, Baker=2))
    ballot = next(b for b in election.ballots.all() if b.pk == north.pk)
    assert ballot.status == "awaiting"
    assert [(c.votes, c.elected, c.elected_by_lot) for c in ballot.candidacies.all()] == [
        (None, None, False),
        (None, None, False),
    ]
    assert Ballot.objects.get(pk=north.pk).status == "awaiting"


def test_a_tie_at_the_cut_off_is_returned_unsettled_until_lot_winners_are_given():
    e = f.election(seats_total=1)
    b = f.ballot(e, "Level", [("Ann Able", "PP53"), ("Bob Baker", "PP52"), ("Cat Cole", "PP90")])
    votes = f.votes(b, Able=500, Baker=500, Cole=100)
    unsettled = preview_result(loaded(e), b.pk, votes=votes)
    assert ([c.person_name for c in unsettled.tie.tied], unsettled.tie.places) == (
        ["Ann Able", "Bob Baker"],
        1,
    )
    assert (unsettled.elected, unsettled.complete, unsettled.standing_after) == ((), False, None)
    settled = preview_result(loaded(e), b.pk, votes=votes, lot_winners={f.pk(b, "Baker")})
    assert [c.person_name for c in settled.elected] == ["Bob Baker"]
    assert settled.by_lot == {f.pk(b, "Baker")}
    assert settled.margin == 0
    with pytest.raises(rules.InvalidLot):
        preview_result(loaded(e), b.pk, votes=votes, lot_winners={f.pk(b, "Cole")})


def test_an_uncontested_ballot_previews_everyone_elected_unopposed():
    e = f.election(seats_total=2)
    b = f.ballot(e, "Quiet", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], seats=2)
    preview = preview_result(loaded(e), b.pk, votes=None)
    assert preview.uncontested is True
    assert sorted(c.person_name for c in preview.elected) == ["Ann Able", "Bob Baker"]
    assert preview.margin is None
    assert preview.standing_after.headline == "Testshire remains in no overall control"


def test_a_retraction_preview_uncalls_control(council3):
    e, (north, south, _) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    services.declare_ballot(south, votes=f.votes(south, Able=600, Baker=400))
    preview = preview_retraction(loaded(e), south.pk)
    assert preview.standing_before.headline == "Labour gain Testshire"
    assert preview.standing_after.headline is None
    assert preview.control_changes is True
    assert Ballot.objects.get(pk=south.pk).status == "declared"
