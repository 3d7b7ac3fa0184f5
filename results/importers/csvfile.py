"""What every importer shares: reading a CSV file by line, the errors and report, the parties
and elections a file names, and the writing of a checked file, one transaction at a time.

Each importer reads the whole file and validates everything first: every
row, and every ballot's result against what is stored (winners, ties, the
candidates of a declared ballot). Any error fails the import with its line
number and reason (and, for a refusal of ``results.services``, its code from
``results.errors``), and nothing of the file is written. Only then does it
write, through ``results.services``, in steps: one transaction per election
(per 50 ballots of a larger one; per ballot for previous winners), so that a
large import never holds up the rest of the night (each step's events are
inserted in one statement, the event-log lock held only for that), and its
time grows linearly with the file. Importing the same file twice changes
nothing the second time (no rows, no events).

If someone changes what a step writes between the check and the write
(another editor declares a ballot, say) and the file can no longer be
applied, the import stops at that step: the steps written before it stay
written (``ImportFailed.written`` says how many ballots or elections) and
importing the file again is safe.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .. import services
from ..errors import refusals_of
from ..models import Council, Election, Party

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
    """One error of a file: its line, its text, and, for a refusal of the services, its
    code (``results.errors.ErrorCode``; ``None`` for the importer's own checks)."""

    line: int
    message: str
    code: str | None = None

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


def write_twice(write, report: ImportReport) -> None:
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


@dataclass
class Step:
    """One transaction of a checked file's writing: ``write`` it, or fail naming ``line`` and
    ``label`` (the election or ballot it writes). ``size``: the ballots or elections it writes."""

    line: int
    label: str
    write: Callable[[], None]
    size: int = 1
    what: str = "election"  # what two imports could both create in it


class StepFailed(Exception):
    """A step refused, with the error to report (a ballot's line rather than the step's)."""

    def __init__(self, error: RowError):
        self.error = error


def write_steps(
    steps: Sequence[Step],
    report: ImportReport,
    *,
    run: Callable = write_twice,
    done: Callable[[Step, int], None] | None = None,
) -> None:
    """Write a checked file step by step, in order, each by ``run`` (``write_twice``: in its
    transaction, events last, once more after a race). Stops at the first step refused:
    ``ImportFailed`` with its line, and how many ballots or elections were written before it.
    ``done(step, written)`` is called after each step written."""
    written = 0
    for step in steps:
        try:
            run(step.write, report)
        except StepFailed as failed:
            raise ImportFailed([failed.error], written=written) from None
        except IntegrityError:
            error = RowError(step.line, f"{step.label}: {RACED.format(what=step.what)}")
            raise ImportFailed([error], written=written) from None
        except (ValidationError, ValueError) as exc:
            raise ImportFailed([row_error(step.line, step.label, exc)], written=written) from None
        written += step.size
        if done is not None:
            done(step, written)


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


def max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


class Rows:
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

    def error(self, line: int, message: str, code: str | None = None) -> None:
        self.errors.append(RowError(line, message, code))

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


def refusal_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{'; '.join(msgs)}" for msgs in exc.message_dict.values())
    return "; ".join(exc.messages)


def row_error(line: int, label: str, exc: ValidationError | ValueError) -> RowError:
    """A refusal (of the services, with its first code; or the importer's own ``ValueError``)
    as the error of ``line``, its text after ``label`` (the ballot or election it concerns)."""
    if isinstance(exc, ValidationError):
        code = next((error.code for _, error in refusals_of(exc) if error.code), None)
        return RowError(line, f"{label}: {refusal_text(exc)}", code)
    return RowError(line, f"{label}: {exc}")


def parse_bool(value: str) -> bool | None:
    v = value.strip().lower()
    if v in TRUE_WORDS:
        return True
    if v in FALSE_WORDS:
        return False if v else None
    raise ValueError(value)


def title_from_slug(slug: str) -> str:
    small = {"and", "of", "upon", "on", "the", "le", "in"}
    words = slug.split("-")
    return " ".join(w if (i and w in small) else w.capitalize() for i, w in enumerate(words))


# --------------------------------------------------------------------------
# Shared lookups
# --------------------------------------------------------------------------


class Parties:
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
        through ``services.save_party``: each with its ``reference`` event, all in one transaction
        (a party another import created at the same moment fails the import, nothing written)."""
        try:
            with transaction.atomic():
                self._create(user)
        except IntegrityError:
            raise ImportFailed([RowError(1, RACED.format(what="party"))]) from None

    def _create(self, user) -> None:
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


def election_for(election_id: str, report: ImportReport, council_name: str = "", user=None) -> Election:
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
            values={"name": council_name or title_from_slug(match["org"])},
            user=user,
        )
        report.count("councils")
    report.count("elections")
    return services.create_election(
        election_id, kind=match["kind"], council=council, poll_date=poll_date, user=user
    )


def election_id_problem(election_id: str) -> str | None:
    """What is wrong with a well-formed election id that the database would refuse, if anything."""
    match = ELECTION_ID.match(election_id)
    try:
        dt.date.fromisoformat(match["date"])
    except ValueError:
        return f"election_id {election_id!r} has an impossible date"
    if len(match["org"]) > max_length(Council, "slug"):
        return f"the council of {election_id!r} is longer than {max_length(Council, 'slug')} characters"
    return None
