"""The candidates CSV (Democracy Club's format): ballots, their candidates and their results.

Read and checked whole first (see ``csvfile``), then written one election
per transaction (per 50 ballots of a larger one), its results published
through ``services.publish_results``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Prefetch

from .. import rehearsal, rules, services
from ..models import Ballot, Candidacy, Council, Election, Party, Ward
from .csvfile import (
    BALLOT_ID,
    CHUNK,
    ELECTION_ID,
    MAX_VOTES,
    ImportFailed,
    ImportReport,
    Parties,
    RowError,
    Rows,
    Step,
    StepFailed,
    election_for,
    election_id_problem,
    max_length,
    parse_bool,
    row_error,
    title_from_slug,
    write_steps,
)

CANDIDATE_COLUMNS = (
    "person_name",
    "party_id",
    "party_name",
    "election_id",
    "ballot_paper_id",
    "post_label",
    "seats_contested",
)
CANDIDATE_OPTIONAL = (
    "person_id",
    "party_description_text",
    "votes_cast",
    "elected",
    "organisation_name",
    # The ballot's count and declaration time, on each of its rows (our exports write them).
    "electorate",
    "ballot_papers_counted",
    "rejected_ballots",
    "declared_at",
    # Our exports' flag: a row that says true is rehearsal data, refused outside a rehearsal.
    "rehearsal",
)
COUNT_COLUMNS = ("electorate", "ballot_papers_counted", "rejected_ballots")


@dataclass
class _CandidateRow:
    line: int
    person_name: str
    person_id: str
    party_id: str
    party_name: str
    description: str
    votes: int | None
    elected: bool | None


@dataclass
class _BallotRows:
    line: int
    election_id: str
    ballot_paper_id: str
    ward_slug: str | None
    post_label: str
    seats: int
    organisation_name: str
    candidates: list[_CandidateRow] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    declared_at: dt.datetime | None = None


def import_candidates(source, *, user=None, progress=None) -> ImportReport:
    """Import Democracy Club's candidates CSV, declaring ballots that carry results.

    Creates councils, wards, elections, ballots and candidacies as needed.
    A ballot whose rows carry ``votes_cast`` is declared through
    ``services.publish_results`` (winners derived from the votes, and checked
    against ``elected`` where given; a tie at the cut-off is settled by the
    ``elected`` column as the drawing of lots). Rows with ``elected`` but no
    votes declare the winners only (or an uncontested ballot). A declared
    ballot whose figures differ is corrected. The whole file is checked
    first; then each election's ballots are written in one transaction (50
    at a time), and ``progress`` (if given) is called with a line of text after each.
    """
    rows = Rows(
        source,
        CANDIDATE_COLUMNS,
        CANDIDATE_OPTIONAL,
        limits={
            "person_name": max_length(Candidacy, "person_name"),
            "person_id": max_length(Candidacy, "person_id"),
            "party_id": max_length(Party, "ec_id"),
            "party_name": max_length(Party, "name"),
            "party_description_text": max_length(Candidacy, "description"),
            "election_id": max_length(Election, "election_id"),
            "ballot_paper_id": max_length(Ballot, "ballot_paper_id"),
            "post_label": max_length(Ward, "name"),
            "organisation_name": max_length(Council, "name"),
        },
    )
    report = ImportReport(rows=len(rows.rows))
    ballots = _read(rows)
    rows.check()

    # Check everything before writing anything.
    parties = Parties(report)
    parties.resolve((c.line, c.party_id, c.party_name) for b in ballots.values() for c in b.candidates)
    _check_stored(ballots)

    # Then write, one election per transaction (per CHUNK ballots of a larger one).
    parties.create(user)
    by_election: dict[str, list[_BallotRows]] = defaultdict(list)
    for ballot_rows in ballots.values():
        by_election[ballot_rows.election_id].append(ballot_rows)
    steps = [
        Step(
            chunk[0].line,
            election_id,
            lambda chunk=chunk: _write_election(chunk, parties, report, user),
            size=len(chunk),
        )
        for election_id, group in by_election.items()
        for chunk in (group[start : start + CHUNK] for start in range(0, len(group), CHUNK))
    ]

    def done(step: Step, written: int) -> None:
        if progress:
            progress(f"{step.label}: {step.size} ballot(s) written, {written} of {len(ballots)}")

    write_steps(steps, report, done=done)
    return report


def _read(rows: Rows) -> dict[str, _BallotRows]:
    """The file's rows by ballot, each row checked (errors collected in ``rows``)."""
    ballots: dict[str, _BallotRows] = {}
    rehearsing = rehearsal.current().active
    for line, row in rows.rows:
        if not rehearsing and row.get("rehearsal", "").lower() == "true":
            rows.error(
                line,
                "this row is rehearsal data (its rehearsal column says true): it imports only while "
                "rehearsing, never as a real result",
            )
            continue
        _read_row(rows, line, row, ballots)
    for ballot in ballots.values():
        with_votes = [c for c in ballot.candidates if c.votes is not None]
        if with_votes and len(with_votes) != len(ballot.candidates):
            for c in ballot.candidates:
                if c.votes is None:
                    rows.error(
                        c.line,
                        f"votes_cast is empty but other candidates on {ballot.ballot_paper_id} have votes",
                    )
    return ballots


def _read_row(rows: Rows, line: int, row: dict, ballots: dict[str, _BallotRows]) -> None:
    """One row: its ballot (added to ``ballots`` if new) and its candidate."""
    name = rows.text(line, row, "person_name")
    party_id = rows.text(line, row, "party_id")
    election_id = rows.text(line, row, "election_id")
    ballot_id = rows.text(line, row, "ballot_paper_id")
    seats = rows.int(line, row, "seats_contested", minimum=1)
    votes = rows.int(line, row, "votes_cast", required=False, maximum=MAX_VOTES)
    counts = {c: rows.int(line, row, c, required=False, maximum=MAX_VOTES) for c in COUNT_COLUMNS}
    declared_at = None
    if row.get("declared_at"):
        try:
            declared_at = dt.datetime.fromisoformat(row["declared_at"])
        except ValueError:
            rows.error(line, f"declared_at {row['declared_at']!r} is not a date and time (ISO 8601)")
        else:
            if declared_at.tzinfo is None:
                rows.error(line, f"declared_at {row['declared_at']!r} needs its time zone, e.g. +01:00")
                declared_at = None
    try:
        elected = parse_bool(row.get("elected", ""))
    except ValueError:
        rows.error(line, f"elected {row['elected']!r} is not true or false")
        elected = None
    if not (election_id and ballot_id and seats):
        return
    ballot = _ballot_of(rows, line, row, ballots, seats=seats, counts=counts, declared_at=declared_at)
    if ballot is None or not name or not party_id:
        return
    person_id = row.get("person_id", "")
    for other in ballot.candidates:
        if person_id and other.person_id == person_id:
            rows.error(line, f"person {person_id} already stands on {ballot_id} (line {other.line})")
        elif other.person_name == name and not (person_id and other.person_id):
            # Two people may share a name; only their person ids tell them apart.
            rows.error(
                line,
                f"{name} already stands on {ballot_id} (line {other.line}): two candidates of one "
                "name need their person_id to tell them apart",
            )
    ballot.candidates.append(
        _CandidateRow(
            line=line,
            person_name=name,
            person_id=row.get("person_id", ""),
            party_id=party_id,
            party_name=row["party_name"],
            description=row.get("party_description_text", ""),
            votes=votes,
            elected=elected,
        )
    )


def _ballot_of(
    rows: Rows,
    line: int,
    row: dict,
    ballots: dict[str, _BallotRows],
    *,
    seats: int,
    counts: dict,
    declared_at,
) -> _BallotRows | None:
    """The ballot a row names, checked against its election and the ballot's earlier rows;
    ``None`` when its ids are wrong."""
    election_id, ballot_id = row["election_id"], row["ballot_paper_id"]
    emat, bmat = ELECTION_ID.match(election_id), BALLOT_ID.match(ballot_id)
    if not emat:
        rows.error(line, f"election_id {election_id!r} is not of the form local.<council>.<YYYY-MM-DD>")
        return None
    if not bmat or bmat["kind"] != emat["kind"] or bmat["org"] != emat["org"] or bmat["date"] != emat["date"]:
        rows.error(line, f"ballot_paper_id {ballot_id!r} does not belong to election {election_id}")
        return None
    if emat["kind"] == "local" and not bmat["ward"]:
        rows.error(line, f"ballot_paper_id {ballot_id!r} names no ward")
        return None
    if emat["kind"] == "mayor" and bmat["ward"]:
        rows.error(line, f"a mayoral ballot_paper_id is the election id ({election_id})")
        return None
    if problem := election_id_problem(election_id):
        rows.error(line, problem)
        return None
    if bmat["ward"] and len(bmat["ward"]) > max_length(Ward, "slug"):
        rows.error(line, f"the ward of {ballot_id!r} is longer than {max_length(Ward, 'slug')} characters")
        return None
    ballot = ballots.get(ballot_id)
    if ballot is None:
        ballot = ballots[ballot_id] = _BallotRows(
            line=line,
            election_id=election_id,
            ballot_paper_id=ballot_id,
            ward_slug=bmat["ward"],
            post_label=row["post_label"],
            seats=seats,
            organisation_name=row.get("organisation_name", ""),
            counts=counts,
            declared_at=declared_at,
        )
    elif ballot.counts != counts or ballot.declared_at != declared_at:
        rows.error(line, f"the count or declared_at differs from line {ballot.line} for the same ballot")
    elif ballot.seats != seats:
        rows.error(line, f"seats_contested {seats} differs from {ballot.seats} on line {ballot.line}")
    elif ballot.election_id != election_id:
        rows.error(line, f"election_id differs from line {ballot.line} for the same ballot")
    return ballot


def _check_stored(ballots: dict[str, _BallotRows]) -> None:
    """Every ballot of the file against what is stored: all its errors, by line, or nothing."""
    stored = {
        b.ballot_paper_id: b
        for b in Ballot.objects.filter(ballot_paper_id__in=list(ballots))
        .select_related("election__council", "ward")
        .prefetch_related(Prefetch("candidacies", queryset=Candidacy.objects.select_related("party")))
    }
    errors = []
    for ballot_rows in ballots.values():
        try:
            _check_ballot(ballot_rows, stored.get(ballot_rows.ballot_paper_id))
        except (ValidationError, ValueError) as exc:
            errors.append(_ballot_error(ballot_rows, exc))
    if errors:
        raise ImportFailed(errors)


def _ballot_error(rows: _BallotRows, exc: ValidationError | ValueError) -> RowError:
    return row_error(rows.line, rows.ballot_paper_id, exc)


def _match(rows: _BallotRows, candidacies: Iterable[Candidacy]) -> dict[int, Candidacy | None]:
    """Each row's stored candidacy, or None for a new one.

    By person id where the row has one (two people may share a name, even on
    one ballot); else, or for a stored candidacy without an id, by name when
    exactly one stored candidacy has it.
    """
    candidacies = list(candidacies)
    by_id = {c.person_id: c for c in candidacies if c.person_id}
    matched: dict[int, Candidacy | None] = {}
    used: set[int] = set()
    for row in rows.candidates:
        found = by_id.get(row.person_id) if row.person_id else None
        if found is None:
            same_name = [
                c
                for c in candidacies
                if c.person_name == row.person_name
                and c.pk not in used
                and (not c.person_id or not row.person_id)
            ]
            found = same_name[0] if len(same_name) == 1 else None
        if found is not None:
            used.add(found.pk)
        matched[row.line] = found
    return matched


def _result_inputs(rows: _BallotRows, key: dict[int, object], seats: int):
    """The file's result for a ballot as ``(votes, winners, lot)`` keyed by ``key[line]``; None if none."""
    has_votes = any(r.votes is not None for r in rows.candidates)
    has_elected = any(r.elected is not None for r in rows.candidates)
    if not has_votes and not has_elected:
        return None
    votes = {key[r.line]: r.votes for r in rows.candidates} if has_votes else None
    winners = {key[r.line] for r in rows.candidates if r.elected} if has_elected else None
    lot: set = set()
    if votes and winners is not None and not rules.is_uncontested(len(rows.candidates), seats):
        try:
            rules.decide_winners(votes, seats)
        except rules.TieUnresolved as tie:
            # The source records who won the lot as elected.
            lot = winners & set(tie.tied)
    if not votes and winners is not None and rules.is_uncontested(len(rows.candidates), seats):
        winners = None  # uncontested: every candidate is elected unopposed
    return votes, winners, lot


def _unchanged(candidacies: Iterable[Candidacy], votes, winners) -> bool:
    current = {c.pk: c for c in candidacies}
    same_votes = all(current[pk].votes == (votes or {}).get(pk) for pk in current)
    same_winners = winners is None or {pk for pk, c in current.items() if c.elected} == winners
    return same_votes and same_winners


def _differs(candidacy: Candidacy, row: _CandidateRow) -> bool:
    """Whether a row's details differ from its stored candidacy's (its party loaded)."""
    stored = (candidacy.person_name, candidacy.person_id, candidacy.party.ec_id, candidacy.description)
    return stored != (row.person_name, row.person_id, row.party_id, row.description)


def _refuse_declared_changes(rows: _BallotRows, ballot: Ballot, matched: dict[int, Candidacy | None]) -> None:
    """A declared ballot's seats and candidates change only in the admin: refuse a file that changes them."""
    if ballot.winner_count != rows.seats:
        raise ValueError(f"is declared with {ballot.winner_count} seats; the file says {rows.seats}")
    for row in rows.candidates:
        candidacy = matched[row.line]
        if candidacy is None:
            raise ValueError(f"is declared; {row.person_name} (line {row.line}) is not one of its candidates")
        if _differs(candidacy, row):
            raise ValueError(
                f"is declared; the details of {row.person_name} (line {row.line}) differ: correct them in the admin"
            )


def _check_ballot(rows: _BallotRows, ballot: Ballot | None) -> None:
    """Everything ``_write_ballot`` would refuse, checked against the stored ballot without writing."""
    published = ballot is not None and ballot.is_published
    if ballot is not None and ballot.election.election_id != rows.election_id:
        raise ValueError(f"already belongs to {ballot.election}")
    stored = list(ballot.candidacies.all()) if ballot is not None else []
    matched = _match(rows, stored)
    if published:
        _refuse_declared_changes(rows, ballot, matched)
    names: dict[object, str] = {}
    key: dict[int, object] = {}
    for row in rows.candidates:
        candidacy = matched[row.line]
        key[row.line] = candidacy.pk if candidacy is not None else ("line", row.line)
        names[key[row.line]] = row.person_name
    for candidacy in stored:  # candidates already stored and not in the file stay on the ballot
        names.setdefault(candidacy.pk, candidacy.person_name)
    inputs = _result_inputs(rows, key, rows.seats)
    if inputs is None:
        return
    votes, winners, lot = inputs
    if published and _unchanged(stored, votes, winners):
        return
    services.check_result(
        Ballot(ballot_paper_id=rows.ballot_paper_id, winner_count=rows.seats),
        names,
        votes=votes,
        winners=winners,
        lot_winners=lot,
        **_counts(rows, ballot if published else None),
        label=rows.post_label or rows.ballot_paper_id,
    )


def _write_election(group: list[_BallotRows], parties: Parties, report: ImportReport, user) -> None:
    """Write one election's ballots of the file and publish their results, in the current transaction."""
    ids = [rows.ballot_paper_id for rows in group]
    # The lock order (results.services): the ballot rows first, ascending ids.
    locked = services.lock_ballots(
        Ballot.objects.filter(ballot_paper_id__in=ids).values_list("pk", flat=True)
    )
    by_id = {b.ballot_paper_id: b for b in locked.values()}
    first = group[0]
    try:
        election = election_for(first.election_id, report, first.organisation_name, user)
    except ValueError as exc:
        raise StepFailed(_ballot_error(first, exc)) from exc
    entries: list[services.ResultEntry] = []
    for rows in group:
        try:
            entry = _write_ballot(rows, by_id.get(rows.ballot_paper_id), election, parties, report, user)
        except (ValidationError, ValueError) as exc:
            raise StepFailed(_ballot_error(rows, exc)) from exc
        if entry is not None:
            entries.append(entry)
    services.publish_results(entries, user=user)  # a refusal names the step: its election, its first line


def _write_ballot(
    rows: _BallotRows,
    ballot: Ballot | None,
    election: Election,
    parties: Parties,
    report: ImportReport,
    user,
) -> services.ResultEntry | None:
    """Create or update one ballot and its candidacies through the services; return the result to publish, if any."""
    ward = _ward_for(rows, election, report, user)

    def nominee(row: _CandidateRow) -> services.Nominee:
        return services.Nominee(row.person_name, parties.get(row.party_id), row.person_id, row.description)

    if ballot is None:
        ballot = services.create_ballot(
            rows.ballot_paper_id,
            election=election,
            ward=ward,
            seats=rows.seats,
            nominees=[nominee(row) for row in rows.candidates],
            user=user,
        )
        report.count("ballots")
        report.count("candidacies", len(rows.candidates))
        stored: list[Candidacy] = []
        by_row = _match(rows, ballot.candidacies.select_related("party"))
    else:
        if ballot.election_id != election.pk:
            raise ValueError(f"already belongs to {ballot.election}")
        stored = list(ballot.candidacies.select_related("party"))
        ballot, by_row = _update_nominations(rows, ballot, stored, nominee, report, user)
    return _result_entry(rows, ballot, stored, by_row, report)


def _ward_for(rows: _BallotRows, election: Election, report: ImportReport, user) -> Ward | None:
    """The ballot's ward, created if new; ``None`` for a mayoralty."""
    if not rows.ward_slug:
        return None
    ward = Ward.objects.filter(council=election.council, slug=rows.ward_slug).first()
    if ward is None:
        ward = services.save_ward(
            None,
            council=election.council,
            slug=rows.ward_slug,
            values={"name": rows.post_label or title_from_slug(rows.ward_slug), "seats": rows.seats},
            user=user,
        )
        report.count("wards")
    return ward


def _update_nominations(
    rows: _BallotRows, ballot: Ballot, stored: list[Candidacy], nominee, report: ImportReport, user
) -> tuple[Ballot, dict[int, Candidacy]]:
    """Apply the file's candidates and seats to a stored ballot (``services.import_nominations``);
    a declared one must already have them as they are. Returns the ballot and each row's candidacy."""
    matched = _match(rows, stored)
    if ballot.is_published:
        _refuse_declared_changes(rows, ballot, matched)
    changes: dict[int, services.Nominee] = {}
    new: list[tuple[int, services.Nominee]] = []
    for row in rows.candidates:
        candidacy = matched[row.line]
        if candidacy is None:
            new.append((row.line, nominee(row)))
        elif _differs(candidacy, row):
            changes[candidacy.pk] = nominee(row)
    by_row = {line: c for line, c in matched.items() if c is not None}
    if new or changes or ballot.winner_count != rows.seats:
        ballot, created = services.import_nominations(
            ballot, seats=rows.seats, changes=changes, new=[n for _, n in new], user=user
        )
        by_row.update({line: c for (line, _), c in zip(new, created, strict=True)})
        report.count("candidacies", len(created))
    return ballot, by_row


def _result_entry(
    rows: _BallotRows,
    ballot: Ballot,
    stored: list[Candidacy],
    by_row: dict[int, Candidacy],
    report: ImportReport,
) -> services.ResultEntry | None:
    """The file's result for the ballot, to publish: a declaration, or a correction of a
    declared ballot whose figures differ; ``None`` when there is none, or nothing changed."""
    inputs = _result_inputs(rows, {line: c.pk for line, c in by_row.items()}, ballot.winner_count)
    if inputs is None:
        return None
    votes, winners, lot = inputs
    counts = _counts(rows, ballot if ballot.is_published else None)
    if ballot.is_published:
        if _unchanged(stored, votes, winners) and all(getattr(ballot, k) == v for k, v in counts.items()):
            report.unchanged += 1
            return None
        return services.ResultEntry(
            ballot=ballot.pk,
            correct=True,
            votes=votes,
            winners=winners,
            lot_winners=lot,
            **counts,
            reason="re-imported from CSV",
            source=Ballot.Source.IMPORT,
        )
    return services.ResultEntry(
        ballot=ballot.pk,
        votes=votes,
        winners=winners,
        lot_winners=lot,
        **counts,
        declared_at=rows.declared_at,
        source=Ballot.Source.IMPORT,
    )


def _counts(rows: _BallotRows, published: Ballot | None) -> dict:
    """The ballot's count: the file's where it gives one, else a declared ballot's stored one."""
    return {
        name: rows.counts.get(name)
        if rows.counts.get(name) is not None
        else (getattr(published, name) if published is not None else None)
        for name in COUNT_COLUMNS
    }
