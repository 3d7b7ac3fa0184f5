"""The public record is complete: every change to anything the API shows is an event, and the
event log alone rebuilds what the API shows (results.record)."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from results import exports, record, services
from results.importers import import_candidates, import_composition, import_previous_winners
from results.models import Ballot, Candidacy, Council, Event, Party, Ward

from . import factories as f
from .desk import client_for

# The whole public state in one document is far beyond what the API lets a client ask at once.
pytestmark = pytest.mark.usefixtures("unbounded_documents")

E = "local.derby.2023-05-04"
ALLESTREE = "local.derby.allestree.2023-05-04"
ABBEY = "local.derby.abbey.2023-05-04"
DARLEY = "local.derby.darley.2023-05-04"
HEADER = (
    "person_id,person_name,party_id,party_name,party_description_text,election_id,"
    "ballot_paper_id,post_label,seats_contested,votes_cast,elected\n"
)
CANDIDATES = HEADER + (
    f"101,Ann Able,PP53,Labour Party,,{E},{ALLESTREE},Allestree,2,900,true\n"
    f"102,Steve Hassall,PP52,Conservative and Unionist Party,Local Conservatives,{E},{ALLESTREE},Allestree,2,800,true\n"
    f"103,Cat Cole,joint-party:53-119,Labour and Co-operative Party,,{E},{ALLESTREE},Allestree,2,700,false\n"
    f"104,Dan Dee,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,,\n"
    f"105,Eve Ely,PP52,Conservative and Unionist Party,,{E},{ABBEY},Abbey,1,,\n"
    f"106,Fay Fox,PP999,Derby Independents,,{E},{ABBEY},Abbey,1,,\n"
    f"107,Gus Gee,PP53,Labour Party,,{E},{DARLEY},Darley,1,,\n"
    f"108,Hal Hume,PP52,Conservative and Unionist Party,,{E},{DARLEY},Darley,1,,\n"
)
COMPOSITION = f"election_id,seats_total,party_id,seats_before,seats_not_up\n{E},4,PP52,3,0\n{E},4,PP53,1,0\n"


def not_baseline() -> list[int]:
    """Events other than the baseline that migration 0007 recorded for the rows already there."""
    return [pk for pk, p in Event.objects.values_list("pk", "payload") if p.get("change") != "baseline"]


def night():
    """A night through every write path: the importers, the admin and the services."""
    import_candidates(CANDIDATES)
    import_composition(COMPOSITION)
    import_previous_winners(f"ballot_paper_id,party_id,seats\n{ABBEY},PP52,1\n{ALLESTREE},PP52,2\n")
    root = get_user_model().objects.create_superuser("root", password=None)
    admin = client_for(root)
    labour = Party.objects.get(ec_id="PP53")
    admin.post(
        f"/admin/results/party/{labour.pk}/change/",
        {
            "loaded_version": labour.version,
            "name": "Labour Party",
            "short_name": "Labour",
            "abbreviation": "Lab",
            "colour": "#E4003C",
            "lead_party": "",
        },
    )
    derby = Council.objects.get(slug="derby")
    admin.post(
        f"/admin/results/council/{derby.pk}/change/",
        {
            "loaded_version": derby.version,
            "name": "Derby",
            "official_name": "Derby City Council",
            "official_identifier": "E06000015",
            "seats_total": "51",
            "wards-TOTAL_FORMS": "0",
            "wards-INITIAL_FORMS": "0",
        },
    )
    abbey_ward = Ward.objects.get(slug="abbey")
    admin.post(
        f"/admin/results/ward/{abbey_ward.pk}/change/",
        {"loaded_version": abbey_ward.version, "name": "Abbey Ward", "seats": "1"},
    )
    abbey = Ballot.objects.get(ballot_paper_id=ABBEY)
    services.add_candidacy(abbey, person_name="Ivy Ives", party=Party.objects.get(ec_id="PP63"))
    services.change_candidacy(abbey.candidacies.get(person_name="Dan Dee"), person_name="Daniel Dee")
    services.set_ballot_status(abbey, "counting")
    votes = {c.pk: 100 * (i + 1) for i, c in enumerate(abbey.candidacies.order_by("person_name"))}
    services.declare_ballot(abbey, votes=votes, electorate=5000, ballot_papers_counted=1100)
    services.correct_ballot(
        abbey, votes={**votes, min(votes): 150}, electorate=5000, ballot_papers_counted=1100, reason="typo"
    )
    darley = Ballot.objects.get(ballot_paper_id=DARLEY)
    services.declare_ballot(
        darley, votes={c.pk: v for c, v in zip(darley.candidacies.order_by("pk"), (10, 20), strict=True)}
    )
    services.retract_declaration(darley, reason="wrong ward")
    services.withdraw_candidacy(darley.candidacies.get(person_name="Gus Gee"), reason="died")
    return root


def test_every_change_through_the_importers_the_admin_and_the_services_is_in_the_log():
    night()
    assert Party.objects.get(ec_id="PP53").colour == "#E4003C"
    assert Council.objects.get(slug="derby").official_name == "Derby City Council"
    assert Ward.objects.get(slug="abbey").name == "Abbey Ward"
    assert record.unrecorded() == []
    # Each admin save was one event naming what changed, and who changed it.
    party = Event.objects.filter(kind="reference", payload__object="party", payload__party_id="PP53").last()
    assert (party.actor.username, party.payload["before"], party.payload["after"]) == (
        "root",
        {"colour": "#E4003B"},
        {"colour": "#E4003C"},
    )


def test_a_write_that_bypasses_the_services_is_found():
    night()
    Party.objects.filter(ec_id="PP90").update(short_name="Liberals")
    Candidacy.objects.create(
        ballot=Ballot.objects.get(ballot_paper_id=DARLEY),
        person_name="Sly Sneak",
        party=Party.objects.get(ec_id="PP52"),
    )
    Ward.objects.create(council=Council.objects.get(slug="derby"), slug="new", name="New")
    Ballot.objects.filter(ballot_paper_id=ALLESTREE).update(winner_count=3)
    assert record.unrecorded() == [
        "parties PP90: short_name is 'Liberals', the events say 'Lib Dems'",
        "wards derby/new: no event records it",
        f"ballots {ALLESTREE}: seats is 3, the events say 2",
        f"ballots {DARLEY}: candidacies is [('Hal Hume', '108', 'PP52', '', None, None, False), "
        "('Sly Sneak', '', 'PP52', '', None, None, False)], the events say "
        "[('Hal Hume', '108', 'PP52', '', None, None, False)]",
    ]


def test_an_admin_save_over_someone_elses_is_refused_and_changes_nothing():
    import_candidates(CANDIDATES)
    root = get_user_model().objects.create_superuser("root", password=None)
    ward = Ward.objects.get(slug="abbey")
    services.save_ward(ward, values={"name": "Abbey (renamed)"})
    events = Event.objects.count()
    page = client_for(root).post(
        f"/admin/results/ward/{ward.pk}/change/",
        {"loaded_version": ward.version, "name": "Abbey Ward", "seats": "1"},
        follow=True,
    )
    assert Ward.objects.get(pk=ward.pk).name == "Abbey (renamed)"
    assert Event.objects.count() == events
    assert "was changed by someone else" in page.content.decode()


@pytest.mark.parametrize("field", ["party", "council", "ward"])
def test_reference_rows_cannot_be_deleted_in_the_admin(field):
    import_candidates(CANDIDATES)
    root = get_user_model().objects.create_superuser("root", password=None)
    pk = {"party": Party, "council": Council, "ward": Ward}[field].objects.order_by("pk").first().pk
    assert client_for(root).get(f"/admin/results/{field}/{pk}/delete/").status_code == 403


# ---------------------------------------------------------------- replay from the public feed

FEED = "query($after: String) { events(after: $after, first: 500) { id kind data } }"
API = """{
  parties { id name shortName abbreviation colour isIndependent leadParty { id } }
  councils { slug name officialName officialIdentifier }
  elections { id ballots {
    id seats status declaredAt electorate ballotPapersCounted rejectedBallots certification source sourceUrl
    ward { slug name seats }
    candidacies { name personId party { id } description votes elected electedByLot }
  } }
}"""


def run(query, **variables):
    from schema import schema

    result = schema.execute_sync(query, variable_values=variables)
    assert result.errors is None, result.errors
    return result.data


def replay_the_feed() -> dict:
    """What a partner rebuilds from `events { kind data }` alone, page by page."""
    from schema.enums import EventKind

    events, after = [], None
    while page := run(FEED, after=after)["events"]:
        events += [(EventKind[e["kind"]].value, e["data"]) for e in page if e["data"] is not None]
        after = page[-1]["id"]
    return record.replay(events)


def api_view(state: dict) -> dict:
    """The replayed state in the API's words, for comparison with the API's own answers."""
    enum = str.upper
    return {
        "parties": sorted(
            (
                pid,
                p["name"],
                p["short_name"],
                p["abbreviation"],
                p["colour"],
                p["is_independent"],
                p["lead_party_id"],
            )
            for pid, p in state["parties"].items()
        ),
        "councils": sorted(
            (slug, c["name"], c["official_name"], c["official_identifier"])
            for slug, c in state["councils"].items()
        ),
        "ballots": sorted(
            (
                bid,
                b["seats"],
                enum(b["status"]),
                b["declared_at"],
                *(b["counts"] or (None, None, None)),
                *(
                    (
                        enum(b["provenance"][0]) or None,
                        enum(b["provenance"][1]) or None,
                        b["provenance"][2] or None,
                    )
                    if b["provenance"]
                    else (None, None, None)
                ),
                (b["ward"], *state["wards"][f"{b['election_id'].split('.')[1]}/{b['ward']}"].values())
                if b["ward"]
                else None,
                sorted(
                    (name, pid or None, party, desc or None, votes, elected, lot)
                    for name, pid, party, desc, votes, elected, lot in b["candidacies"]
                ),
            )
            for bid, b in state["ballots"].items()
        ),
    }


def api_answers() -> dict:
    data = run(API)
    return {
        "parties": sorted(
            (
                p["id"],
                p["name"],
                p["shortName"],
                p["abbreviation"],
                p["colour"],
                p["isIndependent"],
                (p["leadParty"] or {}).get("id"),
            )
            for p in data["parties"]
        ),
        "councils": sorted(
            (c["slug"], c["name"], c["officialName"], c["officialIdentifier"]) for c in data["councils"]
        ),
        "ballots": sorted(
            (
                b["id"],
                b["seats"],
                b["status"],
                b["declaredAt"],
                b["electorate"],
                b["ballotPapersCounted"],
                b["rejectedBallots"],
                b["certification"],
                b["source"],
                b["sourceUrl"],
                (b["ward"]["slug"], b["ward"]["name"], b["ward"]["seats"]) if b["ward"] else None,
                sorted(
                    (
                        c["name"],
                        c["personId"],
                        c["party"]["id"],
                        c["description"],
                        c["votes"],
                        c["elected"],
                        c["electedByLot"],
                    )
                    for c in b["candidacies"]
                ),
            )
            for e in data["elections"]
            for b in e["ballots"]
        ),
    }


def test_replaying_the_public_feed_alone_rebuilds_what_the_api_shows():
    night()
    services.certify_ballot(
        Ballot.objects.get(ballot_paper_id=ABBEY),
        source="council_website",
        source_url="https://derby.gov.uk/r",
    )
    replayed = replay_the_feed()
    assert record.differences(replayed, record.public_state()) == []
    view, answers = api_view(replayed), api_answers()
    assert view == answers
    # Not vacuous: the night declared, certified and withdrew things, and the feed saw them all.
    abbey = next(b for b in answers["ballots"] if b[0] == ABBEY)
    assert abbey[2:4] == ("DECLARED", abbey[3]) and abbey[7:10] == (
        "CERTIFIED",
        "COUNCIL_WEBSITE",
        "https://derby.gov.uk/r",
    )
    assert [c[0] for c in abbey[11]] == ["Daniel Dee", "Eve Ely", "Fay Fox", "Ivy Ives"]
    darley = next(b for b in answers["ballots"] if b[0] == DARLEY)
    assert (darley[2], [c[0] for c in darley[11]]) == ("POSTPONED", ["Hal Hume"])


VERSIONS = """query($id: ID!) { ballot(id: $id) { versions {
  version kind enteredBy reason status electorate certification source
  candidacies { name personId partyId votes elected } changes } } }"""


def test_a_ballots_versions_read_as_each_was_published():
    e = f.election(seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    north = f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    desk = get_user_model().objects.create_user("desk", first_name="Dee", last_name="Desk")
    services.declare_ballot(
        north,
        votes=f.votes(north, Able=600, Baker=400),
        electorate=3000,
        source="phone_from_count",
        user=desk,
    )
    services.correct_ballot(
        north, votes=f.votes(north, Able=600, Baker=610), electorate=3000, reason="bundle", user=desk
    )
    services.certify_ballot(north, source="returning_officer")
    versions = run(VERSIONS, id=north.ballot_paper_id)["ballot"]["versions"]
    assert [
        (v["version"], v["kind"], v["enteredBy"], v["reason"], v["certification"], v["source"])
        for v in versions
    ] == [
        (1, "BALLOT_DECLARED", "Dee Desk", None, "DECLARED", "PHONE_FROM_COUNT"),
        (2, "BALLOT_CORRECTED", "Dee Desk", "bundle", "CORRECTED", "PHONE_FROM_COUNT"),
        (3, "BALLOT_CERTIFIED", None, None, "CERTIFIED", "RETURNING_OFFICER"),
    ]
    assert [[(c["name"], c["votes"], c["elected"]) for c in v["candidacies"]] for v in versions] == [
        [("Ann Able", 600, True), ("Bob Baker", 400, False)],
        [("Bob Baker", 610, True), ("Ann Able", 600, False)],
        [("Bob Baker", 610, True), ("Ann Able", 600, False)],
    ]
    assert [v["changes"] for v in versions] == [
        [],
        ["Bob Baker: 400 → 610", "Elected: Ann Able → Bob Baker"],
        [],
    ]
    # The event's ballotVersion is the version it published, not the ballot as it stands now.
    first = run(
        "{ events(kinds: [BALLOT_DECLARED]) { ballotVersion { version candidacies { name votes } } ballot { versions { version } } } }"
    )["events"][0]
    assert first["ballotVersion"] == {
        "version": 1,
        "candidacies": [{"name": "Ann Able", "votes": 600}, {"name": "Bob Baker", "votes": 400}],
    }
    # Retracted: its earlier figures are withheld, as everywhere else.
    services.retract_declaration(north, reason="wrong ward")
    versions = run(VERSIONS, id=north.ballot_paper_id)["ballot"]["versions"]
    assert [v["kind"] for v in versions][-1] == "BALLOT_RETRACTED"
    assert {c["votes"] for v in versions for c in v["candidacies"]} == {None}
    assert {v["electorate"] for v in versions} == {None}


@pytest.mark.parametrize("corrections", [1, 11])
def test_versions_take_one_query_however_many(corrections, django_assert_num_queries):
    e = f.election(seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    north = f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    south = f.ballot(e, "South", [("Cat Cole", "PP53"), ("Dan Dee", "PP52")])
    services.declare_ballot(south, votes=f.votes(south, Cole=5, Dee=4))
    services.declare_ballot(north, votes=f.votes(north, Able=600, Baker=400))
    for n in range(corrections):
        services.correct_ballot(north, votes=f.votes(north, Able=600, Baker=401 + n), reason=f"typo {n}")
    query = '{ election(id: "local.testshire.2023-05-04") { ballots { versions { version candidacies { votes } } } } }'
    # The election with its results (5 queries, as without versions), then one for every version.
    with django_assert_num_queries(6):
        data = run(query)
    assert [len(b["versions"]) for b in data["election"]["ballots"]] == [1 + corrections, 1]


# ---------------------------------------------------------------- open exports


def test_the_results_export_round_trips_into_an_empty_database_with_identical_api_answers(tmp_path):
    import io

    from django.core.management import call_command

    from results import exports
    from results.models import CompositionBefore, Election, PreviousWinner

    night()
    services.correct_ballot(
        Ballot.objects.get(ballot_paper_id=ALLESTREE),
        votes={
            c.pk: v
            for c, v in zip(
                Ballot.objects.get(ballot_paper_id=ALLESTREE).candidacies.order_by("person_id"),
                (900, 800, 800),
                strict=True,
            )
        },
        lot_winners=[Candidacy.objects.get(person_id="102").pk],
        reason="recount tie, decided by lot",
    )
    out, err = io.StringIO(), io.StringIO()
    call_command("export_results", "2023-05-04", stdout=out, stderr=err)
    results_csv = out.getvalue()
    compositions = exports.export(dt.date(2023, 5, 4), "compositions").content
    previous = exports.export(dt.date(2023, 5, 4), "previous-winners").content
    assert err.getvalue().strip() == f"events cursor: {Event.objects.order_by('id').last().pk}"
    before = comparable(run(ROUND_TRIP))

    # An empty database (the parties of migration 0002 only), then the three files.
    Event.objects.filter(pk__in=not_baseline()).delete()  # the parties of migration 0002 keep theirs
    Candidacy.objects.all().delete()
    PreviousWinner.objects.all().delete()
    Ballot.objects.all().delete()
    CompositionBefore.objects.all().delete()
    Election.objects.all().delete()
    Ward.objects.all().delete()
    Council.objects.all().delete()
    Party.objects.filter(ec_id="PP999").delete()
    # Labour's colour as migration 0002 left it (the night changed it, and that event is gone).
    Party.objects.filter(ec_id="PP53").update(colour="#E4003B")
    import_candidates(results_csv)
    import_composition(compositions)
    import_previous_winners(previous)
    assert comparable(run(ROUND_TRIP)) == before
    assert record.unrecorded() == []


ROUND_TRIP = """{ elections(pollDate: "2023-05-04") {
  id kind seatsTotal majority seatsDeclared controlBefore { id }
  control { called party { id } outcome headline }
  composition { party { id } seats seatsBefore change seatsWon seatsNotUp }
  ballots { id seats status declaredAt electorate ballotPapersCounted rejectedBallots turnout
    ward { slug name seats }
    candidacies { name personId party { id } description votes share elected electedByLot }
    changes { party { id } kind previousParty { id } headline } } } }"""


def comparable(data: dict) -> dict:
    # Not in Democracy Club's shape: statuses before a declaration (the import leaves ballots
    # awaiting) and ward names the file does not carry (the label is the ward's name).
    for e in data["elections"]:
        for b in e["ballots"]:
            if b["status"] not in ("DECLARED", "UNCONTESTED"):
                b["status"] = "undeclared"
    return data


def test_each_export_names_the_event_cursor_it_is_consistent_with_and_is_cacheable(client):
    night()
    cursor = Event.objects.order_by("id").last().pk
    for name, content_type in [
        ("results.csv", "text/csv; charset=utf-8"),
        ("compositions.csv", "text/csv; charset=utf-8"),
        ("previous-winners.csv", "text/csv; charset=utf-8"),
        ("day.json", "application/json"),
        ("declarations.atom", "application/atom+xml; charset=utf-8"),
    ]:
        response = client.get(f"/exports/2023-05-04/{name}")
        assert (response.status_code, response["Content-Type"], response["X-Events-Cursor"]) == (
            200,
            content_type,
            str(cursor),
        )
        assert response["Cache-Control"] == "public, max-age=5"
        again = client.get(f"/exports/2023-05-04/{name}", HTTP_IF_NONE_MATCH=response["ETag"])
        assert again.status_code == 304
    day = client.get("/exports/2023-05-04/day.json").json()
    assert day["eventsCursor"] == cursor
    abbey = next(b for e in day["elections"] for b in e["ballots"] if b["id"] == ABBEY)
    assert [(c["name"], c["votes"], c["elected"]) for c in abbey["candidacies"]] == [
        ("Ivy Ives", 400, True),
        ("Fay Fox", 300, False),
        ("Eve Ely", 200, False),
        ("Daniel Dee", 150, False),
    ]
    # A new event changes the ETag: the cached copy is stale.
    services.set_ballot_status(Ballot.objects.get(ballot_paper_id=DARLEY), "counting")
    assert (
        client.get(
            "/exports/2023-05-04/day.json", HTTP_IF_NONE_MATCH=f'"json-2023-05-04-{cursor}"'
        ).status_code
        == 200
    )
    assert client.get("/exports/2023-05-04/nothing.csv").status_code == 404
    assert client.get("/exports/2023-13-04/results.csv").status_code == 404


def test_the_results_csv_shows_published_figures_only():
    night()
    rows = list(csv.DictReader(io.StringIO(exports.export(dt.date(2023, 5, 4)).content)))
    darley = [r for r in rows if r["ballot_paper_id"] == DARLEY]
    # Retracted, then a candidate withdrawn: the figures typed for it are not public.
    assert [(r["person_name"], r["votes_cast"], r["elected"], r["electorate"]) for r in darley] == [
        ("Hal Hume", "", "", "")
    ]
    assert rows[0] == {
        "election_id": E,
        "ballot_paper_id": ABBEY,
        "organisation_name": "Derby",
        "post_label": "Abbey Ward",
        "seats_contested": "1",
        "person_id": "",
        "person_name": "Ivy Ives",
        "party_id": "PP63",
        "party_name": "Green Party",
        "party_description_text": "",
        "votes_cast": "400",
        "elected": "true",
        "ballot_status": "declared",
        "declared_at": Ballot.objects.get(ballot_paper_id=ABBEY).declared_at.isoformat(),
        "electorate": "5000",
        "ballot_papers_counted": "1100",
        "rejected_ballots": "",
        "certification": "corrected",
        "source": "",
        "source_url": "",
        "rehearsal": "false",
    }


def test_the_atom_feed_lists_declarations_newest_first_without_retracted_ones():
    from xml.etree import ElementTree

    night()
    feed = ElementTree.fromstring(exports.export(dt.date(2023, 5, 4), "atom").content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in feed.findall("a:entry", ns)]
    assert titles == [
        "Abbey Ward, Derby: corrected",
        "Abbey Ward, Derby: declared",
        "Allestree, Derby: corrected",  # its previous winners were set after it was declared
        "Allestree, Derby: declared",
    ]
    summary = feed.find("a:entry", ns).findtext("a:summary", namespaces=ns)
    # Each candidate with their party's name, not its id.
    assert summary == (
        "Ivy Ives (Green Party) 400 elected; Fay Fox (Derby Independents) 300; "
        "Eve Ely (Conservative and Unionist Party) 200; Daniel Dee (Liberal Democrats) 150. Reason: typo"
    )


def test_a_rehearsal_export_never_imports_as_a_real_result():
    from results.importers import ImportFailed

    night()
    services.reset_to_eve(dt.date(2023, 5, 4))
    services.start_rehearsal(dt.date(2023, 5, 4), label="Tuesday")
    abbey = Ballot.objects.get(ballot_paper_id=ABBEY)
    services.declare_ballot(abbey, votes={c.pk: 100 + i for i, c in enumerate(abbey.candidacies.all())})
    flagged = exports.export(dt.date(2023, 5, 4)).content
    assert {row["rehearsal"] for row in csv.DictReader(io.StringIO(flagged))} == {"true"}
    services.reset_to_eve(dt.date(2023, 5, 4))
    before = Event.objects.count()
    with pytest.raises(ImportFailed) as refused:
        import_candidates(flagged)
    first = refused.value.errors[0]
    assert (first.line, first.message) == (
        2,
        "this row is rehearsal data (its rehearsal column says true): it imports only while rehearsing, "
        "never as a real result",
    )
    assert Event.objects.count() == before  # nothing written


def test_export_results_refuses_a_bad_date_and_format():
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="'4 May' is not a date"):
        call_command("export_results", "4 May")
    with pytest.raises(CommandError, match="invalid choice: 'xls'"):
        call_command("export_results", "2023-05-04", "--format", "xls")


# ---------------------------------------------------------------- provenance in the console


def test_the_console_sets_provenance_and_certification_and_the_api_shows_them():
    from .desk import entry_url, form_data, preview_and_confirm, staff

    e = f.election(seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    north = f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    desk = client_for(staff("desk"))
    done = preview_and_confirm(
        desk,
        north,
        {
            **form_data(north, Able="600", Baker="400"),
            "source": "phone_from_count",
            "source_url": "",
            "certification": "provisional",
        },
    )
    assert done.status_code == 302
    query = f'{{ ballot(id: "{north.ballot_paper_id}") {{ certification source sourceUrl }} }}'
    assert run(query)["ballot"] == {
        "certification": "PROVISIONAL",
        "source": "PHONE_FROM_COUNT",
        "sourceUrl": None,
    }
    north.refresh_from_db()
    certified = desk.post(
        entry_url(north),
        {
            **form_data(north, Able="600", Baker="400"),
            "source": "council_website",
            "source_url": "derby.gov.uk/results",
            "_certify": "1",
        },
    )
    assert certified.status_code == 302
    assert run(query)["ballot"] == {
        "certification": "CERTIFIED",
        "source": "COUNCIL_WEBSITE",
        "sourceUrl": "https://derby.gov.uk/results",
    }
    event = Event.objects.filter(ballot=north).last()
    assert (event.kind, event.actor.username, event.payload["certification"]) == (
        "ballot_certified",
        "desk",
        "certified",
    )
    # The page says so, and offers no second certification.
    page = desk.get(entry_url(north)).content.decode()
    assert (
        "Provenance: Certified (checked against the formal declaration of the result), Council web page"
        in page
    )
    assert 'name="_certify"' not in page


def test_a_declaration_with_an_unknown_source_is_refused_and_changes_nothing():
    e = f.election(seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    north = f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
    with pytest.raises(ValidationError) as exc:
        services.declare_ballot(
            north, votes=f.votes(north, Able=6, Baker=4), source="rumour", certification="corrected"
        )
    assert exc.value.message_dict == {
        "source": [
            "Unknown source 'rumour': use one of returning_officer, council_website, phone_from_count, import, other."
        ],
        "certification": ["A declaration is provisional, declared or certified (a correction is corrected)."],
    }
    assert Ballot.objects.get(pk=north.pk).status == "awaiting"


# ---------------------------------------------------------------- query counts at two sizes


def declared_council(wards: int):
    e = f.election(seats_total=wards, before={"PP52": (wards, 0)})
    for i in range(wards):
        b = f.ballot(e, f"Ward {i:02}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
        services.declare_ballot(b, votes=f.votes(b, Able=100 + i, Baker=50), source="returning_officer")
    return e


@pytest.mark.parametrize("wards", [2, 12])
def test_the_events_feed_with_versions_and_data_takes_a_fixed_number_of_queries(
    wards, django_assert_num_queries
):
    declared_council(wards)
    query = (
        "{ events(first: 500) { id kind data ballotVersion { version source candidacies { name votes } } } }"
    )
    # Events (with council and post), then their elections with results: composition, ballots,
    # candidacies, previous winners.
    with django_assert_num_queries(6):
        events = run(query)["events"]
    versions = [e["ballotVersion"] for e in events if e["ballotVersion"]]
    assert len(versions) == wards
    assert versions[0] == {
        "version": 2,  # previous winners set, then declared
        "source": "RETURNING_OFFICER",
        "candidacies": [{"name": "Ann Able", "votes": 100}, {"name": "Bob Baker", "votes": 50}],
    }


@pytest.mark.parametrize("wards", [2, 12])
@pytest.mark.parametrize("name", ["results.csv", "compositions.csv", "previous-winners.csv", "day.json"])
def test_each_export_takes_a_fixed_number_of_queries(wards, name, client, django_assert_num_queries):
    declared_council(wards)
    # The latest event (for the ETag), then the export's snapshot (a savepoint here, inside the test's
    # transaction, and its release): the cursor again, the rehearsal switch, the elections with their
    # results (elections, composition, ballots, candidacies, previous winners).
    with django_assert_num_queries(10):
        response = client.get(f"/exports/2023-05-04/{name}")
    assert response.status_code == 200
    with django_assert_num_queries(1):  # not modified: the cursor alone
        assert (
            client.get(f"/exports/2023-05-04/{name}", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
        )


def test_two_candidates_of_one_name_show_apart_in_the_console_and_the_api():
    from .desk import entry_url, staff

    csv_text = HEADER + (
        f"301,John Smith,PP53,Labour Party,,{E},{ABBEY},Abbey,1,,\n"
        f"302,John Smith,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,,\n"
    )
    import_candidates(csv_text)
    abbey = Ballot.objects.get(ballot_paper_id=ABBEY)
    page = client_for(staff("desk")).get(entry_url(abbey)).content.decode()
    assert page.count('<div class="small person-id">person 301</div>') == 1
    assert page.count('<div class="small person-id">person 302</div>') == 1
    data = run(f'{{ ballot(id: "{ABBEY}") {{ candidacies {{ name personId party {{ id }} }} }} }}')
    assert sorted((c["personId"], c["party"]["id"]) for c in data["ballot"]["candidacies"]) == [
        ("301", "PP53"),
        ("302", "PP90"),
    ]


def test_the_admin_links_every_export_of_every_poll_date():
    from .desk import staff

    import_candidates(CANDIDATES)
    desk = client_for(staff("desk"))
    page = desk.get("/admin/exports/")
    assert page.status_code == 200
    html = page.content.decode()
    assert [
        name
        for name in (
            "results.csv",
            "compositions.csv",
            "previous-winners.csv",
            "day.json",
            "declarations.atom",
        )
        if f'href="/exports/2023-05-04/{name}" download' in html
    ] == ["results.csv", "compositions.csv", "previous-winners.csv", "day.json", "declarations.atom"]
    assert 'id="exports-link"' in desk.get("/admin/").content.decode()


def snapshot(*people) -> dict:
    return {
        "candidacies": [
            {"person_name": name, "person_id": pid, "votes": votes, "elected": elected}
            for name, pid, votes, elected in people
        ]
    }


@pytest.mark.pure
def test_versions_diff_matches_candidates_by_person_id_and_tells_namesakes_apart():
    from results.versions import version_changes

    before = snapshot(("John Smith", "301", 400, True), ("John Smith", "302", 300, False))
    after = snapshot(("John Smith", "302", 420, True), ("John Smith", "301", 400, False))
    assert version_changes(before, after) == (
        "John Smith (person 302): 300 → 420",
        "Elected: John Smith (person 301) → John Smith (person 302)",
    )


@pytest.mark.pure
def test_versions_diff_follows_a_renamed_candidate_by_person_id_and_falls_back_to_names():
    from results.versions import version_changes

    renamed = version_changes(
        snapshot(("Jon Smyth", "301", 400, True), ("Ann Able", "", 300, False)),
        snapshot(("John Smith", "301", 410, True), ("Ann Able", "", 300, False)),
    )
    assert renamed == ("John Smith: 400 → 410",)  # one person, shown by the later name
    by_name = version_changes(
        snapshot(("Ann Able", "", 300, False), ("Bob Baker", "", 310, True)),
        snapshot(("Ann Able", "", 330, True), ("Bob Baker", "", 310, False)),
    )
    assert by_name == ("Ann Able: 300 → 330", "Elected: Bob Baker → Ann Able")


def test_a_correction_between_two_people_of_one_name_reads_apart_in_the_api():
    csv_text = HEADER + (
        f"301,John Smith,PP53,Labour Party,,{E},{ABBEY},Abbey,1,,\n"
        f"302,John Smith,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,,\n"
    )
    import_candidates(csv_text)
    abbey = Ballot.objects.get(ballot_paper_id=ABBEY)
    labour, libdem = (abbey.candidacies.get(person_id=pid) for pid in ("301", "302"))
    services.declare_ballot(abbey, votes={labour.pk: 400, libdem.pk: 300})
    services.correct_ballot(abbey, votes={labour.pk: 400, libdem.pk: 420}, reason="transposed")
    versions = run(VERSIONS, id=ABBEY)["ballot"]["versions"]
    assert versions[-1]["changes"] == [
        "John Smith (person 302): 300 → 420",
        "Elected: John Smith (person 301) → John Smith (person 302)",
    ]
