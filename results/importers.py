"""CSV importers: candidates (Democracy Club's format), composition, previous winners.

Each importer reads the whole file, validates every row, then writes in one
transaction through ``results.services``. Any bad row fails the import with
its line number and reason, and nothing of the file is kept. Importing the
same file twice changes nothing the second time (no rows, no events).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from . import rules, services
from .models import Ballot, Candidacy, Council, Election, Party, Ward

ELECTION_ID = re.compile(r"^(?P<kind>local|mayor)\.(?P<org>[a-z0-9-]+)\.(?P<date>\d{4}-\d{2}-\d{2})$")
BALLOT_ID = re.compile(
    r"^(?P<kind>local|mayor)\.(?P<org>[a-z0-9-]+)(?:\.(?P<ward>[a-z0-9-]+))?\.(?P<date>\d{4}-\d{2}-\d{2})$"
)
JOINT_PARTY = re.compile(r"^joint-party:(?P<lead>\d+)-\d+(?:-\d+)*$")
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0", ""}


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportFailed(Exception):
    """The file has errors; nothing was imported."""

    def __init__(self, errors: Iterable[RowError]):
        self.errors = sorted(errors, key=lambda e: e.line)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class ImportReport:
    """What an import did, for the command's output and the admin's message."""

    rows: int = 0
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    events: int = 0
    unchanged: int = 0

    def count(self, what: str, n: int = 1) -> None:
        self.created[what] += n

    def summary(self) -> str:
        made = ", ".join(f"{n} {what}" for what, n in sorted(self.created.items()) if n)
        return (
            f"{self.rows} rows read; created: {made or 'nothing'}; "
            f"{self.events} events recorded; {self.unchanged} already up to date."
        )


class _Rows:
    """Read a CSV, checking the header, remembering each row's line number."""

    def __init__(self, source, required: Iterable[str], optional: Iterable[str] = ()):
        text = source.read() if hasattr(source, "read") else source
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise ImportFailed([RowError(1, "the file is not UTF-8 text")]) from exc
        text = text.lstrip("\ufeff")
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise ImportFailed([RowError(1, f"missing column(s): {', '.join(missing)}")])
        reader.fieldnames = header
        self.rows: list[tuple[int, dict[str, str]]] = []
        try:
            for row in reader:
                if None in row:
                    raise ImportFailed([RowError(reader.line_num, "more values than columns")])
                cleaned = {k: (v or "").strip() for k, v in row.items()}
                if not any(cleaned.values()):
                    continue
                self.rows.append((reader.line_num, cleaned))
        except csv.Error as exc:
            raise ImportFailed([RowError(reader.line_num, f"not valid CSV: {exc}")]) from exc
        self.errors: list[RowError] = []

    def error(self, line: int, message: str) -> None:
        self.errors.append(RowError(line, message))

    def int(self, line: int, row: dict, column: str, *, required: bool = True, minimum: int = 0):
        value = row.get(column, "")
        if value == "":
            if required:
                self.error(line, f"{column} is empty")
            return None
        try:
            number = int(value.replace(",", ""))
        except ValueError:
            self.error(line, f"{column} {value!r} is not a whole number")
            return None
        if number < minimum:
            self.error(line, f"{column} {number} must be at least {minimum}")
            return None
        return number

    def text(self, line: int, row: dict, column: str) -> str:
        value = row.get(column, "")
        if not value:
            self.error(line, f"{column} is empty")
        return value

    def check(self) -> None:
        if self.errors:
            raise ImportFailed(self.errors)


def _validation_messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{'; '.join(msgs)}" for msgs in exc.message_dict.values())
    return "; ".join(exc.messages)


def _parse_bool(value: str) -> bool | None:
    v = value.strip().lower()
    if v in TRUE_WORDS:
        return True
    if v in FALSE_WORDS:
        return False if v else None
    raise ValueError(value)


def _title_from_slug(slug: str) -> str:
    small = {"and", "of", "upon", "on", "the", "le", "in"}
    words = slug.split("-")
    return " ".join(w if (i and w in small) else w.capitalize() for i, w in enumerate(words))


# --------------------------------------------------------------------------
# Shared lookups
# --------------------------------------------------------------------------


class _Parties:
    """Find or create parties by EC id; a joint description gets its lead party."""

    def __init__(self, report: ImportReport):
        self.report = report
        self.cache = {p.ec_id: p for p in Party.objects.select_related("lead_party")}

    def resolve(self, rows: Iterable[tuple[int, str, str]]) -> None:
        """Find or create every party of the file first; any unknown one fails the import.

        Joint descriptions come after the parties they may lead.
        """
        errors = []
        for line, ec_id, name in sorted(rows, key=lambda r: bool(JOINT_PARTY.match(r[1]))):
            try:
                self.get(ec_id, name)
            except ValueError as exc:
                errors.append(RowError(line, str(exc)))
        if errors:
            raise ImportFailed(errors)

    def get(self, ec_id: str, name: str = "") -> Party:
        if ec_id in self.cache:
            return self.cache[ec_id]
        if not name:
            raise ValueError(f"unknown party {ec_id}: give its party_name so it can be created")
        lead = None
        joint = JOINT_PARTY.match(ec_id)
        if joint:
            lead_id = f"PP{joint['lead']}"
            lead = self.cache.get(lead_id)
            if lead is None:
                raise ValueError(f"joint description {ec_id}: its lead party {lead_id} is unknown")
        party = Party.objects.create(
            ec_id=ec_id,
            name=name,
            short_name=lead.short_name if lead else name,
            colour=lead.colour if lead else "",
            lead_party=lead,
            is_independent=ec_id == "ynmp-party:2",
        )
        self.cache[ec_id] = party
        self.report.count("parties")
        return party


def _election_for(election_id: str, report: ImportReport, council_name: str = "") -> Election:
    match = ELECTION_ID.match(election_id)
    if not match:
        raise ValueError(f"election_id {election_id!r} is not of the form local.<council>.<YYYY-MM-DD>")
    try:
        poll_date = dt.date.fromisoformat(match["date"])
    except ValueError as exc:
        raise ValueError(f"election_id {election_id!r} has an impossible date") from exc
    election = Election.objects.select_related("council").filter(election_id=election_id).first()
    if election:
        return election
    council, created = Council.objects.get_or_create(
        slug=match["org"], defaults={"name": council_name or _title_from_slug(match["org"])}
    )
    if created:
        report.count("councils")
    report.count("elections")
    return Election.objects.create(
        election_id=election_id, kind=match["kind"], council=council, poll_date=poll_date
    )


# --------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------

CANDIDATE_COLUMNS = (
    "person_name",
    "party_id",
    "party_name",
    "election_id",
    "ballot_paper_id",
    "post_label",
    "seats_contested",
)
CANDIDATE_OPTIONAL = ("person_id", "party_description_text", "votes_cast", "elected", "organisation_name")


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


def import_candidates(source, *, user=None) -> ImportReport:
    """Import Democracy Club's candidates CSV, declaring ballots that carry results.

    Creates councils, wards, elections, ballots and candidacies as needed.
    A ballot whose rows carry ``votes_cast`` is declared through
    ``services.declare_ballot`` (winners derived from the votes, and checked
    against ``elected`` where given; a tie at the cut-off is settled by the
    ``elected`` column as the drawing of lots). Rows with ``elected`` but no
    votes declare the winners only (or an uncontested ballot). A declared
    ballot whose figures differ is corrected through ``services.correct_ballot``.
    """
    rows = _Rows(source, CANDIDATE_COLUMNS, CANDIDATE_OPTIONAL)
    report = ImportReport(rows=len(rows.rows))
    ballots: dict[str, _BallotRows] = {}
    for line, row in rows.rows:
        name = rows.text(line, row, "person_name")
        party_id = rows.text(line, row, "party_id")
        election_id = rows.text(line, row, "election_id")
        ballot_id = rows.text(line, row, "ballot_paper_id")
        seats = rows.int(line, row, "seats_contested", minimum=1)
        votes = rows.int(line, row, "votes_cast", required=False)
        try:
            elected = _parse_bool(row.get("elected", ""))
        except ValueError:
            rows.error(line, f"elected {row['elected']!r} is not true or false")
            elected = None
        if not (election_id and ballot_id and seats):
            continue
        emat, bmat = ELECTION_ID.match(election_id), BALLOT_ID.match(ballot_id)
        if not emat:
            rows.error(line, f"election_id {election_id!r} is not of the form local.<council>.<YYYY-MM-DD>")
            continue
        if (
            not bmat
            or bmat["kind"] != emat["kind"]
            or bmat["org"] != emat["org"]
            or bmat["date"] != emat["date"]
        ):
            rows.error(line, f"ballot_paper_id {ballot_id!r} does not belong to election {election_id}")
            continue
        if emat["kind"] == "local" and not bmat["ward"]:
            rows.error(line, f"ballot_paper_id {ballot_id!r} names no ward")
            continue
        if emat["kind"] == "mayor" and bmat["ward"]:
            rows.error(line, f"a mayoral ballot_paper_id is the election id ({election_id})")
            continue
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
            )
        elif ballot.seats != seats:
            rows.error(line, f"seats_contested {seats} differs from {ballot.seats} on line {ballot.line}")
        elif ballot.election_id != election_id:
            rows.error(line, f"election_id differs from line {ballot.line} for the same ballot")
        if not name or not party_id:
            continue
        for other in ballot.candidates:
            same_id = row.get("person_id") and other.person_id == row.get("person_id")
            if same_id or other.person_name == name:
                rows.error(line, f"{name} already stands on {ballot_id} (line {other.line})")
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
    for ballot in ballots.values():
        with_votes = [c for c in ballot.candidates if c.votes is not None]
        if with_votes and len(with_votes) != len(ballot.candidates):
            for c in ballot.candidates:
                if c.votes is None:
                    rows.error(
                        c.line,
                        f"votes_cast is empty but other candidates on {ballot.ballot_paper_id} have votes",
                    )
    rows.check()

    with transaction.atomic():
        parties = _Parties(report)
        parties.resolve((c.line, c.party_id, c.party_name) for b in ballots.values() for c in b.candidates)
        errors: list[RowError] = []
        for ballot_rows in ballots.values():
            try:
                with transaction.atomic():
                    _import_ballot(ballot_rows, parties, report, user)
            except (ValidationError, ValueError) as exc:
                message = _validation_messages(exc) if isinstance(exc, ValidationError) else str(exc)
                errors.append(RowError(ballot_rows.line, f"{ballot_rows.ballot_paper_id}: {message}"))
        if errors:
            transaction.set_rollback(True)
            raise ImportFailed(errors)
    return report


def _import_ballot(rows: _BallotRows, parties: _Parties, report: ImportReport, user) -> None:
    election = _election_for(rows.election_id, report, rows.organisation_name)
    ward = None
    if rows.ward_slug:
        ward, created = Ward.objects.get_or_create(
            council=election.council,
            slug=rows.ward_slug,
            defaults={"name": rows.post_label or _title_from_slug(rows.ward_slug), "seats": rows.seats},
        )
        if created:
            report.count("wards")
    ballot = Ballot.objects.filter(ballot_paper_id=rows.ballot_paper_id).first()
    if ballot is None:
        ballot = Ballot.objects.create(
            ballot_paper_id=rows.ballot_paper_id, election=election, ward=ward, winner_count=rows.seats
        )
        report.count("ballots")
    elif ballot.election_id != election.pk:
        raise ValueError(f"already belongs to {ballot.election}")
    elif ballot.winner_count != rows.seats:
        if ballot.is_published:
            raise ValueError(f"is declared with {ballot.winner_count} seats; the file says {rows.seats}")
        ballot.winner_count = rows.seats
        ballot.save(update_fields=["winner_count"])

    existing = {c.person_id or c.person_name: c for c in ballot.candidacies.select_related("party")}
    by_row: dict[int, Candidacy] = {}
    for row in rows.candidates:
        party = parties.get(row.party_id)
        key = row.person_id or row.person_name
        candidacy = existing.get(key) or existing.get(row.person_name)
        wanted = {
            "person_name": row.person_name,
            "person_id": row.person_id,
            "party": party,
            "description": row.description,
        }
        if candidacy is None:
            if ballot.is_published:
                raise ValueError(
                    f"is declared; {row.person_name} (line {row.line}) is not one of its candidates"
                )
            candidacy = Candidacy.objects.create(ballot=ballot, **wanted)
            report.count("candidacies")
        elif any(getattr(candidacy, k) != v for k, v in wanted.items()):
            if ballot.is_published:
                raise ValueError(
                    f"is declared; the details of {row.person_name} (line {row.line}) differ: correct them in the admin"
                )
            for k, v in wanted.items():
                setattr(candidacy, k, v)
            candidacy.save()
        by_row[row.line] = candidacy

    has_votes = any(r.votes is not None for r in rows.candidates)
    has_elected = any(r.elected is not None for r in rows.candidates)
    if not has_votes and not has_elected:
        return
    votes = {by_row[r.line].pk: r.votes for r in rows.candidates} if has_votes else None
    winners = {by_row[r.line].pk for r in rows.candidates if r.elected} if has_elected else None
    lot: set[int] = set()
    if votes and winners is not None and len(by_row) > ballot.winner_count:
        try:
            rules.decide_winners(votes, ballot.winner_count)
        except rules.TieUnresolved as tie:
            # The source records who won the lot as elected.
            lot = winners & set(tie.tied)
    if not votes and winners is not None and len(by_row) <= ballot.winner_count:
        winners = None  # uncontested: every candidate is elected unopposed

    if ballot.is_published:
        current = {c.pk: c for c in ballot.candidacies.all()}
        same_votes = all(current[pk].votes == (votes or {}).get(pk) for pk in current)
        same_winners = winners is None or {pk for pk, c in current.items() if c.elected} == winners
        if same_votes and same_winners:
            report.unchanged += 1
            return
        services.correct_ballot(
            ballot,
            votes=votes,
            winners=winners,
            lot_winners=lot,
            user=user,
            electorate=ballot.electorate,
            ballot_papers_counted=ballot.ballot_papers_counted,
            rejected_ballots=ballot.rejected_ballots,
            reason="re-imported from CSV",
        )
    else:
        services.declare_ballot(ballot, votes=votes, winners=winners, lot_winners=lot, user=user)
    report.events += 1


# --------------------------------------------------------------------------
# Composition before the poll
# --------------------------------------------------------------------------

COMPOSITION_COLUMNS = ("election_id", "seats_total", "party_id", "seats_before", "seats_not_up")
COMPOSITION_OPTIONAL = ("seats_total_before", "party_name", "cycle", "organisation_name")


def import_composition(source, *, user=None) -> ImportReport:
    """Import each election's seats after the poll and its composition before.

    One row per party: ``seats_before`` held on the eve of the poll, of which
    ``seats_not_up`` are not up this time. ``seats_total`` (and the optional
    ``seats_total_before`` and ``cycle``) must agree on every row of an
    election. Control on the eve of the poll is derived from it.
    """
    rows = _Rows(source, COMPOSITION_COLUMNS, COMPOSITION_OPTIONAL)
    report = ImportReport(rows=len(rows.rows))
    elections: dict[str, dict] = {}
    for line, row in rows.rows:
        election_id = rows.text(line, row, "election_id")
        party_id = rows.text(line, row, "party_id")
        seats_total = rows.int(line, row, "seats_total", minimum=1)
        seats_before = rows.int(line, row, "seats_before")
        not_up = rows.int(line, row, "seats_not_up", required=False) or 0
        total_before = rows.int(line, row, "seats_total_before", required=False, minimum=1)
        cycle = row.get("cycle", "") or None
        if not election_id or seats_total is None or seats_before is None or not party_id:
            continue
        if not ELECTION_ID.match(election_id):
            rows.error(line, f"election_id {election_id!r} is not of the form local.<council>.<YYYY-MM-DD>")
            continue
        if election_id.startswith("mayor."):
            rows.error(line, f"{election_id} is a mayoralty: it has no council composition")
            continue
        if cycle and cycle not in Election.Cycle.values:
            rows.error(line, f"cycle {cycle!r} is not one of {', '.join(Election.Cycle.values)}")
        if not_up > seats_before:
            rows.error(line, f"seats_not_up {not_up} is more than seats_before {seats_before}")
        entry = elections.setdefault(
            election_id,
            {
                "line": line,
                "seats_total": seats_total,
                "total_before": total_before,
                "cycle": cycle,
                "organisation_name": row.get("organisation_name", ""),
                "rows": [],
            },
        )
        if entry["seats_total"] != seats_total:
            rows.error(
                line, f"seats_total {seats_total} differs from {entry['seats_total']} on line {entry['line']}"
            )
        if entry["total_before"] != total_before:
            rows.error(line, f"seats_total_before differs from line {entry['line']}")
        if entry["cycle"] != cycle:
            rows.error(line, f"cycle differs from line {entry['line']}")
        if any(r[1] == party_id for r in entry["rows"]):
            rows.error(line, f"{party_id} appears twice for {election_id}")
        entry["rows"].append((line, party_id, row.get("party_name", ""), seats_before, not_up))
    rows.check()

    with transaction.atomic():
        parties = _Parties(report)
        parties.resolve((r[0], r[1], r[2]) for e in elections.values() for r in e["rows"])
        errors: list[RowError] = []
        for election_id, entry in elections.items():
            try:
                with transaction.atomic():
                    election = _election_for(election_id, report, entry["organisation_name"])
                    resolved = [
                        (parties.get(party_id), held, not_up)
                        for _, party_id, _, held, not_up in entry["rows"]
                    ]
                    current = {
                        (c.party_id, c.seats_held, c.seats_not_up) for c in election.composition_before.all()
                    }
                    wanted = {(p.pk, h, n) for p, h, n in resolved}
                    if (
                        current == wanted
                        and election.seats_total == entry["seats_total"]
                        and election.seats_total_before == entry["total_before"]
                        and (entry["cycle"] is None or election.cycle == entry["cycle"])
                    ):
                        report.unchanged += 1
                        continue
                    services.set_composition(
                        election,
                        seats_total=entry["seats_total"],
                        seats_total_before=entry["total_before"],
                        rows=resolved,
                        cycle=entry["cycle"],
                        user=user,
                    )
                    report.count("compositions")
            except (ValidationError, ValueError) as exc:
                message = _validation_messages(exc) if isinstance(exc, ValidationError) else str(exc)
                errors.append(RowError(entry["line"], f"{election_id}: {message}"))
        if errors:
            transaction.set_rollback(True)
            raise ImportFailed(errors)
    return report


# --------------------------------------------------------------------------
# Previous winners
# --------------------------------------------------------------------------

PREVIOUS_COLUMNS = ("ballot_paper_id", "party_id", "seats")
PREVIOUS_OPTIONAL = ("party_name",)


def import_previous_winners(source, *, user=None) -> ImportReport:
    """Import, per ballot, the party of each seat's previous winner (notional where boundaries changed)."""
    rows = _Rows(source, PREVIOUS_COLUMNS, PREVIOUS_OPTIONAL)
    report = ImportReport(rows=len(rows.rows))
    grouped: dict[str, dict] = {}
    for line, row in rows.rows:
        ballot_id = rows.text(line, row, "ballot_paper_id")
        party_id = rows.text(line, row, "party_id")
        seats = rows.int(line, row, "seats", minimum=1)
        if not ballot_id or not party_id or seats is None:
            continue
        entry = grouped.setdefault(ballot_id, {"line": line, "rows": []})
        if any(r[1] == party_id for r in entry["rows"]):
            rows.error(line, f"{party_id} appears twice for {ballot_id}")
        entry["rows"].append((line, party_id, row.get("party_name", ""), seats))
    known = {
        b.ballot_paper_id: b
        for b in Ballot.objects.filter(ballot_paper_id__in=grouped).prefetch_related("previous_winners")
    }
    for ballot_id, entry in grouped.items():
        if ballot_id not in known:
            rows.error(entry["line"], f"ballot {ballot_id} does not exist: import its candidates first")
    rows.check()

    with transaction.atomic():
        parties = _Parties(report)
        parties.resolve((r[0], r[1], r[2]) for e in grouped.values() for r in e["rows"])
        errors: list[RowError] = []
        for ballot_id, entry in grouped.items():
            ballot = known[ballot_id]
            try:
                with transaction.atomic():
                    resolved = [(parties.get(party_id), seats) for _, party_id, _, seats in entry["rows"]]
                    current = {(p.party_id, p.seats) for p in ballot.previous_winners.all()}
                    if current == {(p.pk, n) for p, n in resolved}:
                        report.unchanged += 1
                        continue
                    services.set_previous_winners(ballot, resolved, user=user)
                    report.count("ballots with previous winners")
            except (ValidationError, ValueError) as exc:
                message = _validation_messages(exc) if isinstance(exc, ValidationError) else str(exc)
                errors.append(RowError(entry["line"], f"{ballot_id}: {message}"))
        if errors:
            transaction.set_rollback(True)
            raise ImportFailed(errors)
    return report
