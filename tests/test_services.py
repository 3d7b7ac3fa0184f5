"""The write path: declare, correct, retract, status, composition, posts; events and bad input."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from results import services
from results.errors import ErrorCode, refusal, refusals_of, text
from results.models import Ballot, Candidacy, Election, Event, Post
from results.standings import ballot_changes, election_standing

from . import factories as f


def standing(e: Election):
    return election_standing(Election.objects.with_results().get(pk=e.pk))


def result(b: Ballot) -> list[tuple]:
    return list(
        Candidacy.objects.filter(ballot=b)
        .order_by("person_name")
        .values_list("person_name", "votes", "elected", "elected_by_lot")
    )


def event_kinds() -> list[str]:
    return list(Event.objects.order_by("id").values_list("kind", flat=True))


@pytest.fixture
def user():
    return get_user_model().objects.create_user("desk", password="x")


@pytest.fixture
def council3():
    """A 3-seat council, Conservative before the poll, three single-member wards."""
    e = f.election(seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    wards = [
        f.ballot(e, name, [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
        for name in ("North", "South", "East")
    ]
    return e, wards


# ---------------------------------------------------------------- declare


def test_declaring_derives_winners_and_records_an_event(council3, user):
    e, (north, *_) = council3
    when = dt.datetime(2023, 5, 5, 1, 30, tzinfo=dt.UTC)
    event = services.declare_ballot(
        north,
        votes=f.votes(north, Able=600, Baker=400),
        electorate=4000,
        ballot_papers_counted=1010,
        rejected_ballots=10,
        declared_at=when,
        user=user,
    )
    north.refresh_from_db()
    assert north.status == Ballot.Status.DECLARED
    assert north.declared_at == when
    assert north.version == 2  # set_previous_winners, then the declaration
    assert result(north) == [("Ann Able", 600, True, False), ("Bob Baker", 400, False, False)]
    assert event.kind == Event.Kind.BALLOT_DECLARED
    assert event.actor == user
    assert event.ballot == north
    assert event.council == e.council
    assert event.payload["status"] == "declared"
    assert event.payload["ballot_papers_counted"] == 1010
    assert [(c["person_name"], c["votes"], c["elected"]) for c in event.payload["candidacies"]] == [
        ("Ann Able", 600, True),
        ("Bob Baker", 400, False),
    ]
    assert [
        (c.party.short_name, c.kind.value, c.previous.short_name)
        for c in ballot_changes(Ballot.objects.with_results().get(pk=north.pk))
    ] == [("Labour", "gain", "Conservatives")]


def test_broadcast_happens_only_after_commit(council3, django_capture_on_commit_callbacks):
    _, (north, *_) = council3
    with django_capture_on_commit_callbacks() as callbacks:
        services.declare_ballot(north, votes=f.votes(north, Able=1, Baker=2))
    assert len(callbacks) == 1


def test_rolled_back_declaration_emits_nothing(council3, django_capture_on_commit_callbacks):
    _, (north, *_) = council3
    before = Event.objects.count()
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.declare_ballot(north, votes=f.votes(north, Able=1, Baker=2))
        raise RuntimeError("the caller's transaction fails after the service ran")
    assert callbacks == []
    assert Event.objects.count() == before
    north.refresh_from_db()
    assert north.status == Ballot.Status.AWAITING


def test_control_is_called_when_the_deciding_ward_declares(council3):
    e, (north, south, east) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    assert standing(e).composition.control.called is False
    services.declare_ballot(south, votes=f.votes(south, Able=600, Baker=400))
    s = standing(e)
    assert s.composition.control.called is True
    assert s.control_party.ec_id == "PP53"
    assert s.headline == "Labour gain Testshire"
    assert event_kinds()[-2:] == ["ballot_declared", "control_called"]
    called = Event.objects.last().payload
    assert called["headline"] == "Labour gain Testshire"
    assert called["party_id"] == "PP53"
    assert called["party_before_id"] == "PP52"
    assert called["seats_to_declare"] == 1
    # The last ward changes nothing about the call: no new control event.
    services.declare_ballot(east, votes=f.votes(east, Able=100, Baker=400))
    assert event_kinds()[-1] == "ballot_declared"


def test_correction_that_flips_control_back_records_every_version(council3, user):
    e, (north, south, _) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    services.declare_ballot(south, votes=f.votes(south, Able=501, Baker=500))
    assert standing(e).control_party.ec_id == "PP53"
    services.correct_ballot(
        south, votes=f.votes(south, Able=500, Baker=510), reason="transposed figures", user=user
    )
    s = standing(e)
    assert s.composition.control.called is False
    assert s.headline is None
    assert result(south) == [("Ann Able", 500, False, False), ("Bob Baker", 510, True, False)]
    history = list(
        Event.objects.filter(ballot=south, kind__in=["ballot_declared", "ballot_corrected"]).order_by("id")
    )
    assert [h.kind for h in history] == ["ballot_declared", "ballot_corrected"]
    assert [[c["votes"] for c in h.payload["candidacies"]] for h in history] == [[501, 500], [510, 500]]
    assert history[1].payload["reason"] == "transposed figures"
    assert history[1].actor == user
    assert event_kinds()[-1] == "control_called"
    assert Event.objects.last().payload["called"] is False


def test_correction_keeps_the_declaration_time(council3):
    _, (north, *_) = council3
    when = dt.datetime(2023, 5, 5, 2, 0, tzinfo=dt.UTC)
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400), declared_at=when)
    services.correct_ballot(north, votes=f.votes(north, Able=601, Baker=400), reason="Able's total re-read")
    north.refresh_from_db()
    assert north.declared_at == when


def test_retracting_unpublishes_the_result_and_uncalls_control(council3):
    e, (north, south, _) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    services.declare_ballot(south, votes=f.votes(south, Able=600, Baker=400))
    services.retract_declaration(south, reason="wrong ward")
    south.refresh_from_db()
    assert south.status == Ballot.Status.COUNTING
    assert south.declared_at is None
    assert [r[2] for r in result(south)] == [None, None]
    assert standing(e).composition.seats_declared == 1
    assert event_kinds()[-2:] == ["ballot_retracted", "control_called"]


def test_uncontested_ballot_elects_everyone_unopposed_without_votes():
    e = f.election(seats_total=3)
    b = f.ballot(e, "Quiet", [("Una Only", "PP90"), ("Two Also", "PP52")], seats=3)
    services.declare_ballot(b)
    b.refresh_from_db()
    assert b.status == Ballot.Status.UNCONTESTED
    assert result(b) == [("Two Also", None, True, False), ("Una Only", None, True, False)]
    # One seat stays vacant, so it is still "to declare".
    assert standing(e).composition.seats_to_declare == 1


def test_winners_only_source_declares_without_votes():
    e = f.election(seats_total=1)
    b = f.ballot(e, "Only", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    services.declare_ballot(b, winners=[f.pk(b, "Baker")])
    assert result(b) == [("Ann Able", None, False, False), ("Bob Baker", None, True, False)]
    assert standing(e).control_party.ec_id == "PP52"


def test_tie_at_cutoff_declared_with_the_lot_winner():
    e = f.election(seats_total=1)
    b = f.ballot(e, "Tied", [("Ann Able", "PP53"), ("Bob Baker", "PP52"), ("Cy Cole", "PP90")])
    services.declare_ballot(b, votes=f.votes(b, Able=300, Baker=300, Cole=10), lot_winners=[f.pk(b, "Baker")])
    assert result(b) == [
        ("Ann Able", 300, False, False),
        ("Bob Baker", 300, True, True),
        ("Cy Cole", 10, False, False),
    ]


def test_joint_description_counts_for_its_lead_party():
    e = f.election(seats_total=1, before={"PP52": (1, 0)})
    b = f.ballot(e, "Coop", [("Ann Able", "joint-party:53-119"), ("Bob Baker", "PP52")])
    services.declare_ballot(b, votes=f.votes(b, Able=5, Baker=4))
    s = standing(e)
    assert s.control_party.ec_id == "PP53"
    assert [(p.ec_id, row.seats) for p, row in s.party_rows()] == [("PP53", 1), ("PP52", 0)]


def test_mayoral_ballot_has_no_ward_and_no_control():
    e = f.election("mansfield", kind="mayor")
    b = f.ballot(e, None, [("Andy Abrahams", "PP53"), ("Andre Camilleri", "PP52")], previous={"PP53": 1})
    services.declare_ballot(b, votes=f.votes(b, Abrahams=9987, Camilleri=5832))
    b = Ballot.objects.with_results().get(pk=b.pk)
    assert b.ballot_paper_id == "mayor.mansfield.2023-05-04"
    assert b.label == "Mayor of Mansfield"
    assert standing(e) is None
    assert [c.headline for c in ballot_changes(b)] == ["Labour hold Mayor of Mansfield"]


def test_stale_edit_is_refused_with_who_changed_it(council3, user):
    _, (north, *_) = council3
    seen = north.version
    services.declare_ballot(
        north, votes=f.votes(north, Able=600, Baker=400), user=user, expected_version=seen
    )
    with pytest.raises(services.StaleEdit) as exc:
        services.correct_ballot(north, votes=f.votes(north, Able=1, Baker=2), expected_version=seen)
    message = exc.value.message_dict["version"][0]
    assert "was changed by desk" in message
    assert "(ballot declared)" in message
    assert [r[1] for r in result(north)] == [600, 400]


# ---------------------------------------------------------------- bad input changes nothing


def assert_refused(field, match, call):
    before = (
        Event.objects.count(),
        list(Candidacy.objects.values_list("votes", "elected")),
        list(Ballot.objects.values_list("status", "version")),
    )
    with pytest.raises(ValidationError) as exc:
        call()
    assert field in exc.value.message_dict, exc.value.message_dict
    assert match in " ".join(exc.value.message_dict[field])
    after = (
        Event.objects.count(),
        list(Candidacy.objects.values_list("votes", "elected")),
        list(Ballot.objects.values_list("status", "version")),
    )
    assert after == before


def test_negative_votes_are_refused(council3):
    _, (north, *_) = council3
    assert_refused(
        "votes",
        "Ann Able: votes cannot be negative (-5)",
        lambda: services.declare_ballot(north, votes=f.votes(north, Able=-5, Baker=4)),
    )


def test_missing_votes_are_refused(council3):
    _, (north, *_) = council3
    assert_refused(
        "votes",
        "Votes are missing for Bob Baker",
        lambda: services.declare_ballot(north, votes=f.votes(north, Able=5)),
    )


def test_votes_on_an_uncontested_ballot_are_refused():
    e = f.election(seats_total=2)
    b = f.ballot(e, "Quiet", [("Una Only", "PP90")], seats=2)
    assert_refused("votes", "is uncontested", lambda: services.declare_ballot(b, votes=f.votes(b, Only=10)))


def test_unresolved_tie_at_cutoff_is_refused():
    e = f.election(seats_total=1)
    b = f.ballot(e, "Tied", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    assert_refused(
        "lot_winners",
        "Ann Able, Bob Baker tie for the last 1 seat",
        lambda: services.declare_ballot(b, votes=f.votes(b, Able=5, Baker=5)),
    )


def test_more_lot_winners_than_seats_are_refused():
    e = f.election(seats_total=1)
    b = f.ballot(e, "Tied", [("Ann Able", "PP53"), ("Bob Baker", "PP52"), ("Cy Cole", "PP90")])
    assert_refused(
        "lot_winners",
        "2 lot winners chosen, but 1 seat is decided by lot",
        lambda: services.declare_ballot(
            b, votes=f.votes(b, Able=5, Baker=5, Cole=1), lot_winners=[f.pk(b, "Able"), f.pk(b, "Baker")]
        ),
    )


def test_lot_winner_who_did_not_tie_is_refused():
    e = f.election(seats_total=1)
    b = f.ballot(e, "Tied", [("Ann Able", "PP53"), ("Bob Baker", "PP52"), ("Cy Cole", "PP90")])
    assert_refused(
        "lot_winners",
        "Cy Cole did not tie for the last seat",
        lambda: services.declare_ballot(
            b, votes=f.votes(b, Able=5, Baker=5, Cole=1), lot_winners=[f.pk(b, "Cole")]
        ),
    )


def test_candidacy_of_another_ballot_is_refused(council3):
    _, (north, south, _) = council3
    other = f.pk(south, "Able")
    assert_refused(
        "candidacy",
        "does not stand on",
        lambda: services.declare_ballot(north, votes={**f.votes(north, Able=1, Baker=2), other: 3}),
    )


def test_correcting_a_ballot_never_declared_is_refused(council3):
    _, (north, *_) = council3
    assert_refused(
        "status",
        "has not been declared",
        lambda: services.correct_ballot(north, votes=f.votes(north, Able=1, Baker=2), reason="re-read"),
    )


def test_declaring_twice_is_refused(council3):
    _, (north, *_) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=1, Baker=2))
    assert_refused(
        "status",
        "already declared",
        lambda: services.declare_ballot(north, votes=f.votes(north, Able=3, Baker=2)),
    )


def test_votes_exceeding_ballot_papers_counted_are_refused(council3):
    _, (north, *_) = council3
    assert_refused(
        "votes",
        "Ann Able: 995 votes is more than the 990 valid ballot papers counted",
        lambda: services.declare_ballot(
            north, votes=f.votes(north, Able=995, Baker=2), ballot_papers_counted=1000, rejected_ballots=10
        ),
    )


def test_more_ballot_papers_than_electors_are_refused(council3):
    _, (north, *_) = council3
    assert_refused(
        "ballot_papers_counted",
        "more than the electorate",
        lambda: services.declare_ballot(
            north, votes=f.votes(north, Able=5, Baker=2), electorate=100, ballot_papers_counted=101
        ),
    )


def test_winners_that_contradict_the_votes_are_refused(council3):
    _, (north, *_) = council3
    assert_refused(
        "winners",
        "The votes elect Ann Able, but the winners given are Bob Baker",
        lambda: services.declare_ballot(
            north, votes=f.votes(north, Able=5, Baker=2), winners=[f.pk(north, "Baker")]
        ),
    )


def test_declaring_a_postponed_ballot_is_refused(council3):
    _, (north, *_) = council3
    services.set_ballot_status(north, Ballot.Status.POSTPONED)
    assert_refused(
        "status", "postponed", lambda: services.declare_ballot(north, votes=f.votes(north, Able=5, Baker=2))
    )


def test_status_cannot_publish_a_result(council3):
    _, (north, *_) = council3
    assert_refused("status", "Use declare", lambda: services.set_ballot_status(north, Ballot.Status.DECLARED))


def test_status_change_is_recorded(council3):
    _, (north, *_) = council3
    services.set_ballot_status(north, Ballot.Status.RECOUNT)
    north.refresh_from_db()
    assert north.status == Ballot.Status.RECOUNT
    assert Event.objects.last().payload == {
        "ballot_paper_id": "local.testshire.north.2023-05-04",
        "election_id": "local.testshire.2023-05-04",
        "status": "recount",
        "version": north.version,
    }


# ---------------------------------------------------------------- before the night


def test_control_before_is_derived_from_the_composition():
    e = f.election(seats_total=44, before={"PP52": (23, 0), "PP53": (21, 0)})
    assert e.control_before.ec_id == "PP52"
    e2 = f.election("evenshire", seats_total=44, before={"PP52": (22, 0), "PP53": (22, 0)})
    assert e2.control_before is None


def test_vacancies_before_the_poll_count_against_a_majority():
    # 20 of 40 seats held, but the council has 41 (a vacancy): not a majority.
    e = f.election(seats_total=41, before={"PP52": (20, 0), "PP53": (20, 0)})
    services.set_composition(
        e, seats_total=41, seats_total_before=41, rows=[(f.party("PP52"), 21, 0), (f.party("PP53"), 19, 0)]
    )
    e.refresh_from_db()
    assert e.control_before.ec_id == "PP52"


def test_composition_with_more_seats_not_up_than_held_is_refused():
    e = f.election(seats_total=10)
    with pytest.raises(ValidationError) as exc:
        services.set_composition(e, seats_total=10, rows=[(f.party("PP52"), 3, 4)])
    assert "seats_not_up" in exc.value.message_dict


def test_composition_refusals_name_their_fields_and_codes():
    # By field, as raised: the rule the importer reports by line (services.composition_refusals).
    e = f.election(seats_total=5)
    with pytest.raises(ValidationError) as refused:
        services.set_composition(
            e,
            seats_total=5,
            seats_total_before=4,
            cycle="fifths",
            rows=[(f.party("PP52"), 3, 4), (f.party("PP53"), 2, 2), (f.party("PP53"), 1, 0)],
        )
    assert [(field, e.code, text(e)) for field, e in refusals_of(refused.value)] == [
        (
            "seats_not_up",
            ErrorCode.NOT_UP_ABOVE_HELD,
            "Conservative and Unionist Party: 4 seats not up is more than the 3 it held.",
        ),
        (
            "seats_not_up",
            ErrorCode.NOT_UP_ABOVE_SEATS,
            "6 seats not up is more than the 5 seats on the council.",
        ),
        ("party", ErrorCode.PARTY_TWICE, "Labour Party is listed twice."),
        (
            "seats_total_before",
            ErrorCode.HELD_ABOVE_SEATS,
            "Parties held 6 seats, more than the council's 4.",
        ),
        ("cycle", ErrorCode.UNKNOWN_CYCLE, "Unknown cycle 'fifths': use one of all_out, halves, thirds."),
    ]


def test_more_previous_winners_than_seats_are_refused(council3):
    _, (north, *_) = council3
    with pytest.raises(ValidationError, match="2 previous winners for a ballot of 1 seats"):
        services.set_previous_winners(north, [(f.party("PP52"), 1), (f.party("PP53"), 1)])
    assert [(p.party.ec_id, p.seats) for p in north.previous_winners.all()] == [("PP52", 1)]


# ---------------------------------------------------------------- posts


def test_post_lifecycle_publishes_updates_and_withdraws(user):
    post = services.save_post(
        Post(), changes={"headline": "Counting begins in Derby", "body": "Under way."}, user=user
    )
    assert post.status == Post.Status.DRAFT
    assert not Event.objects.filter(post=post).exists()  # a draft publishes nothing
    when = dt.datetime(2023, 5, 5, 9, 46, tzinfo=dt.UTC)
    services.publish_post(post, published_at=when, user=user)
    post.refresh_from_db()
    assert (post.status, post.published_at) == (Post.Status.PUBLISHED, when)
    services.save_post(post, changes={"breaking": True}, councils=[f.council("derby")], user=user)
    services.withdraw_post(post, reason="duplicate", user=user)
    post.refresh_from_db()
    assert post.status == Post.Status.WITHDRAWN
    assert list(Event.objects.filter(post=post).values_list("kind", flat=True)) == [
        "post_published",
        "post_updated",
        "post_withdrawn",
    ]
    updated = Event.objects.get(kind="post_updated").payload
    assert (updated["breaking"], updated["councils"]) == (True, ["derby"])
    assert Post.objects.published().count() == 0


def test_withdrawing_a_draft_is_refused():
    post = services.save_post(Post(), changes={"headline": "Draft"})
    with pytest.raises(ValidationError, match="not published"):
        services.withdraw_post(post)


def test_post_without_headline_is_refused():
    with pytest.raises(ValidationError) as exc:
        services.save_post(Post(), changes={"headline": ""})
    assert "headline" in exc.value.message_dict
    assert Post.objects.count() == 0


def test_stale_post_edit_is_refused(user):
    post = services.save_post(Post(), changes={"headline": "One"}, user=user)
    seen = post.version
    services.save_post(Post.objects.get(pk=post.pk), changes={"headline": "Two"}, expected_version=seen)
    with pytest.raises(services.StaleEdit):
        services.save_post(Post.objects.get(pk=post.pk), changes={"headline": "Three"}, expected_version=seen)
    assert Post.objects.get(pk=post.pk).headline == "Two"


def test_previous_winners_of_a_declared_ballot_are_a_published_correction(council3, user):
    _, (north, *_) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    services.set_previous_winners(north, [(f.party("PP53"), 1)], user=user)
    event = Event.objects.last()
    assert (event.kind, event.actor, event.payload["reason"]) == (
        "ballot_corrected",
        user,
        "previous winners changed",
    )
    assert event.payload["previous_winners"] == [{"party_id": "PP53", "seats": 1}]
    changes = ballot_changes(Ballot.objects.with_results().get(pk=north.pk))
    assert [(c.kind.value, c.headline) for c in changes] == [("hold", "Labour hold North")]


def test_previous_winners_before_the_night_record_a_previous_winners_event(council3):
    _, (north, *_) = council3
    last = Event.objects.order_by("id").last().pk
    services.set_previous_winners(north, [(f.party("PP53"), 1)])
    event = Event.objects.get(pk__gt=last)
    assert (event.kind, event.ballot, event.payload) == (
        "previous_winners",
        north,
        {
            "ballot_paper_id": north.ballot_paper_id,
            "election_id": "local.testshire.2023-05-04",
            "status": "awaiting",
            "version": north.version + 1,
            "previous_winners": [{"party_id": "PP53", "seats": 1}],
            "party_names": {"PP53": "Labour"},
        },
    )


# ---------------------------------------------------------------- plausibility


def test_a_candidate_with_more_votes_than_electors_is_refused_and_nothing_changes(council3):
    _, (north, *_) = council3
    before = event_kinds()
    with pytest.raises(ValidationError) as exc:
        services.declare_ballot(north, votes=f.votes(north, Able=800800, Baker=400), electorate=6100)
    assert exc.value.message_dict == {
        "votes": [
            "Ann Able: 800,800 votes is more than the electorate of 6,100.",
            "801,200 votes in all is more than the electorate of 6,100 times 1 seat.",
        ]
    }
    north.refresh_from_db()
    assert (north.status, north.version, north.electorate) == ("awaiting", 1, None)
    assert result(north) == [("Ann Able", None, None, False), ("Bob Baker", None, None, False)]
    assert event_kinds() == before


def test_more_votes_in_all_than_valid_papers_times_seats_is_refused(council3):
    _, (north, *_) = council3
    before = event_kinds()
    with pytest.raises(ValidationError) as exc:
        services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=500), ballot_papers_counted=1000)
    assert exc.value.message_dict == {
        "votes": ["1,100 votes in all is more than the 1,000 valid ballot papers counted times 1 seat."]
    }
    assert event_kinds() == before


def test_a_correction_without_a_reason_is_refused_and_nothing_changes(council3):
    _, (north, *_) = council3
    before = event_kinds()
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    for reason in ("", "   "):
        with pytest.raises(ValidationError) as exc:
            services.correct_ballot(north, votes=f.votes(north, Able=600, Baker=401), reason=reason)
        assert exc.value.message_dict == {
            "reason": ["Say why North is being corrected: the reason is kept in its history."]
        }
    assert result(north) == [("Ann Able", 600, True, False), ("Bob Baker", 400, False, False)]
    assert event_kinds() == [*before, "ballot_declared"]


# ---------------------------------------------------------------- codes: what a refusal concerns


def refused(call) -> list[tuple]:
    """Each error of the refusal as (field, code, params), as raised."""
    with pytest.raises(ValidationError) as excinfo:
        call()
    return [(field, error.code, error.params) for field, error in refusals_of(excinfo.value)]


NAMES = {1: "Ann Able", 2: "Bob Baker", 3: "Cy Cole"}


def check(*, seats=1, names=None, **inputs):
    """``services.check_result`` on an unsaved ballot: pure, no database."""
    ballot = Ballot(ballot_paper_id="local.x.north.2023-05-04", winner_count=seats)
    inputs.setdefault("winners", None)
    return lambda: services.check_result(ballot, NAMES if names is None else names, label="North", **inputs)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"votes": {1: 5, 2: 4}, "electorate": -3}, [("electorate", "not_a_count", {"value": -3})]),
        (
            {"votes": {1: 5, 2: 4}, "electorate": 90, "ballot_papers_counted": 91},
            [("ballot_papers_counted", "papers_above_electorate", {"counted": 91, "electorate": 90})],
        ),
        (
            {"votes": {1: 5, 2: 4}, "ballot_papers_counted": 10, "rejected_ballots": 11},
            [("rejected_ballots", "rejected_above_papers", {"rejected": 11, "counted": 10})],
        ),
        (
            {"votes": {1: 5, 2: True}},
            [("votes", "votes_not_whole", {"candidacy": 2, "name": "Bob Baker", "votes": True})],
        ),
        (
            {"votes": {1: -5, 2: 4}},
            [("votes", "votes_negative", {"candidacy": 1, "name": "Ann Able", "votes": -5})],
        ),
        (
            {"votes": {1: 995, 2: 4}, "ballot_papers_counted": 1000, "rejected_ballots": 10},
            [
                (
                    "votes",
                    "votes_above_valid",
                    {
                        "candidacy": 1,
                        "name": "Ann Able",
                        "votes": 995,
                        "valid": 990,
                        "counted": 1000,
                        "rejected": 10,
                    },
                )
            ],
        ),
        (
            {"votes": {1: 800, 2: 4}, "electorate": 700},
            [
                (
                    "votes",
                    "votes_above_electorate",
                    {"candidacy": 1, "name": "Ann Able", "votes": 800, "electorate": 700},
                ),
                ("votes", "total_above_electorate", {"total": 804, "electorate": 700, "seats": 1}),
            ],
        ),
        (
            {"votes": {1: 600, 2: 500}, "ballot_papers_counted": 1000},
            [("votes", "total_above_papers", {"total": 1100, "valid": 1000, "seats": 1})],
        ),
        ({"votes": {1: 5, 2: 4, 9: 1}}, [("candidacy", "not_on_ballot", {"candidacies": (9,)})]),
        ({"votes": {1: 5}}, [("votes", "votes_missing", {"candidacies": (2,)})]),
        ({"votes": {1: 5, 2: 5}}, [("lot_winners", "tie_unresolved", {"candidacies": (1, 2), "places": 1})]),
        (
            {"votes": {1: 5, 2: 5}, "lot_winners": [3]},
            [("candidacy", "not_on_ballot", {"candidacies": (3,)})],
        ),
        (
            {"votes": {1: 5, 2: 4}, "lot_winners": [2]},
            [("lot_winners", "lot_not_tied", {"candidacies": (2,)})],
        ),
        ({"votes": {1: 5, 2: 4}, "lot_winners": [1]}, [("lot_winners", "lot_not_needed", None)]),
        (
            {"votes": {1: 5, 2: 5}, "lot_winners": [1, 2]},
            [("lot_winners", "lot_wrong_count", {"given": 2, "places": 1})],
        ),
        ({"votes": {1: 5, 2: 4}, "winners": [2]}, [("winners", "winners_differ", {"candidacies": (1,)})]),
        ({"votes": None, "winners": [1], "lot_winners": [1]}, [("lot_winners", "lot_without_votes", None)]),
        ({"votes": None, "winners": [1, 2]}, [("winners", "winners_wrong_count", {"given": 2, "seats": 1})]),
        ({"votes": None}, [("votes", "votes_required", None)]),
    ],
)
def test_each_refusal_of_a_result_names_its_field_code_and_what_it_concerns(inputs, expected):
    assert refused(check(names={1: "Ann Able", 2: "Bob Baker"}, **inputs)) == expected


def test_refusals_of_an_uncontested_ballot_have_their_codes():
    names = {1: "Ann Able", 2: "Bob Baker"}
    assert refused(check(seats=2, names=names, votes={1: 5, 2: 4})) == [
        ("votes", "uncontested_has_votes", {"candidates": 2, "seats": 2})
    ]
    assert refused(check(seats=2, names=names, votes=None, lot_winners=[1])) == [
        ("lot_winners", "lot_uncontested", None)
    ]
    assert refused(check(seats=2, names=names, votes=None, winners=[1])) == [
        ("winners", "winners_uncontested", None)
    ]
    assert refused(check(names={}, votes=None)) == [("candidacy", "no_candidates", None)]


def test_a_coded_refusal_keeps_the_words_the_desk_reads():
    with pytest.raises(ValidationError) as excinfo:
        check(names={1: "Ann Able", 2: "Bob Baker"}, votes={1: 1005, 2: 4}, ballot_papers_counted=1000)()
    assert excinfo.value.message_dict == {
        "votes": ["Ann Able: 1005 votes is more than the 1000 valid ballot papers counted."]
    }


def test_the_services_refusals_of_a_ballots_state_have_their_codes(council3):
    _, (north, south, east) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=5, Baker=4))
    assert refused(lambda: services.declare_ballot(north, votes=f.votes(north, Able=5, Baker=4))) == [
        ("status", "already_declared", None)
    ]
    assert refused(
        lambda: services.correct_ballot(south, votes=f.votes(south, Able=5, Baker=4), reason="x")
    ) == [("status", "not_declared", None)]
    assert refused(lambda: services.correct_ballot(north, votes=f.votes(north, Able=6, Baker=4))) == [
        ("reason", "reason_required", None)
    ]
    assert refused(lambda: services.set_ballot_status(south, "declared")) == [
        ("status", "status_not_settable", {"status": "declared"})
    ]
    assert refused(lambda: services.set_ballot_status(north, "counting")) == [
        ("status", "already_declared", None)
    ]
    assert refused(
        lambda: services.declare_ballot(south, votes=f.votes(south, Able=5, Baker=4), expected_version=99)
    ) == [("version", "stale", None)]
    services.set_ballot_status(east, "postponed")
    assert refused(lambda: services.declare_ballot(east, votes=f.votes(east, Able=5, Baker=4))) == [
        ("status", "postponed", None)
    ]
    assert refused(
        lambda: services.declare_ballot(south, votes=f.votes(south, Able=5, Baker=4), source="rumour")
    ) == [("source", "unknown_source", {"source": "rumour"})]


def test_a_refusals_text_is_shown_as_written_whatever_its_params():
    error = refusal(ErrorCode.VOTES_ABOVE_VALID, "Ann Able: 50% more than %(votes)s.", votes=3)
    assert (error.code, error.params, text(error)) == (
        "votes_above_valid",
        {"votes": 3},
        "Ann Able: 50% more than %(votes)s.",
    )
