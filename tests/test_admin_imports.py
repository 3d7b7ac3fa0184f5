"""CSV imports from the admin: all three formats, errors listed by line, nothing imported on error."""

from django.core.files.uploadedfile import SimpleUploadedFile

from results.models import Ballot, Candidacy, CompositionBefore, Council, Event, PreviousWinner

from .desk import client_for, staff, text

E = "local.derby.2023-05-04"
ALLESTREE = "local.derby.allestree.2023-05-04"
HEADER = "person_id,person_name,party_id,party_name,election_id,ballot_paper_id,post_label,seats_contested,votes_cast\n"
CANDIDATES = HEADER + (
    f"101,Ann Able,PP53,Labour Party,{E},{ALLESTREE},Allestree,1,\n"
    f"102,Steve Hassall,PP52,Conservative and Unionist Party,{E},{ALLESTREE},Allestree,1,\n"
)


def upload(client, kind: str, content: str, name: str = "file.csv"):
    return client.post(
        "/admin/import/", {"kind": kind, "file": SimpleUploadedFile(name, content.encode(), "text/csv")}
    )


def snapshot():
    return (
        Council.objects.count(),
        Ballot.objects.count(),
        Candidacy.objects.count(),
        CompositionBefore.objects.count(),
        PreviousWinner.objects.count(),
        # The parties of migration 0002 have their baseline events (migration 0007) from the start.
        [
            k
            for k, p in Event.objects.order_by("id").values_list("kind", "payload")
            if p.get("change") != "baseline"
        ],
    )


def test_the_data_desk_imports_candidates_composition_and_previous_winners():
    desk = staff("desk")
    client = client_for(desk)
    done = upload(client, "candidates", CANDIDATES, "derby.csv")
    assert (done.status_code, done["Location"]) == (302, "/admin/import/")
    assert (
        "Candidates imported from derby.csv: 2 rows read; created: 1 ballots, 2 candidacies, 1 councils, "
        in (text(client.get("/admin/import/")))
    )
    upload(
        client, "composition", f"election_id,seats_total,party_id,seats_before,seats_not_up\n{E},1,PP52,1,0\n"
    )
    upload(client, "previous_winners", f"ballot_paper_id,party_id,seats\n{ALLESTREE},PP52,1\n")
    # Everything imported has its event: nothing published yet (no votes), nothing missed.
    assert snapshot() == (
        1,
        1,
        2,
        1,
        1,
        ["reference", "election", "reference", "nominations", "election", "previous_winners"],
    )
    assert list(PreviousWinner.objects.values_list("party__ec_id", "seats")) == [("PP52", 1)]


def test_imported_results_record_who_imported_them():
    desk = staff("desk")
    declared = HEADER + (
        f"101,Ann Able,PP53,Labour Party,{E},{ALLESTREE},Allestree,1,900\n"
        f"102,Steve Hassall,PP52,Conservative and Unionist Party,{E},{ALLESTREE},Allestree,1,800\n"
    )
    upload(client_for(desk), "candidates", declared)
    event = Event.objects.get(kind="ballot_declared")
    assert (event.actor, event.ballot.ballot_paper_id) == (desk, ALLESTREE)


def test_a_file_with_errors_is_listed_by_line_and_nothing_is_imported():
    client = client_for(staff("desk"))
    upload(client, "candidates", CANDIDATES)
    before = snapshot()
    bad = HEADER + (
        f"103,Cat Cole,PP90,Liberal Democrats,{E},local.derby.abbey.2023-05-04,Abbey,one,\n"
        f"104,Dan Dee,PP90,Liberal Democrats,{E},local.derby.darley.2023-05-04,Darley,1,\n"
        f"105,Eve Ely,PP52,Conservative and Unionist Party,local.derby.2023-5-4,local.derby.x.2023-05-04,X,1,\n"
    )
    page = upload(client, "candidates", bad)
    assert page.status_code == 200
    assert [str(e) for e in page.context["errors"]] == [
        "line 2: seats_contested 'one' is not a whole number",
        "line 4: election_id 'local.derby.2023-5-4' is not of the form local.<council>.<YYYY-MM-DD>",
    ]
    assert "Nothing was imported: the file has 2 errors." in text(page)
    assert "Line 2 : seats_contested 'one' is not a whole number" in text(page)
    assert snapshot() == before
    assert not Ballot.objects.filter(ballot_paper_id="local.derby.darley.2023-05-04").exists()


def test_a_file_missing_columns_is_refused_on_line_1():
    page = upload(client_for(staff("desk")), "previous_winners", "ballot_paper_id,party\nx,PP52\n")
    assert [str(e) for e in page.context["errors"]] == ["line 1: missing column(s): party_id, seats"]
    assert snapshot() == (0, 0, 0, 0, 0, [])


def test_an_upload_without_a_file_is_refused_in_words():
    page = client_for(staff("desk")).post("/admin/import/", {"kind": "candidates"})
    assert page.context["form"].errors == {"file": ["This field is required."]}


def test_uploads_the_database_could_not_store_are_listed_by_line_not_a_server_error():
    client = client_for(staff("desk"))
    row = f"101,Ann Able,PP53,Labour Party,{E},{ALLESTREE},Allestree,1,"
    cases = {
        HEADER + row.replace("Ann Able", "Ann\x00Able") + "\n": "contains a NUL character",
        (HEADER + row + "\n").replace("\n", "\r"): "a line ends with a lone carriage return (CR)",
        HEADER
        + row
        + "2147483648\n": "votes_cast 2,147,483,648 is more than the largest allowed, 2,147,483,647",
        HEADER + row.replace("Ann Able", "A" * 300) + "\n": "person_name is 300 characters long: at most 255",
        HEADER
        + row.replace("Allestree,1,", "Allestree,40000,")
        + "\n": "seats_contested 40,000 is more than",
    }
    for content, message in cases.items():
        page = upload(client, "candidates", content)
        assert page.status_code == 200
        assert message in text(page)
    assert snapshot() == (0, 0, 0, 0, 0, [])
