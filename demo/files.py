"""The demo's committed files (``demo/data/``): what ``demo.generator`` writes and ``demo.loader`` reads.

In the importers' own formats wherever an importer reads that kind of data:

- ``composition.csv``: ``results.importers.import_composition`` (seats after the poll, each
  party's seats before it);
- ``candidates.csv``: ``import_candidates`` (Democracy Club's candidates CSV, no votes: nothing is
  declared on the eve);
- ``previous-winners.csv``: ``import_previous_winners`` (the party of each seat's previous winner);
- ``night-2023-05-04.jsonl``: a ``results.timeline`` timeline, the night in order (declarations,
  count statuses, posts published), played through the services (``replay_night`` plays it too).

No importer reads the rest, so the demo keeps them in small files of its own, loaded through the
services (``demo.loader``): ``parties.csv`` (its local groups, by the columns of the Party model),
``councils.csv`` (names, official names and GSS codes, by the columns of the Council model),
``illustrative.csv`` (the ballots whose figures are generated, not real) and ``drafts.jsonl`` (posts
left as drafts: a timeline ``post`` action's fields, without ``at``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from results import timeline
from results.models import Election

from .plan import BallotPlan, DemoPlan
from .seed import LOCAL_PARTIES, POLL_DATE, TITLE, SeedPost

DATA_DIR = Path(__file__).resolve().parent / "data"
PARTIES = "parties.csv"
COUNCILS = "councils.csv"
COMPOSITION = "composition.csv"
CANDIDATES = "candidates.csv"
PREVIOUS_WINNERS = "previous-winners.csv"
ILLUSTRATIVE = "illustrative.csv"
NIGHT = f"night-{POLL_DATE}.jsonl"
DRAFTS = "drafts.jsonl"
NAMES = (PARTIES, COUNCILS, COMPOSITION, CANDIDATES, PREVIOUS_WINNERS, ILLUSTRATIVE, NIGHT, DRAFTS)

PARTY_COLUMNS = ("ec_id", "name", "short_name", "abbreviation", "colour")
COUNCIL_COLUMNS = ("slug", "name", "official_name", "official_identifier", "seats_total")
CANDIDATE_COLUMNS = (
    "person_name",
    "party_id",
    "party_name",
    "party_description_text",
    "election_id",
    "ballot_paper_id",
    "post_label",
    "seats_contested",
)
COMPOSITION_COLUMNS = (
    "election_id",
    "seats_total",
    "seats_total_before",
    "party_id",
    "seats_before",
    "seats_not_up",
    "cycle",
)
PREVIOUS_COLUMNS = ("ballot_paper_id", "party_id", "seats")


def _csv(columns: Iterable[str], rows: Iterable[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def parties_csv() -> str:
    """The local groups the demo creates (they are groups, unlike Independents, and can control a council)."""
    return _csv(PARTY_COLUMNS, (dict(zip(PARTY_COLUMNS, row, strict=True)) for row in LOCAL_PARTIES))


def councils_csv(plan: DemoPlan) -> str:
    """The councils: names for headlines, official names, GSS codes and seats."""
    return _csv(
        COUNCIL_COLUMNS,
        (
            {
                "slug": c.slug,
                "name": c.name,
                "official_name": c.official_name,
                "official_identifier": c.gss,
                "seats_total": c.seats_total,
            }
            for c in plan.councils
        ),
    )


def candidates_csv(ballots: Iterable[BallotPlan], council_names: Mapping[str, str]) -> str:
    """Democracy Club's candidates CSV for these ballots, without votes (nothing declared)."""
    rows = []
    for b in ballots:
        label = b.label or f"Mayor of {council_names[b.council_slug]}"
        for c in b.candidates:
            rows.append(
                {
                    "person_name": c.name,
                    "party_id": c.party_id,
                    "party_name": "",
                    "party_description_text": c.description,
                    "election_id": b.election_id,
                    "ballot_paper_id": b.ballot_paper_id,
                    "post_label": label,
                    "seats_contested": b.seats,
                }
            )
    return _csv(CANDIDATE_COLUMNS, rows)


def composition_csv(plan: DemoPlan) -> str:
    """The composition CSV: seats after the poll, and each party's seats before it."""
    rows = []
    for e in plan.elections:
        for party_id, held in e.composition:
            rows.append(
                {
                    "election_id": e.election_id,
                    "seats_total": e.seats_total,
                    "seats_total_before": e.seats_total_before,
                    "party_id": party_id,
                    "seats_before": held,
                    "seats_not_up": 0,
                    "cycle": Election.Cycle.ALL_OUT,
                }
            )
    return _csv(COMPOSITION_COLUMNS, rows)


def previous_winners_csv(plan: DemoPlan) -> str:
    """The previous winners CSV: each ballot's seats by the party that last won them."""
    rows = (
        {"ballot_paper_id": b.ballot_paper_id, "party_id": party_id, "seats": seats}
        for b in plan.ballots
        for party_id, seats in b.previous
    )
    return _csv(PREVIOUS_COLUMNS, rows)


def illustrative_csv(plan: DemoPlan) -> str:
    """The ballots whose figures are generated (marked ``illustrative``: not a real result)."""
    return _csv(
        ("ballot_paper_id",), ({"ballot_paper_id": b.ballot_paper_id} for b in plan.ballots if b.illustrative)
    )


def _post_fields(seed: SeedPost) -> dict:
    """A post as a timeline's ``post`` action has it (without ``at`` and ``do``)."""
    name, role, outlet = seed.author
    return {
        "post": str(seed.uid),
        "headline": seed.headline,
        "body": "\n\n".join(seed.body),
        "author_name": name,
        "author_role": role,
        "author_outlet": outlet,
        "breaking": seed.breaking,
        "key_point": seed.key_point,
        "image_url": "",
        "image_caption": seed.image_caption,
        "image_credit": seed.image_credit,
        "councils": list(seed.councils),
        "ballots": list(seed.ballots),
    }


def night_actions(plan: DemoPlan) -> list[dict]:
    """The demo's night as timeline actions (see ``results.timeline``), in order."""
    by_ballot = {b.ballot_paper_id: b for b in plan.ballots}
    by_post = {p.key: p for p in plan.posts}
    actions: list[dict] = []
    for step in plan.timeline:
        at = step.at.isoformat()
        if step.action == "declare":
            b = by_ballot[step.target]
            actions.append(
                {
                    "at": at,
                    "do": "declare",
                    "ballot": b.ballot_paper_id,
                    "votes": {c.name: c.votes for c in b.candidates},
                    "winners": [c.name for c in b.candidates if c.elected],
                    "electorate": b.electorate,
                    "counted": b.ballot_papers_counted,
                    "rejected": b.rejected_ballots,
                }
            )
        elif step.action == "status":
            actions.append({"at": at, "do": "status", "ballot": step.target, "status": step.status})
        else:
            actions.append({"at": at, "do": "post", **_post_fields(by_post[step.target])})
    return actions


def timeline_text(plan: DemoPlan) -> str:
    """The demo's night as a timeline file (``demo/data/night-2023-05-04.jsonl`` is this)."""
    return timeline.dumps(POLL_DATE, TITLE, night_actions(plan))


def drafts_text(plan: DemoPlan) -> str:
    """The posts the demo leaves as drafts, one JSON object a line."""
    drafts = [p for p in plan.posts if p.published_at is None]
    return "".join(json.dumps(_post_fields(p), ensure_ascii=False) + "\n" for p in drafts)


def files_text(plan: DemoPlan) -> dict[str, str]:
    """Every committed file of the demo, by name: exactly what ``demo/data/`` holds."""
    council_names = {c.slug: c.name for c in plan.councils}
    return {
        PARTIES: parties_csv(),
        COUNCILS: councils_csv(plan),
        COMPOSITION: composition_csv(plan),
        CANDIDATES: candidates_csv(plan.ballots, council_names),
        PREVIOUS_WINNERS: previous_winners_csv(plan),
        ILLUSTRATIVE: illustrative_csv(plan),
        NIGHT: timeline_text(plan),
        DRAFTS: drafts_text(plan),
    }


def write(plan: DemoPlan, data_dir: Path = DATA_DIR) -> list[str]:
    """Write the demo's files into ``data_dir`` (UTF-8, ``\\n`` line ends); return the names that changed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in files_text(plan).items():
        path = data_dir / name
        data = text.encode("utf-8")
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
            changed.append(name)
    return changed


def stale(plan: DemoPlan, data_dir: Path = DATA_DIR) -> list[str]:
    """The names of the committed files that differ from what the generator writes (byte for byte)."""
    return [
        name
        for name, text in files_text(plan).items()
        if not (data_dir / name).is_file() or (data_dir / name).read_bytes() != text.encode("utf-8")
    ]
