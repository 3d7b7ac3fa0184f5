"""Candidates of an undeclared ballot: added, changed and withdrawn through the services, and on their page."""

import re

import pytest
from django.core.exceptions import ValidationError

from results import services
from results.models import Ballot, Candidacy, Event

from . import factories as f
from .desk import client_for, staff, text
from .test_admin_lists import queries


@pytest.fixture
def north():
    e = f.election(seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    return f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})


def names(ballot: Ballot) -> list[tuple[str, str, str]]:
    return list(
        Candidacy.objects.filter(ballot=ballot)
        .order_by("person_name")
        .values_list("person_name", "party__ec_id", "description")
    )


def nominations(ballot: Ballot) -> list[dict]:
    return [
        {
            k: v
            for k, v in e.payload.items()
            if k not in ("candidacies", "election_id", "ballot_paper_id", "seats", "ward")
        }
        for e in Event.objects.filter(ballot=ballot, kind="nominations").order_by("id")
    ]


def url(ballot: Ballot) -> str:
    return f"/admin/results/ballot/{ballot.pk}/candidates/"


# ---------------------------------------------------------------- services


def test_a_candidate_missed_by_the_import_is_added_with_an_event(north):
    desk = staff("desk")
    version = north.version
    services.add_candidacy(
        north, person_name=" Cat Cole ", party=f.party("PP90"), user=desk, expected_version=version
    )
    assert names(north) == [("Ann Able", "PP53", ""), ("Bob Baker", "PP52", ""), ("Cat Cole", "PP90", "")]
    north.refresh_from_db()
    assert north.version == version + 1
    event = Event.objects.get(kind="nominations")
    assert (event.actor, event.ballot, event.payload["change"], event.payload["person_name"]) == (
        desk,
        north,
        "added",
        "Cat Cole",
    )
    assert [c["person_name"] for c in event.payload["candidacies"]] == ["Ann Able", "Bob Baker", "Cat Cole"]


def test_a_misspelt_name_is_fixed_with_the_old_and_new_in_the_event(north):
    able = north.candidacies.get(person_name="Ann Able")
    services.change_candidacy(able, person_name="Anne Able", expected_version=north.version)
    assert names(north)[0] == ("Anne Able", "PP53", "")
    assert nominations(north) == [
        {
            "status": "awaiting",
            "version": north.version + 1,
            "change": "changed",
            "person_name": "Anne Able",
            "before": {"person_name": "Ann Able"},
            "after": {"person_name": "Anne Able"},
        }
    ]


def test_an_unchanged_candidate_records_nothing(north):
    able = north.candidacies.get(person_name="Ann Able")
    services.change_candidacy(able, person_name="Ann Able")
    assert nominations(north) == []
    assert Ballot.objects.get(pk=north.pk).version == north.version


def test_withdrawing_a_candidate_who_died_postpones_the_poll(north):
    services.set_ballot_status(north, "counting")
    north.refresh_from_db()
    baker = north.candidacies.get(person_name="Bob Baker")
    services.withdraw_candidacy(baker, reason="died on 28 April", expected_version=north.version)
    north.refresh_from_db()
    assert (north.status, names(north)) == ("postponed", [("Ann Able", "PP53", "")])
    assert nominations(north) == [
        {
            "status": "postponed",
            "version": north.version,
            "change": "withdrawn",
            "person_name": "Bob Baker",
            "party_id": "PP52",
            "reason": "died on 28 April",
            "status_before": "counting",
        }
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda b: services.add_candidacy(b, person_name="Bob Baker", party=f.party("PP90")),
            {"person_name": ["Bob Baker already stands on North."]},
        ),
        (
            lambda b: services.add_candidacy(b, person_name="  ", party=f.party("PP90")),
            {"person_name": ["Enter the candidate's name as it is on the ballot paper."]},
        ),
        (
            lambda b: services.change_candidacy(
                b.candidacies.get(person_name="Ann Able"), person_name="Bob Baker"
            ),
            {"person_name": ["Bob Baker already stands on North."]},
        ),
        (
            lambda b: services.withdraw_candidacy(b.candidacies.get(person_name="Ann Able"), reason=" "),
            {"reason": ["Say why the candidate is withdrawn: it is kept in the history."]},
        ),
    ],
)
def test_bad_nominations_are_refused_and_change_nothing(north, call, message):
    before = (names(north), Ballot.objects.get(pk=north.pk).version, Ballot.objects.get(pk=north.pk).status)
    with pytest.raises(ValidationError) as exc:
        call(north)
    assert exc.value.message_dict == message
    assert (
        names(north),
        Ballot.objects.get(pk=north.pk).version,
        Ballot.objects.get(pk=north.pk).status,
    ) == before
    assert nominations(north) == []


def test_a_declared_ballots_candidates_do_not_change(north):
    services.declare_ballot(north, votes=f.votes(north, Able=10, Baker=5))
    for call in (
        lambda: services.add_candidacy(north, person_name="Cat Cole", party=f.party("PP90")),
        lambda: services.change_candidacy(north.candidacies.get(person_name="Ann Able"), person_name="Anne"),
        lambda: services.withdraw_candidacy(north.candidacies.get(person_name="Ann Able"), reason="died"),
    ):
        with pytest.raises(ValidationError) as exc:
            call()
        assert exc.value.message_dict == {
            "status": ["North is declared: retract the declaration before changing its candidates."]
        }
    assert nominations(north) == []


def test_a_stale_nomination_change_is_refused(north):
    seen = north.version
    services.set_ballot_status(north, "counting", user=staff("bob"))
    with pytest.raises(services.StaleEdit):
        services.add_candidacy(north, person_name="Cat Cole", party=f.party("PP90"), expected_version=seen)
    assert len(names(north)) == 2


# ---------------------------------------------------------------- the page


def test_the_desk_adds_renames_and_withdraws_on_the_candidates_page(north):
    client = client_for(staff("desk"))
    page = client.get(url(north))
    assert page.status_code == 200
    lib_dem = f.party("PP90")
    added = client.post(
        url(north),
        {
            "_action": "add",
            "add-version": north.version,
            "add-person_name": "Cat Cole",
            "add-party": lib_dem.pk,
        },
    )
    assert added.status_code == 302
    north.refresh_from_db()
    able = north.candidacies.get(person_name="Ann Able")
    renamed = client.post(
        url(north),
        {
            "_action": "change",
            "version": north.version,
            "candidacy": able.pk,
            "person_name": "Anne Able",
            "party": able.party_id,
            "description": "Labour and Co-operative Party",
        },
    )
    assert renamed.status_code == 302
    north.refresh_from_db()
    cole = north.candidacies.get(person_name="Cat Cole")
    withdrawn = client.post(
        url(north), {"_action": "withdraw", "version": north.version, "candidacy": cole.pk, "reason": "died"}
    )
    assert withdrawn.status_code == 302
    after = client.get(url(north))
    assert [m.message for m in after.context["messages"]] == [
        "Added Cat Cole (Lib Dems) to North.",
        "Saved Anne Able's details.",
        "Withdrew Cat Cole from North: the poll is countermanded and the ballot postponed. "
        "Set it back to counting when the new poll is held.",
    ]
    assert names(north) == [("Anne Able", "PP53", "Labour and Co-operative Party"), ("Bob Baker", "PP52", "")]
    assert [e.what for e in after.context["history"]] == [
        "Candidate withdrawn: Cat Cole (poll postponed)",
        "Candidate changed: Anne Able",
        "Candidate added: Cat Cole",
        "Previous winners set: Conservatives 1",
    ]
    assert after.context["history"][1].changes == (
        "Description: — → Labour and Co-operative Party",
        "Person name: Ann Able → Anne Able",
    )
    assert Ballot.objects.get(pk=north.pk).status == "postponed"


def test_a_withdrawal_without_a_reason_is_refused_next_to_its_row(north):
    client = client_for(staff("desk"))
    baker = north.candidacies.get(person_name="Bob Baker")
    page = client.post(
        url(north), {"_action": "withdraw", "version": north.version, "candidacy": baker.pk, "reason": ""}
    )
    assert page.status_code == 200
    row = next(r for r in page.context["rows"] if r["candidacy"].pk == baker.pk)
    assert row["withdraw"].errors == {"reason": ["This field is required."]}
    assert len(names(north)) == 2


def test_a_stale_change_on_the_page_is_refused_with_who_made_the_other(north):
    client = client_for(staff("desk"))
    seen = north.version
    services.set_ballot_status(north, "counting", user=staff("bob"))
    page = client.post(
        url(north),
        {
            "_action": "add",
            "add-version": seen,
            "add-person_name": "Cat Cole",
            "add-party": f.party("PP90").pk,
        },
    )
    assert page.status_code == 409
    assert re.match(
        r"North was changed by bob at \d\d:\d\d:\d\d \(status set to counting\) after you opened it\. "
        r"Nothing of yours was saved: reload the page to see their change\.",
        page.context["conflict"].message,
    )
    assert len(names(north)) == 2


def test_the_candidates_page_is_read_only_for_a_declared_ballot_and_for_live_editors(north):
    lee = client_for(staff("lee", "Live editors"))
    assert lee.get(url(north)).status_code == 200
    assert lee.post(url(north), {"_action": "withdraw"}).status_code == 403
    services.declare_ballot(north, votes=f.votes(north, Able=10, Baker=5))
    desk = client_for(staff("desk"))
    page = desk.get(url(north))
    assert "North is declared: its candidates cannot change (retract the declaration first)." in text(page)
    assert desk.post(url(north), {"_action": "withdraw"}).status_code == 403


def test_the_ballot_page_links_to_its_candidates_until_declared(north):
    desk = client_for(staff("desk"))
    assert (
        f'href="{url(north)}" id="candidates-link"'
        in desk.get(f"/admin/results/ballot/{north.pk}/change/").content.decode()
    )
    services.declare_ballot(north, votes=f.votes(north, Able=10, Baker=5))
    assert (
        'id="candidates-link"' not in desk.get(f"/admin/results/ballot/{north.pk}/change/").content.decode()
    )


def test_the_candidates_page_runs_the_same_number_of_queries_for_2_and_12_candidates(north):
    desk = client_for(staff("desk"))
    queries(desk, url(north))  # warm the content-type cache
    two = queries(desk, url(north))
    for i in range(10):
        services.add_candidacy(north, person_name=f"Extra Person{i}", party=f.party("PP90"))
    twelve = queries(desk, url(north))
    assert (two, twelve) == (14, 14)
