"""The previous winners' CSV: per ballot, the party of each seat's previous winner."""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import ValidationError

from .. import services
from ..errors import text
from ..models import Ballot, Party
from .csvfile import CHUNK, ImportReport, Parties, Rows, Step, StepFailed, max_length, row_error, write_steps

PREVIOUS_COLUMNS = ("ballot_paper_id", "party_id", "seats")
PREVIOUS_OPTIONAL = ("party_name",)


def import_previous_winners(source, *, user=None, progress=None) -> ImportReport:
    """Import, per ballot, the party of each seat's previous winner (notional where boundaries changed)."""
    rows = Rows(
        source,
        PREVIOUS_COLUMNS,
        PREVIOUS_OPTIONAL,
        limits={
            "ballot_paper_id": max_length(Ballot, "ballot_paper_id"),
            "party_id": max_length(Party, "ec_id"),
            "party_name": max_length(Party, "name"),
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
        if refused := services.previous_winners_refusal(seats, ballot.winner_count):
            rows.error(entry["line"], f"{ballot_id}: {text(refused)}", refused.code)
    rows.check()
    parties = Parties(report)
    parties.resolve((r[0], r[1], r[2]) for e in grouped.values() for r in e["rows"])

    # Everything is checked: write, one election per transaction (per CHUNK ballots of a
    # larger one), the events inserted last, so each election's standing is derived once per
    # chunk rather than once per ballot.
    parties.create(user)

    def write(ballot_id: str, entry: dict) -> None:
        ballot = known[ballot_id]
        resolved = [(parties.get(party_id), seats) for _, party_id, _, seats in entry["rows"]]
        current = {(p.party_id, p.seats) for p in ballot.previous_winners.all()}
        if current == {(p.pk, n) for p, n in resolved}:
            report.unchanged += 1
        else:
            services.set_previous_winners(ballot, resolved, user=user)
            report.count("ballots with previous winners")

    def write_chunk(chunk: list[str]) -> None:
        for ballot_id in chunk:
            try:
                write(ballot_id, grouped[ballot_id])
            except (ValidationError, ValueError) as exc:  # the chunk rolls back whole
                raise StepFailed(row_error(grouped[ballot_id]["line"], ballot_id, exc)) from None

    def done(step: Step, written: int) -> None:
        if progress and (written // 100 > (written - step.size) // 100 or written == len(grouped)):
            progress(f"{written} of {len(grouped)} ballots written")

    by_election: dict[int, list[str]] = defaultdict(list)
    for ballot_id in grouped:
        by_election[known[ballot_id].election_id].append(ballot_id)
    steps = [
        Step(
            grouped[chunk[0]]["line"],
            chunk[0],
            lambda chunk=chunk: write_chunk(chunk),
            size=len(chunk),
            what="ballot",
        )
        for group in by_election.values()
        for chunk in (group[start : start + CHUNK] for start in range(0, len(group), CHUNK))
    ]
    write_steps(steps, report, done=done)
    return report
