"""What the seed page says: the East Midlands local elections of 4 May 2023.

The generator's input. The facts themselves are data, in ``seed.toml`` beside
this module (councils, the wards and candidates the seed names, mayors, the
live posts, each with the seed's words that justify it); this module holds
their shapes, reads the file once, and names the parties. Where the seed says
nothing, compositions come from Open Council Data UK (its 2022 row before the
poll, its 2023 row after).

``demo.generator`` turns this into the files under ``demo/data/`` (the
importers' CSVs and the night's timeline); ``demo.loader`` loads those files.
Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

POLL_DATE = dt.date(2023, 5, 4)
TITLE = "East Midlands local elections, 4 May 2023 (the demo)"
LONDON = ZoneInfo("Europe/London")
# Post uids are derived from this namespace and each post's key, so the demo's
# posts are the same rows every time (and can be found again by --reset).
POST_NAMESPACE = uuid.UUID("6f1c2d8e-4b7a-5e21-9c3d-20230504e0d1")


def bst(hour: int, minute: int, day: int = 5) -> dt.datetime:
    """An aware datetime on the night, read as British Summer Time (May 2023)."""
    return dt.datetime(2023, 5, day, hour, minute, tzinfo=LONDON)


# --------------------------------------------------------------------------
# Parties
# --------------------------------------------------------------------------

# Demo keys -> (party id, ballot paper description). The ids of the national
# parties are the Electoral Commission's, created by migration 0002.
PARTIES: dict[str, tuple[str, str]] = {
    "Con": ("PP52", "Local Conservatives"),
    "Lab": ("PP53", "Labour Party"),
    "LD": ("PP90", "Liberal Democrats"),
    "Grn": ("PP63", "Green Party"),
    "Ref": ("PP7931", "Reform UK"),
    "TUSC": ("PP804", "Trade Unionist and Socialist Coalition"),
    "AI": ("demo:ashfield-independents", "Ashfield Independents"),
    "MI": ("demo:mansfield-independents", "Mansfield Independents"),
    "Ind": ("ynmp-party:2", ""),
}
LAB_COOP = ("joint-party:53-119", "Labour and Co-operative Party")
PARTY_ORDER = tuple(PARTIES)

# Local groups the demo creates. They are groups (unlike Independents) and can
# control a council. Their ids are the demo's own, not Electoral Commission
# ids. ec_id, name, short name, abbreviation, chart colour.
LOCAL_PARTIES = (
    ("demo:ashfield-independents", "Ashfield Independents", "Ashfield Independents", "AshInd", "#6A2C91"),
    ("demo:mansfield-independents", "Mansfield Independents", "Mansfield Independents", "MansInd", "#2E8B57"),
)


# --------------------------------------------------------------------------
# What the demo holds: councils, seed wards, mayors
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A named candidate from the seed; ``votes`` pins their exact figure."""

    name: str
    party: str
    elected: bool | None = None
    votes: int | None = None


@dataclass(frozen=True)
class WardSpec:
    """A ward the seed names. ``winners``/``previous`` are party keys per seat, if fixed."""

    name: str
    seats: int
    winners: tuple[str, ...] | None = None
    previous: tuple[str, ...] | None = None
    people: tuple[Person, ...] = ()


@dataclass(frozen=True)
class Milestone:
    """A count in progress the seed reports: by ``at``, ``seats`` declared, ``party_seats`` of them ``party``'s."""

    at: dt.datetime
    seats: int
    party: str
    party_seats: int


@dataclass(frozen=True)
class CouncilSpec:
    """One council election: seats before and after, as reconciled from the seed and the CSV.

    ``headline`` is what ``results.standings`` derives once every ward has
    declared (``None`` for a council left mid-count); ``seed_line`` is the
    seed's own summary line it corresponds to.
    """

    slug: str
    name: str
    official_name: str
    gss: str
    before: dict[str, int]
    after: dict[str, int]
    headline: str | None
    seed_line: str
    first_declaration: dt.datetime
    wards: tuple[WardSpec, ...] = ()
    ward_count: int | None = None  # total wards, where the seed gives it
    single_member: bool = False
    declared_wards: int | Literal["half"] | None = None  # a council still counting: wards declared so far
    counting_wards: int = 0  # a live council: wards counting, after the declared ones
    recount_wards: int = 0  # a live council: wards gone to a recount
    milestone: Milestone | None = None
    lab_coop_share: float = 0.0  # share of wards whose Labour slate stands as Labour and Co-operative

    @property
    def seats_total(self) -> int:
        return sum(self.after.values())

    @property
    def seats_total_before(self) -> int:
        return sum(self.before.values())

    @property
    def election_id(self) -> str:
        return f"local.{self.slug}.{POLL_DATE}"


@dataclass(frozen=True)
class MayorSpec:
    """A mayoralty: one ballot, no ward. ``votes`` None = illustrative, generated."""

    slug: str
    candidates: tuple[Person, ...]
    previous: str
    declared_at: dt.datetime
    counting_at: dt.datetime | None = None

    @property
    def election_id(self) -> str:
        return f"mayor.{self.slug}.{POLL_DATE}"


@dataclass(frozen=True)
class SeedPost:
    """A live post: body paragraphs as quoted, author as (name, role, outlet).

    The model holds one image per post; where the seed shows two, the one with
    a caption is kept. Image alt texts are not stored (the model has no field).
    ``published`` is the seed's time, British Summer Time on 5 May 2023;
    ``None`` leaves the post a draft.
    """

    key: str
    published: str | None
    headline: str
    author: tuple[str, str, str]
    body: tuple[str, ...]
    breaking: bool = False
    key_point: bool = False
    image_caption: str = ""
    image_credit: str = ""
    councils: tuple[str, ...] = ()
    ballots: tuple[str, ...] = ()

    @property
    def uid(self) -> uuid.UUID:
        return uuid.uuid5(POST_NAMESPACE, self.key)

    @property
    def published_at(self) -> dt.datetime | None:
        if self.published is None:
            return None
        hour, minute = map(int, self.published.split(":"))
        return bst(hour, minute)


# --------------------------------------------------------------------------
# Reading seed.toml
# --------------------------------------------------------------------------

SEED_FILE = Path(__file__).resolve().parent / "seed.toml"


def _at(hhmm: str) -> dt.datetime:
    hour, minute = map(int, hhmm.split(":"))
    return bst(hour, minute)


def _person(data: dict) -> Person:
    return Person(data["name"], data["party"], data.get("elected"), data.get("votes"))


def _ward(data: dict) -> WardSpec:
    winners, previous = data.get("winners"), data.get("previous")
    return WardSpec(
        name=data["name"],
        seats=data["seats"],
        winners=tuple(winners) if winners is not None else None,
        previous=tuple(previous) if previous is not None else None,
        people=tuple(_person(p) for p in data.get("people", ())),
    )


def _council(data: dict) -> CouncilSpec:
    milestone = data.get("milestone")
    return CouncilSpec(
        slug=data["slug"],
        name=data["name"],
        official_name=data["official_name"],
        gss=data["gss"],
        before=dict(data["before"]),
        after=dict(data["after"]),
        headline=data.get("headline"),
        seed_line=data["seed_line"],
        first_declaration=_at(data["first_declaration"]),
        wards=tuple(_ward(w) for w in data.get("wards", ())),
        ward_count=data.get("ward_count"),
        single_member=data.get("single_member", False),
        declared_wards=data.get("declared_wards"),
        counting_wards=data.get("counting_wards", 0),
        recount_wards=data.get("recount_wards", 0),
        milestone=Milestone(
            at=_at(milestone["at"]),
            seats=milestone["seats"],
            party=milestone["party"],
            party_seats=milestone["party_seats"],
        )
        if milestone
        else None,
        lab_coop_share=data.get("lab_coop_share", 0.0),
    )


def _mayor(data: dict) -> MayorSpec:
    return MayorSpec(
        slug=data["slug"],
        candidates=tuple(_person(p) for p in data["candidates"]),
        previous=data["previous"],
        declared_at=_at(data["declared_at"]),
        counting_at=_at(data["counting_at"]) if "counting_at" in data else None,
    )


def _post(data: dict) -> SeedPost:
    return SeedPost(
        key=data["key"],
        published=data.get("published"),
        headline=data["headline"],
        author=tuple(data["author"]),
        body=tuple(data["body"]),
        breaking=data.get("breaking", False),
        key_point=data.get("key_point", False),
        image_caption=data.get("image_caption", ""),
        image_credit=data.get("image_credit", ""),
        councils=tuple(data.get("councils", ())),
        ballots=tuple(data.get("ballots", ())),
    )


with open(SEED_FILE, "rb") as _handle:
    _SEED = tomllib.load(_handle)

COUNCILS: tuple[CouncilSpec, ...] = tuple(_council(c) for c in _SEED["councils"])
MAYORS: tuple[MayorSpec, ...] = tuple(_mayor(m) for m in _SEED["mayors"])
_POSTS = tuple(_post(p) for p in _SEED["posts"])
# The seed's posts, published on the night; and a post still being written (the draft flow).
SEED_POSTS: tuple[SeedPost, ...] = tuple(p for p in _POSTS if p.published is not None)
DRAFT_POST: SeedPost = next(p for p in _POSTS if p.published is None)
