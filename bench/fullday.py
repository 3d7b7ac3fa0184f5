"""A full English polling day as Democracy Club CSVs, from the shared council sizes.

    python bench/fullday.py --councils 230 --out /tmp/day      # writes composition.csv, candidates.csv

Councils are the 2023 rows of ``../shared/data/council-compositions-2022-2023.csv``
(their size and seats by party before the poll), in file order. Six councils in
thirteen elect by thirds (single-member wards for a third of its seats, the
rest not up), the others all out (wards of three seats, and two where the size needs them). Each ballot
has four or five more candidates than seats (Labour, Conservative, Lib Dem, Green and
Independent in turn), votes drawn from a seeded generator, and is declared
(``--declared`` sets the share). With 230 councils that is about 8,100 seats,
3,730 ballots and 25,700 candidacies, as on 4 May 2023.

``import_day(directory)`` imports the files through ``results.importers``, as
the data desk would: the composition, then the candidates with their votes.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path

POLL_DATE = "2023-05-04"
DATA = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "council-compositions-2022-2023.csv"
)
if not DATA.exists():  # a worktree sits one level deeper than a clone
    DATA = Path("/work/shared/data/council-compositions-2022-2023.csv")

# The file's party columns, and the party each counts as here.
COLUMNS = {"con": "PP52", "lab": "PP53", "ld": "PP90", "green": "PP63", "other": "ynmp-party:2"}
NAMES = {
    "PP52": "Conservative and Unionist Party",
    "PP53": "Labour Party",
    "PP90": "Liberal Democrats",
    "PP63": "Green Party",
    "ynmp-party:2": "Independent",
}
STANDING = ["PP53", "PP52", "PP90", "PP63", "ynmp-party:2"]
# Six councils in thirteen elect by thirds: the share that gives the seats and ballots of 4 May 2023.
THIRDS = {1, 3, 5, 7, 9, 11}


@dataclass
class Council:
    slug: str
    name: str
    total: int
    held: dict[str, int]


def councils(count: int) -> list[Council]:
    result = []
    with DATA.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["year"] != "2023" or not row["total"] or int(row["total"]) < 15:
                continue
            held = {p: int(row[c] or 0) for c, p in COLUMNS.items()}
            held["ynmp-party:2"] += sum(int(row[c] or 0) for c in ("ukip", "ref", "pc", "snp"))
            total = int(row["total"])
            if sum(held.values()) > total:
                continue
            slug = re.sub(r"[^a-z0-9]+", "-", row["authority"].lower()).strip("-")
            result.append(Council(slug=slug, name=row["authority"], total=total, held=held))
            if len(result) == count:
                break
    if len(result) < count:
        raise SystemExit(f"only {len(result)} councils in {DATA}")
    return result


def wards_of(council: Council, thirds: bool) -> list[int]:
    """Seats of each ward up at this election."""
    if thirds:
        return [1] * max(1, council.total // 3)
    seats, wards = council.total, []
    while seats > 0:
        size = 2 if seats in (2, 4) else min(3, seats)
        wards.append(size)
        seats -= size
    return wards


def write_day(out: Path, count: int, declared: float = 1.0, seed: int = 2023) -> dict:
    """Write composition.csv and candidates.csv for ``count`` councils; return the totals."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    totals = {"councils": 0, "seats": 0, "ballots": 0, "candidacies": 0}
    with (
        (out / "composition.csv").open("w", newline="") as comp_fh,
        (out / "candidates.csv").open("w", newline="") as cand_fh,
    ):
        comp = csv.writer(comp_fh)
        comp.writerow(
            [
                "election_id",
                "organisation_name",
                "seats_total",
                "cycle",
                "party_id",
                "seats_before",
                "seats_not_up",
            ]
        )
        cand = csv.writer(cand_fh)
        cand.writerow(
            [
                "person_id", "person_name", "party_id", "party_name", "election_id", "ballot_paper_id",
                "post_label", "seats_contested", "votes_cast", "organisation_name", "electorate",
                "ballot_papers_counted", "rejected_ballots",
            ]
        )  # fmt: skip
        for index, council in enumerate(councils(count)):
            thirds = index % 13 in THIRDS
            wards = wards_of(council, thirds)
            up = sum(wards)
            election_id = f"local.{council.slug}.{POLL_DATE}"
            # Seats not up (thirds): taken from each party in proportion to what it holds.
            not_up_left = council.total - up
            held_total = sum(council.held.values()) or 1
            not_up = {}
            for party, held in sorted(council.held.items(), key=lambda kv: -kv[1]):
                share = min(held, round(held * (council.total - up) / held_total), not_up_left)
                not_up[party] = share
                not_up_left -= share
            for party, held in council.held.items():
                if held or not_up[party]:
                    comp.writerow(
                        [election_id, council.name, council.total, "thirds" if thirds else "all_out", party,
                         held, not_up[party]]
                    )  # fmt: skip
            totals["councils"] += 1
            for w, seats in enumerate(wards):
                ballot_id = f"local.{council.slug}.ward-{w:03d}.{POLL_DATE}"
                standing = [STANDING[(w + i) % len(STANDING)] for i in range(seats + 4 + (seats == 1))]
                is_declared = rng.random() < declared
                electorate = rng.randint(3_000, 9_000) * seats
                votes = [rng.randint(100, 2_500) for _ in standing]
                if len(set(votes)) != len(votes):  # no ties at the cut-off: no lots to draw
                    votes = [v * 10 + i for i, v in enumerate(votes)]
                papers = max(sum(votes) // seats, max(votes)) + 50  # valid papers cover every vote
                electorate = max(electorate, 2 * papers)
                totals["ballots"] += 1
                totals["seats"] += seats
                for i, party in enumerate(standing):
                    totals["candidacies"] += 1
                    cand.writerow(
                        [
                            f"c{index}-{w}-{i}", f"Candidate {i} Ward{w} {council.slug.title()}", party,
                            NAMES[party], election_id, ballot_id, f"Ward {w:03d}", seats,
                            votes[i] if is_declared else "", council.name,
                            electorate if is_declared else "", papers if is_declared else "",
                            10 if is_declared else "",
                        ]
                    )  # fmt: skip
    return totals


def import_day(directory: Path) -> None:
    """Import the day's files through the importers (Django must be set up)."""
    from results import importers

    with (directory / "composition.csv").open(newline="") as fh:
        importers.import_composition(fh)
    with (directory / "candidates.csv").open(newline="") as fh:
        importers.import_candidates(fh)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--councils", type=int, default=230)
    parser.add_argument("--declared", type=float, default=1.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(write_day(args.out, args.councils, args.declared))


if __name__ == "__main__":
    main()
