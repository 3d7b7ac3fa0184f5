"""The composition CSV: each council's seats, and its composition on the eve of the poll."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from .. import services
from ..errors import ErrorCode, text
from ..models import Council, Election, Party
from .csvfile import (
    ELECTION_ID,
    ImportReport,
    Parties,
    Rows,
    Step,
    election_for,
    election_id_problem,
    max_length,
    write_steps,
)

COMPOSITION_COLUMNS = ("election_id", "seats_total", "party_id", "seats_before", "seats_not_up")
COMPOSITION_OPTIONAL = ("seats_total_before", "party_name", "cycle", "organisation_name")


def import_composition(source, *, user=None, progress=None) -> ImportReport:
    """Import each election's seats after the poll and its composition before.

    One row per party: ``seats_before`` held on the eve of the poll, of which
    ``seats_not_up`` are not up this time. ``seats_total`` (and the optional
    ``seats_total_before`` and ``cycle``) must agree on every row of an
    election. Control on the eve of the poll is derived from it.
    """
    rows = Rows(
        source,
        COMPOSITION_COLUMNS,
        COMPOSITION_OPTIONAL,
        limits={
            "election_id": max_length(Election, "election_id"),
            "party_id": max_length(Party, "ec_id"),
            "party_name": max_length(Party, "name"),
            "organisation_name": max_length(Council, "name"),
        },
    )
    report = ImportReport(rows=len(rows.rows))
    elections = _read(rows)
    _check_elections(rows, elections)
    rows.check()
    parties = Parties(report)
    parties.resolve((r[0], r[1], r[2]) for e in elections.values() for r in e["rows"])

    # Everything is checked: write, one election per transaction.
    parties.create(user)

    def done(step: Step, written: int) -> None:
        if progress:
            progress(f"{step.label}: written, {written} of {len(elections)} elections")

    steps = [
        Step(entry["line"], election_id, lambda i=election_id, e=entry: _write(i, e, parties, report, user))
        for election_id, entry in elections.items()
    ]
    write_steps(steps, report, done=done)
    return report


def _read(rows: Rows) -> dict[str, dict]:
    """The file's rows by election, each row checked (errors collected in ``rows``)."""
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
        entry["rows"].append((line, party_id, row.get("party_name", ""), seats_before, not_up))
    return elections


def _check_elections(rows: Rows, elections: dict[str, dict]) -> None:
    """Each election's rows and totals, by the rule of ``services.set_composition``
    (``services.composition_refusals``), each refusal reported on its row's line (the totals' and
    the cycle's on the election's first line)."""
    for election_id, entry in elections.items():
        checked = [services.CompositionRow(p, p, held, not_up) for _, p, _, held, not_up in entry["rows"]]
        for refused in services.composition_refusals(
            checked,
            seats_total=entry["seats_total"],
            seats_total_before=entry["total_before"],
            cycle=entry["cycle"],
        ):
            line = entry["line"] if refused.row is None else entry["rows"][refused.row][0]
            rows.error(line, _refusal_text(election_id, refused.error), refused.error.code)
        if problem := election_id_problem(election_id):
            rows.error(entry["line"], problem)


def _refusal_text(election_id: str, error: ValidationError) -> str:
    """A refusal in the file's words: its columns named as the header names them."""
    p = error.params
    match error.code:
        case ErrorCode.PARTY_TWICE:
            return f"{p['party']} appears twice for {election_id}"
        case ErrorCode.NOT_UP_ABOVE_HELD:
            return f"seats_not_up {p['not_up']} is more than seats_before {p['held']}"
        case ErrorCode.HELD_ABOVE_SEATS:
            return (
                f"{election_id}: parties held {p['held']} seats, more than the council's "
                f"{p['seats_total_before']} (seats_total_before)"
            )
        case ErrorCode.UNKNOWN_CYCLE:
            return f"cycle {p['cycle']!r} is not one of {', '.join(Election.Cycle.values)}"
    return f"{election_id}: {text(error)}"


def _write(election_id: str, entry: dict, parties: Parties, report: ImportReport, user) -> None:
    """Set one election's composition from its rows of the file, unless it is already so."""
    election = election_for(election_id, report, entry["organisation_name"], user)
    resolved = [(parties.get(party_id), held, not_up) for _, party_id, _, held, not_up in entry["rows"]]
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
