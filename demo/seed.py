"""What the seed page says: the East Midlands local elections of 4 May 2023.

The generator's input, written down once. Everything the seed page states is
here as it states it: which councils changed hands, the seats some councils
ended with ("22 of the 34 seats"), Rushcliffe's magic number, Tom Hollis's 854
votes in a two-seat ward, the Mansfield mayoral result, and the live posts
themselves. Where the seed says nothing, compositions come from Open Council
Data UK (its 2022 row before the poll, its 2023 row after).

``demo.generator`` turns this into the files under ``demo/data/`` (the
importers' CSVs and the night's timeline); ``demo.loader`` loads those files.
Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
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
