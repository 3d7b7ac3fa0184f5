"""The demo as plain values: what ``demo.generator.build_demo`` returns and ``demo.files`` writes out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .seed import CouncilSpec, SeedPost


@dataclass(frozen=True)
class CandidatePlan:
    name: str
    party_id: str
    description: str
    votes: int | None  # None until declared
    elected: bool  # the planned outcome (written only by declaring)


@dataclass(frozen=True)
class BallotPlan:
    ballot_paper_id: str
    election_id: str
    council_slug: str
    ward_slug: str | None
    label: str
    seats: int
    candidates: tuple[CandidatePlan, ...]
    previous: tuple[tuple[str, int], ...]  # (party id, seats)
    status: str  # awaiting, counting, recount or declared
    declared_at: dt.datetime | None
    electorate: int | None
    ballot_papers_counted: int | None
    rejected_ballots: int | None
    illustrative: bool


@dataclass(frozen=True)
class ElectionPlan:
    election_id: str
    council_slug: str
    kind: str
    seats_total: int | None
    seats_total_before: int | None
    composition: tuple[tuple[str, int], ...]  # (party id, seats held before the poll)


@dataclass(frozen=True)
class Step:
    """One thing that happens on the night, in order: declare, set a status, publish a post."""

    at: dt.datetime
    action: str  # "declare" | "status" | "publish"
    target: str  # ballot paper id or post key
    status: str = ""


@dataclass(frozen=True)
class DemoPlan:
    councils: tuple[CouncilSpec, ...]
    elections: tuple[ElectionPlan, ...]
    ballots: tuple[BallotPlan, ...]
    posts: tuple[SeedPost, ...]
    timeline: tuple[Step, ...]

    @property
    def election_ids(self) -> list[str]:
        return [e.election_id for e in self.elections]

    @property
    def ballot_ids(self) -> list[str]:
        return [b.ballot_paper_id for b in self.ballots]
