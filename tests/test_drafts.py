"""Figures saved before a declaration: kept for the data desk, never published, never overwritten silently."""

import pytest
from django.core.exceptions import ValidationError

from results import drafts, services
from results.models import Ballot, Candidacy, Event, PendingCheck

from . import factories as f


@pytest.fixture
def north():
    e = f.election(seats_total=1)
    return f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])


def state(b: Ballot):
    b = Ballot.objects.get(pk=b.pk)
    votes = list(Candidacy.objects.filter(ballot=b).order_by("person_name").values_list("votes", flat=True))
    return (b.status, b.version, b.electorate, b.ballot_papers_counted, b.rejected_ballots, votes)


def test_saved_figures_are_kept_unpublished_with_no_event(north):
    saved = drafts.save_count_in_progress(
        north, votes=f.votes(north, Able=600, Baker=None), ballot_papers_counted=1010, rejected_ballots=10
    )
    assert saved.version == 1
    assert state(north) == ("awaiting", 1, None, 1010, 10, [600, None])
    assert not Event.objects.filter(ballot=north, kind__startswith="ballot_").exists()
    assert Ballot.objects.published().count() == 0


def test_saving_again_replaces_the_figures(north):
    drafts.save_count_in_progress(north, votes=f.votes(north, Able=600, Baker=400), expected_version=0)
    drafts.save_count_in_progress(north, votes=f.votes(north, Able=610), electorate=5000, expected_version=1)
    assert state(north) == ("awaiting", 2, 5000, None, None, [610, None])


def test_a_stale_save_is_refused_and_changes_nothing(north):
    drafts.save_count_in_progress(north, votes=f.votes(north, Able=600), expected_version=0)
    with pytest.raises(services.StaleEdit):
        drafts.save_count_in_progress(north, votes=f.votes(north, Able=1), expected_version=0)
    assert state(north) == ("awaiting", 1, None, None, None, [600, None])


def test_a_declared_ballot_is_corrected_not_saved_as_a_draft(north):
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    with pytest.raises(ValidationError) as refused:
        drafts.save_count_in_progress(north, votes=f.votes(north, Able=1, Baker=2))
    assert refused.value.message_dict == {"status": ["North is declared: correct the declaration instead."]}
    assert state(north)[-1] == [600, 400]


@pytest.mark.parametrize(
    ("votes", "counts", "errors"),
    [
        ({"Able": -1}, {}, {"votes": ["Ann Able: votes cannot be negative (-1)."]}),
        ({"Able": True}, {}, {"votes": ["Ann Able: votes must be a whole number."]}),
        (
            {"Able": 995},
            {"ballot_papers_counted": 1000, "rejected_ballots": 10},
            {"votes": ["Ann Able: 995 votes is more than the 990 valid ballot papers counted."]},
        ),
        (
            {},
            {"ballot_papers_counted": 10, "rejected_ballots": 11},
            {"rejected_ballots": ["11 rejected is more than the 10 ballot papers counted."]},
        ),
        (
            {},
            {"ballot_papers_counted": 5001, "electorate": 5000},
            {"ballot_papers_counted": ["5001 ballot papers counted is more than the electorate of 5000."]},
        ),
        ({}, {"electorate": -3}, {"electorate": ["Must be a whole number, zero or more."]}),
    ],
)
def test_figures_the_count_cannot_have_are_refused_by_field(north, votes, counts, errors):
    with pytest.raises(ValidationError) as refused:
        drafts.save_count_in_progress(north, votes=f.votes(north, **votes), **counts)
    assert refused.value.message_dict == errors
    assert state(north) == ("awaiting", 0, None, None, None, [None, None])


def test_a_candidacy_of_another_ballot_is_refused(north):
    other = f.ballot(north.election, "South", [("Cat Cole", "PP90")])
    stranger = other.candidacies.get().pk
    with pytest.raises(ValidationError) as refused:
        drafts.save_count_in_progress(north, votes={stranger: 5})
    assert refused.value.message_dict == {
        "candidacy": [f"Candidacy [{stranger}] does not stand on local.testshire.north.2023-05-04."]
    }


# ---------------------------------------------------------------- the two-person check


@pytest.fixture
def two_editors():
    from .desk import staff

    return staff("ann"), staff("bob")


def test_a_declaration_sent_for_a_check_is_not_public(north, two_editors):
    ann, _ = two_editors
    b = north
    drafts.submit_for_check(
        b, votes=f.votes(b, Able=600, Baker=400), electorate=3000, user=ann, expected_version=b.version
    )
    b.refresh_from_db()
    assert (b.status, list(b.candidacies.values_list("votes", flat=True))) == ("awaiting", [None, None])
    assert not Event.objects.filter(ballot=b, kind__startswith="ballot_").exists()  # nothing published
    assert PendingCheck.objects.get(ballot=b).figures == {
        "votes": {str(f.pk(b, "Able")): 600, str(f.pk(b, "Baker")): 400},
        "lot_winners": [],
        "electorate": 3000,
        "ballot_papers_counted": None,
        "rejected_ballots": None,
    }


def test_the_editor_who_typed_the_figures_cannot_confirm_them(north, two_editors):
    ann, _ = two_editors
    b = north
    drafts.submit_for_check(b, votes=f.votes(b, Able=600, Baker=400), user=ann)
    with pytest.raises(ValidationError) as exc:
        drafts.confirm_check(b, votes=f.votes(b, Able=600, Baker=400), user=ann)
    assert exc.value.message_dict == {
        "checked_by": [
            "You typed the figures of North waiting for a check: a second editor must type them again to publish them."
        ]
    }
    assert not Event.objects.filter(ballot=b, kind__startswith="ballot_").exists()  # nothing published


def test_a_second_editors_matching_figures_publish_the_declaration(north, two_editors):
    ann, bob = two_editors
    b = north
    drafts.submit_for_check(b, votes=f.votes(b, Able=600, Baker=400), electorate=3000, user=ann)
    outcome = drafts.confirm_check(b, votes=f.votes(b, Able=600, Baker=400), electorate=3000, user=bob)
    assert outcome.differ == ()
    event = outcome.event
    assert (event.kind, event.actor, event.payload["typed_by"]) == ("ballot_declared", bob, "ann")
    b.refresh_from_db()
    assert b.status == "declared"
    assert not PendingCheck.objects.filter(ballot=b).exists()


def test_differing_figures_publish_nothing_and_wait_for_another_check(north, two_editors):
    ann, bob = two_editors
    b = north
    drafts.submit_for_check(b, votes=f.votes(b, Able=600, Baker=400), electorate=3000, user=ann)
    outcome = drafts.confirm_check(b, votes=f.votes(b, Able=600, Baker=410), electorate=3100, user=bob)
    assert (outcome.event, outcome.differ) == (None, ("Bob Baker's votes", "electorate"))
    assert PendingCheck.objects.get(ballot=b).typed_by == bob
    assert not Event.objects.filter(ballot=b, kind__startswith="ballot_").exists()  # nothing published
    declared = drafts.confirm_check(b, votes=f.votes(b, Able=600, Baker=410), electorate=3100, user=ann)
    assert declared.event.payload["typed_by"] == "bob"
