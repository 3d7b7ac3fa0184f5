"""Loading the demo from its committed files (``demo/data/``), the way the data desk would.

The eve of the poll goes through the importers (compositions, candidates, previous winners: the
same CSVs a desk imports) and the services (the demo's local groups and councils, each with its
``reference`` event); the night is its timeline, played through the services by
``results.timeline`` (declarations, count statuses and posts, in order). Two councils (Rushcliffe,
Erewash) are left mid-count so the live flow can be tried. ``reset_demo`` returns the demo to the
eve through ``services.reset_to_eve``; nothing is ever deleted.

Nothing here generates anything: ``demo.generator`` writes the files (``manage.py generate_demo``).
"""

from __future__ import annotations

import csv
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from results import importers, services, timeline
from results.models import Ballot, Council, Election, Event, Party, Post
from results.standings import election_standing

from . import files
from .seed import POLL_DATE


def _rows(data_dir: Path, name: str) -> list[dict[str, str]]:
    with open(data_dir / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _drafts(data_dir: Path) -> list[dict]:
    text = (data_dir / files.DRAFTS).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class DemoIds:
    """The natural ids of everything the demo's files hold: to find the demo in a database."""

    election_ids: tuple[str, ...]
    ballot_ids: tuple[str, ...]
    post_uids: tuple[uuid.UUID, ...]
    council_slugs: tuple[str, ...]


def read_ids(data_dir: Path = files.DATA_DIR) -> DemoIds:
    """The demo's elections, ballots, posts and councils, as its files name them."""
    candidates = _rows(data_dir, files.CANDIDATES)
    election_ids = [r["election_id"] for r in _rows(data_dir, files.COMPOSITION)]
    election_ids += [r["election_id"] for r in candidates]
    night = timeline.read(data_dir / files.NIGHT)
    posts = [a.data["post"] for a in night.actions if a.do == "post"]
    posts += [d["post"] for d in _drafts(data_dir)]
    return DemoIds(
        election_ids=tuple(dict.fromkeys(election_ids)),
        ballot_ids=tuple(dict.fromkeys(r["ballot_paper_id"] for r in candidates)),
        post_uids=tuple(uuid.UUID(uid) for uid in dict.fromkeys(posts)),
        council_slugs=tuple(r["slug"] for r in _rows(data_dir, files.COUNCILS)),
    )


def is_loaded(ids: DemoIds | None = None) -> bool:
    """Whether any of the demo is in the database."""
    ids = ids or read_ids()
    return (
        Election.objects.filter(election_id__in=ids.election_ids).exists()
        or Post.objects.filter(uid__in=ids.post_uids).exists()
    )


def is_complete(ids: DemoIds | None = None) -> bool:
    """Whether every election, ballot and post of the demo is in the database."""
    ids = ids or read_ids()
    return (
        Election.objects.filter(election_id__in=ids.election_ids).count() == len(ids.election_ids)
        and Ballot.objects.filter(ballot_paper_id__in=ids.ballot_ids).count() == len(ids.ballot_ids)
        and Post.objects.filter(uid__in=ids.post_uids).count() == len(ids.post_uids)
    )


def _save_reference_rows(data_dir: Path) -> None:
    """The local groups and the councils (names for headlines, official names, GSS codes), those
    not in the database yet: through the services, each with its ``reference`` event, as the admin would."""
    parties = _rows(data_dir, files.PARTIES)
    known = set(Party.objects.filter(ec_id__in=[p["ec_id"] for p in parties]).values_list("ec_id", flat=True))
    for row in parties:
        if row["ec_id"] not in known:
            values = {name: row[name] for name in ("name", "short_name", "abbreviation", "colour")}
            services.save_party(None, ec_id=row["ec_id"], values=values)
    councils = _rows(data_dir, files.COUNCILS)
    known = set(Council.objects.filter(slug__in=[c["slug"] for c in councils]).values_list("slug", flat=True))
    for row in councils:
        if row["slug"] not in known:
            values = {name: row[name] for name in ("name", "official_name", "official_identifier")}
            services.save_council(
                None, slug=row["slug"], values={**values, "seats_total": int(row["seats_total"])}
            )


def _imported(importer, path: Path) -> None:
    try:
        importer(path.read_bytes())
    except importers.ImportFailed as failed:
        problems = "; ".join(f"line {e.line}: {e.message}" for e in failed.errors[:5])
        raise ValueError(f"{path}: {problems}") from failed


def load_eve(data_dir: Path = files.DATA_DIR) -> None:
    """Write the eve of the poll: parties, councils, compositions, every ballot's candidates and
    previous winners, through the importers and the services. Nothing declared, no post."""
    with transaction.atomic():
        _save_reference_rows(data_dir)
        _imported(importers.import_composition, data_dir / files.COMPOSITION)
        _imported(importers.import_candidates, data_dir / files.CANDIDATES)
        illustrative = [r["ballot_paper_id"] for r in _rows(data_dir, files.ILLUSTRATIVE)]
        Ballot.objects.filter(ballot_paper_id__in=illustrative).update(illustrative=True)
        _imported(importers.import_previous_winners, data_dir / files.PREVIOUS_WINNERS)


def load_eve_if_missing() -> bool:
    """Load the demo's eve of the poll into a database holding none of the demo (``replay_night``
    calls this, through ``settings.DEMO_EVE_LOADER``, before playing the demo's night). Whether it loaded."""
    if is_loaded():
        return False
    load_eve()
    return True


def _save_draft(data: dict) -> Post:
    councils = {c.slug: c for c in Council.objects.filter(slug__in=data["councils"])}
    ballots = {b.ballot_paper_id: b for b in Ballot.objects.filter(ballot_paper_id__in=data["ballots"])}
    changes = {name: data[name] for name in timeline.POST_TEXT_FIELDS}
    changes.update(breaking=data["breaking"], key_point=data["key_point"])
    return services.save_post(
        Post(uid=uuid.UUID(data["post"])),
        changes=changes,
        councils=[councils[slug] for slug in data["councils"]],
        ballots=[ballots[ballot_id] for ballot_id in data["ballots"]],
    )


def play_night(data_dir: Path = files.DATA_DIR) -> None:
    """Play the demo's night at once, through the services, then save its draft posts."""
    with transaction.atomic():
        timeline.apply_all(timeline.read(data_dir / files.NIGHT))
        for data in _drafts(data_dir):
            if not Post.objects.filter(uid=data["post"]).exists():
                _save_draft(data)


def load_demo(data_dir: Path = files.DATA_DIR) -> None:
    """Write the demo in one transaction: the eve of the poll through the importers, then the
    night (declarations, count statuses and posts) through the services, in order. Expects
    none of the demo to be there yet (see ``is_loaded``; ``reset_demo`` returns it to the eve)."""
    with transaction.atomic():
        load_eve(data_dir)
        play_night(data_dir)


def reset_demo(ids: DemoIds | None = None, *, user=None) -> Event | None:
    """Return the demo to the eve of the poll through ``services.reset_to_eve``: every ballot
    awaiting, no result, its posts withdrawn, one ``reset`` event. Nothing is deleted (the event
    log is never rewritten). ``None`` if the demo is not loaded."""
    ids = ids or read_ids()
    if not Ballot.objects.filter(ballot_paper_id__in=ids.ballot_ids).exists():
        return None
    posts = Post.objects.filter(uid__in=ids.post_uids)
    return services.reset_to_eve(POLL_DATE, posts=list(posts), user=user, reason="the demo was reset")


@dataclass(frozen=True)
class DemoSummary:
    councils: int
    called: int
    counting: tuple[str, ...]
    mayoralties: int
    ballots_declared: int
    ballots_total: int
    seats_declared: int
    seats_total: int
    posts_published: int
    posts_draft: int

    def __str__(self) -> str:
        return "\n".join(
            [
                f"Councils: {self.councils} ({self.called} called; still counting: "
                f"{', '.join(self.counting) or 'none'}); mayoralties: {self.mayoralties}",
                f"Ballots declared: {self.ballots_declared} of {self.ballots_total} "
                f"({self.seats_declared} of {self.seats_total} council seats)",
                f"Posts: {self.posts_published} published, {self.posts_draft} draft",
            ]
        )


def demo_summary(ids: DemoIds | None = None) -> DemoSummary:
    """What the demo in the database holds, derived the way the API derives it."""
    ids = ids or read_ids()
    elections = list(Election.objects.filter(election_id__in=ids.election_ids).with_results())
    standings = [(e, election_standing(e)) for e in elections]
    councils = [(e, s) for e, s in standings if s is not None]
    ballots = [b for e in elections for b in e.ballots.all()]
    posts = Post.objects.filter(uid__in=ids.post_uids)
    return DemoSummary(
        councils=len(councils),
        called=sum(1 for _, s in councils if s.composition.control.called),
        counting=tuple(sorted(e.council.name for e, s in councils if not s.composition.control.called)),
        mayoralties=len(standings) - len(councils),
        ballots_declared=sum(1 for b in ballots if b.is_published),
        ballots_total=len(ballots),
        seats_declared=sum(s.composition.seats_declared for _, s in councils),
        seats_total=sum(s.composition.seats_total for _, s in councils),
        posts_published=posts.filter(status=Post.Status.PUBLISHED).count(),
        posts_draft=posts.filter(status=Post.Status.DRAFT).count(),
    )
