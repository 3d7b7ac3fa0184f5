"""CSV importers: candidates (Democracy Club's format), composition, previous winners.

Each importer reads the whole file and validates everything first: every
row, and every ballot's result against what is stored (winners, ties, the
candidates of a declared ballot). Any error fails the import with its line
number and reason, and nothing of the file is written. Only then does it
write, through ``results.services``, in chunks: one transaction per election
(per 50 ballots of a larger one), so that a large import never holds up the
rest of the night (each chunk's events are inserted in one statement, the
event-log lock held only for that), and its time grows linearly with the file. Importing the same file
twice changes nothing the second time (no rows, no events).

If someone changes a ballot of the file between the check and the write
(another editor declares it, say) and the file can no longer be applied, the
import stops at that election: the elections written before it stay written
(``ImportFailed.written`` says how many ballots) and importing the file again
is safe.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch

from .. import rehearsal, rules, services
from ..models import Ballot, Candidacy, Council, Election, Party, Ward

ELECTION_ID = re.compile(
    r"^(?P<kind>local|mayor)\.(?P<org>[a-z0-9-]+)\.(?P<date>\d{4}-\d{2}-\d{2})$", re.ASCII
)
BALLOT_ID = re.compile(
    r"^(?P<kind>local|mayor)\.(?P<org>[a-z0-9-]+)(?:\.(?P<ward>[a-z0-9-]+))?\.(?P<date>\d{4}-\d{2}-\d{2})$",
    re.ASCII,
)
JOINT_PARTY = re.compile(r"^joint-party:(?P<lead>\d+)-\d+(?:-\d+)*$", re.ASCII)
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0", ""}


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportFailed(Exception):
    """The file has errors. ``written`` is how many of its ballots (or elections) were
    written before the error: 0, unless the stored data changed while it was being written."""

    def __init__(self, errors: Iterable[RowError], *, written: int = 0):
        self.errors = sorted(errors, key=lambda e: e.line)
        self.written = written
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


def _write_twice(write, report: ImportReport) -> None:
    """Run one chunk's write in its transaction, its events inserted last.

    Two imports of files naming the same new council, election, ward or
    ballot can both find it missing when they check, and both create it:
    the database refuses the second, whose chunk then rolls back whole. Run
    once more, the chunk finds the row the other import created. A second
    refusal is raised (the caller reports it by line).
    """
    for attempt in (1, 2):
        before = copy.deepcopy(report.__dict__)
        try:
            with services.deferred_events() as recorded:
                write()
            report.events += len(recorded)
            return
        except IntegrityError:
            report.__dict__.update(before)  # nothing of the failed attempt was written
            if attempt == 2:
                raise


RACED = (
    "another import or editor created the same {what} at the same moment; nothing of this {what} "
    "was written. Import the file again: what was written stays written, and the rest follows."
)


# Ballots of one election written per transaction: enough that an election's standing is
# derived a few times, not once per ballot (linear time); few enough that an editor of the
# same council never waits long for a chunk to commit.
CHUNK = 50

# The largest whole numbers the database stores: votes (integer) and seats (smallint).
MAX_VOTES = 2**31 - 1
MAX_SEATS = 2**15 - 1
# A whole number as people type it: digits (ASCII only), optionally in groups of three.
WHOLE_NUMBER = re.compile(r"^-?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)$", re.ASCII)
LONE_CR = re.compile(r"\r(?!\n)")


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


class _Rows:
    """Read a CSV, checking the header, remembering each row's line number.

    Refuses, by line, what the database could not store or a reader could
    misread: NUL characters, lines ended by a lone CR, a column named twice,
    values longer than their column (``limits``), and (in ``int``) numbers
    that are not plain ASCII digits, badly grouped, or out of range.
    """

    def __init__(
        self,
        source,
        required: Iterable[str],
        optional: Iterable[str] = (),
        limits: dict[str, int] | None = None,
    ):
        text = source.read() if hasattr(source, "read") else source
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = text[: exc.start].count(b"\n") + 1
                raise ImportFailed([RowError(line, "the file is not UTF-8 text")]) from exc
        text = text.lstrip("\ufeff")
        if "\x00" in text:
            line = text.count("\n", 0, text.index("\x00")) + 1
            raise ImportFailed([RowError(line, "contains a NUL character: the file is not plain CSV text")])
        if cr := LONE_CR.search(text):
            line = text.count("\n", 0, cr.start()) + 1
            raise ImportFailed(
                [
                    RowError(
                        line,
                        "a line ends with a lone carriage return (CR): save the file with LF or CRLF line endings",
                    )
                ]
            )
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            header = [h.strip() for h in (reader.fieldnames or [])]
        except csv.Error as exc:
            raise ImportFailed([RowError(1, f"not valid CSV: {exc}")]) from exc
        twice = sorted({h for h in header if h and header.count(h) > 1})
        if twice:
            raise ImportFailed([RowError(1, f"column(s) named twice: {', '.join(twice)}")])
        missing = [c for c in required if c not in header]
        if missing:
            raise ImportFailed([RowError(1, f"missing column(s): {', '.join(missing)}")])
        reader.fieldnames = header
        limits = limits or {}
        self.rows: list[tuple[int, dict[str, str]]] = []
        self.errors: list[RowError] = []
        try:
            for row in reader:
                if None in row:
                    raise ImportFailed([RowError(reader.line_num, "more values than columns")])
                cleaned = {k: (v or "").strip() for k, v in row.items()}
                if not any(cleaned.values()):
                    continue
                for column, limit in limits.items():
                    if len(cleaned.get(column, "")) > limit:
                        self.error(
                            reader.line_num,
                            f"{column} is {len(cleaned[column])} characters long: at most {limit}",
                        )
                self.rows.append((reader.line_num, cleaned))
        except csv.Error as exc:
            raise ImportFailed([RowError(reader.line_num, f"not valid CSV: {exc}")]) from exc

    def error(self, line: int, message: str) -> None:
        self.errors.append(RowError(line, message))

    def int(
        self,
        line: int,
        row: dict,
        column: str,
        *,
        required: bool = True,
        minimum: int = 0,
        maximum: int = MAX_SEATS,
    ):
        value = row.get(column, "")
        if value == "":
            if required:
                self.error(line, f"{column} is empty")
            return None
        if not WHOLE_NUMBER.match(value):
            self.error(line, f"{column} {value!r} is not a whole number")
            return None
        number = int(value.replace(",", ""))
        if number < minimum:
            self.error(line, f"{column} {number} must be at least {minimum}")
            return None
        if number > maximum:
            self.error(line, f"{column} {number:,} is more than the largest allowed, {maximum:,}")
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
    """Find or create parties by EC id; a joint description gets its lead party.

    ``resolve`` checks every party of a file without writing; ``create``
    then creates the new ones.
    """

    def __init__(self, report: ImportReport):
        self.report = report
        self.cache = {p.ec_id: p for p in Party.objects.select_related("lead_party")}
        self.to_create: dict[str, str] = {}

    def resolve(self, rows: Iterable[tuple[int, str, str]]) -> None:
        """Check that every party of the file is known or can be created; any other fails the import.

        Joint descriptions come after the parties they may lead.
        """
        errors = []
        for line, ec_id, name in sorted(rows, key=lambda r: bool(JOINT_PARTY.match(r[1]))):
            if ec_id in self.cache or ec_id in self.to_create:
                continue
            if not name:
                errors.append(
                    RowError(line, f"unknown party {ec_id}: give its party_name so it can be created")
                )
                continue
            joint = JOINT_PARTY.match(ec_id)
            if joint:
                lead_id = f"PP{joint['lead']}"
                if lead_id not in self.cache and lead_id not in self.to_create:
                    errors.append(
                        RowError(line, f"joint description {ec_id}: its lead party {lead_id} is unknown")
                    )
                    continue
            self.to_create[ec_id] = name
        if errors:
            raise ImportFailed(errors)

    def create(self, user=None) -> None:
        """Create the parties ``resolve`` found new (lead parties before joint descriptions),
        through ``services.save_party``: each with its ``reference`` event."""
        for ec_id, name in self.to_create.items():
            lead = None
            joint = JOINT_PARTY.match(ec_id)
            if joint:
                lead = self.cache[f"PP{joint['lead']}"]
            self.cache[ec_id] = services.save_party(
                None,
                ec_id=ec_id,
                values={
                    "name": name,
                    "short_name": lead.short_name if lead else name,
                    "colour": lead.colour if lead else "",
                    "lead_party": lead,
                    "is_independent": ec_id == "ynmp-party:2",
                },
                user=user,
            )
            self.report.count("parties")
            self.report.events += 1
        self.to_create = {}

    def get(self, ec_id: str) -> Party:
        return self.cache[ec_id]


def _election_for(election_id: str, report: ImportReport, council_name: str = "", user=None) -> Election:
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
    council = Council.objects.filter(slug=match["org"]).first()
    if council is None:
        council = services.save_council(
            None,
            slug=match["org"],
            values={"name": council_name or _title_from_slug(match["org"])},
            user=user,
        )
        report.count("councils")
    report.count("elections")
    return services.create_election(
        election_id, kind=match["kind"], council=council, poll_date=poll_date, user=user
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
    rows = _Rows(
        source,
        CANDIDATE_COLUMNS,
        CANDIDATE_OPTIONAL,
        limits={
            "person_name": _max_length(Candidacy, "person_name"),
            "person_id": _max_length(Candidacy, "person_id"),
            "party_id": _max_length(Party, "ec_id"),
            "party_name": _max_length(Party, "name"),
            "party_description_text": _max_length(Candidacy, "description"),
            "election_id": _max_length(Election, "election_id"),
            "ballot_paper_id": _max_length(Ballot, "ballot_paper_id"),
            "post_label": _max_length(Ward, "name"),
            "organisation_name": _max_length(Council, "name"),
        },
    )
    report = ImportReport(rows=len(rows.rows))
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
        if problem := _election_id_problem(election_id):
            rows.error(line, problem)
            continue
        if bmat["ward"] and len(bmat["ward"]) > _max_length(Ward, "slug"):
            rows.error(
                line, f"the ward of {ballot_id!r} is longer than {_max_length(Ward, 'slug')} characters"
            )
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
                counts=counts,
                declared_at=declared_at,
            )
        elif ballot.counts != counts or ballot.declared_at != declared_at:
            rows.error(line, f"the count or declared_at differs from line {ballot.line} for the same ballot")
        elif ballot.seats != seats:
            rows.error(line, f"seats_contested {seats} differs from {ballot.seats} on line {ballot.line}")
        elif ballot.election_id != election_id:
            rows.error(line, f"election_id differs from line {ballot.line} for the same ballot")
        if not name or not party_id:
            continue
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

    # Check everything before writing anything.
    parties = _Parties(report)
    parties.resolve((c.line, c.party_id, c.party_name) for b in ballots.values() for c in b.candidates)
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

    # Then write, one election per transaction.
    try:
        with transaction.atomic():
            parties.create(user)
    except IntegrityError:
        raise ImportFailed([RowError(1, RACED.format(what="party"))]) from None
    by_election: dict[str, list[_BallotRows]] = defaultdict(list)
    for ballot_rows in ballots.values():
        by_election[ballot_rows.election_id].append(ballot_rows)
    written = 0
    for election_id, group in by_election.items():
        for start in range(0, len(group), CHUNK):
            chunk = group[start : start + CHUNK]
            try:
                _write_twice(lambda chunk=chunk: _write_election(chunk, parties, report, user), report)
            except _ChunkFailed as failed:
                raise ImportFailed([failed.error], written=written) from None
            except IntegrityError:
                error = RowError(chunk[0].line, f"{election_id}: {RACED.format(what='election')}")
                raise ImportFailed([error], written=written) from None
            written += len(chunk)
            if progress:
                progress(f"{election_id}: {len(chunk)} ballot(s) written, {written} of {len(ballots)}")
    return report


class _ChunkFailed(Exception):
    def __init__(self, error: RowError):
        self.error = error


def _ballot_error(rows: _BallotRows, exc: Exception) -> RowError:
    message = _validation_messages(exc) if isinstance(exc, ValidationError) else str(exc)
    return RowError(rows.line, f"{rows.ballot_paper_id}: {message}")


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


def _check_ballot(rows: _BallotRows, ballot: Ballot | None) -> None:
    """Everything ``_write_ballot`` would refuse, checked against the stored ballot without writing."""
    published = ballot is not None and ballot.is_published
    if ballot is not None:
        if ballot.election.election_id != rows.election_id:
            raise ValueError(f"already belongs to {ballot.election}")
        if ballot.winner_count != rows.seats and published:
            raise ValueError(f"is declared with {ballot.winner_count} seats; the file says {rows.seats}")
    stored = list(ballot.candidacies.all()) if ballot is not None else []
    matched = _match(rows, stored)
    names: dict[object, str] = {}
    key: dict[int, object] = {}
    for row in rows.candidates:
        candidacy = matched[row.line]
        if published and candidacy is None:
            raise ValueError(f"is declared; {row.person_name} (line {row.line}) is not one of its candidates")
        if published and (
            candidacy.person_name,
            candidacy.person_id,
            candidacy.party.ec_id,
            candidacy.description,
        ) != (row.person_name, row.person_id, row.party_id, row.description):
            raise ValueError(
                f"is declared; the details of {row.person_name} (line {row.line}) differ: correct them in the admin"
            )
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


def _write_election(group: list[_BallotRows], parties: _Parties, report: ImportReport, user) -> None:
    """Write one election's ballots of the file and publish their results, in the current transaction."""
    ids = [rows.ballot_paper_id for rows in group]
    # The lock order (results.services): the ballot rows first, ascending ids.
    locked = services.lock_ballots(
        Ballot.objects.filter(ballot_paper_id__in=ids).values_list("pk", flat=True)
    )
    by_id = {b.ballot_paper_id: b for b in locked.values()}
    first = group[0]
    try:
        election = _election_for(first.election_id, report, first.organisation_name, user)
    except ValueError as exc:
        raise _ChunkFailed(_ballot_error(first, exc)) from exc
    entries: list[services.ResultEntry] = []
    for rows in group:
        try:
            entry = _write_ballot(rows, by_id.get(rows.ballot_paper_id), election, parties, report, user)
        except (ValidationError, ValueError) as exc:
            raise _ChunkFailed(_ballot_error(rows, exc)) from exc
        if entry is not None:
            entries.append(entry)
    try:
        services.publish_results(entries, user=user)
    except ValidationError as exc:
        raise _ChunkFailed(RowError(first.line, f"{first.election_id}: {_validation_messages(exc)}")) from exc


def _write_ballot(
    rows: _BallotRows,
    ballot: Ballot | None,
    election: Election,
    parties: _Parties,
    report: ImportReport,
    user,
) -> services.ResultEntry | None:
    """Create or update one ballot and its candidacies through the services; return the result to publish, if any."""
    ward = None
    if rows.ward_slug:
        ward = Ward.objects.filter(council=election.council, slug=rows.ward_slug).first()
        if ward is None:
            ward = services.save_ward(
                None,
                council=election.council,
                slug=rows.ward_slug,
                values={"name": rows.post_label or _title_from_slug(rows.ward_slug), "seats": rows.seats},
                user=user,
            )
            report.count("wards")

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
        matched = _match(rows, ballot.candidacies.select_related("party"))
        by_row = {line: c for line, c in matched.items()}
    else:
        if ballot.election_id != election.pk:
            raise ValueError(f"already belongs to {ballot.election}")
        if ballot.winner_count != rows.seats and ballot.is_published:
            raise ValueError(f"is declared with {ballot.winner_count} seats; the file says {rows.seats}")
        stored = list(ballot.candidacies.select_related("party"))
        matched = _match(rows, stored)
        changes: dict[int, services.Nominee] = {}
        new: list[tuple[int, services.Nominee]] = []
        for row in rows.candidates:
            candidacy = matched[row.line]
            wanted = nominee(row)
            if candidacy is None:
                if ballot.is_published:
                    raise ValueError(
                        f"is declared; {row.person_name} (line {row.line}) is not one of its candidates"
                    )
                new.append((row.line, wanted))
            elif (candidacy.person_name, candidacy.person_id, candidacy.party_id, candidacy.description) != (
                wanted.person_name,
                wanted.person_id,
                wanted.party.pk,
                wanted.description,
            ):
                if ballot.is_published:
                    raise ValueError(
                        f"is declared; the details of {row.person_name} (line {row.line}) differ: correct them in the admin"
                    )
                changes[candidacy.pk] = wanted
        by_row = {line: c for line, c in matched.items() if c is not None}
        if new or changes or ballot.winner_count != rows.seats:
            ballot, created = services.import_nominations(
                ballot, seats=rows.seats, changes=changes, new=[n for _, n in new], user=user
            )
            by_row.update({line: c for (line, _), c in zip(new, created, strict=True)})
            report.count("candidacies", len(created))

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


# --------------------------------------------------------------------------
# Composition before the poll
# --------------------------------------------------------------------------

COMPOSITION_COLUMNS = ("election_id", "seats_total", "party_id", "seats_before", "seats_not_up")
COMPOSITION_OPTIONAL = ("seats_total_before", "party_name", "cycle", "organisation_name")


def import_composition(source, *, user=None, progress=None) -> ImportReport:
    """Import each election's seats after the poll and its composition before.

    One row per party: ``seats_before`` held on the eve of the poll, of which
    ``seats_not_up`` are not up this time. ``seats_total`` (and the optional
    ``seats_total_before`` and ``cycle``) must agree on every row of an
    election. Control on the eve of the poll is derived from it.
    """
    rows = _Rows(
        source,
        COMPOSITION_COLUMNS,
        COMPOSITION_OPTIONAL,
        limits={
            "election_id": _max_length(Election, "election_id"),
            "party_id": _max_length(Party, "ec_id"),
            "party_name": _max_length(Party, "name"),
            "organisation_name": _max_length(Council, "name"),
        },
    )
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
    for election_id, entry in elections.items():
        if problem := _election_id_problem(election_id):
            rows.error(entry["line"], problem)
        not_up_total = sum(r[4] for r in entry["rows"])
        if not_up_total > entry["seats_total"]:
            rows.error(
                entry["line"],
                f"{election_id}: {not_up_total} seats not up is more than the {entry['seats_total']} seats "
                "on the council.",
            )
        held_total = sum(r[3] for r in entry["rows"])
        if entry["total_before"] is not None and held_total > entry["total_before"]:
            rows.error(
                entry["line"],
                f"{election_id}: parties held {held_total} seats, more than the council's "
                f"{entry['total_before']} (seats_total_before)",
            )
    rows.check()
    parties = _Parties(report)
    parties.resolve((r[0], r[1], r[2]) for e in elections.values() for r in e["rows"])

    # Everything is checked: write, one election per transaction.
    try:
        with transaction.atomic():
            parties.create(user)
    except IntegrityError:
        raise ImportFailed([RowError(1, RACED.format(what="party"))]) from None
    for written, (election_id, entry) in enumerate(elections.items()):

        def write(election_id=election_id, entry=entry) -> None:
            election = _election_for(election_id, report, entry["organisation_name"], user)
            resolved = [
                (parties.get(party_id), held, not_up) for _, party_id, _, held, not_up in entry["rows"]
            ]
            current = {(c.party_id, c.seats_held, c.seats_not_up) for c in election.composition_before.all()}
            wanted = {(p.pk, h, n) for p, h, n in resolved}
            if (
                current == wanted
                and election.seats_total == entry["seats_total"]
                and election.seats_total_before == entry["total_before"]
                and (entry["cycle"] is None or election.cycle == entry["cycle"])
            ):
                report.unchanged += 1
            else:
                services.set_composition(
                    election,
                    seats_total=entry["seats_total"],
                    seats_total_before=entry["total_before"],
                    rows=resolved,
                    cycle=entry["cycle"],
                    user=user,
                )
                report.count("compositions")

        try:
            _write_twice(write, report)
        except IntegrityError:
            raise ImportFailed(
                [RowError(entry["line"], f"{election_id}: {RACED.format(what='election')}")], written=written
            ) from None
        except (ValidationError, ValueError) as exc:
            message = _validation_messages(exc) if isinstance(exc, ValidationError) else str(exc)
            raise ImportFailed(
                [RowError(entry["line"], f"{election_id}: {message}")], written=written
            ) from None
        if progress:
            progress(f"{election_id}: written, {written + 1} of {len(elections)} elections")
    return report


def _election_id_problem(election_id: str) -> str | None:
    """What is wrong with a well-formed election id that the database would refuse, if anything."""
    match = ELECTION_ID.match(election_id)
    try:
        dt.date.fromisoformat(match["date"])
    except ValueError:
        return f"election_id {election_id!r} has an impossible date"
    if len(match["org"]) > _max_length(Council, "slug"):
        return f"the council of {election_id!r} is longer than {_max_length(Council, 'slug')} characters"
    return None


# --------------------------------------------------------------------------
# Previous winners
# --------------------------------------------------------------------------

PREVIOUS_COLUMNS = ("ballot_paper_id", "party_id", "seats")
PREVIOUS_OPTIONAL = ("party_name",)


def import_previous_winners(source, *, user=None, progress=None) -> ImportReport:
    """Import, per ballot, the party of each seat's previous winner (notional where boundaries changed)."""
    rows = _Rows(
        source,
        PREVIOUS_COLUMNS,
        PREVIOUS_OPTIONAL,
        limits={
            "ballot_paper_id": _max_length(Ballot, "ballot_paper_id"),
            "party_id": _max_length(Party, "ec_id"),
            "party_name": _max_length(Party, "name"),
        },
    )
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
        for b in Ballot.objects.filter(ballot_paper_id__in=list(grouped)).prefetch_related("previous_winners")
    }
    for ballot_id, entry in grouped.items():
        ballot = known.get(ballot_id)
        if ballot is None:
            rows.error(entry["line"], f"ballot {ballot_id} does not exist: import its candidates first")
            continue
        seats = sum(r[3] for r in entry["rows"])
        if seats > ballot.winner_count:
            rows.error(
                entry["line"],
                f"{ballot_id}: {seats} previous winners for a ballot of {ballot.winner_count} seats.",
            )
    rows.check()
    parties = _Parties(report)
    parties.resolve((r[0], r[1], r[2]) for e in grouped.values() for r in e["rows"])

    # Everything is checked: write, one ballot per transaction.
    with transaction.atomic():
        parties.create(user)
    for written, (ballot_id, entry) in enumerate(grouped.items()):
        ballot = known[ballot_id]
        resolved = [(parties.get(party_id), seats) for _, party_id, _, seats in entry["rows"]]
        current = {(p.party_id, p.seats) for p in ballot.previous_winners.all()}
        if current == {(p.pk, n) for p, n in resolved}:
            report.unchanged += 1
        else:
            try:
                services.set_previous_winners(ballot, resolved, user=user)
                report.events += 1
            except (ValidationError, ValueError) as exc:
                message = _validation_messages(exc) if isinstance(exc, ValidationError) else str(exc)
                raise ImportFailed(
                    [RowError(entry["line"], f"{ballot_id}: {message}")], written=written
                ) from None
            report.count("ballots with previous winners")
        if progress and ((written + 1) % 100 == 0 or written + 1 == len(grouped)):
            progress(f"{written + 1} of {len(grouped)} ballots written")
    return report
