"""The demo: the East Midlands local elections of 4 May 2023, as on the seed page.

Everything the seed page states is here as it states it: which councils
changed hands, the seats some councils ended with ("22 of the 34 seats"),
Rushcliffe's magic number, Tom Hollis's 854 votes in a two-seat ward, the
Mansfield mayoral result, and the live posts themselves. Where the seed says
nothing, compositions come from Open Council Data UK (its 2022 row before the
poll, its 2023 row after). The ward-level results that make those totals are
*generated* (``random.Random`` seeded with 2023 and each council's slug, no other randomness and no clock) and
every generated ballot is marked ``illustrative``.

``build_demo()`` is pure: it returns the whole plan (councils, ballots with
their candidates, votes and previous winners, posts, and the night's timeline)
and is the same on every call. ``load_demo()`` writes that plan the way the
data desk would: the candidates and the compositions as CSV through
``results.importers``, previous winners, declarations, count statuses and
posts through ``results.services``, in the order of the night. Two councils
(Rushcliffe, Erewash) are left mid-count so the live flow can be tried.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
import random
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.text import slugify

from . import importers, rules, services
from .models import Ballot, Council, Election, Event, Party, Post
from .standings import election_standing

POLL_DATE = dt.date(2023, 5, 4)
RANDOM_SEED = 2023
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


def _c(**seats: int) -> dict[str, int]:
    return {k: v for k, v in seats.items() if v}


# The seed's summary lines are loose ("Tories lose control of ..."); the
# headlines are the forms results.rules.control_headline derives.
COUNCILS: tuple[CouncilSpec, ...] = (
    CouncilSpec(
        slug="harborough",
        name="Harborough",
        official_name="Harborough District Council",
        gss="E07000131",
        before=_c(Con=22, Lab=1, LD=11),
        after=_c(Con=15, Lab=3, LD=13, Grn=3),
        headline="Conservatives lose Harborough to no overall control",
        seed_line="Conservatives lose Harborough to no overall control",
        first_declaration=bst(11, 10),
    ),
    CouncilSpec(
        slug="derby",
        name="Derby",
        official_name="Derby City Council",
        gss="E06000015",
        # The seed: "the Conservatives the largest party by one seat with Labour the second".
        before=_c(Con=17, Lab=16, LD=8, Ref=2, Ind=8),
        after=_c(Con=15, Lab=23, LD=4, Ind=9),
        headline="Derby remains in no overall control",
        seed_line="Derby remains in no overall control",
        first_declaration=bst(12, 15),
        # "Officials hope to declare results for 9 of the 18 Wards"; "All 51 seats".
        ward_count=18,
        wards=(
            WardSpec(
                "Allestree",
                3,
                winners=("Con", "Con", "Con"),
                people=(Person("Steve Hassall", "Con"),),
            ),
        ),
    ),
    CouncilSpec(
        slug="leicester",
        name="Leicester",
        official_name="Leicester City Council",
        gss="E06000016",
        before=_c(Con=1, Lab=51, LD=1, Ind=1),
        after=_c(Con=16, Lab=32, LD=3, Grn=3),
        headline="Labour hold Leicester",
        seed_line="Labour hold Leicester City Council",
        first_declaration=bst(13, 0),
        lab_coop_share=0.1,
    ),
    CouncilSpec(
        slug="derbyshire-dales",
        name="Derbyshire Dales",
        official_name="Derbyshire Dales District Council",
        gss="E07000035",
        # The CSV's Con 20 of 39 is a majority, but the seed says the council
        # was already in no overall control: one Conservative seat is Independent.
        before=_c(Con=19, Lab=4, LD=7, Grn=2, Ind=7),
        after=_c(Con=11, Lab=6, LD=12, Grn=4, Ind=1),
        headline="Derbyshire Dales remains in no overall control",
        seed_line="Derbyshire Dales still no overall control",
        first_declaration=bst(11, 25),
    ),
    CouncilSpec(
        slug="chesterfield",
        name="Chesterfield",
        official_name="Chesterfield Borough Council",
        gss="E07000034",
        before=_c(Lab=28, LD=17, Ind=3),
        after=_c(Lab=28, LD=12),
        headline="Labour hold Chesterfield",
        seed_line="Labour hold Chesterfield",
        first_declaration=bst(11, 5),
    ),
    CouncilSpec(
        slug="rutland",
        name="Rutland",
        official_name="Rutland County Council",
        gss="E06000017",
        before=_c(Con=9, Lab=1, LD=5, Grn=1, Ind=11),
        after=_c(Con=6, Lab=2, LD=11, Grn=1, Ind=7),
        headline="Rutland remains in no overall control",
        seed_line="Rutland remains no overall control",
        first_declaration=bst(11, 40),
    ),
    CouncilSpec(
        slug="north-west-leicestershire",
        name="North West Leicestershire",
        official_name="North West Leicestershire District Council",
        gss="E07000134",
        before=_c(Con=22, Lab=9, LD=4, Grn=1, Ind=2),
        after=_c(Con=12, Lab=17, LD=5, Ind=4),
        headline="Conservatives lose North West Leicestershire to no overall control",
        seed_line="Tories lose control of North West Leicestershire",
        first_declaration=bst(1, 50),
        wards=(
            # "Labour group leader Sean Sheahan kept his seat in Measham South."
            WardSpec(
                "Measham South",
                1,
                winners=("Lab",),
                previous=("Lab",),
                people=(Person("Sean Sheahan", "Lab", elected=True),),
            ),
        ),
    ),
    CouncilSpec(
        slug="bassetlaw",
        name="Bassetlaw",
        official_name="Bassetlaw District Council",
        gss="E07000171",
        # Seed: "From 2019 the group had occupied 37 seats".
        before=_c(Con=8, Lab=37, LD=1, Ind=2),
        after=_c(Con=8, Lab=38, Ind=2),
        headline="Labour hold Bassetlaw",
        seed_line="Labour hold Bassetlaw and Bolsover",
        first_declaration=bst(1, 20),
        wards=(
            WardSpec(
                "Sturton",
                1,
                winners=("Lab",),
                previous=("Lab",),
                people=(Person("James Naish", "Lab", elected=True),),
            ),
            WardSpec(
                "Misterton",
                1,
                winners=("Ind",),
                previous=("Ind",),
                people=(Person("Hazel Brand", "Ind", elected=True),),
            ),
            # "picked one up from Labour in Ranskill"
            WardSpec("Ranskill", 1, winners=("Con",), previous=("Lab",)),
        ),
    ),
    CouncilSpec(
        slug="bolsover",
        name="Bolsover",
        official_name="Bolsover District Council",
        gss="E07000033",
        before=_c(Con=3, Lab=19, Ind=15),
        after=_c(Con=3, Lab=31, Ref=1, Ind=2),
        headline="Labour hold Bolsover",
        seed_line="Labour hold Bassetlaw and Bolsover",
        first_declaration=bst(1, 40),
    ),
    CouncilSpec(
        slug="hinckley-and-bosworth",
        name="Hinckley and Bosworth",
        official_name="Hinckley and Bosworth Borough Council",
        gss="E07000132",
        before=_c(Con=10, Lab=2, LD=21, Ind=1),
        # "They secured 22 of the 34 seats ... Conservatives ... 10 ... two seats ... Labour."
        after=_c(Con=10, Lab=2, LD=22),
        headline="Lib Dems hold Hinckley and Bosworth",
        seed_line="Lib Dems keep control of Hinckley & Bosworth",
        first_declaration=bst(1, 30),
        wards=(
            # "in Barwell, a delighted Charlotte Green takes the seat for Labour".
            WardSpec(
                "Barwell",
                3,
                winners=("Lab", "Con", "Con"),
                previous=("Con", "Con", "Con"),
                people=(Person("Charlotte Green", "Lab", elected=True),),
            ),
        ),
    ),
    CouncilSpec(
        slug="ashfield",
        name="Ashfield",
        official_name="Ashfield District Council",
        gss="E07000170",
        before=_c(Con=3, Lab=2, AI=30),
        # "Tom Hollis is among the 32 winning Ashfield Independent candidates."
        after=_c(Con=2, Lab=1, AI=32),
        headline="Ashfield Independents hold Ashfield",
        seed_line="Ashfield Independents retain control",
        first_declaration=bst(1, 5),
        wards=(
            # "re-elected as one of two Ashfield Independents in Huthwaite and
            # Brierley"; "received public 854 votes".
            WardSpec(
                "Huthwaite and Brierley",
                2,
                winners=("AI", "AI"),
                previous=("AI", "AI"),
                people=(Person("Tom Hollis", "AI", elected=True, votes=854),),
            ),
        ),
    ),
    CouncilSpec(
        slug="blaby",
        name="Blaby",
        official_name="Blaby District Council",
        gss="E07000129",
        before=_c(Con=25, Lab=6, LD=6, Grn=1, Ind=1),
        after=_c(Con=19, Lab=6, LD=9, Grn=2),
        headline="Conservatives hold Blaby",
        seed_line="Conservatives hold Blaby",
        # "an early start to counting in Blaby ... boxes overturned at 9:30"
        first_declaration=bst(10, 40),
        wards=(
            # "Paul Hartshorn has just kept hold of his seat in the village of Blaby"
            WardSpec(
                "Blaby South",
                1,
                winners=("LD",),
                previous=("LD",),
                people=(Person("Paul Hartshorn", "LD", elected=True),),
            ),
        ),
        # 11:56: "They've won five of 13 seats declared seats so far"
        milestone=Milestone(at=bst(11, 56), seats=13, party="LD", party_seats=5),
    ),
    CouncilSpec(
        slug="north-east-derbyshire",
        name="North East Derbyshire",
        official_name="North East Derbyshire District Council",
        gss="E07000038",
        before=_c(Con=30, Lab=17, LD=3, Ind=3),
        after=_c(Con=19, Lab=28, LD=3, Grn=1, Ind=2),
        headline="Labour gain North East Derbyshire",
        seed_line="Labour gain North East Derbyshire",
        first_declaration=bst(11, 35),
    ),
    CouncilSpec(
        slug="broxtowe",
        name="Broxtowe",
        official_name="Broxtowe Borough Council",
        gss="E07000172",
        before=_c(Con=19, Lab=14, LD=7, Ind=4),
        after=_c(Con=10, Lab=26, LD=5, Ind=3),
        headline="Labour gain Broxtowe",
        seed_line="Labour take Broxtowe and hold Gedling",
        first_declaration=bst(11, 20),
    ),
    CouncilSpec(
        slug="gedling",
        name="Gedling",
        official_name="Gedling Borough Council",
        gss="E07000173",
        before=_c(Con=8, Lab=27, LD=3, Ind=3),
        after=_c(Con=9, Lab=28, LD=4),
        headline="Labour hold Gedling",
        seed_line="Labour take Broxtowe and hold Gedling",
        first_declaration=bst(11, 5),
    ),
    CouncilSpec(
        slug="high-peak",
        name="High Peak",
        official_name="High Peak Borough Council",
        gss="E07000037",
        before=_c(Con=16, Lab=21, LD=3, Grn=2, Ind=1),
        after=_c(Con=10, Lab=29, LD=1, Grn=2, Ind=1),
        headline="Labour gain High Peak",
        seed_line="Labour gains High Peak from no overall control",
        first_declaration=bst(11, 45),
    ),
    CouncilSpec(
        slug="mansfield",
        name="Mansfield",
        official_name="Mansfield District Council",
        gss="E07000174",
        # The seed: "no individual party has overall control" and the Conservatives' "two
        # current councillors" (the open data's 21 "other" are not all Mansfield Independents).
        before=_c(Con=2, Lab=14, MI=15, Ind=5),
        after=_c(Con=5, Lab=25, Ref=3, MI=3),
        headline="Labour gain Mansfield",
        seed_line="Labour take control of Mansfield",
        first_declaration=bst(13, 0),
        single_member=True,  # 36 wards of one councillor each
    ),
    CouncilSpec(
        slug="newark-and-sherwood",
        name="Newark and Sherwood",
        official_name="Newark and Sherwood District Council",
        gss="E07000175",
        before=_c(Con=30, Lab=6, LD=2, Ind=1),
        after=_c(Con=14, Lab=11, LD=3, Ind=11),
        headline="Conservatives lose Newark and Sherwood to no overall control",
        seed_line="Tories lose control of Newark & Sherwood, and Charnwood",
        first_declaration=bst(12, 10),
    ),
    CouncilSpec(
        slug="charnwood",
        name="Charnwood",
        official_name="Charnwood Borough Council",
        gss="E07000130",
        before=_c(Con=37, Lab=12, Grn=1, Ind=2),
        after=_c(Con=23, Lab=20, Grn=8, Ind=1),
        headline="Conservatives lose Charnwood to no overall control",
        seed_line="Tories lose control of Newark & Sherwood, and Charnwood",
        first_declaration=bst(11, 20),
    ),
    CouncilSpec(
        slug="nottingham",
        name="Nottingham",
        official_name="Nottingham City Council",
        gss="E06000018",
        before=_c(Con=2, Lab=50, Ind=3),
        after=_c(Lab=51, Ind=4),
        headline="Labour hold Nottingham",
        seed_line="Labour hold Nottingham",
        first_declaration=bst(12, 0),
        lab_coop_share=0.3,
    ),
    CouncilSpec(
        slug="oadby-and-wigston",
        name="Oadby and Wigston",
        official_name="Oadby and Wigston Borough Council",
        gss="E07000135",
        before=_c(Con=3, LD=23),
        after=_c(Con=7, LD=18, Ind=1),
        headline="Lib Dems hold Oadby and Wigston",
        seed_line="Lib Dems retain Oadby and Wigston",
        first_declaration=bst(11, 30),
    ),
    # Still counting: control is not called yet.
    CouncilSpec(
        slug="rushcliffe",
        name="Rushcliffe",
        official_name="Rushcliffe Borough Council",
        gss="E07000176",
        before=_c(Con=27, Lab=7, LD=3, Grn=2, Ind=5),
        # The target the generated wards add up to; only about half declare.
        after=_c(Con=25, Lab=9, LD=1, Grn=2, Ind=7),
        headline=None,
        seed_line="It is a 44 seat council so 23 is the magic number for a majority.",
        first_declaration=bst(11, 40),
        declared_wards="half",
        counting_wards=1,
        recount_wards=1,
    ),
    CouncilSpec(
        slug="erewash",
        name="Erewash",
        official_name="Erewash Borough Council",
        gss="E07000036",
        before=_c(Con=29, Lab=16, LD=1, Ind=1),
        after=_c(Con=16, Lab=28, LD=1, Grn=1, Ind=1),
        headline=None,
        seed_line="I think it's too early to call in Erewash",
        first_declaration=bst(12, 5),
        declared_wards=4,
        counting_wards=1,
    ),
)


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


MAYORS: tuple[MayorSpec, ...] = (
    # Exactly as the seed's 12:33 post (which spells him "Camileri" once).
    MayorSpec(
        slug="mansfield",
        candidates=(
            Person("Andy Abrahams", "Lab", elected=True, votes=9987),
            Person("Andre Camilleri", "Con", votes=5832),
            Person("Mick Barton", "MI", votes=4992),
            Person("Julie Tasker-Love-Birks", "Ind", votes=936),
            Person("Karen Seymour", "TUSC", votes=420),
        ),
        previous="Lab",
        counting_at=bst(11, 0),
        declared_at=bst(12, 30),
    ),
    # "Sir Peter Soulsby also retains Leicester mayoral seat": no figures, so
    # the rivals and every vote are generated (the ballot is illustrative).
    MayorSpec(
        slug="leicester",
        candidates=(
            Person("Sir Peter Soulsby", "Lab", elected=True),
            Person("", "Con"),
            Person("", "Grn"),
            Person("", "LD"),
            Person("", "Ind"),
            Person("", "TUSC"),
        ),
        previous="Lab",
        declared_at=bst(15, 20),
    ),
)


# --------------------------------------------------------------------------
# Live posts, as on the seed (the Twitter-embed post at 10:29 is left out)
# --------------------------------------------------------------------------


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


SEED_POSTS: tuple[SeedPost, ...] = (
    SeedPost(
        key="mansfield-mayor-declared",
        published="12:33",
        headline="Labour's Andy Abrahams re-elected as Mansfield Mayor",
        author=("Kevin Stanley", "Reporter", "BBC Radio Nottingham"),
        body=(
            "Labour's Andy Abrahams has been re-elected as Mayor of Mansfield with 9,987 votes.",
            "His nearest rival Conservative Andre Camileri polled 5,832 votes and Mansfield Independents candidate Mick Barton came in third place with 4,992.",
            "Independent Julie Tasker-Love-Birks got 936 votes and Karen Seymour from the Trade Union and Socialist Coalition got 420.",
        ),
        breaking=True,
        key_point=True,
        image_credit="Labour Party",
        councils=("mansfield",),
        ballots=("mayor.mansfield.2023-05-04",),
    ),
    SeedPost(
        key="derby-conservative-chair",
        published="11:57",
        headline="Conservative chair: 'National party needs to engage with local'",
        author=("Georgia Roberts", "", "BBC Radio Derby"),
        body=(
            "The Conservative chair of Mid Derbyshire and Derby - Steve Hassall - has been talking to the BBC about how he's feeling ahead of today's count in the city.",
            "\"These were always going to be a difficult set of elections and there's results coming in already. Obviously, there is a bit of a trend.",
            '"We\'re very pragmatic about it - probably a national view and picture and direction of travel."',
            "Mr Hassall, who is up for election in the Allestree ward, said he felt the national party needed to engage better with the local.",
            "\"We've concentrated on the local picture and that is absolutely what this set of elections is around.",
            "\"Other parties seemed to be going on more national picture. I don't agree with that. And none of our literature has contained national politics, and rightly so.",
            "\"It goes back to my point about the national party helping the local picture better. So, yes, they should be sending more resources. Yes, they should be sending more ministers, but we've worked hard and whatever the result is, it's on our shoulders.\"",
        ),
        councils=("derby",),
        ballots=("local.derby.allestree.2023-05-04",),
    ),
    SeedPost(
        key="blaby-lib-dems-champagne",
        published="11:56",
        headline="Blaby Lib Dems might be 'popping champagne'",
        author=("Adam Whitty", "", "BBC Radio Leicester"),
        body=(
            "The Liberal Democrats are feeling cautiously optimistic about their chances in Blaby District in Leicestershire.",
            "They've won five of 13 seats declared seats so far, and are set to comfortably overtake their 2019 tally of six.",
            "Paul Hartshorn has just kept hold of his seat in the village of Blaby, and he says he's \"over the moon\" and as you'd expect, he's increased his vote share too.",
            "The party has had a good night in the county, removing the Conservative's majority in North West Leicestershire and holding on to Hinckley and Bosworth.",
            '"It was really nice to switch my phone on and see some great results for the Liberal Democrats," said Hartshorn.',
            '"We\'re making considerable headway and voters are moving to us."',
            "This is an area the Lib Dems have targeted: \"We've worked this area, and we have been doing well in Conservative-run areas, and it's going to plan.",
            "\"If we can get this council to no overall control I will be delighted, and we'll be popping champagne corks if we're the second biggest party.\"",
        ),
        image_caption="Paul Hartshorn has kept his seat in Hinckley",
        councils=("blaby", "north-west-leicestershire", "hinckley-and-bosworth"),
        ballots=("local.blaby.blaby-south.2023-05-04",),
    ),
    SeedPost(
        key="erewash-labour-confident",
        published="11:50",
        headline="Erewash: Labour MP candidate feeling confident",
        author=("Matt Weigold", "", "BBC Radio Derby"),
        body=(
            "Adam Thompson - the Labour candidate for Erewash in the next general election - has joined the count at Rutland Tennis Centre in Ilkeston.",
            "He said he was feeling good after seeing some of the results across England.",
            "\"I think it has been a ringing endorsement of Keir Starmer's leadership of the Labour party and the steps that we have taken towards the next Labour government.",
            "\"I think it's too early to call in Erewash but we're feeling fairly confident from what we've seen so far,\" he said.",
        ),
        councils=("erewash",),
    ),
    SeedPost(
        key="mansfield-counting",
        published="11:28",
        headline="Mansfield: 'We're a different breed of Conservatives'",
        author=("Kevin Stanley", "Reporter", "BBC Radio Nottingham"),
        body=(
            "Counting is under way in Mansfield where we have an election for the Mayor and the district council.",
            "The existing Labour Mayor, Andy Abrahams, has a majority of just two votes so it is going to be interesting.",
            "The council too is one to watch because at the moment, no individual party has overall control.",
            "The Conservative Mayoral candidate Andre Camilleri hopes the party can add to its two current councillors.",
            "\"The trend throughout the country is not looking good for the Conservatives but here in Mansfield, I think we've not done bad.",
            "\"It's not going to be what we expected but we're fighters in Mansfield, we're a different breed of Conservatives, we're red wall Conservatives,\" he said.",
            'If his bid to become Mayor of Mansfield is successful, Mr Camilleri said he would have a better control over finances, crime and disorder and bring "more professionalism" to the council.',
            '"Mansfield is nearly broke. The council tax raises very little.',
            "\"Most of the money they've got to revitalise the town has come from the efforts of the red wall MPs Ben Bradley, Lee Anderson, it's them that have put the efforts in,\" he said.",
        ),
        councils=("mansfield",),
        ballots=("mayor.mansfield.2023-05-04",),
    ),
    SeedPost(
        key="newark-and-sherwood-pessimistic",
        published="11:01",
        headline="Newark and Sherwood: Conservative leader feeling pessimistic",
        author=("Sophie Wheeldon", "", "BBC Radio Nottingham"),
        body=(
            "The atmosphere is very tense at the Newark and Sherwood count with a mixture of nerves and excitement in the room.",
            "Counting is now under way so people have their heads down focused.",
            'Council leader David Lloyd told me he was feeling "quietly pessimistic".',
            "\"Looking at the verification last night I think there's going to be a few shock results and some very tight results.",
            '"But it is what it is and electors have made their mind up," he said.',
            "\"The nature of politics is you've got to learn not to take it personally, you've got to hope you've done your best.",
            "\"The message I was picking up mainly on doorsteps was 'time for change'.\"",
        ),
        councils=("newark-and-sherwood",),
    ),
    SeedPost(
        key="rushcliffe-nervous",
        published="10:49",
        headline="Tories nervous at Rushcliffe count",
        author=("Hugh Casswell", "Political reporter", "BBC Radio Nottingham"),
        body=(
            "I am at Rushcliffe where counting is under way.",
            "It has been Conservative-run for its entire history apart from a brief period of no overall control in the 90s.",
            "There are some nervous Tories in the room - “we’re at risk” one tells me.",
            "It is a 44 seat council so 23 is the magic number for a majority.",
            "It is also the only place in Nottinghamshire we are guaranteed a new council leader after Simon Robinson announced in November he would be standing down.",
        ),
        councils=("rushcliffe",),
    ),
    SeedPost(
        key="derby-counting-begins",
        published="10:46",
        headline="Counting begins in Derby",
        author=("Simon Ward", "Reporter", "East Midlands Today"),
        body=(
            "The counting of votes for Derby City Council is under way. All 51 seats are being decided.",
            "This could be a very interesting result because before the election there was no overall control with the Conservatives the largest party by one seat with Labour the second largest group.",
            "Officials hope to declare results for 9 of the 18 Wards by this lunchtime.",
        ),
        councils=("derby",),
    ),
    SeedPost(
        key="ashfield-tom-hollis-interview",
        published="10:24",
        headline="Tom Hollis: 'You can’t lick your wounds in private'",
        author=("Andrew Topping", "", "Local Democracy Reporting Service"),
        body=(
            "Controversial former deputy leader Tom Hollis has been re-elected as one of two Ashfield Independents in Huthwaite and Brierley.",
            "It comes just months after his convictions for careless driving and harassment last autumn.",
            "The convictions led to his sacking as deputy leader of the Ashfield Independent-led council, although he did remain in post as cabinet member for housing.",
            "Mr Hollis appeared at the authority’s overnight count as results were confirmed.",
            "He was moved to tears shortly after the result.",
            "“I feel very honoured and privileged to represent my home village and part of the town on the council.",
            '“Unfortunately, when you’re in my job, you can’t lick your wounds in private and you have it plastered all over the newspapers," he said.',
            "“It’s been a tough time for my family, particularly my partner.",
            "“Ultimately, residents have decided to put their faith back in me.",
            "“I apologise for the way I’ve behaved, there’s no getting around the fact I could have been better, but I am a normal person and I feel very privileged people have put their faith back in me to represent them on the council.",
            "“I can only promise to do my best, as I’ve always done.”",
        ),
        image_credit="LDRS",
        councils=("ashfield",),
        ballots=("local.ashfield.huthwaite-and-brierley.2023-05-04",),
    ),
    SeedPost(
        key="bassetlaw-positive-things",
        published="09:52",
        headline="Bassetlaw: 'Positive things happening'",
        author=("Joe Locker", "", "Local Democracy Reporting Service"),
        body=(
            "The leader of the Labour group which has retained control of Bassetlaw District Council with a greater majority says he is “very pleased” with the result.",
            "The group, now led by councillor James Naish, won a total 38 seats out of a possible 48.",
            "From 2019 the group had occupied 37 seats, a record majority which councillor Naish said they had successfully “defended” and built upon.",
            "He sits on the Sturton ward seat where the STEP fusion energy plant is planned, adding: “We were defending a record year so we are very pleased.",
            '"We set out a vision through to 2040 as part of the campaign which we will soon be consulting residents on. The fusion energy plant is at the heart of that. Bassetlaw is on a journey, there are some really positive things happening.”',
            "He said the Conservatives “clearly have things to be pleased with”, having secured two seats held by the independents and one from Labour, before adding he believed health issues had skewed the results for the independents.",
            "The Conservatives won eight seats, painting a different picture to that of the early losses reported across much of the country.",
            "Group leader, councillor Lewis Stanniland, said: “We are quite pleased with that considering the losses that are happening nationally.",
            "“We took two wards back that we lost in 2019 to the independents, and picked one up from Labour in Ranskill.",
            "“I think the independents were basically Labour sympathisers so people chose to come back because they did not know what they voted for back in 2019.”",
            "The leader of the independent group, Hazel Brand, was re-elected to the Misterton ward with a healthy number of votes.",
            "Speaking of the losses she said: “It is always a disappointment when you lose part of your group.",
            "“Overall Labour have a really, really strong majority. Who knows what went wrong, but we did have one of the independents who has been hospitalised and immobile due to a broken leg.",
            "“That came at a particularly bad time when you should be out and about.”",
        ),
        key_point=True,
        image_caption="Bassetlaw has been earmarked for a prototype commercial nuclear fusion reactor",
        image_credit="UK Atomic Energy Authority",
        councils=("bassetlaw",),
        ballots=(
            "local.bassetlaw.sturton.2023-05-04",
            "local.bassetlaw.ranskill.2023-05-04",
            "local.bassetlaw.misterton.2023-05-04",
        ),
    ),
    SeedPost(
        key="blaby-early-start",
        published="09:38",
        headline="Could the Lib Dems spring a shock in Blaby?",
        author=("Adam Whitty", "", "BBC Radio Leicester"),
        body=(
            "We've got an early start to counting in Blaby, Leicestershire, with boxes overturned at 9:30.",
            "It's all change here, with new ward boundaries meaning everyone is essentially standing for a new seat.",
            "The Conservatives have comfortably held this area since 1999, and it would have to be a very poor showing for them to lose control of the district.",
            'But the Liberal Democrats think they can take away their majority. When I asked a candidate if they were confident, I got a wink, and a "very".',
        ),
        councils=("blaby",),
    ),
    SeedPost(
        key="ashfield-labour-regrouping",
        published="09:37",
        headline="Ashfield: Labour 'regrouping' and looking forward",
        author=("Andrew Topping", "", "Local Democracy Reporting Service"),
        body=(
            "Labour secured just one seat on Ashfield District Council, one fewer than before.",
            "Cheryl Butler, the former Labour council leader, said she was now looking forward to future elections.",
            "\"We've got likely the parliamentary election coming up, we've got the county coming up, we potentially have mayoral coming up for the D2N2.",
            "\"So it's just about going back home, looking at the figures, looking where the wards and areas are that we've done well and just regrouping.",
            '"Getting out there and putting that positive message out - honesty, integrity and transparency - that we\'ve been out there telling the electorate this time, we just need to speak to more people."',
        ),
        councils=("ashfield",),
    ),
    SeedPost(
        key="charnwood-labour-hoping",
        published="09:20",
        headline="Charnwood: Labour hoping to make gains",
        author=("Tim Parker", "Reporter", "BBC Radio Leicester"),
        body=(
            "Conservatives have led Charnwood since 2007, with 37 of the 52 seats here, and they will be confident that recent investment packages promised for Loughborough will help bolster support.",
            "Can they brush off any concern about the national Conservative performance?",
            "Boundary changes here and getting on for half of candidates standing down may knock confidence on all sides here but Labour will hope to add to their group of 12 councillors.",
            "The Greens and Independents might have other ideas.",
        ),
        image_credit="Google",
        councils=("charnwood",),
    ),
    SeedPost(
        key="ashfield-moat",
        published="08:49",
        headline="'We've dug a moat around Ashfield'",
        author=("Hugh Casswell", "Political reporter", "BBC Radio Nottingham"),
        body=(
            "It might not fit with the wider story of these elections, but notable that Labour now have just one seat on Ashfield District Council - a council they were running as recently as 2018.",
            'Jason Zadrozny, the leader of Ashfield Independents, said: "People are waking up and seeing the national polls that Labour are having a fantastic day across the country - but not in Ashfield.',
            '"The residents of Ashfield have returned us for another four years so I\'m really grateful and delighted."',
            "Mr Zadrozny said the result reflected the achievements of his party over recent years.",
            "\"We've been delivering big projects - new leisure centre, millions of pounds into parks, town centre regeneration.",
            "\"We've secured the biggest Towns Fund of any council in the country so we've now got £70m to spend in the next term.\"",
            "Some of the money is earmarked for a new observatory, theatre and medical centres.",
            "He added: \"We've dug a moat around Ashfield; we're not interested in that national 'new red politics'.",
            '"We want to deliver for local communities and I think that\'s why residents have trusted us to do it again."',
        ),
        key_point=True,
        image_credit="LDRS",
        councils=("ashfield",),
    ),
    SeedPost(
        key="hinckley-and-bosworth-rejection-of-tories",
        published="08:31",
        headline="Hinckley and Bosworth: 'Rejection of Tories'",
        author=("Hannah Richardson and Chris Egerton", "", "BBC News"),
        body=(
            "It is the Liberal Democrats who have again emerged victorious. They secured 22 of the 34 seats on offer.",
            "The main opposition for the next four years will be formed by Conservatives again who secured 10 posts on the authority. The remaining two seats will be filled by Labour.",
            "Leader of the council Stuart Bray said he was “delighted by the results” and was off home to bed before the parish council counts tomorrow.",
            "He said: “I think it’s an indication of the way we’ve run the council over the last four years - we’ve kept council tax down, we’ve protected public services and people have rewarded us for that. “It’s clearly also a rejection of the Conservative Party, they continue to underfund our services here and people are fed up of being taken for granted.”",
            "And in Barwell, a delighted Charlotte Green takes the seat for Labour - it's the first time the party have won in the ward for 20 years.",
        ),
        key_point=True,
        councils=("hinckley-and-bosworth",),
        ballots=("local.hinckley-and-bosworth.barwell.2023-05-04",),
    ),
    SeedPost(
        key="north-west-leicestershire-wind-changing",
        published="08:12",
        headline="'The wind is changing slightly from Conservative'",
        author=("Tim Parker", "Reporter", "BBC Radio Leicester"),
        body=(
            "There was disappointment from the Conservative party in North West Leicestershire, but Richard Blunt, the Tory group leader, did not sound hugely concerned about the results.",
            "He said: \"It doesn't feel like the 1990s; it doesn't feel like there's a tidal wave of Labour support coming.",
            '"In 10 of the most marginal seats, very few people coming out really passionate about Labour or about Liberal or about Conservatives.',
            '"Not angry with us, just disillusioned about the whole process.',
            '"I see it as the wind is changing slightly from Conservative but it hasn\'t filled the Labour sail."',
        ),
        councils=("north-west-leicestershire",),
    ),
    SeedPost(
        key="north-west-leicestershire-labour-jump",
        published="07:57",
        headline="Labour jump for joy in NW Leicestershire",
        author=("Tim Parker", "Reporter", "BBC Radio Leicester"),
        body=(
            "Labour now have 17 seats in North West Leicestershire and have forced the Conservative party out of overall control.",
            "Labour group leader Sean Sheahan kept his seat in Measham South.",
            "In fact, he leapt in the air as the result was announced.",
            "He said: \"We've deprived the Tories of the majority. We now have to decide how we're going to proceed.",
            "\"We feel we've earned the right to form an administration - it just depends on how we do that and on what terms.",
            '"It really does depend on who else is available to form an agreement with, not necessarily an administration, but some sort of an agreement."',
        ),
        key_point=True,
        councils=("north-west-leicestershire",),
        ballots=("local.north-west-leicestershire.measham-south.2023-05-04",),
    ),
    SeedPost(
        key="leicester-labour-predicted",
        published="07:45",
        headline="Leicester: Labour predicted to retain power",
        author=("Tim Parker", "Reporter", "BBC Radio Leicester"),
        body=(
            "It’s now seems a long four years since Labour took all but one council seat and saw a third convincing elected mayoral election here.",
            "This time round, with 18 of their councillors deselected in a row over the future of the mayoral role, Labour are set to lose some seats.",
            "The Conservatives are confident of making gains, the Green Party hope for a long-awaited return to the council and the Lib Dems are also hoping to build their presence.",
            "But Labour are widely predicted to retain power in the council, alongside their elected mayor.",
        ),
        councils=("leicester",),
        ballots=("mayor.leicester.2023-05-04",),
    ),
    SeedPost(
        key="ashfield-tom-hollis-wins",
        published="07:38",
        headline="Tom Hollis wins despite convictions",
        author=("", "", ""),
        body=(
            "Tom Hollis is among the 32 winning Ashfield Independent candidates.",
            "The Huthwaite and Brierley representative received public 854 votes.",
            "It comes seven months after he was sentenced for harassment and careless driving.",
            "In October, a court heard the councillor had harassed his two neighbours and falsely told police that one had chased him with a carving knife.",
        ),
        image_credit="LDRS",
        councils=("ashfield",),
        ballots=("local.ashfield.huthwaite-and-brierley.2023-05-04",),
    ),
)

# A post still being written, so the draft flow can be seen. Its ballot (the
# Rushcliffe ward gone to a recount) is filled in by build_demo.
DRAFT_POST = SeedPost(
    key="rushcliffe-recount-draft",
    published=None,
    headline="Recount under way at Rushcliffe",
    author=("Hugh Casswell", "Political reporter", "BBC Radio Nottingham"),
    body=(
        "DRAFT: check the ward name with the count before publishing.",
        "One Rushcliffe ward has gone to a recount, with the Conservatives' majority on the line.",
    ),
    councils=("rushcliffe",),
)


# --------------------------------------------------------------------------
# The plan build_demo returns
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------

# TUSC stands in the cities only.
CITIES = ("derby", "leicester", "nottingham")

# fmt: off
WARD_NAMES = (
    "Abbey", "All Saints", "Ashgrove", "Beacon", "Beechwood", "Birchfield", "Bridge", "Brookside",
    "Broomhill", "Castle", "Cavendish", "Central", "Church", "Coppice", "Cross Hill", "Dale",
    "Eastfield", "Elmtree", "Fairfield", "Forest", "Fosse", "Grange", "Greenhill", "Greenwood",
    "Hall Park", "Hawthorn", "Heathfield", "Highfield", "Hillside", "Holly Bank", "Kingsway",
    "Lakeside", "Longdale", "Manor", "Market", "Meadows", "Mill", "Moorland", "Newlands",
    "Northfield", "Oakwood", "Old Town", "Orchard", "Park", "Priory", "Queensway", "Ridgeway",
    "Riverside", "Rosehill", "St Andrew's", "St John's", "St Mary's", "St Michael's", "St Peter's",
    "Southfield", "Springfield", "Stonebridge", "Sycamore", "Thornhill", "Valley", "Victoria",
    "Westfield", "Willowbrook", "Windmill", "Woodlands", "Woodside",
)
# fmt: on
# fmt: off
FIRST_NAMES = (
    "Aisha", "Alan", "Alison", "Amanda", "Amir", "Andrew", "Angela", "Anil", "Anne", "Anthony",
    "Barbara", "Ben", "Bernard", "Beverley", "Brian", "Carol", "Caroline", "Catherine", "Chris",
    "Claire", "Colin", "Daniel", "David", "Deborah", "Dennis", "Donna", "Edward", "Elaine", "Emma",
    "Fiona", "Gary", "Gemma", "Geoff", "Graham", "Hannah", "Harjit", "Helen", "Ian", "Imran",
    "Jackie", "Jane", "Jasbir", "Jennifer", "Joanne", "John", "Jonathan", "Julie", "Kate",
    "Keith", "Lesley", "Linda", "Lisa", "Liz", "Lucy", "Martin", "Mary", "Michael", "Michelle",
    "Mohammed", "Nadia", "Neil", "Nicola", "Nigel", "Pam", "Patricia", "Philip", "Priya",
    "Rachel", "Raj", "Rebecca", "Rosemary", "Ruth", "Sally", "Samina", "Sandra", "Sarah", "Shaun",
    "Sophie", "Stephen", "Susan", "Tariq", "Terry", "Tony", "Tracey", "Trevor", "Valerie", "Wendy",
    "Yasmin",
)
# fmt: on
# fmt: off
LAST_NAMES = (
    "Adams", "Ahmed", "Allen", "Armstrong", "Atkinson", "Bailey", "Baker", "Barker", "Bennett",
    "Bhatti", "Booth", "Bradshaw", "Brooks", "Brown", "Bryan", "Burton", "Carter", "Chadwick",
    "Chambers", "Chapman", "Cooper", "Cox", "Crawford", "Dale", "Davies", "Dawson", "Dixon",
    "Edwards", "Ellis", "Evans", "Fletcher", "Foster", "Fox", "Gibson", "Gill", "Goodwin", "Grant",
    "Gray", "Hall", "Harris", "Harrison", "Hart", "Hill", "Holmes", "Hopkins", "Hughes", "Hunt",
    "Hussain", "Jackson", "Johnson", "Jones", "Kaur", "Kelly", "Khan", "Knight", "Lawrence", "Lee",
    "Lewis", "Marsh", "Marshall", "Mason", "Matthews", "Miller", "Mills", "Mistry", "Moore",
    "Morgan", "Morris", "Murphy", "Naylor", "Newton", "Owen", "Palmer", "Parmar", "Patel", "Payne",
    "Pearson", "Phillips", "Potter", "Price", "Rahman", "Reynolds", "Richards", "Roberts", "Rogers",
    "Rose", "Russell", "Shah", "Sharma", "Shaw", "Simpson", "Singh", "Slater", "Smith", "Stevens",
    "Stone", "Sutton", "Taylor", "Thompson", "Turner", "Walker", "Walsh", "Watson", "Webb", "Wells",
    "White", "Wilkinson", "Williams", "Wilson", "Wood", "Wright", "Young",
)
# fmt: on


def scale_seats(seats: dict[str, int], total: int) -> dict[str, int]:
    """Scale a composition to ``total`` seats by the largest remainder (Hare).

    Ties on the remainder go to the party with more seats, then to the
    party listed first. A composition already of that size is returned as is.
    """
    current = sum(seats.values())
    if current == total:
        return dict(seats)
    quotas = {p: Fraction(n * total, current) for p, n in seats.items()}
    result = {p: math.floor(q) for p, q in quotas.items()}
    left = total - sum(result.values())
    order = sorted(seats, key=lambda p: (-(quotas[p] - result[p]), -seats[p], PARTY_ORDER.index(p)))
    for p in order[:left]:
        result[p] += 1
    return {p: n for p, n in result.items() if n}


def _ward_sizes(rng: random.Random, seats: int, count: int | None, single: bool) -> list[int]:
    if seats == 0:
        return []
    if single:
        return [1] * seats
    if count:
        base, extra = divmod(seats, count)
        sizes = [base + 1] * extra + [base] * (count - extra)
        if not all(1 <= s <= 3 for s in sizes):
            raise ValueError(f"{seats} seats cannot make {count} wards of 1 to 3 seats")
        rng.shuffle(sizes)
        return sizes
    sizes, left = [], seats
    while left:
        size = min(left, rng.choices((1, 2, 3), weights=(2, 3, 5))[0])
        sizes.append(size)
        left -= size
    return sizes


def _assign_winners(rng: random.Random, spec: CouncilSpec, wards: list[WardSpec]) -> dict[str, tuple]:
    """Parties of each ward's winners, adding up to the council's ``after``.

    Parties' seats are laid out in runs over the wards (in random order), so
    most wards are won by one party and a few are split, as on a real night.
    """
    left = Counter(spec.after)
    winners: dict[str, tuple] = {}
    for w in wards:
        if w.winners is not None:
            winners[w.name] = w.winners
            left.subtract(w.winners)
    if any(n < 0 for n in left.values()):
        raise ValueError(f"{spec.slug}: fixed wards win more seats than the council's total")
    open_wards = [w for w in wards if w.winners is None]
    rng.shuffle(open_wards)
    parties = [p for p in PARTY_ORDER if left[p] > 0]
    rng.shuffle(parties)
    tokens = [p for p in parties for _ in range(left[p])]
    i = 0
    for w in open_wards:
        winners[w.name] = tuple(tokens[i : i + w.seats])
        i += w.seats
    return winners


def _assign_previous(
    rng: random.Random, spec: CouncilSpec, wards: list[WardSpec], winners: dict[str, tuple]
) -> dict[str, list[str]]:
    """Parties of each ward's previous winners (notional), adding up to ``before``
    scaled to the new council size. Holds are preferred: a seat keeps its
    winner's party while that party has previous seats left to place."""
    left = Counter(scale_seats(spec.before, spec.seats_total))
    previous: dict[str, list] = {}
    for w in wards:
        if w.previous is not None:
            previous[w.name] = list(w.previous)
            left.subtract(w.previous)
    if any(n < 0 for n in left.values()):
        raise ValueError(f"{spec.slug}: fixed wards held more seats than the council did")
    order = [w for w in wards if w.previous is None]
    rng.shuffle(order)
    for w in order:
        slots = []
        for party in winners[w.name]:
            if left[party] > 0:
                slots.append(party)
                left[party] -= 1
            else:
                slots.append(None)
        previous[w.name] = slots
    losers = [p for p in PARTY_ORDER for _ in range(left[p])]
    rng.shuffle(losers)
    for w in order:
        slots = previous[w.name]
        for i, party in enumerate(slots):
            if party is None:
                slots[i] = losers.pop()
    return previous


def _person_name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name not in taken:
            taken.add(name)
            return name


@dataclass
class _Candidate:
    name: str
    party: str  # demo key; its seats count for this party
    party_id: str
    description: str
    strength: float
    elected: bool = False
    pinned_votes: int | None = None


def _slate(
    rng: random.Random,
    spec: CouncilSpec,
    ward: WardSpec,
    won: Counter,
    held: Counter,
    taken: set[str],
) -> list[_Candidate]:
    """Who stands in a ward: strong parties stand as many candidates as seats."""
    k = ward.seats
    contenders = [p for p in PARTY_ORDER if p != "Ind" and (spec.before.get(p) or spec.after.get(p))]
    leading = sorted(contenders, key=lambda p: -spec.after.get(p, 0))[:2]
    standing: list[tuple[str, int]] = []
    for p in contenders:
        strong = won[p] or held[p] or p in leading
        n = k if strong else rng.choices(range(k + 1), weights=[2] + [3] * k)[0]
        standing.append((p, max(n, won[p])))
    tusc = 0.25 if spec.slug in CITIES else 0.0
    for minor, chance in (("Grn", 0.35), ("Ref", 0.2), ("TUSC", tusc)):
        if minor not in contenders and rng.random() < chance:
            standing.append((minor, 1))
    standing.append(("Ind", won["Ind"] + (1 if rng.random() < 0.3 else 0)))
    if sum(n for _, n in standing) <= k:
        standing.append(("Ind", k + 1 - sum(n for _, n in standing)))

    lab_coop = spec.lab_coop_share and rng.random() < spec.lab_coop_share
    people = {p.party: [] for p in ward.people}
    for person in ward.people:
        people[person.party].append(person)
    slate: list[_Candidate] = []
    for party, n in standing:
        if n == 0:
            continue
        party_id, description = PARTIES[party]
        if party == "Lab" and lab_coop:
            party_id, description = LAB_COOP
        named = list(people.get(party, ()))
        winners_left = won[party]
        strength = rng.uniform(0.9, 1.3) if won[party] else rng.uniform(0.12, 0.4)
        if not won[party] and (held[party] or party in leading):
            strength = rng.uniform(0.45, 0.85)
        if party == "TUSC" and not won[party]:
            strength = rng.uniform(0.03, 0.1)
        for _ in range(n):
            person = named.pop(0) if named else None
            name = person.name if person else _person_name(rng, taken)
            weight = strength * rng.uniform(0.88, 1.12)
            if party == "Ind":
                weight = rng.uniform(0.9, 1.3) if winners_left else rng.uniform(0.15, 0.7)
            elected = winners_left > 0 and (person is None or person.elected is not False)
            winners_left -= elected
            slate.append(
                _Candidate(
                    name=name,
                    party=party,
                    party_id=party_id,
                    description=description,
                    strength=weight,
                    elected=elected,
                    pinned_votes=person.votes if person else None,
                )
            )
        if winners_left:
            raise ValueError(f"{ward.name}: {party} stands too few candidates for the seats it wins")
    return slate


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` votes in proportion to ``weights``, by the largest remainder."""
    whole = sum(weights)
    quotas = [total * w / whole for w in weights]
    votes = [math.floor(q) for q in quotas]
    for i in sorted(range(len(weights)), key=lambda i: (votes[i] - quotas[i], i))[: total - sum(votes)]:
        votes[i] += 1
    return votes


def _rejected(counted: int, rate: float) -> int:
    """Rejected ballot papers: ``rate`` of those counted, kept within 0.3% to 1%."""
    return min(math.floor(counted * 0.01), max(math.ceil(counted * 0.003), round(counted * rate)))


@dataclass(frozen=True)
class _Count:
    votes: tuple[int, ...]
    electorate: int
    counted: int
    rejected: int


def _count(rng: random.Random, seats: int, slate: list[_Candidate]) -> _Count:
    """Votes and ballot-paper figures for one ward; every winner strictly above every loser.

    Electorate 2,000-3,500 per seat; ballot papers counted 25-40% of it;
    rejected 0.3-1% of those counted. In a multi-member ward each voter has
    as many votes as seats and most use nearly all of them.
    """
    electorate = round(seats * rng.uniform(2010, 3490))
    # Drawn a little inside the ranges, so rounding never leaves them.
    turnout = rng.uniform(0.252, 0.398)
    counted = round(electorate * turnout)
    rate = rng.uniform(0.003, 0.01)
    rejected = _rejected(counted, rate)
    valid = counted - rejected
    use = 1.0 if seats == 1 else rng.uniform(0.82, 0.95)
    total = valid if seats == 1 else round(valid * seats * use)
    raw = _apportion(total, [c.strength for c in slate])

    # Winners take the top values (in their own order), losers the rest.
    winners = sorted((i for i, c in enumerate(slate) if c.elected), key=lambda i: -raw[i])
    losers = sorted((i for i, c in enumerate(slate) if not c.elected), key=lambda i: -raw[i])
    ranked = sorted(raw, reverse=True)
    votes = [0] * len(slate)
    for value, i in zip(ranked, winners + losers, strict=True):
        votes[i] = value

    pinned = [(i, c.pinned_votes) for i, c in enumerate(slate) if c.pinned_votes is not None]
    for i, target in pinned:
        factor = target / votes[i]
        votes = [round(v * factor) for v in votes]
        votes[i] = target

    # No tie at the cut-off: losers level with the weakest winner drop below it.
    floor_ = min(votes[i] for i in winners)
    moved = 0
    for rank, i in enumerate(losers):
        if votes[i] >= floor_:
            lowered = max(0, floor_ - 1 - rank)
            moved += votes[i] - lowered
            votes[i] = lowered
    if seats == 1 and not pinned:
        votes[winners[0]] += moved  # a single-member ward's votes stay equal to valid papers

    if pinned or max(votes) > valid or sum(votes) > valid * seats:
        # Pinned figures rescale the ward: work the ballot papers back from the votes.
        valid = sum(votes) if seats == 1 else max(math.ceil(sum(votes) / (seats * use)), max(votes) + 1)
        rejected = _rejected(round(valid / (1 - rate)), rate)
        counted = valid + rejected
        # Keep the electorate within 2,000-3,500 a seat and the turnout within 25-40%.
        low = max(math.ceil(counted / 0.398), math.ceil(seats * 2010))
        high = min(math.floor(counted / 0.252), math.floor(seats * 3490))
        electorate = min(max(round(counted / turnout), low), high)
    return _Count(tuple(votes), electorate, counted, rejected)


def _declaration_order(
    rng: random.Random, spec: CouncilSpec, wards: list[WardSpec], winners: dict[str, tuple]
) -> list[tuple[WardSpec, dt.datetime]]:
    """Wards in the order they declare, each with its time on the night."""
    order = list(wards)
    rng.shuffle(order)
    times: list[dt.datetime] = []
    if spec.milestone:
        # Find wards that make the seed's count in progress, declared before it.
        m = spec.milestone
        early = _subset(order, winners, m)
        # The seed's ward declares last of them, just before the post about it.
        early = [w for w in early if not w.people] + [w for w in early if w.people]
        rest = [w for w in order if w not in early]
        step = (m.at - spec.first_declaration) / len(early)
        times = [spec.first_declaration + step * i for i in range(len(early))]
        times = [t.replace(second=0, microsecond=0) for t in times]
        t = m.at
        for _ in rest:
            t += dt.timedelta(minutes=rng.randint(4, 11))
            times.append(t)
        order = early + rest
    else:
        t = spec.first_declaration
        for _ in order:
            times.append(t)
            t += dt.timedelta(minutes=rng.randint(3, 9))
    return list(zip(order, times, strict=True))


def _subset(order: list[WardSpec], winners: dict[str, tuple], m: Milestone) -> list[WardSpec]:
    """The first wards (in ``order``, seed wards first) adding up to the milestone exactly."""
    seeded = [w for w in order if w.people] + [w for w in order if not w.people]

    def search(i: int, seats: int, party: int, chosen: list[WardSpec]) -> list[WardSpec] | None:
        if seats == m.seats and party == m.party_seats:
            return chosen
        if i == len(seeded) or seats >= m.seats:
            return None
        w = seeded[i]
        won = winners[w.name].count(m.party)
        if seats + w.seats <= m.seats and party + won <= m.party_seats:
            found = search(i + 1, seats + w.seats, party + won, [*chosen, w])
            if found:
                return found
        if w.people:
            return None  # the seed's ward has declared by then
        return search(i + 1, seats, party, chosen)

    found = search(0, 0, 0, [])
    if found is None:
        raise ValueError(f"no set of wards makes {m.seats} seats with {m.party_seats} for {m.party}")
    return found


def _live_counts(spec: CouncilSpec, wards: int) -> tuple[int, int, int]:
    """Wards declared, counting and at a recount for a council still counting."""
    declared = spec.declared_wards
    if declared is None:
        return wards, 0, 0
    if declared == "half":
        declared = round(wards / 2)
    return declared, spec.counting_wards, spec.recount_wards


def _plan_council(rng: random.Random, spec: CouncilSpec) -> tuple[ElectionPlan, list[BallotPlan], list[Step]]:
    fixed = list(spec.wards)
    fixed_seats = sum(w.seats for w in fixed)
    count = spec.ward_count - len(fixed) if spec.ward_count else None
    sizes = _ward_sizes(rng, spec.seats_total - fixed_seats, count, spec.single_member)
    taken_names = {w.name for w in fixed}
    pool = [n for n in WARD_NAMES if n not in taken_names]
    if len(sizes) > len(pool):
        pool += [f"{n} {side}" for side in ("North", "South") for n in pool]
    names = rng.sample(pool, len(sizes))
    wards = fixed + [WardSpec(n, s) for n, s in zip(names, sizes, strict=True)]
    wards.sort(key=lambda w: w.name)
    if len({slugify(w.name) for w in wards}) != len(wards):
        raise ValueError(f"{spec.slug}: two wards share a slug")

    winners = _assign_winners(rng, spec, wards)
    previous = _assign_previous(rng, spec, wards, winners)
    declared_n, counting_n, recount_n = _live_counts(spec, len(wards))
    order = _declaration_order(rng, spec, wards, winners)

    taken_people = {p.name for w in fixed for p in w.people}
    slates: dict[str, list[_Candidate]] = {}
    counts: dict[str, _Count] = {}
    for w in wards:
        slate = _slate(rng, spec, w, Counter(winners[w.name]), Counter(previous[w.name]), taken_people)
        slates[w.name] = slate
        counts[w.name] = _count(rng, w.seats, slate)

    ballots: dict[str, BallotPlan] = {}
    steps: list[Step] = []
    for position, (w, at) in enumerate(order):
        ballot_id = f"local.{spec.slug}.{slugify(w.name)}.{POLL_DATE}"
        declared = position < declared_n
        status = "declared" if declared else "awaiting"
        if not declared and position < declared_n + counting_n + recount_n:
            status = "recount" if position >= declared_n + counting_n else "counting"
        c = counts[w.name]
        ballots[w.name] = BallotPlan(
            ballot_paper_id=ballot_id,
            election_id=spec.election_id,
            council_slug=spec.slug,
            ward_slug=slugify(w.name),
            label=w.name,
            seats=w.seats,
            candidates=tuple(
                CandidatePlan(
                    name=cand.name,
                    party_id=cand.party_id,
                    description=cand.description,
                    votes=c.votes[i] if declared else None,
                    elected=cand.elected,
                )
                for i, cand in enumerate(slates[w.name])
            ),
            previous=tuple(
                (PARTIES[p][0], n) for p, n in sorted(Counter(previous[w.name]).items(), key=_party_rank)
            ),
            status=status,
            declared_at=at if declared else None,
            electorate=c.electorate if declared else None,
            ballot_papers_counted=c.counted if declared else None,
            rejected_ballots=c.rejected if declared else None,
            illustrative=True,
        )
        if declared:
            steps.append(Step(at, "declare", ballot_id))
        elif status in ("counting", "recount"):
            steps.append(Step(at, "status", ballot_id, "counting"))
            if status == "recount":
                steps.append(Step(at + dt.timedelta(minutes=25), "status", ballot_id, "recount"))

    election = ElectionPlan(
        election_id=spec.election_id,
        council_slug=spec.slug,
        kind="local",
        seats_total=spec.seats_total,
        seats_total_before=spec.seats_total_before,
        composition=tuple((PARTIES[p][0], n) for p, n in sorted(spec.before.items(), key=_party_rank)),
    )
    _check_council(spec, list(ballots.values()), winners)
    return election, [ballots[w.name] for w in wards], steps


def _party_rank(item: tuple[str, int]) -> tuple[int, int]:
    party, seats = item
    return (-seats, PARTY_ORDER.index(party))


def _check_council(spec: CouncilSpec, ballots: list[BallotPlan], winners: dict[str, tuple]) -> None:
    """Refuse a plan that does not add up: the demo must derive the seed's figures."""
    won = Counter(p for parties in winners.values() for p in parties)
    if won != Counter(spec.after):
        raise ValueError(f"{spec.slug}: winners {dict(won)} do not add up to {spec.after}")
    held = Counter()
    for b in ballots:
        held.update({pid: n for pid, n in b.previous})
    expected = Counter({PARTIES[p][0]: n for p, n in scale_seats(spec.before, spec.seats_total).items()})
    if held != expected:
        raise ValueError(f"{spec.slug}: previous winners {dict(held)} are not {dict(expected)}")
    # A council left counting must not be callable yet.
    if spec.declared_wards is not None:
        declared = [winners[b.label] for b in ballots if b.status == "declared"]
        composition = rules.compose(
            seats_total=spec.seats_total,
            before={p: (n, 0) for p, n in spec.before.items()},
            declared_winners=declared,
            non_groups={"Ind"},
        )
        if composition.control.called:
            raise ValueError(f"{spec.slug} is meant to be still counting, but control can be called")


def _plan_mayor(rng: random.Random, spec: MayorSpec) -> tuple[ElectionPlan, BallotPlan, list[Step]]:
    illustrative = any(p.votes is None for p in spec.candidates)
    taken = {p.name for p in spec.candidates if p.name}
    people = [
        Person(p.name or _person_name(rng, taken), p.party, p.elected, p.votes) for p in spec.candidates
    ]
    electorate = counted = rejected = None
    if illustrative:
        # Generated: a city-wide first-past-the-post mayoralty, the winner well ahead.
        electorate = round(rng.uniform(240_000, 260_000))
        turnout = rng.uniform(0.28, 0.33)
        counted = round(electorate * turnout)
        rejected = round(counted * rng.uniform(0.005, 0.01))
        share = {"Lab": (0.40, 0.50), "Con": (0.18, 0.24), "Grn": (0.08, 0.12), "LD": (0.05, 0.08)}
        weights = [rng.uniform(*share.get(p.party, (0.01, 0.05))) for p in people]
        raw = sorted(_apportion(counted - rejected, weights), reverse=True)
        winner = next(i for i, p in enumerate(people) if p.elected)
        others = sorted((i for i in range(len(people)) if i != winner), key=lambda i: -weights[i])
        votes = dict(zip([winner, *others], raw, strict=True))
        people = [Person(p.name, p.party, p.elected, votes[i]) for i, p in enumerate(people)]
    ballot = BallotPlan(
        ballot_paper_id=spec.election_id,
        election_id=spec.election_id,
        council_slug=spec.slug,
        ward_slug=None,
        label="",
        seats=1,
        candidates=tuple(
            CandidatePlan(
                name=p.name,
                party_id=PARTIES[p.party][0],
                description=PARTIES[p.party][1],
                votes=p.votes,
                elected=bool(p.elected),
            )
            for p in people
        ),
        previous=((PARTIES[spec.previous][0], 1),),
        status="declared",
        declared_at=spec.declared_at,
        electorate=electorate,
        ballot_papers_counted=counted,
        rejected_ballots=rejected,
        illustrative=illustrative,
    )
    steps = [Step(spec.declared_at, "declare", spec.election_id)]
    if spec.counting_at:
        steps.insert(0, Step(spec.counting_at, "status", spec.election_id, "counting"))
    election = ElectionPlan(spec.election_id, spec.slug, "mayor", None, None, ())
    return election, ballot, steps


def build_demo() -> DemoPlan:
    """The whole demo as plain values. Pure and deterministic: the same on every call."""
    elections: list[ElectionPlan] = []
    ballots: list[BallotPlan] = []
    steps: list[Step] = []
    for spec in COUNCILS:
        # One generator per council, so editing one council's figures leaves the others alone.
        rng = random.Random(f"{RANDOM_SEED}:{spec.slug}")
        election, council_ballots, council_steps = _plan_council(rng, spec)
        elections.append(election)
        ballots += council_ballots
        steps += council_steps
    for mayor in MAYORS:
        rng = random.Random(f"{RANDOM_SEED}:{mayor.election_id}")
        election, ballot, mayor_steps = _plan_mayor(rng, mayor)
        elections.append(election)
        ballots.append(ballot)
        steps += mayor_steps
    recount = next(b.ballot_paper_id for b in ballots if b.status == "recount")
    draft = dataclasses.replace(DRAFT_POST, ballots=(recount,))
    posts = (*SEED_POSTS, draft)
    steps += [Step(p.published_at, "publish", p.key) for p in SEED_POSTS]
    # Stable sort: at the same minute, declarations come before the post about them.
    timeline = tuple(sorted(steps, key=lambda s: (s.at, s.action == "publish")))
    return DemoPlan(COUNCILS, tuple(elections), tuple(ballots), posts, timeline)


# --------------------------------------------------------------------------
# Loading, through the importers and the services
# --------------------------------------------------------------------------


def _csv(columns: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


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
    return _csv(
        [
            "person_name",
            "party_id",
            "party_name",
            "party_description_text",
            "election_id",
            "ballot_paper_id",
            "post_label",
            "seats_contested",
        ],
        rows,
    )


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
    return _csv(
        [
            "election_id",
            "seats_total",
            "seats_total_before",
            "party_id",
            "seats_before",
            "seats_not_up",
            "cycle",
        ],
        rows,
    )


def _ensure_reference_rows(plan: DemoPlan) -> None:
    """The local groups and the councils (names for headlines, official names, GSS codes).

    Created through the services, each with its ``reference`` event, as the admin would.
    """
    known_parties = set(
        Party.objects.filter(ec_id__in=[p[0] for p in LOCAL_PARTIES]).values_list("ec_id", flat=True)
    )
    for ec_id, name, short, abbreviation, colour in LOCAL_PARTIES:
        if ec_id not in known_parties:
            services.save_party(
                None,
                ec_id=ec_id,
                values={"name": name, "short_name": short, "abbreviation": abbreviation, "colour": colour},
            )
    known_councils = set(
        Council.objects.filter(slug__in=[c.slug for c in plan.councils]).values_list("slug", flat=True)
    )
    for spec in plan.councils:
        if spec.slug not in known_councils:
            services.save_council(
                None,
                slug=spec.slug,
                values={
                    "name": spec.name,
                    "official_name": spec.official_name,
                    "official_identifier": spec.gss,
                    "seats_total": spec.seats_total,
                },
            )


def is_loaded(plan: DemoPlan | None = None) -> bool:
    """Whether any of the demo is in the database."""
    plan = plan or build_demo()
    return (
        Election.objects.filter(election_id__in=plan.election_ids).exists()
        or Post.objects.filter(uid__in=[p.uid for p in plan.posts]).exists()
    )


def is_complete(plan: DemoPlan | None = None) -> bool:
    """Whether every election, ballot and post of the demo is in the database."""
    plan = plan or build_demo()
    return (
        Election.objects.filter(election_id__in=plan.election_ids).count() == len(plan.elections)
        and Ballot.objects.filter(ballot_paper_id__in=plan.ballot_ids).count() == len(plan.ballots)
        and Post.objects.filter(uid__in=[p.uid for p in plan.posts]).count() == len(plan.posts)
    )


def load_eve(plan: DemoPlan | None = None) -> None:
    """Write the eve of the poll: parties, councils, compositions, every ballot's candidates and
    previous winners, through the importers and the services. Nothing declared, no post."""
    plan = plan or build_demo()
    with transaction.atomic():
        _ensure_reference_rows(plan)
        importers.import_composition(composition_csv(plan))
        council_names = {c.slug: c.name for c in plan.councils}
        importers.import_candidates(candidates_csv(plan.ballots, council_names))
        parties = {p.ec_id: p for p in Party.objects.all()}
        ballots = {b.ballot_paper_id: b for b in Ballot.objects.filter(ballot_paper_id__in=plan.ballot_ids)}
        Ballot.objects.filter(
            ballot_paper_id__in=[b.ballot_paper_id for b in plan.ballots if b.illustrative]
        ).update(illustrative=True)
        for b in plan.ballots:
            services.set_previous_winners(
                ballots[b.ballot_paper_id], [(parties[p], n) for p, n in b.previous]
            )


def night_actions(plan: DemoPlan | None = None) -> list[dict]:
    """The demo's night as timeline actions (see ``results.timeline``), in order."""
    plan = plan or build_demo()
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
            seed = by_post[step.target]
            name, role, outlet = seed.author
            actions.append(
                {
                    "at": at,
                    "do": "post",
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
            )
    return actions


def timeline_text(plan: DemoPlan | None = None) -> str:
    """The demo's night as a timeline file (``results/timelines/demo-2023-05-04.jsonl`` is this)."""
    from . import timeline

    return timeline.dumps(
        POLL_DATE, "East Midlands local elections, 4 May 2023 (the demo)", night_actions(plan)
    )


def play_night(plan: DemoPlan | None = None) -> None:
    """Play the demo's night at once, through the services, then save the draft post."""
    from . import timeline

    plan = plan or build_demo()
    with transaction.atomic():
        timeline.apply_all(timeline.parse(timeline_text(plan).splitlines()))
        councils = {c.slug: c for c in Council.objects.filter(slug__in=[c.slug for c in plan.councils])}
        ballots = {b.ballot_paper_id: b for b in Ballot.objects.filter(ballot_paper_id__in=plan.ballot_ids)}
        for seed in plan.posts:
            if seed.published_at is None and not Post.objects.filter(uid=seed.uid).exists():
                _save_post(seed, councils, ballots)


def load_demo(plan: DemoPlan | None = None) -> None:
    """Write the demo in one transaction: the eve of the poll through the importers, then the
    night (declarations, count statuses and posts) through the services, in order. Expects
    none of the demo to be there yet (see ``is_loaded``; ``reset_demo`` returns it to the eve)."""
    plan = plan or build_demo()
    with transaction.atomic():
        load_eve(plan)
        play_night(plan)


def _save_post(seed: SeedPost, councils: dict[str, Council], ballots: dict[str, Ballot]) -> Post:
    name, role, outlet = seed.author
    post = services.save_post(
        Post(uid=seed.uid),
        changes={
            "headline": seed.headline,
            "body": "\n\n".join(seed.body),
            "author_name": name,
            "author_role": role,
            "author_outlet": outlet,
            "breaking": seed.breaking,
            "key_point": seed.key_point,
            "image_caption": seed.image_caption,
            "image_credit": seed.image_credit,
        },
        councils=[councils[slug] for slug in seed.councils],
        ballots=[ballots[ballot_id] for ballot_id in seed.ballots],
    )
    if seed.published_at is not None:
        services.publish_post(post, published_at=seed.published_at)
    return post


def reset_demo(plan: DemoPlan | None = None, *, user=None) -> Event | None:
    """Return the demo to the eve of the poll through ``services.reset_to_eve``: every ballot
    awaiting, no result, its posts withdrawn, one ``reset`` event. Nothing is deleted (the event
    log is never rewritten). ``None`` if the demo is not loaded."""
    plan = plan or build_demo()
    if not Ballot.objects.filter(ballot_paper_id__in=plan.ballot_ids).exists():
        return None
    posts = Post.objects.filter(uid__in=[p.uid for p in plan.posts])
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


def demo_summary(plan: DemoPlan | None = None) -> DemoSummary:
    """What the demo in the database holds, derived the way the API derives it."""
    plan = plan or build_demo()
    elections = list(Election.objects.filter(election_id__in=plan.election_ids).with_results())
    standings = [(e, election_standing(e)) for e in elections]
    councils = [(e, s) for e, s in standings if s is not None]
    ballots = [b for e in elections for b in e.ballots.all()]
    posts = Post.objects.filter(uid__in=[p.uid for p in plan.posts])
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
