"""The CSV importers: what they create, what they declare, and how they fail."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from results.errors import ErrorCode
from results.importers import ImportFailed, import_candidates, import_composition, import_previous_winners
from results.models import Ballot, Candidacy, Council, Election, Event, Party, PreviousWinner, Ward
from results.standings import election_standing

HEADER = (
    "person_id,person_name,party_id,party_name,party_description_text,election_id,"
    "ballot_paper_id,post_label,seats_contested,votes_cast,elected\n"
)
E = "local.derby.2023-05-04"
ALLESTREE = "local.derby.allestree.2023-05-04"
ABBEY = "local.derby.abbey.2023-05-04"

CANDIDATES = HEADER + (
    f"101,Ann Able,PP53,Labour Party,,{E},{ALLESTREE},Allestree,2,900,true\n"
    f"102,Steve Hassall,PP52,Conservative and Unionist Party,Local Conservatives,{E},{ALLESTREE},Allestree,2,800,true\n"
    f"103,Cat Cole,joint-party:53-119,Labour and Co-operative Party,,{E},{ALLESTREE},Allestree,2,700,false\n"
    f"104,Dan Dee,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,,\n"
    f"105,Eve Ely,PP52,Conservative and Unionist Party,,{E},{ABBEY},Abbey,1,,\n"
    "201,Andy Abrahams,PP53,Labour Party,,mayor.mansfield.2023-05-04,mayor.mansfield.2023-05-04,Mansfield,1,9987,\n"
    "202,Andre Camilleri,PP52,Conservative and Unionist Party,,mayor.mansfield.2023-05-04,"
    "mayor.mansfield.2023-05-04,Mansfield,1,5832,\n"
)
COMPOSITION = f"election_id,seats_total,party_id,seats_before,seats_not_up\n{E},3,PP52,2,0\n{E},3,PP53,1,0\n"


def snapshot():
    return (
        Council.objects.count(),
        Ward.objects.count(),
        Election.objects.count(),
        Ballot.objects.count(),
        Party.objects.count(),
        list(Candidacy.objects.order_by("pk").values_list("person_name", "party__ec_id", "votes", "elected")),
        list(Ballot.objects.order_by("pk").values_list("status", "version")),
        len(not_baseline()),
        PreviousWinner.objects.count(),
    )


def not_baseline() -> list[int]:
    """Events other than the baseline migration 0007 recorded for migration 0002's parties."""
    return [pk for pk, p in Event.objects.values_list("pk", "payload") if p.get("change") != "baseline"]


def errors_of(call) -> list[str]:
    with pytest.raises(ImportFailed) as exc:
        call()
    return [str(e) for e in exc.value.errors]


def test_candidates_import_creates_councils_wards_elections_and_ballots():
    report = import_candidates(CANDIDATES)
    assert report.created == {"councils": 2, "elections": 2, "wards": 2, "ballots": 3, "candidacies": 7}
    allestree = Ballot.objects.get(ballot_paper_id=ALLESTREE)
    assert (allestree.ward.name, allestree.winner_count, allestree.election.election_id) == (
        "Allestree",
        2,
        E,
    )
    assert Council.objects.get(slug="derby").name == "Derby"
    mayor = Ballot.objects.get(ballot_paper_id="mayor.mansfield.2023-05-04")
    assert (mayor.ward, mayor.election.kind) == (None, "mayor")
    hassall = Candidacy.objects.get(person_id="102")
    assert (hassall.description, hassall.party.ec_id) == ("Local Conservatives", "PP52")


def test_ballots_with_votes_are_declared_through_the_service():
    import_candidates(CANDIDATES)
    allestree = Ballot.objects.get(ballot_paper_id=ALLESTREE)
    assert allestree.status == "declared"
    assert list(allestree.candidacies.order_by("-votes").values_list("person_name", "votes", "elected")) == [
        ("Ann Able", 900, True),
        ("Steve Hassall", 800, True),
        ("Cat Cole", 700, False),
    ]
    assert Ballot.objects.get(ballot_paper_id=ABBEY).status == "awaiting"
    assert list(
        Event.objects.filter(kind="ballot_declared").values_list("kind", "ballot__ballot_paper_id")
    ) == [
        ("ballot_declared", ALLESTREE),
        ("ballot_declared", "mayor.mansfield.2023-05-04"),
    ]
    # Everything the import created has its event too, in the order it was written.
    assert [
        (e.kind, e.payload.get("object") or e.payload.get("change"), e.council.slug if e.council else None)
        for e in Event.objects.filter(pk__in=not_baseline())
        .exclude(kind="ballot_declared")
        .select_related("council")
    ] == [
        ("reference", "council", "derby"),
        ("election", "created", "derby"),
        ("reference", "ward", "derby"),
        ("nominations", "ballot_created", "derby"),
        ("reference", "ward", "derby"),
        ("nominations", "ballot_created", "derby"),
        ("reference", "council", "mansfield"),
        ("election", "created", "mansfield"),
        ("nominations", "ballot_created", "mansfield"),
    ]


def test_importing_the_same_file_twice_changes_nothing():
    import_candidates(CANDIDATES)
    import_composition(COMPOSITION)
    import_previous_winners(f"ballot_paper_id,party_id,seats\n{ALLESTREE},PP52,2\n")
    before = snapshot()
    report = import_candidates(CANDIDATES)
    import_composition(COMPOSITION)
    import_previous_winners(f"ballot_paper_id,party_id,seats\n{ALLESTREE},PP52,2\n")
    assert snapshot() == before
    assert report.created == {}
    assert report.unchanged == 2


def test_changed_votes_on_reimport_correct_the_declared_ballot():
    import_candidates(CANDIDATES)
    import_candidates(CANDIDATES.replace(",Allestree,2,700,false", ",Allestree,2,799,false"))
    assert Candidacy.objects.get(person_id="103").votes == 799
    corrected = Event.objects.get(kind="ballot_corrected")
    assert corrected.payload["reason"] == "re-imported from CSV"


def test_elected_that_contradicts_the_votes_fails_the_whole_file():
    bad = CANDIDATES.replace(",Allestree,2,700,false", ",Allestree,2,700,true").replace(
        ",Allestree,2,800,true", ",Allestree,2,800,false"
    )
    assert errors_of(lambda: import_candidates(bad)) == [
        f"line 2: {ALLESTREE}: The votes elect Ann Able, Steve Hassall, but the winners given are Ann Able, Cat Cole."
    ]
    assert snapshot() == (0, 0, 0, 0, 9, [], [], 0, 0)


def test_elected_without_votes_declares_winners_only():
    csv = HEADER + (
        f"1,Dan Dee,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,,true\n"
        f"2,Eve Ely,PP52,Conservative and Unionist Party,,{E},{ABBEY},Abbey,1,,false\n"
    )
    import_candidates(csv)
    assert list(Candidacy.objects.order_by("person_name").values_list("person_name", "votes", "elected")) == [
        ("Dan Dee", None, True),
        ("Eve Ely", None, False),
    ]


def test_uncontested_ballot_is_declared_unopposed():
    csv = HEADER + f"1,Dan Dee,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,,true\n"
    import_candidates(csv)
    assert Ballot.objects.get().status == "uncontested"


def test_tie_at_cutoff_is_settled_by_the_elected_column_as_a_lot():
    csv = HEADER + (
        f"1,Dan Dee,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,500,false\n"
        f"2,Eve Ely,PP52,Conservative and Unionist Party,,{E},{ABBEY},Abbey,1,500,true\n"
    )
    import_candidates(csv)
    assert Candidacy.objects.get(person_name="Eve Ely").elected_by_lot is True


def test_unresolved_tie_fails_the_import():
    csv = HEADER + (
        f"1,Dan Dee,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,500,\n"
        f"2,Eve Ely,PP52,Conservative and Unionist Party,,{E},{ABBEY},Abbey,1,500,\n"
    )
    assert errors_of(lambda: import_candidates(csv)) == [
        f"line 2: {ABBEY}: Dan Dee, Eve Ely tie for the last 1 seat: record who won the drawing of lots."
    ]
    assert Ballot.objects.count() == 0


def test_a_refusal_of_the_services_carries_its_code_and_line():
    csv = HEADER + (
        f"1,Dan Dee,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,500,\n"
        f"2,Eve Ely,PP52,Conservative and Unionist Party,,{E},{ABBEY},Abbey,1,500,\n"
    )
    with pytest.raises(ImportFailed) as failed:
        import_candidates(csv)
    assert [(e.line, e.code) for e in failed.value.errors] == [(2, ErrorCode.TIE_UNRESOLVED)]


def test_the_importers_own_checks_carry_no_code():
    csv = HEADER + f"1,Dan Dee,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,one,500,\n"
    with pytest.raises(ImportFailed) as failed:
        import_candidates(csv)
    assert [(e.line, e.code) for e in failed.value.errors] == [(2, None)]


def test_bad_rows_report_every_line_and_import_nothing():
    csv = HEADER + (
        f"1,Ann Able,PP53,Labour Party,,{E},{ALLESTREE},Allestree,2,-4,\n"
        f"2,,PP52,Conservative and Unionist Party,,{E},{ALLESTREE},Allestree,2,10,\n"
        f"3,Cy Cole,PP90,Liberal Democrats,,{E},local.derby.2023-05-04,Allestree,2,10,\n"
        f"4,Di Dow,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,two,,\n"
        f"5,Ed Eve,PP90,Liberal Democrats,,local.derby.2023-05-04,local.erewash.x.2023-05-04,X,1,,maybe\n"
        f"6,Fay Fox,PP999,,,{E},{ABBEY},Abbey,1,,\n"
    )
    assert errors_of(lambda: import_candidates(csv)) == [
        "line 2: votes_cast -4 must be at least 0",
        "line 3: person_name is empty",
        f"line 4: ballot_paper_id '{E}' names no ward",
        "line 5: seats_contested 'two' is not a whole number",
        "line 6: elected 'maybe' is not true or false",
        f"line 6: ballot_paper_id 'local.erewash.x.2023-05-04' does not belong to election {E}",
    ]
    assert snapshot() == (0, 0, 0, 0, 9, [], [], 0, 0)


def test_unknown_party_without_a_name_fails():
    csv = HEADER + f"6,Fay Fox,PP999,,,{E},{ABBEY},Abbey,1,,\n"
    assert errors_of(lambda: import_candidates(csv)) == [
        "line 2: unknown party PP999: give its party_name so it can be created"
    ]


def test_new_party_is_created_from_its_name():
    csv = HEADER + f"6,Fay Fox,PP999,Fox Party,,{E},{ABBEY},Abbey,1,,\n"
    import_candidates(csv)
    assert Party.objects.get(ec_id="PP999").name == "Fox Party"


def test_partial_votes_on_a_ballot_fail():
    csv = HEADER + (
        f"1,Dan Dee,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,500,\n"
        f"2,Eve Ely,PP52,Conservative and Unionist Party,,{E},{ABBEY},Abbey,1,,\n"
    )
    assert errors_of(lambda: import_candidates(csv)) == [
        f"line 3: votes_cast is empty but other candidates on {ABBEY} have votes"
    ]


def test_missing_columns_fail_on_line_one():
    assert errors_of(lambda: import_candidates("person_name,party_id\nA,PP53\n")) == [
        "line 1: missing column(s): party_name, election_id, ballot_paper_id, post_label, seats_contested"
    ]


def test_same_person_twice_on_a_ballot_fails():
    csv = HEADER + (
        f"1,Dan Dee,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,,\n"
        f"1,Dan Dee,PP90,Liberal Democrats,,{E},{ABBEY},Abbey,1,,\n"
    )
    assert errors_of(lambda: import_candidates(csv)) == [
        f"line 3: person 1 already stands on {ABBEY} (line 2)"
    ]


def test_two_people_of_one_name_on_a_ballot_import_apart_by_person_id_and_declare():
    csv = HEADER + (
        f"301,John Smith,PP53,Labour Party,,{E},{ALLESTREE},Allestree,2,900,true\n"
        f"302,John Smith,PP53,Labour Party,,{E},{ALLESTREE},Allestree,2,450,false\n"
        f"303,Sam Jones,PP52,Conservative and Unionist Party,,{E},{ALLESTREE},Allestree,2,700,true\n"
    )
    import_candidates(csv)
    ballot = Ballot.objects.get(ballot_paper_id=ALLESTREE)
    assert ballot.status == "declared"
    assert list(
        ballot.candidacies.order_by("person_id").values_list("person_id", "person_name", "votes", "elected")
    ) == [
        ("301", "John Smith", 900, True),
        ("302", "John Smith", 450, False),
        ("303", "Sam Jones", 700, True),
    ]
    # Importing it again matches each row to its own person: nothing changes.
    events = Event.objects.count()
    report = import_candidates(csv)
    assert (report.unchanged, Event.objects.count()) == (1, events)


def test_two_candidates_of_one_name_and_party_without_person_ids_are_refused_by_line():
    csv = HEADER + (
        f",John Smith,PP53,Labour Party,,{E},{ABBEY},Abbey,1,,\n"
        f",Sam Jones,PP52,Conservative and Unionist Party,,{E},{ABBEY},Abbey,1,,\n"
        f",John Smith,PP53,Labour Party,,{E},{ABBEY},Abbey,1,,\n"
    )
    assert errors_of(lambda: import_candidates(csv)) == [
        f"line 4: John Smith already stands on {ABBEY} (line 2): two candidates of one name need their "
        "person_id to tell them apart"
    ]
    assert Ballot.objects.count() == 0


def test_adding_a_candidate_to_a_declared_ballot_fails():
    import_candidates(CANDIDATES)
    before = snapshot()
    extra = CANDIDATES + f"106,New Comer,PP90,Liberal Democrats,,{E},{ALLESTREE},Allestree,2,5,false\n"
    assert errors_of(lambda: import_candidates(extra)) == [
        f"line 2: {ALLESTREE}: is declared; New Comer (line 9) is not one of its candidates"
    ]
    assert snapshot() == before


# ---------------------------------------------------------------- composition


def test_composition_sets_seats_and_derives_control_before():
    import_candidates(CANDIDATES)
    report = import_composition(COMPOSITION)
    assert report.created == {"compositions": 1}
    election = Election.objects.with_results().get(election_id=E)
    assert (election.seats_total, election.control_before.ec_id) == (3, "PP52")
    standing = election_standing(election)
    assert standing.composition.majority == 2
    # Equal seats: the party that held more before comes first.
    assert [(p.ec_id, row.seats_before, row.seats) for p, row in standing.party_rows()] == [
        ("PP52", 2, 1),
        ("PP53", 1, 1),
    ]


def test_composition_for_thirds_with_seats_not_up():
    csv = (
        "election_id,seats_total,party_id,seats_before,seats_not_up,seats_total_before,cycle\n"
        "local.lincoln.2023-05-04,33,PP53,20,13,33,thirds\n"
        "local.lincoln.2023-05-04,33,PP52,10,7,33,thirds\n"
        "local.lincoln.2023-05-04,33,PP90,2,2,33,thirds\n"
    )
    import_composition(csv)
    election = Election.objects.with_results().get(election_id="local.lincoln.2023-05-04")
    assert (election.cycle, election.seats_total_before, election.control_before.ec_id) == (
        "thirds",
        33,
        "PP53",
    )
    assert election.council.name == "Lincoln"
    standing = election_standing(election)
    assert (standing.composition.seats_up, standing.composition.seats_not_up) == (11, 22)


def test_composition_errors_report_lines_and_import_nothing():
    csv = (
        "election_id,seats_total,party_id,seats_before,seats_not_up\n"
        f"{E},51,PP52,18,20\n"
        f"{E},50,PP53,16,0\n"
        f"{E},51,PP53,3,0\n"
        "mayor.mansfield.2023-05-04,1,PP53,1,0\n"
        f"{E},51,PP404,1,0\n"
    )
    assert errors_of(lambda: import_composition(csv)) == [
        "line 2: seats_not_up 20 is more than seats_before 18",
        "line 3: seats_total 50 differs from 51 on line 2",
        "line 4: PP53 appears twice for local.derby.2023-05-04",
        "line 5: mayor.mansfield.2023-05-04 is a mayoralty: it has no council composition",
    ]
    assert Election.objects.count() == 0


def test_composition_with_more_not_up_than_seats_fails():
    csv = f"election_id,seats_total,party_id,seats_before,seats_not_up\n{E},5,PP52,8,6\n"
    assert errors_of(lambda: import_composition(csv)) == [
        "line 2: local.derby.2023-05-04: 6 seats not up is more than the 5 seats on the council."
    ]
    assert Election.objects.count() == 0


def test_composition_refusals_carry_the_services_codes_on_their_lines():
    # The rule of services.set_composition (composition_refusals), reported by line in the file's words.
    csv = (
        "election_id,seats_total,party_id,seats_before,seats_not_up,seats_total_before,cycle\n"
        f"{E},5,PP52,3,4,4,fifths\n"
        f"{E},5,PP53,2,2,4,fifths\n"
        f"{E},5,PP53,1,0,4,fifths\n"
    )
    with pytest.raises(ImportFailed) as failed:
        import_composition(csv)
    assert [(e.line, e.code, e.message) for e in failed.value.errors] == [
        (2, ErrorCode.NOT_UP_ABOVE_HELD, "seats_not_up 4 is more than seats_before 3"),
        (2, ErrorCode.NOT_UP_ABOVE_SEATS, f"{E}: 6 seats not up is more than the 5 seats on the council."),
        (
            2,
            ErrorCode.HELD_ABOVE_SEATS,
            f"{E}: parties held 6 seats, more than the council's 4 (seats_total_before)",
        ),
        (2, ErrorCode.UNKNOWN_CYCLE, "cycle 'fifths' is not one of all_out, halves, thirds"),
        (4, ErrorCode.PARTY_TWICE, f"PP53 appears twice for {E}"),
    ]


# ---------------------------------------------------------------- previous winners


def test_previous_winners_give_seat_changes():
    import_candidates(CANDIDATES)
    import_composition(COMPOSITION)
    report = import_previous_winners(
        f"ballot_paper_id,party_id,seats\n{ALLESTREE},PP52,1\n{ALLESTREE},joint-party:53-119,1\n"
    )
    assert report.created == {"ballots with previous winners": 1}
    standing = election_standing(Election.objects.with_results().get(election_id=E))
    assert [(p.ec_id, row.change) for p, row in standing.party_rows()] == [("PP52", 0), ("PP53", 0)]


def test_previous_winners_errors():
    import_candidates(CANDIDATES)
    csv = (
        "ballot_paper_id,party_id,seats\n"
        f"{ALLESTREE},PP52,3\n"
        "local.derby.nowhere.2023-05-04,PP52,1\n"
        f"{ABBEY},PP52,0\n"
    )
    assert errors_of(lambda: import_previous_winners(csv)) == [
        f"line 2: {ALLESTREE}: 3 previous winners for a ballot of 2 seats.",
        "line 3: ballot local.derby.nowhere.2023-05-04 does not exist: import its candidates first",
        "line 4: seats 0 must be at least 1",
    ]
    csv = f"ballot_paper_id,party_id,seats\n{ALLESTREE},PP52,3\n"
    assert errors_of(lambda: import_previous_winners(csv)) == [
        f"line 2: {ALLESTREE}: 3 previous winners for a ballot of 2 seats."
    ]
    assert PreviousWinner.objects.count() == 0


# ---------------------------------------------------------------- commands


def test_import_command_prints_a_summary(tmp_path, capsys):
    path = tmp_path / "candidates.csv"
    path.write_text(CANDIDATES)
    call_command("import_candidates", str(path))
    assert (
        "7 rows read; created: 3 ballots, 7 candidacies, 2 councils, 2 elections, 2 wards"
        in capsys.readouterr().out
    )


def test_import_command_lists_errors_with_the_file_and_line(tmp_path, capsys):
    path = tmp_path / "composition.csv"
    path.write_text(
        "election_id,seats_total,party_id,seats_before,seats_not_up\nlocal.derby.2023-05-04,x,PP52,1,0\n"
    )
    with pytest.raises(CommandError, match="1 error"):
        call_command("import_composition", str(path))
    assert f"{path}:2: seats_total 'x' is not a whole number" in capsys.readouterr().err


def test_import_command_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_previous_winners", str(tmp_path / "nope.csv"))


# ---------------------------------------------------------------- chunks, progress, scale


def big_file(elections: int, wards: int) -> str:
    """``elections`` councils of ``wards`` declared two-candidate wards each."""
    lines = [HEADER]
    for e in range(elections):
        eid = f"local.council-{e}.2023-05-04"
        for w in range(wards):
            bid = f"local.council-{e}.ward-{w}.2023-05-04"
            lines.append(f"{e}-{w}-1,Ann Able {w},PP53,Labour Party,,{eid},{bid},Ward {w},1,{500 + w},\n")
            lines.append(
                f"{e}-{w}-2,Bob Baker {w},PP52,Conservative and Unionist Party,,{eid},{bid},Ward {w},1,400,\n"
            )
    return "".join(lines)


def test_an_error_found_only_by_the_last_ballots_result_writes_nothing_of_the_file():
    # Two elections; the second's only ballot has a tie nobody resolved: found before any write.
    csv = big_file(1, 3) + (
        "9,Dan Dee,PP90,Liberal Democrats,,local.erewash.2023-05-04,local.erewash.x.2023-05-04,X,1,500,\n"
        "8,Eve Ely,PP52,Conservative and Unionist Party,,local.erewash.2023-05-04,local.erewash.x.2023-05-04,X,1,500,\n"
    )
    assert errors_of(lambda: import_candidates(csv)) == [
        "line 8: local.erewash.x.2023-05-04: Dan Dee, Eve Ely tie for the last 1 seat: "
        "record who won the drawing of lots."
    ]
    assert snapshot() == (0, 0, 0, 0, 9, [], [], 0, 0)


def test_import_writes_election_by_election_and_reports_progress():
    lines = []
    report = import_candidates(big_file(3, 2), progress=lines.append)
    assert lines == [
        "local.council-0.2023-05-04: 2 ballot(s) written, 2 of 6",
        "local.council-1.2023-05-04: 2 ballot(s) written, 4 of 6",
        "local.council-2.2023-05-04: 2 ballot(s) written, 6 of 6",
    ]
    # Per election: its council and election, two wards and ballots (nominations), two declarations.
    assert report.events == 3 * 8
    # One transaction per election: its ballots' events are consecutive, each followed by nothing
    # of another election.
    assert list(
        Event.objects.filter(pk__in=not_baseline()).order_by("id").values_list("council__slug", "kind")
    ) == [
        row
        for e in range(3)
        for row in [
            (f"council-{e}", "reference"),  # the council
            (f"council-{e}", "election"),
            *[(f"council-{e}", kind) for _ in range(2) for kind in ("reference", "nominations")],
            (f"council-{e}", "ballot_declared"),
            (f"council-{e}", "ballot_declared"),
        ]
    ]


def test_a_failure_while_writing_stops_at_that_election_and_says_what_was_written(monkeypatch):
    from results import services

    real = services.publish_results
    calls = []

    def publish_then_fail(entries, **kwargs):
        calls.append(len(entries))
        if len(calls) == 2:  # as if an editor had changed a ballot since the file was checked
            raise ValidationError({"status": "Ward 0 is already declared: correct it instead."})
        return real(entries, **kwargs)

    monkeypatch.setattr(services, "publish_results", publish_then_fail)
    with pytest.raises(ImportFailed) as failed:
        import_candidates(big_file(3, 2))
    assert failed.value.written == 2
    assert [str(e) for e in failed.value.errors] == [
        "line 6: local.council-1.2023-05-04: Ward 0 is already declared: correct it instead."
    ]
    assert Ballot.objects.published().count() == 2
    assert Ballot.objects.count() == 2  # the failed election's ballots were rolled back with it


def test_import_queries_grow_linearly_with_the_ballots_of_one_election():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(wards: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            import_candidates(big_file(1, wards).replace("council-0", f"council-{wards}"))
        return len(ctx.captured_queries)

    # Chunks of 50 ballots: the same number of queries for each further 50.
    q50, q100, q150 = queries(50), queries(100), queries(150)
    # One more per chunk: on PostgreSQL the event-log lock; on SQLite a second INSERT of the chunk's
    # 150 events (its limit of 999 variables a statement).
    # 575 for each further 50 (622 before issue 13 stored the standings: the chunk's election and its
    # results are now loaded once and its standing computed in memory, not read back per step).
    assert q150 - q100 == q100 - q50 == 575
    # (per ballot: ward, ballot and candidacies created through the services (each with its event),
    # the result validated and written; per chunk: the rows locked, the election read and locked, its
    # standing twice, the chunk's events (wards, nominations, declarations) inserted in one statement.)


def test_previous_winners_derive_each_elections_standing_once_per_chunk_and_record_an_event_per_ballot(
    monkeypatch,
):
    from results import standings
    from results.services import events

    import_candidates(re.sub(r",1,[0-9]+,\n", ",1,,\n", big_file(2, 60)))  # no votes: undeclared
    refreshed = []
    real = standings.refresh_standings

    def counting(pks):
        refreshed.append(sorted(pks))
        return real(pks)

    monkeypatch.setattr(events, "refresh_standings", counting)
    csv = "ballot_paper_id,party_id,seats\n" + "".join(
        f"local.council-{e}.ward-{w}.2023-05-04,PP53,1\n" for e in range(2) for w in range(60)
    )
    report = import_previous_winners(csv)
    assert report.created == {"ballots with previous winners": 120} and report.events == 120
    council = {e: Election.objects.get(election_id=f"local.council-{e}.2023-05-04").pk for e in range(2)}
    # Chunks of 50 ballots of one election: 50 + 10 for each (before: one derivation per ballot).
    assert refreshed == [[council[0]], [council[0]], [council[1]], [council[1]]]
    assert Event.objects.filter(kind=Event.Kind.PREVIOUS_WINNERS).count() == 120
    assert PreviousWinner.objects.count() == 120


# ---------------------------------------------------------------- every bad input refused by line

ROW = f"1,Ann Able,PP53,Labour Party,,{E},{ALLESTREE},Allestree,1,900,\n"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            HEADER + ROW.replace("Ann Able", "A" * 256),
            "line 2: person_name is 256 characters long: at most 255",
        ),
        (
            HEADER + ROW.replace("1,Ann", "1" * 33 + ",Ann"),
            "line 2: person_id is 33 characters long: at most 32",
        ),
        (
            HEADER + ROW.replace(",900,", ",2147483648,"),
            "line 2: votes_cast 2,147,483,648 is more than the largest allowed, 2,147,483,647",
        ),
        (
            HEADER + ROW.replace("Allestree,1,", "Allestree,32768,"),
            "line 2: seats_contested 32,768 is more than the largest allowed, 32,767",
        ),
        (
            HEADER + ROW.replace(",900,", ',"1,2,3",'),
            "line 2: votes_cast '1,2,3' is not a whole number",
        ),
        (
            HEADER + ROW.replace(",900,", ",\u0669\u0660\u0660,"),  # Arabic-Indic 900
            "line 2: votes_cast '\u0669\u0660\u0660' is not a whole number",
        ),
        (
            HEADER + ROW.replace("Ann Able", "Ann\x00Able"),
            "line 2: contains a NUL character: the file is not plain CSV text",
        ),
        (
            (HEADER + ROW).replace("\n", "\r"),
            "line 1: a line ends with a lone carriage return (CR): save the file with LF or CRLF line endings",
        ),
        (HEADER.replace("party_name", "person_name") + ROW, "line 1: column(s) named twice: person_name"),
        (
            HEADER
            + ROW.replace(f"{E},{ALLESTREE}", "local.derby.2023-02-30,local.derby.allestree.2023-02-30"),
            "line 2: election_id 'local.derby.2023-02-30' has an impossible date",
        ),
        (
            HEADER + ROW.replace(ALLESTREE, f"local.derby.{'w' * 101}.2023-05-04"),
            f"line 2: the ward of 'local.derby.{'w' * 101}.2023-05-04' is longer than 100 characters",
        ),
        (HEADER.encode() + b"1,Ann \xff,PP53", "line 2: the file is not UTF-8 text"),
    ],
    ids=[
        "long-name",
        "long-person-id",
        "votes-over-int32",
        "seats-over-smallint",
        "1,2,3",
        "arabic-indic-digits",
        "nul",
        "cr-only",
        "duplicated-column",
        "impossible-date",
        "long-ward-slug",
        "not-utf8",
    ],
)
def test_bad_candidate_files_are_refused_by_line_and_change_nothing(content, error):
    before = snapshot()
    assert errors_of(lambda: import_candidates(content)) == [error]
    assert snapshot() == before


def test_grouped_thousands_are_read_as_people_write_them():
    import_candidates(
        HEADER
        + ROW.replace(",900,", ',"1,900",')
        + ROW.replace("1,Ann Able", "2,Bo Bee").replace(",900,", ",12,")
    )
    assert Candidacy.objects.get(person_name="Ann Able").votes == 1900


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            f"election_id,seats_total,party_id,seats_before,seats_not_up\n{E},32768,PP52,2,0\n",
            "line 2: seats_total 32,768 is more than the largest allowed, 32,767",
        ),
        (
            f"election_id,seats_total,party_id,seats_before,seats_not_up\n{E},3,{'P' * 65},2,0\n",
            "line 2: party_id is 65 characters long: at most 64",
        ),
    ],
)
def test_bad_composition_files_are_refused_by_line(content, error):
    assert errors_of(lambda: import_composition(content)) == [error]
    assert Election.objects.count() == 0


def test_bad_previous_winner_files_are_refused_by_line():
    import_candidates(CANDIDATES)
    content = f"ballot_paper_id,party_id,seats\n{ALLESTREE},PP52,99999\n"
    assert errors_of(lambda: import_previous_winners(content)) == [
        "line 2: seats 99,999 is more than the largest allowed, 32,767"
    ]
