"""The ballot page: typing a ward's votes, previewing, declaring, and every refusal in words."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from console.admin import history
from console.admin.ballot_entry import BallotEntry, BallotEntryForm, ballot_paper_order
from results import services
from results.errors import ErrorCode, refusal
from results.models import Ballot, Candidacy, Event

from . import factories as f
from .desk import (
    client_for,
    entry_url,
    field_errors,
    form_data,
    preview_and_confirm,
    previewed,
    row_html,
    staff,
    text,
)


@pytest.fixture
def desk():
    return staff("desk")


@pytest.fixture
def council3():
    """A 3-seat council, Conservative before the poll, three single-member wards held by the Conservatives."""
    e = f.election(seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    wards = [
        f.ballot(e, name, [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
        for name in ("North", "South", "East")
    ]
    return e, wards


def figures(b: Ballot) -> list[tuple]:
    return list(
        Candidacy.objects.filter(ballot=b)
        .order_by("person_name")
        .values_list("person_name", "votes", "elected", "elected_by_lot")
    )


def unchanged(b: Ballot):
    """What must stay the same when a save is refused."""
    b = Ballot.objects.get(pk=b.pk)
    return (
        b.status,
        b.version,
        b.electorate,
        b.ballot_papers_counted,
        b.rejected_ballots,
        figures(b),
        Event.objects.count(),
        LogEntry.objects.count(),
    )


# ---------------------------------------------------------------- the page


def test_candidates_are_in_ballot_paper_order_and_the_first_vote_box_has_focus(desk):
    e = f.election(seats_total=1)
    b = f.ballot(e, "Abbey", [("Zoe Adams", "PP53"), ("Al Zed", "PP52"), ("Bea Moss", "PP90")])
    page = client_for(desk).get(entry_url(b))
    assert page.status_code == 200
    html = page.content.decode()
    assert re.findall(r'data-candidate="([^"]+)"', html) == ["Zoe Adams", "Bea Moss", "Al Zed"]
    adams = f.pk(b, "Adams")
    vote_inputs = re.findall(r'<input type="text" name="(votes_\d+)"[^>]*>', html)
    assert vote_inputs == [f"votes_{adams}", f"votes_{f.pk(b, 'Moss')}", f"votes_{f.pk(b, 'Zed')}"]
    first = re.search(rf'<input[^>]*name="votes_{adams}"[^>]*>', html).group(0)
    assert "autofocus" in first
    assert 'inputmode="numeric"' in first
    assert sum("autofocus" in tag for tag in re.findall(r"<input[^>]*>", html)) == 1


def test_ballot_paper_order_sorts_by_surname_then_forenames():
    people = [Candidacy(person_name=n) for n in ("Tom Hollis", "Anna Hollis", "Bo Able", "Cher")]
    assert [c.person_name for c in sorted(people, key=ballot_paper_order)] == [
        "Bo Able",
        "Cher",
        "Anna Hollis",
        "Tom Hollis",
    ]


# ---------------------------------------------------------------- preview and declare


def test_preview_shows_winners_seat_change_and_control_call_and_saves_nothing(council3, desk):
    e, (north, south, _) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    before = unchanged(south)
    page = client_for(desk).post(
        entry_url(south),
        {
            **form_data(south, Able="700", Baker="300", counted="1,010", rejected="10", electorate="4000"),
            "_preview": "1",
        },
    )
    assert page.status_code == 200
    shown = text(page)
    assert (
        "This declaration would publish Elected Ann Able (Labour) 700 votes Majority 400. Turnout 25.2%."
        in shown
    )
    assert "Seat change Labour gain South from Conservatives" in shown
    assert "Control call changes: not called → Labour gain Testshire" in shown
    assert "2 of 3 seats declared after this; magic number 2." in shown
    assert 'id="confirm"' in page.content.decode()
    assert unchanged(south) == before


def test_confirming_declares_through_the_service_and_moves_to_the_next_ward_of_the_work_list(council3, desk):
    e, (north, south, east) = council3
    client = client_for(desk)
    done = preview_and_confirm(
        client,
        north,
        form_data(north, Able="1,200", Baker="800", counted="2010", rejected="10", electorate="5000"),
    )
    assert done.status_code == 302
    assert done["Location"] == entry_url(south)  # East, North, South: the next after North is South
    north.refresh_from_db()
    assert (north.status, north.ballot_papers_counted, north.rejected_ballots, north.electorate) == (
        "declared",
        2010,
        10,
        5000,
    )
    assert figures(north) == [("Ann Able", 1200, True, False), ("Bob Baker", 800, False, False)]
    event = Event.objects.get(kind="ballot_declared")
    assert (event.actor, event.ballot) == (desk, north)
    landing = client.get(done["Location"])
    assert "Declared North: Labour gain North from Conservatives." in text(landing)

    after_south = preview_and_confirm(client, south, form_data(south, Able="10", Baker="20"))
    assert after_south["Location"] == entry_url(east)  # wraps round to the first ward still to declare
    after_east = preview_and_confirm(client, east, form_data(east, Able="30", Baker="20"))
    assert after_east["Location"] == "/admin/election-night/"
    messages = [m.message for m in after_east.wsgi_request._messages]
    assert messages == [
        "Declared East: Labour gain East from Conservatives. Control: Labour gain Testshire.",
        "Nothing left to declare in Testshire.",
    ]


def test_next_ward_skips_postponed_ballots(council3, desk):
    _, (north, south, east) = council3
    services.set_ballot_status(south, "postponed")
    done = preview_and_confirm(client_for(desk), north, form_data(north, Able="2", Baker="1"))
    assert done["Location"] == entry_url(east)


def test_figures_changed_after_the_preview_are_previewed_again_not_declared(council3, desk):
    _, (north, *_) = council3
    client = client_for(desk)
    data = form_data(north, Able="600", Baker="400")
    shown = client.post(entry_url(north), {**data, "_preview": "1"})
    changed = {**data, f"votes_{f.pk(north, 'Baker')}": "700", "previewed": previewed(shown), "_confirm": "1"}
    again = client.post(entry_url(north), changed)
    assert again.status_code == 200
    assert "The figures changed since the preview: check this preview, then confirm." in text(again)
    assert "Elected Bob Baker (Conservatives) 700 votes" in text(again)
    north.refresh_from_db()
    assert north.status == "awaiting"
    confirmed = client.post(entry_url(north), {**changed, "previewed": previewed(again)})
    assert confirmed.status_code == 302
    assert figures(north) == [("Ann Able", 600, False, False), ("Bob Baker", 700, True, False)]


def test_uncontested_ballot_is_declared_without_votes(desk):
    e = f.election(seats_total=2)
    b = f.ballot(e, "Quiet", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], seats=2)
    client = client_for(desk)
    page = client.get(entry_url(b))
    assert "Uncontested: 2 candidates for 2 seats" in text(page)
    assert 'name="votes_' not in page.content.decode()
    shown = client.post(entry_url(b), {**form_data(b), "_preview": "1"})
    assert "Elected unopposed Ann Able (Labour) Bob Baker (Conservatives)" in text(shown)
    client.post(entry_url(b), {**form_data(b), "previewed": previewed(shown), "_confirm": "1"})
    b.refresh_from_db()
    assert b.status == "uncontested"
    assert figures(b) == [("Ann Able", None, True, False), ("Bob Baker", None, True, False)]


# ---------------------------------------------------------------- ties


@pytest.fixture
def tied():
    e = f.election(seats_total=1)
    return f.ballot(e, "Level", [("Ann Able", "PP53"), ("Bob Baker", "PP52"), ("Cat Cole", "PP90")])


def test_a_tie_at_the_cut_off_asks_who_won_the_drawing_of_lots(tied, desk):
    page = client_for(desk).post(
        entry_url(tied), {**form_data(tied, Able=500, Baker=500, Cole=100), "_preview": "1"}
    )
    assert page.status_code == 200
    assert "Ann Able and Bob Baker tie on 500 votes for the last seat." in text(page)
    html = page.content.decode()
    assert re.findall(r'name="(lot_\d+)"', html) == [
        f"lot_{f.pk(tied, 'Able')}",
        f"lot_{f.pk(tied, 'Baker')}",
    ]
    assert 'name="_confirm"' not in html
    assert re.search(rf'<input[^>]*name="lot_{f.pk(tied, "Able")}"[^>]*autofocus', html)


def test_the_ticked_lot_winner_is_declared_elected_by_lot(tied, desk):
    done = preview_and_confirm(
        client_for(desk), tied, form_data(tied, Able=500, Baker=500, Cole=100, lot=("Baker",))
    )
    assert done.status_code == 302
    assert figures(tied) == [
        ("Ann Able", 500, False, False),
        ("Bob Baker", 500, True, True),
        ("Cat Cole", 100, False, False),
    ]


def test_a_lot_winner_who_did_not_tie_is_refused_on_their_row(tied, desk):
    before = unchanged(tied)
    page = client_for(desk).post(
        entry_url(tied), {**form_data(tied, Able=500, Baker=500, Cole=100, lot=("Cole",)), "_preview": "1"}
    )
    cole = f.pk(tied, "Cole")
    assert field_errors(page, f"lot_{cole}") == [
        "Cat Cole did not tie for the last seat, so cannot win it by lot."
    ]
    assert "Cat Cole did not tie for the last seat, so cannot win it by lot." in row_html(page, cole)
    assert 'name="_confirm"' not in page.content.decode()
    assert unchanged(tied) == before


# ---------------------------------------------------------------- refusals, next to their field


def test_negative_votes_are_refused_on_the_candidates_row(council3, desk):
    _, (north, *_) = council3
    before = unchanged(north)
    page = client_for(desk).post(
        entry_url(north), {**form_data(north, Able="-5", Baker="400"), "_confirm": "1"}
    )
    able = f.pk(north, "Able")
    assert field_errors(page, f"votes_{able}") == ["Cannot be negative."]
    assert "Cannot be negative." in row_html(page, able)
    assert "Nothing was saved: correct the figures marked below." in text(page)
    assert unchanged(north) == before


def test_votes_that_are_not_numbers_are_refused_in_words(council3, desk):
    _, (north, *_) = council3
    page = client_for(desk).post(
        entry_url(north), {**form_data(north, Able="6OO", Baker="400"), "_preview": "1"}
    )
    assert field_errors(page, f"votes_{f.pk(north, 'Able')}") == ["Type a whole number, such as 1234."]


def test_missing_votes_are_refused_on_each_empty_row(council3, desk):
    _, (north, *_) = council3
    page = client_for(desk).post(
        entry_url(north), {**form_data(north, Able="", Baker="400"), "_preview": "1"}
    )
    assert field_errors(page, f"votes_{f.pk(north, 'Able')}") == ["Enter the votes for Ann Able."]
    assert field_errors(page, f"votes_{f.pk(north, 'Baker')}") == []


def test_votes_exceeding_the_valid_ballot_papers_are_refused_on_the_row(council3, desk):
    _, (north, *_) = council3
    before = unchanged(north)
    page = client_for(desk).post(
        entry_url(north),
        {**form_data(north, Able="995", Baker="5", counted="1,000", rejected="10"), "_confirm": "1"},
    )
    able = f.pk(north, "Able")
    message = "995 votes is more than the 990 valid ballot papers counted (1,000 counted, 10 rejected)."
    assert field_errors(page, f"votes_{able}") == [message]
    assert message in row_html(page, able)
    assert field_errors(page, f"votes_{f.pk(north, 'Baker')}") == []
    assert unchanged(north) == before


def test_more_rejected_than_counted_is_refused_next_to_rejected(council3, desk):
    _, (north, *_) = council3
    page = client_for(desk).post(
        entry_url(north),
        {**form_data(north, Able="5", Baker="5", counted="100", rejected="120"), "_preview": "1"},
    )
    assert field_errors(page, "rejected_ballots") == [
        "120 rejected is more than the 100 ballot papers counted."
    ]


def test_more_ballot_papers_than_electors_is_refused_next_to_ballot_papers(council3, desk):
    _, (north, *_) = council3
    page = client_for(desk).post(
        entry_url(north),
        {**form_data(north, Able="5", Baker="5", counted="5,000", electorate="4,000"), "_preview": "1"},
    )
    assert field_errors(page, "ballot_papers_counted") == [
        "5,000 ballot papers counted is more than the electorate of 4,000."
    ]


def test_a_service_refusal_is_placed_on_the_field_or_row_it_names(council3):
    _, (north, *_) = council3
    candidacies = list(north.candidacies.all())
    form = BallotEntryForm(
        form_data(north, Able="1", Baker="2"), ballot=north, candidacies=candidacies, require_votes=True
    )
    assert form.is_valid()
    able, baker = f.pk(north, "Able"), f.pk(north, "Baker")
    form.add_service_error(
        ValidationError(
            {
                "votes": [
                    refusal(
                        ErrorCode.VOTES_NEGATIVE,
                        "Ann Able: votes cannot be negative (-1).",
                        candidacy=able,
                        name="Ann Able",
                        votes=-1,
                    ),
                    refusal(
                        ErrorCode.VOTES_MISSING, "Votes are missing for Bob Baker.", candidacies=(baker,)
                    ),
                ],
                "electorate": [
                    refusal(ErrorCode.NOT_A_COUNT, "Must be a whole number, zero or more.", value=-3)
                ],
                "lot_winners": [
                    refusal(
                        ErrorCode.LOT_NOT_TIED,
                        "Bob Baker did not tie for the last seat, so cannot win it by lot.",
                        candidacies=(baker,),
                    )
                ],
                "status": [refusal(ErrorCode.POSTPONED, "North is postponed: it cannot be declared.")],
            }
        )
    )
    assert form.errors[f"votes_{able}"] == ["Votes cannot be negative (-1)."]
    assert form.errors["electorate"] == ["Must be a whole number, zero or more."]
    assert form.errors[f"lot_{baker}"] == [
        "Bob Baker did not tie for the last seat, so cannot win it by lot."
    ]
    assert list(form.section_errors["votes"]) == ["Votes are missing for Bob Baker."]
    assert list(form.section_errors["status"]) == ["North is postponed: it cannot be declared."]


def test_a_refusal_is_placed_by_its_code_never_by_its_text(council3):
    _, (north, *_) = council3
    candidacies = list(north.candidacies.all())
    form = BallotEntryForm(
        form_data(north, Able="1", Baker="2"), ballot=north, candidacies=candidacies, require_votes=True
    )
    assert form.is_valid()
    baker = f.pk(north, "Baker")
    form.add_service_error(
        ValidationError(
            {
                # A candidate's code names its row by candidacy, whatever the text says.
                "votes": [
                    refusal(
                        ErrorCode.VOTES_ABOVE_VALID,
                        "Ann Able: anything at all.",
                        candidacy=baker,
                        name="Bob Baker",
                        votes=1200,
                        valid=990,
                        counted=1000,
                        rejected=10,
                    ),
                    # No code: the text is not read for a name, it is shown above the section.
                    "Ann Able: votes cannot be negative (-1).",
                ],
                "ballot_papers_counted": [
                    refusal(
                        ErrorCode.PAPERS_ABOVE_ELECTORATE,
                        "5001 ballot papers counted is more than the electorate of 5000.",
                        counted=5001,
                        electorate=5000,
                    )
                ],
            }
        )
    )
    assert form.errors.as_data()[f"votes_{baker}"][0].code == ErrorCode.VOTES_ABOVE_VALID
    assert form.errors[f"votes_{baker}"] == [
        "1,200 votes is more than the 990 valid ballot papers counted (1,000 counted, 10 rejected)."
    ]
    assert f"votes_{f.pk(north, 'Able')}" not in form.errors
    assert list(form.section_errors["votes"]) == ["Ann Able: votes cannot be negative (-1)."]
    assert form.errors["ballot_papers_counted"] == [
        "5,001 ballot papers counted is more than the electorate of 5,000."
    ]
    assert form.errors.as_data()["ballot_papers_counted"][0].code == ErrorCode.PAPERS_ABOVE_ELECTORATE


def test_the_forms_own_check_is_the_services_with_its_codes(council3):
    _, (north, *_) = council3
    candidacies = list(north.candidacies.all())
    data = form_data(north, Able="995", Baker="5", counted="1,000", rejected="10")
    form = BallotEntryForm(data, ballot=north, candidacies=candidacies, require_votes=True)
    assert not form.is_valid()
    able = f.pk(north, "Able")
    assert {name: [e.code for e in errors] for name, errors in form.errors.as_data().items()} == {
        f"votes_{able}": [ErrorCode.VOTES_ABOVE_VALID]
    }


def test_lot_winners_who_did_not_tie_are_placed_on_their_rows_by_code(tied):
    candidacies = list(tied.candidacies.all())
    data = form_data(tied, Able="500", Baker="500", Cole="100", lot=("Cole",))
    form = BallotEntryForm(data, ballot=tied, candidacies=candidacies, require_votes=True)
    assert form.is_valid()
    form.check_lot(tied.winner_count)
    cole = f.pk(tied, "Cole")
    assert {name: [e.code for e in errors] for name, errors in form.errors.as_data().items()} == {
        f"lot_{cole}": [ErrorCode.LOT_NOT_TIED]
    }
    assert form.errors[f"lot_{cole}"] == ["Cat Cole did not tie for the last seat, so cannot win it by lot."]


def test_a_postponed_ballot_cannot_be_declared(council3, desk):
    _, (north, *_) = council3
    services.set_ballot_status(north, "postponed")
    before = unchanged(north)
    page = client_for(desk).post(entry_url(north), {**form_data(north, Able="1", Baker="2"), "_confirm": "1"})
    assert "North is postponed: set it back to counting before declaring." in text(page)
    assert unchanged(north) == before


# ---------------------------------------------------------------- figures before declaring, status


def test_saving_figures_before_declaring_keeps_them_private_and_logs_who_saved_them(council3, desk):
    _, (north, *_) = council3
    events = Event.objects.count()
    done = client_for(desk).post(
        entry_url(north), {**form_data(north, Able="600", Baker="", counted="1,010"), "_save": "1"}
    )
    assert done.status_code == 302
    assert done["Location"] == entry_url(north)
    north.refresh_from_db()
    assert (north.status, north.version, north.ballot_papers_counted) == ("awaiting", 2, 1010)
    assert figures(north) == [("Ann Able", 600, None, False), ("Bob Baker", None, None, False)]
    assert Event.objects.count() == events
    assert not Ballot.objects.published().filter(pk=north.pk).exists()
    log = LogEntry.objects.get()
    assert (log.user, log.object_id) == (desk, str(north.pk))
    assert log.change_message == (
        "Saved figures before declaring (not public), version 2: Ann Able 600; ballot papers counted 1,010."
    )
    page = client_for(desk).get(entry_url(north))
    assert re.search(rf'name="votes_{f.pk(north, "Able")}" value="600"', page.content.decode())


def test_marking_a_recount_records_the_status_and_keeps_the_figures_typed(council3, desk):
    _, (north, *_) = council3
    done = client_for(desk).post(
        entry_url(north), {**form_data(north, Able="600", Baker="598"), "_status": "recount"}
    )
    assert done.status_code == 302
    north.refresh_from_db()
    assert (north.status, north.version) == ("recount", 3)
    assert figures(north) == [("Ann Able", 600, None, False), ("Bob Baker", 598, None, False)]
    event = Event.objects.get(kind="ballot_status")
    assert (event.actor, event.payload["status"]) == (desk, "recount")


# ---------------------------------------------------------------- correct and retract


def test_correcting_a_declared_ballot_records_the_reason(council3, desk):
    _, (north, *_) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    done = preview_and_confirm(
        client_for(desk),
        north,
        form_data(north, Able="600", Baker="610", reason="Baker's bundle of 210 missed"),
    )
    assert done["Location"] == entry_url(north)
    assert figures(north) == [("Ann Able", 600, False, False), ("Bob Baker", 610, True, False)]
    event = Event.objects.filter(kind="ballot_corrected").get()
    assert (event.actor, event.payload["reason"]) == (desk, "Baker's bundle of 210 missed")


def test_retracting_asks_for_confirmation_then_unpublishes(council3, desk):
    _, (north, *_) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    client = client_for(desk)
    asked = client.post(entry_url(north), {**form_data(north), "_retract_preview": "1"})
    assert "Retracting would unpublish this result" in text(asked)
    assert 'name="_retract"' in asked.content.decode()
    north.refresh_from_db()
    assert north.status == "declared"
    done = client.post(entry_url(north), {**form_data(north, reason="wrong ward"), "_retract": "1"})
    assert done.status_code == 302
    north.refresh_from_db()
    assert north.status == "counting"
    event = Event.objects.get(kind="ballot_retracted")
    assert (event.actor, event.payload["reason"]) == (desk, "wrong ward")


# ---------------------------------------------------------------- two editors


def test_a_stale_declaration_is_refused_with_who_changed_it_and_their_figures(council3, desk):
    _, (north, *_) = council3
    bob = staff("bob")
    loaded = form_data(north, Able="610", Baker="400")  # desk opened the page at this version
    preview_and_confirm(client_for(bob), north, form_data(north, Able="600", Baker="400", counted="1,010"))
    before = unchanged(north)
    refused = client_for(desk).post(entry_url(north), {**loaded, "_confirm": "1"})
    assert refused.status_code == 409
    shown = text(refused)
    assert re.search(
        r"North was changed by bob at \d\d:\d\d:\d\d \(ballot declared\) after you opened it\. "
        r"Nothing of yours was saved: their figures are below next to yours\.",
        shown,
    )
    assert refused.context["conflict"].rows == (
        ("Ann Able", "600", "610"),
        ("Ballot papers counted", "1,010", "—"),
    )
    assert unchanged(north) == before
    # The page now holds the figures saved, at their version: a second press declares nothing stale.
    assert refused.context["form"].initial["version"] == Ballot.objects.get(pk=north.pk).version


def test_a_stale_save_of_figures_names_the_editor_who_saved_first(council3, desk):
    _, (north, *_) = council3
    alice = staff("alice")
    loaded = form_data(north, Able="7", Baker="8")
    client_for(alice).post(entry_url(north), {**form_data(north, Able="70", Baker="80"), "_save": "1"})
    before = unchanged(north)
    refused = client_for(desk).post(entry_url(north), {**loaded, "_save": "1"})
    assert refused.status_code == 409
    assert re.search(
        r"North was changed by alice at \d\d:\d\d:\d\d \(saved figures before declaring \(not public\), "
        r"version 2\) after you opened it\. Nothing of yours was saved: their figures are below next to yours\.",
        text(refused),
    )
    assert "Ann Able 70" not in refused.context["conflict"].message  # the figures once, in the table
    assert refused.context["conflict"].rows == (("Ann Able", "70", "7"), ("Bob Baker", "80", "8"))
    assert unchanged(north) == before


def test_a_save_that_races_past_the_page_check_is_still_refused_by_the_service(council3, desk, monkeypatch):
    _, (north, *_) = council3
    loaded = form_data(north, Able="7", Baker="8")
    services.set_ballot_status(north, "counting", user=staff("carol"))
    monkeypatch.setattr(BallotEntry, "stale", lambda self, form: False)
    before = unchanged(north)
    refused = client_for(desk).post(entry_url(north), {**loaded, "_save": "1"})
    assert refused.status_code == 409
    assert "North was changed by carol at" in text(refused)
    assert unchanged(north) == before


# ---------------------------------------------------------------- history


def test_the_history_panel_shows_who_saved_declared_and_corrected(council3, desk):
    _, (north, *_) = council3
    bob = staff("bob")
    client_for(desk).post(entry_url(north), {**form_data(north, Able="60", Baker="40"), "_save": "1"})
    # Ten times the figures saved before: published only with "figures checked" ticked.
    checked = {"figures_checked": "on"}
    preview_and_confirm(client_for(bob), north, {**form_data(north, Able="600", Baker="400"), **checked})
    preview_and_confirm(client_for(desk), north, form_data(north, Able="600", Baker="401", reason="typo"))
    page = client_for(desk).get(entry_url(north))
    entries = [(e.who, e.what, e.public, e.details, e.reason) for e in page.context["history"]]
    assert entries == [
        ("desk", "Declared ballot corrected", True, ("Ann Able 600 elected", "Bob Baker 401"), "typo"),
        ("bob", "Ballot declared", True, ("Ann Able 600 elected", "Bob Baker 400"), ""),
        (
            "desk",
            "Saved figures before declaring (not public), version 2: Ann Able 60, Bob Baker 40.",
            False,
            (),
            "",
        ),
        ("an import or a script", "Previous winners set: Conservatives 1", True, (), ""),
    ]
    history_page = client_for(desk).get(f"/admin/results/ballot/{north.pk}/history/")
    assert [e.who for e in history_page.context["history"]] == [
        "desk",
        "bob",
        "desk",
        "an import or a script",
    ]


# ---------------------------------------------------------------- plausibility


def test_an_improbable_figure_is_published_only_once_figures_checked_is_ticked(council3, desk):
    _, (north, *_) = council3
    client = client_for(desk)
    # 800 typed twice in a box with nothing saved before: 800,800 repeats no other figure's digits
    # (Bob Baker's 1,010 is neither its start nor its end), so only its dominance is improbable. With
    # 800 saved before, it also repeats that figure (test_admin_browser, test_plausibility).
    data = form_data(north, Able="800800", Baker="1010")
    shown = client.post(entry_url(north), {**data, "_preview": "1"})
    assert [w.message for w in shown.context["warnings"]] == [
        "Ann Able has 800,800 votes, more than 10 times the next candidate's 1,010.",
    ]
    assert shown.context["autofocus"] == "figures_checked"  # not Confirm: Enter, Enter cannot publish
    refused = client.post(entry_url(north), {**data, "previewed": previewed(shown), "_confirm": "1"})
    assert refused.status_code == 200
    assert field_errors(refused, "figures_checked") == [
        "These figures look wrong (see the warnings): check them with the returning officer's, "
        "then tick this box to publish them as they are, or correct them."
    ]
    assert unchanged(north) == unchanged(Ballot.objects.get(pk=north.pk))
    assert Ballot.objects.get(pk=north.pk).status == "awaiting"
    assert not Event.objects.filter(kind__startswith="ballot_").exists()  # nothing published
    done = client.post(
        entry_url(north),
        {**data, "previewed": previewed(refused), "figures_checked": "on", "_confirm": "1"},
    )
    assert done.status_code == 302
    assert figures(north) == [("Ann Able", 800800, True, False), ("Bob Baker", 1010, False, False)]


def test_a_tick_given_before_the_figures_changed_does_not_carry_over(council3, desk):
    _, (north, *_) = council3
    client = client_for(desk)
    data = form_data(north, Able="800800", Baker="1010")
    shown = client.post(entry_url(north), {**data, "_preview": "1"})
    changed = {**data, f"votes_{f.pk(north, 'Able')}": "900900", "figures_checked": "on"}
    again = client.post(entry_url(north), {**changed, "previewed": previewed(shown), "_confirm": "1"})
    assert (
        again.context["notice"] == "The figures changed since the preview: check this preview, then confirm."
    )
    assert re.findall(r'<input type="checkbox" name="figures_checked"[^>]*>', again.content.decode()) == [
        '<input type="checkbox" name="figures_checked" class="checked-input" autofocus id="id_figures_checked">'
    ]  # not ticked
    assert not Event.objects.filter(kind__startswith="ballot_").exists()  # nothing published


def test_a_candidate_above_the_electorate_is_refused_next_to_the_row(council3, desk):
    _, (north, *_) = council3
    page = client_for(desk).post(
        entry_url(north),
        {**form_data(north, Able="800800", Baker="1010", electorate="6,100"), "_preview": "1"},
    )
    assert field_errors(page, f"votes_{f.pk(north, 'Able')}") == [
        "800,800 votes is more than the electorate of 6,100."
    ]
    assert page.context["form"].section_errors["votes"] == [
        "801,810 votes in all is more than the electorate of 6,100 times 1 seat."
    ]
    assert page.context["confirmable"] is False
    assert 'id="confirm"' not in page.content.decode()


def test_plausible_figures_need_no_second_action(council3, desk):
    _, (north, *_) = council3
    shown = client_for(desk).post(
        entry_url(north), {**form_data(north, Able="600", Baker="400"), "_preview": "1"}
    )
    assert (shown.context["warnings"], shown.context["autofocus"]) == ((), "confirm")
    assert 'name="figures_checked"' not in shown.content.decode()


# ---------------------------------------------------------------- corrections


def test_a_correction_without_a_reason_is_refused_before_the_preview(council3, desk):
    _, (north, *_) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    before = unchanged(north)
    page = client_for(desk).post(
        entry_url(north), {**form_data(north, Able="600", Baker="610", reason=" "), "_preview": "1"}
    )
    assert field_errors(page, "reason") == [
        "Say why you are correcting this result: the reason is kept in its history."
    ]
    assert page.context["autofocus"] == "reason"
    assert "preview" not in page.context
    confirm = client_for(desk).post(
        entry_url(north), {**form_data(north, Able="600", Baker="610"), "previewed": "x", "_confirm": "1"}
    )
    assert field_errors(confirm, "reason") == [
        "Say why you are correcting this result: the reason is kept in its history."
    ]
    assert unchanged(north) == before


def test_the_correction_preview_lists_each_change_old_to_new(council3, desk):
    e, (north, south, _) = council3
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400), electorate=3000)
    services.declare_ballot(south, votes=f.votes(south, Able=600, Baker=400))
    shown = client_for(desk).post(
        entry_url(north),
        {
            **form_data(
                north, Able="600", Baker="610", electorate="3,000", counted="1,250", reason="Baker's bundle"
            ),
            "_preview": "1",
        },
    )
    diff = shown.context["correction"]
    assert diff["figures"] == (
        "Bob Baker: 400 → 610",
        "Ballot papers counted: — → 1,250",
        "Elected: Ann Able → Bob Baker",
    )
    assert diff["seat_changes"] == (("Labour gain North from Conservatives",), ("Conservatives hold North",))
    assert diff["control"] == ("Labour gain Testshire", None)
    assert re.sub(r"\s+", " ", text(shown)).count("What this correction changes Bob Baker: 400 → 610") == 1


def test_the_history_shows_what_each_correction_changed(council3, desk):
    _, (north, south, _) = council3
    services.declare_ballot(south, votes=f.votes(south, Able=700, Baker=300))
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))  # Labour 2 of 3: called
    services.correct_ballot(north, votes=f.votes(north, Able=600, Baker=401), reason="typo")
    services.correct_ballot(
        north, votes=f.votes(north, Able=600, Baker=610), electorate=3000, reason="bundle"
    )
    page = client_for(desk).get(entry_url(north))
    bundle = (
        "Bob Baker: 401 → 610",
        "Electorate: — → 3,000",
        "Elected: Ann Able → Bob Baker",
        "Seat change: Labour gain North from Conservatives → Conservatives hold North",
        "Control: Labour gain Testshire → not called",
    )
    assert [(e.what, e.reason, e.changes) for e in page.context["history"]] == [
        ("Declared ballot corrected", "bundle", bundle),
        ("Declared ballot corrected", "typo", ("Bob Baker: 400 → 401",)),
        ("Ballot declared", "", ()),
        ("Previous winners set: Conservatives 1", "", ()),
    ]
    assert "Bob Baker: 400 → 401" in text(page)
    # A window of one still compares the correction it shows with the version before it.
    assert [e.changes for e in history.history(north, limit=1)] == [bundle]


# ---------------------------------------------------------------- the two-person check


def test_the_two_person_check_is_off_by_default(settings):
    assert settings.TWO_PERSON_CHECK is False


def test_with_the_two_person_check_a_declaration_waits_for_a_second_editor(council3, desk, settings):
    settings.TWO_PERSON_CHECK = True
    _, (north, south, _) = council3
    sent = preview_and_confirm(client_for(desk), north, form_data(north, Able="600", Baker="400"))
    assert sent["Location"] == entry_url(south)
    assert Ballot.objects.get(pk=north.pk).status == "awaiting"
    assert not Event.objects.filter(ballot=north, kind__startswith="ballot_").exists()  # nothing published
    bob = client_for(staff("bob"))
    blind = bob.get(entry_url(north))
    assert blind.context["checking"] is True
    assert [blind.context["form"][f"votes_{f.pk(north, s)}"].value() for s in ("Able", "Baker")] == [
        None,
        None,
    ]
    differ = preview_and_confirm(bob, north, form_data(north, Able="600", Baker="410"))
    assert differ["Location"] == entry_url(north)
    page = bob.get(entry_url(north))
    assert [m.message for m in page.context["messages"]] == [
        "Nothing published: your figures for North differ from desk's in Bob Baker's votes. Check them with "
        "the returning officer: yours now wait for a check by another editor."
    ]
    declared = preview_and_confirm(client_for(desk), north, form_data(north, Able="600", Baker="410"))
    assert declared.status_code == 302
    event = Event.objects.get(ballot=north, kind="ballot_declared")
    assert (event.actor, event.payload["typed_by"]) == (desk, "bob")


# Session and user, the ballot, the election's one load (election, composition, ballots,
# candidacies, previous winners), the service's locks and checks, the writes (candidacies,
# ballot, standing, events), the log entry and the next ward. PostgreSQL adds the savepoint
# and advisory-lock statements; the rehearsal check (issue 14) one more.
EXPECTED_DECLARE_QUERIES = {"sqlite": 25, "postgresql": 26}


@pytest.mark.parametrize("wards", [3, 30])
def test_declaring_a_ward_loads_its_election_once_in_a_fixed_number_of_queries(wards, desk):
    """The confirm request: the page's one load of the election (for the preview) is the one the
    service writes through and derives the standing from (it checks it is current first)."""
    e = f.election(
        seats_total=wards, before={"PP52": (wards // 2 + 1, 0), "PP53": (wards - wards // 2 - 1, 0)}
    )
    ballots = [
        f.ballot(e, f"Ward {i:02d}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
        for i in range(wards)
    ]
    client = client_for(desk)
    data = form_data(ballots[0], Able="1,200", Baker="800", counted="2010", rejected="10", electorate="5000")
    shown = client.post(entry_url(ballots[0]), {**data, "_preview": "1"})
    with CaptureQueriesContext(connection) as captured:
        done = client.post(entry_url(ballots[0]), {**data, "previewed": previewed(shown), "_confirm": "1"})
    assert done.status_code == 302
    sql = [q["sql"] for q in captured]
    loads = [q for q in sql if 'FROM "results_previouswinner"' in q]
    assert len(loads) == 1  # the election's rows read once (28 queries and three loads before)
    assert len(sql) == EXPECTED_DECLARE_QUERIES[connection.vendor]
