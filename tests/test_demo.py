"""The demo (``load_demo``): the East Midlands on 4 May 2023, derived as the seed page reports it.

The demo is loaded once for the module (it is committed to the test database
and deleted again at the end); each test runs in its own transaction on top.
"""

import datetime as dt
import io
import random
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from demo import files, generator, loader, seed
from results.models import (
    Ballot,
    Candidacy,
    CompositionBefore,
    Council,
    Election,
    Event,
    Party,
    Post,
    PreviousWinner,
    Ward,
)
from results.standings import ballot_changes, election_standing

from .cleanup import wipe_results

LONDON = ZoneInfo("Europe/London")
PARTY = {
    "Con": "PP52",
    "Lab": "PP53",
    "LD": "PP90",
    "Grn": "PP63",
    "Ref": "PP7931",
    "TUSC": "PP804",
    "Ind": "ynmp-party:2",
    "AshInd": "demo:ashfield-independents",
    "MansInd": "demo:mansfield-independents",
}
ABBREVIATION = {ec_id: key for key, ec_id in PARTY.items()}

# slug: (derived headline, the seed's summary line it corresponds to)
HEADLINES = {
    "harborough": (
        "Conservatives lose Harborough to no overall control",
        "Conservatives lose Harborough to no overall control",
    ),
    "derby": ("Derby remains in no overall control", "Derby remains in no overall control"),
    "leicester": ("Labour hold Leicester", "Labour hold Leicester City Council"),
    "derbyshire-dales": (
        "Derbyshire Dales remains in no overall control",
        "Derbyshire Dales still no overall control",
    ),
    "chesterfield": ("Labour hold Chesterfield", "Labour hold Chesterfield"),
    "rutland": ("Rutland remains in no overall control", "Rutland remains no overall control"),
    "north-west-leicestershire": (
        "Conservatives lose North West Leicestershire to no overall control",
        "Tories lose control of North West Leicestershire",
    ),
    "bassetlaw": ("Labour hold Bassetlaw", "Labour hold Bassetlaw and Bolsover"),
    "bolsover": ("Labour hold Bolsover", "Labour hold Bassetlaw and Bolsover"),
    "hinckley-and-bosworth": (
        "Lib Dems hold Hinckley and Bosworth",
        "Lib Dems keep control of Hinckley & Bosworth",
    ),
    "ashfield": ("Ashfield Independents hold Ashfield", "Ashfield Independents retain control"),
    "blaby": ("Conservatives hold Blaby", "Conservatives hold Blaby"),
    "north-east-derbyshire": ("Labour gain North East Derbyshire", "Labour gain North East Derbyshire"),
    "broxtowe": ("Labour gain Broxtowe", "Labour take Broxtowe and hold Gedling"),
    "gedling": ("Labour hold Gedling", "Labour take Broxtowe and hold Gedling"),
    "high-peak": ("Labour gain High Peak", "Labour gains High Peak from no overall control"),
    "mansfield": ("Labour gain Mansfield", "Labour take control of Mansfield"),
    "newark-and-sherwood": (
        "Conservatives lose Newark and Sherwood to no overall control",
        "Tories lose control of Newark & Sherwood, and Charnwood",
    ),
    "charnwood": (
        "Conservatives lose Charnwood to no overall control",
        "Tories lose control of Newark & Sherwood, and Charnwood",
    ),
    "nottingham": ("Labour hold Nottingham", "Labour hold Nottingham"),
    "oadby-and-wigston": ("Lib Dems hold Oadby and Wigston", "Lib Dems retain Oadby and Wigston"),
}

# slug: (seats before, seats after), as reconciled from the seed and the Open Council Data CSV.
SEATS = {
    "harborough": (dict(Con=22, Lab=1, LD=11), dict(Con=15, Lab=3, LD=13, Grn=3)),
    "derby": (dict(Con=17, Lab=16, LD=8, Ref=2, Ind=8), dict(Con=15, Lab=23, LD=4, Ind=9)),
    "leicester": (dict(Con=1, Lab=51, LD=1, Ind=1), dict(Con=16, Lab=32, LD=3, Grn=3)),
    "derbyshire-dales": (dict(Con=19, Lab=4, LD=7, Grn=2, Ind=7), dict(Con=11, Lab=6, LD=12, Grn=4, Ind=1)),
    "chesterfield": (dict(Lab=28, LD=17, Ind=3), dict(Lab=28, LD=12)),
    "rutland": (dict(Con=9, Lab=1, LD=5, Grn=1, Ind=11), dict(Con=6, Lab=2, LD=11, Grn=1, Ind=7)),
    "north-west-leicestershire": (dict(Con=22, Lab=9, LD=4, Grn=1, Ind=2), dict(Con=12, Lab=17, LD=5, Ind=4)),
    "bassetlaw": (dict(Con=8, Lab=37, LD=1, Ind=2), dict(Con=8, Lab=38, Ind=2)),
    "bolsover": (dict(Con=3, Lab=19, Ind=15), dict(Con=3, Lab=31, Ref=1, Ind=2)),
    "hinckley-and-bosworth": (dict(Con=10, Lab=2, LD=21, Ind=1), dict(Con=10, Lab=2, LD=22)),
    "ashfield": (dict(Con=3, Lab=2, AshInd=30), dict(Con=2, Lab=1, AshInd=32)),
    "blaby": (dict(Con=25, Lab=6, LD=6, Grn=1, Ind=1), dict(Con=19, Lab=6, LD=9, Grn=2)),
    "north-east-derbyshire": (dict(Con=30, Lab=17, LD=3, Ind=3), dict(Con=19, Lab=28, LD=3, Grn=1, Ind=2)),
    "broxtowe": (dict(Con=19, Lab=14, LD=7, Ind=4), dict(Con=10, Lab=26, LD=5, Ind=3)),
    "gedling": (dict(Con=8, Lab=27, LD=3, Ind=3), dict(Con=9, Lab=28, LD=4)),
    "high-peak": (dict(Con=16, Lab=21, LD=3, Grn=2, Ind=1), dict(Con=10, Lab=29, LD=1, Grn=2, Ind=1)),
    "mansfield": (dict(Con=2, Lab=14, MansInd=15, Ind=5), dict(Con=5, Lab=25, Ref=3, MansInd=3)),
    "newark-and-sherwood": (dict(Con=30, Lab=6, LD=2, Ind=1), dict(Con=14, Lab=11, LD=3, Ind=11)),
    "charnwood": (dict(Con=37, Lab=12, Grn=1, Ind=2), dict(Con=23, Lab=20, Grn=8, Ind=1)),
    "nottingham": (dict(Con=2, Lab=50, Ind=3), dict(Lab=51, Ind=4)),
    "oadby-and-wigston": (dict(Con=3, LD=23), dict(Con=7, LD=18, Ind=1)),
}


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    """Load the demo once for the module; yield what the command printed; delete it after."""
    out = io.StringIO()
    with django_db_blocker.unblock():
        call_command("load_demo", stdout=out)
    yield out.getvalue()
    with django_db_blocker.unblock():
        wipe_results()


def standing(slug: str):
    return election_standing(Election.objects.with_results().get(election_id=f"local.{slug}.2023-05-04"))


def seats_by_party(slug: str) -> dict[str, int]:
    return {ABBREVIATION[row.party]: row.seats for row in standing(slug).composition.parties if row.seats}


def ballot(ballot_paper_id: str) -> Ballot:
    return Ballot.objects.with_results().get(ballot_paper_id=ballot_paper_id)


def result(ballot_paper_id: str) -> list[tuple]:
    """(name, party id, votes, elected), strongest first."""
    return list(
        Candidacy.objects.filter(ballot__ballot_paper_id=ballot_paper_id)
        .order_by("-votes", "person_name")
        .values_list("person_name", "party__ec_id", "votes", "elected")
    )


def content() -> tuple:
    """Everything the demo wrote, by natural ids (database ids differ after a reload)."""
    return (
        sorted(
            Council.objects.values_list("slug", "name", "official_name", "official_identifier", "seats_total")
        ),
        sorted(Ward.objects.values_list("council__slug", "slug", "name", "seats")),
        sorted(
            Election.objects.values_list(
                "election_id", "kind", "seats_total", "seats_total_before", "control_before__ec_id"
            )
        ),
        sorted(CompositionBefore.objects.values_list("election__election_id", "party__ec_id", "seats_held")),
        sorted(
            Ballot.objects.values_list(
                "ballot_paper_id",
                "winner_count",
                "status",
                "declared_at",
                "electorate",
                "ballot_papers_counted",
                "rejected_ballots",
                "illustrative",
            )
        ),
        sorted(
            Candidacy.objects.values_list(
                "ballot__ballot_paper_id", "person_name", "party__ec_id", "description", "votes", "elected"
            )
        ),
        sorted(PreviousWinner.objects.values_list("ballot__ballot_paper_id", "party__ec_id", "seats")),
        sorted(
            (str(uid), *rest)
            for uid, *rest in Post.objects.values_list(
                "uid", "headline", "body", "status", "published_at", "breaking", "key_point"
            )
        ),
        list(Event.objects.order_by("id").values_list("kind", "ballot__ballot_paper_id", "post__headline")),
        sorted(Party.objects.values_list("ec_id", "short_name", "is_independent")),
    )


# --------------------------------------------------------------------------
# Control, as the seed's summary reports it
# --------------------------------------------------------------------------


@pytest.mark.parametrize("slug", list(HEADLINES))
def test_every_declared_council_derives_the_seed_headline(loaded, slug):
    """Each council's derived headline, and the seed's summary line it stands for.

    The seed words them loosely; the demo derives the forms of
    ``results.rules.control_headline``:

    - "Conservatives lose Harborough to no overall control" (seed: the same)
    - "Derby remains in no overall control" (seed: the same)
    - "Labour hold Leicester" (seed: "Labour hold Leicester City Council")
    - "Derbyshire Dales remains in no overall control" (seed: "Derbyshire Dales still no overall control")
    - "Labour hold Chesterfield" (seed: the same)
    - "Rutland remains in no overall control" (seed: "Rutland remains no overall control")
    - "Conservatives lose North West Leicestershire to no overall control"
      (seed: "Tories lose control of North West Leicestershire")
    - "Labour hold Bassetlaw", "Labour hold Bolsover" (seed: "Labour hold Bassetlaw and Bolsover")
    - "Lib Dems hold Hinckley and Bosworth" (seed: "Lib Dems keep control of Hinckley & Bosworth")
    - "Ashfield Independents hold Ashfield" (seed: "Ashfield Independents retain control")
    - "Conservatives hold Blaby" (seed: the same)
    - "Labour gain North East Derbyshire" (seed: the same)
    - "Labour gain Broxtowe", "Labour hold Gedling" (seed: "Labour take Broxtowe and hold Gedling")
    - "Labour gain High Peak" (seed: "Labour gains High Peak from no overall control")
    - "Labour gain Mansfield" (seed: "Labour take control of Mansfield")
    - "Conservatives lose Newark and Sherwood to no overall control",
      "Conservatives lose Charnwood to no overall control"
      (seed: "Tories lose control of Newark & Sherwood, and Charnwood")
    - "Labour hold Nottingham" (seed: the same)
    - "Lib Dems hold Oadby and Wigston" (seed: "Lib Dems retain Oadby and Wigston")
    """
    headline, _seed_line = HEADLINES[slug]
    s = standing(slug)
    assert s.composition.control.called is True
    assert s.headline == headline
    assert (s.ballots_declared, s.composition.seats_to_declare) == (s.ballots_total, 0)


@pytest.mark.parametrize("slug", list(SEATS))
def test_seats_before_and_after_match_the_reconciled_table(loaded, slug):
    before, after = SEATS[slug]
    s = standing(slug)
    assert seats_by_party(slug) == after
    assert {ABBREVIATION[r.party]: r.seats_before for r in s.composition.parties if r.seats_before} == before
    assert s.composition.seats_total == sum(after.values())


def test_hinckley_and_bosworth_ends_lib_dems_22_conservatives_10_labour_2(loaded):
    s = standing("hinckley-and-bosworth")
    assert [(ABBREVIATION[r.party], r.seats) for r in s.composition.parties] == [
        ("LD", 22),
        ("Con", 10),
        ("Lab", 2),
        ("Ind", 0),
    ]
    assert (s.composition.seats_total, s.composition.majority) == (34, 18)


def test_control_before_the_poll_is_derived_from_the_composition(loaded):
    control_before = dict(
        Election.objects.filter(kind="local").values_list("council__slug", "control_before__ec_id")
    )
    assert control_before == {
        "harborough": "PP52",
        "derby": None,
        "leicester": "PP53",
        "derbyshire-dales": None,  # the seed: already no overall control
        "chesterfield": "PP53",
        "rutland": None,  # 11 Independents are not a group
        "north-west-leicestershire": "PP52",
        "bassetlaw": "PP53",
        "bolsover": "PP53",
        "hinckley-and-bosworth": "PP90",
        "ashfield": "demo:ashfield-independents",
        "blaby": "PP52",
        "north-east-derbyshire": "PP52",
        "broxtowe": None,
        "gedling": "PP53",
        "high-peak": None,
        "mansfield": None,
        "newark-and-sherwood": "PP52",
        "charnwood": "PP52",
        "nottingham": "PP53",
        "oadby-and-wigston": "PP90",
        "rushcliffe": "PP52",
        "erewash": "PP52",
    }


@pytest.mark.parametrize(
    ("slug", "scaled"),
    [
        ("harborough", dict(Con=22, Lab=1, LD=11)),  # same size: the composition itself
        ("chesterfield", dict(Lab=23, LD=14, Ind=3)),  # 48 seats scaled to 40
        ("derbyshire-dales", dict(Con=17, Lab=3, LD=6, Grn=2, Ind=6)),  # 39 to 34
        ("blaby", dict(Con=23, Lab=6, LD=5, Grn=1, Ind=1)),  # 39 to 36
    ],
)
def test_previous_winners_are_the_composition_scaled_to_the_new_council(loaded, slug, scaled):
    held = Counter()
    for party_id, seats in PreviousWinner.objects.filter(
        ballot__election__election_id=f"local.{slug}.2023-05-04"
    ).values_list("party__ec_id", "seats"):
        held[ABBREVIATION[party_id]] += seats
    assert dict(held) == scaled
    changes = {ABBREVIATION[r.party]: r.change for r in standing(slug).composition.parties}
    after = SEATS[slug][1]
    assert changes == {p: after.get(p, 0) - scaled.get(p, 0) for p in changes}


# --------------------------------------------------------------------------
# The two councils still counting
# --------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["rushcliffe", "erewash"])
def test_councils_still_counting_are_not_called(loaded, slug):
    s = standing(slug)
    assert (s.composition.control.called, s.control_party, s.headline) == (False, None, None)
    assert s.control_before.ec_id == "PP52"


def test_rushcliffe_magic_number_is_23(loaded):
    s = standing("rushcliffe")
    assert (s.composition.seats_total, s.composition.majority) == (44, 23)


def test_rushcliffe_has_half_its_wards_declared_one_counting_one_recount(loaded):
    statuses = Counter(
        Ballot.objects.filter(election__election_id="local.rushcliffe.2023-05-04").values_list(
            "status", flat=True
        )
    )
    assert statuses == {"declared": 10, "awaiting": 7, "counting": 1, "recount": 1}


def test_erewash_has_only_a_few_wards_declared(loaded):
    statuses = Counter(
        Ballot.objects.filter(election__election_id="local.erewash.2023-05-04").values_list(
            "status", flat=True
        )
    )
    assert statuses == {"declared": 4, "counting": 1, "awaiting": 15}
    assert (standing("erewash").composition.seats_total, standing("erewash").composition.majority) == (47, 24)


def test_undeclared_ballots_have_candidates_but_no_votes(loaded):
    undeclared = Ballot.objects.exclude(status__in=["declared", "uncontested"])
    assert undeclared.count() == 25
    candidacies = Candidacy.objects.filter(ballot__in=undeclared)
    assert candidacies.count() == 194
    assert not candidacies.exclude(votes=None).exists()
    assert not candidacies.exclude(elected=None).exists()
    assert not undeclared.exclude(electorate=None, ballot_papers_counted=None, declared_at=None).exists()


# --------------------------------------------------------------------------
# The seed's own results
# --------------------------------------------------------------------------


def test_mansfield_mayor_result_is_exactly_the_seeds(loaded):
    b = ballot("mayor.mansfield.2023-05-04")
    assert result(b.ballot_paper_id) == [
        ("Andy Abrahams", "PP53", 9987, True),
        ("Andre Camilleri", "PP52", 5832, False),
        ("Mick Barton", "demo:mansfield-independents", 4992, False),
        ("Julie Tasker-Love-Birks", "ynmp-party:2", 936, False),
        ("Karen Seymour", "PP804", 420, False),
    ]
    assert (b.election.election_id, b.election.kind, b.ward, b.winner_count) == (
        "mayor.mansfield.2023-05-04",
        "mayor",
        None,
        1,
    )
    assert (b.status, b.declared_at, b.illustrative) == (
        "declared",
        dt.datetime(2023, 5, 5, 11, 30, tzinfo=dt.UTC),
        False,
    )
    assert [c.headline for c in ballot_changes(b)] == ["Labour hold Mayor of Mansfield"]
    assert election_standing(b.election) is None


def test_leicester_mayor_soulsby_wins_an_illustrative_ballot(loaded):
    b = ballot("mayor.leicester.2023-05-04")
    ranking = result(b.ballot_paper_id)
    assert ranking[0][:2] == ("Sir Peter Soulsby", "PP53")
    assert [elected for *_, elected in ranking] == [True, False, False, False, False, False]
    assert (b.ward, b.winner_count, b.illustrative, b.status) == (None, 1, True, "declared")
    assert [c.headline for c in ballot_changes(b)] == ["Labour hold Mayor of Leicester"]


def test_tom_hollis_is_elected_with_854_votes_in_a_two_seat_ward(loaded):
    b = ballot("local.ashfield.huthwaite-and-brierley.2023-05-04")
    assert (b.ward.name, b.winner_count, b.ward.seats) == ("Huthwaite and Brierley", 2, 2)
    elected = [(name, party, votes) for name, party, votes, won in result(b.ballot_paper_id) if won]
    assert len(elected) == 2
    assert ("Tom Hollis", "demo:ashfield-independents", 854) in elected
    assert {party for _, party, _ in elected} == {"demo:ashfield-independents"}
    assert [c.headline for c in ballot_changes(b)] == [
        "Ashfield Independents hold Huthwaite and Brierley"
    ] * 2


@pytest.mark.parametrize(
    ("ballot_paper_id", "person", "headlines"),
    [
        (
            "local.hinckley-and-bosworth.barwell.2023-05-04",
            ("Charlotte Green", "PP53"),
            [
                "Conservatives hold Barwell",
                "Conservatives hold Barwell",
                "Labour gain Barwell from Conservatives",
            ],
        ),
        (
            "local.north-west-leicestershire.measham-south.2023-05-04",
            ("Sean Sheahan", "PP53"),
            ["Labour hold Measham South"],
        ),
        ("local.blaby.blaby-south.2023-05-04", ("Paul Hartshorn", "PP90"), ["Lib Dems hold Blaby South"]),
        ("local.bassetlaw.sturton.2023-05-04", ("James Naish", "PP53"), ["Labour hold Sturton"]),
        (
            "local.bassetlaw.misterton.2023-05-04",
            ("Hazel Brand", "ynmp-party:2"),
            ["Independents hold Misterton"],
        ),
    ],
)
def test_seed_candidates_win_their_wards(loaded, ballot_paper_id, person, headlines):
    b = ballot(ballot_paper_id)
    winners = [(name, party) for name, party, _, won in result(ballot_paper_id) if won]
    assert person in winners
    assert sorted(c.headline for c in ballot_changes(b)) == headlines


def test_ranskill_is_a_conservative_gain_from_labour(loaded):
    b = ballot("local.bassetlaw.ranskill.2023-05-04")
    assert [c.headline for c in ballot_changes(b)] == ["Conservatives gain Ranskill from Labour"]


def test_steve_hassall_stands_for_the_conservatives_in_allestree_one_of_18_derby_wards(loaded):
    assert Candidacy.objects.filter(
        ballot__ballot_paper_id="local.derby.allestree.2023-05-04",
        person_name="Steve Hassall",
        party__ec_id="PP52",
    ).exists()
    derby = Ward.objects.filter(council__slug="derby")
    assert (derby.count(), sum(derby.values_list("seats", flat=True))) == (18, 51)


def test_blaby_lib_dems_had_five_of_13_declared_seats_at_1156(loaded):
    """11:56: "They've won five of 13 seats declared seats so far"."""
    early = Ballot.objects.filter(
        election__election_id="local.blaby.2023-05-04",
        declared_at__lte=dt.datetime(2023, 5, 5, 11, 56, tzinfo=LONDON),
    )
    assert sum(early.values_list("winner_count", flat=True)) == 13
    assert Candidacy.objects.filter(ballot__in=early, elected=True, party__ec_id="PP90").count() == 5
    assert early.filter(ballot_papers_counted__isnull=False, ward__slug="blaby-south").exists()


def test_labour_and_cooperative_candidacies_count_for_labour(loaded):
    joint = Candidacy.objects.filter(
        ballot__election__election_id="local.nottingham.2023-05-04", party__ec_id="joint-party:53-119"
    )
    assert joint.filter(elected=True).count() == 26
    assert joint.first().description == "Labour and Co-operative Party"
    assert seats_by_party("nottingham") == {"Lab": 51, "Ind": 4}


# --------------------------------------------------------------------------
# Every generated ballot
# --------------------------------------------------------------------------


def test_every_declared_ballot_elects_winners_strictly_above_its_losers(loaded):
    declared = Ballot.objects.filter(status="declared").prefetch_related("candidacies")
    assert declared.count() == 412
    for b in declared:
        winners = [c.votes for c in b.candidacies.all() if c.elected]
        losers = [c.votes for c in b.candidacies.all() if not c.elected]
        assert len(winners) == b.winner_count, b
        assert losers and min(winners) > max(losers), b
        assert not any(c.elected_by_lot for c in b.candidacies.all()), b


def test_generated_ballots_have_realistic_figures(loaded):
    wards = Ballot.objects.filter(status="declared", ward__isnull=False).prefetch_related("candidacies")
    for b in wards:
        votes = [c.votes for c in b.candidacies.all()]
        valid = b.ballot_papers_counted - b.rejected_ballots
        assert b.illustrative, b
        assert 1 <= b.winner_count == b.ward.seats <= 3, b
        assert 2000 <= b.electorate / b.winner_count <= 3500, b
        assert 0.25 <= b.ballot_papers_counted / b.electorate <= 0.40, b
        assert 0.003 <= b.rejected_ballots / b.ballot_papers_counted <= 0.01, b
        assert max(votes) <= valid, b
        assert sum(votes) <= valid * b.winner_count, b
        if b.winner_count == 1:
            assert sum(votes) == valid, b
        names = [c.person_name for c in b.candidacies.all()]
        assert len(names) == len(set(names)), b


def test_every_generated_ballot_is_marked_illustrative(loaded):
    assert set(Ballot.objects.filter(illustrative=False).values_list("ballot_paper_id", flat=True)) == {
        "mayor.mansfield.2023-05-04"
    }


def test_councils_carry_headline_and_official_names(loaded):
    assert list(
        Council.objects.filter(slug__in=["hinckley-and-bosworth", "leicester", "derby", "blaby"])
        .order_by("slug")
        .values_list("name", "official_name", "seats_total")
    ) == [
        ("Blaby", "Blaby District Council", 36),
        ("Derby", "Derby City Council", 51),
        ("Hinckley and Bosworth", "Hinckley and Bosworth Borough Council", 34),
        ("Leicester", "Leicester City Council", 54),
    ]
    assert Party.objects.get(ec_id="demo:ashfield-independents").is_independent is False


# --------------------------------------------------------------------------
# Live posts
# --------------------------------------------------------------------------


def test_published_posts_are_the_seeds(loaded):
    published = Post.objects.published()
    assert published.count() == 19
    assert Event.objects.filter(kind="post_published").count() == 19
    assert list(published.filter(key_point=True).values_list("headline", flat=True)) == [
        "Labour's Andy Abrahams re-elected as Mansfield Mayor",
        "Bassetlaw: 'Positive things happening'",
        "'We've dug a moat around Ashfield'",
        "Hinckley and Bosworth: 'Rejection of Tories'",
        "Labour jump for joy in NW Leicestershire",
    ]
    first, last = published.first(), published.last()
    assert (first.headline, first.published_at, last.headline, last.published_at) == (
        "Labour's Andy Abrahams re-elected as Mansfield Mayor",
        dt.datetime(2023, 5, 5, 12, 33, tzinfo=LONDON),
        "Tom Hollis wins despite convictions",
        dt.datetime(2023, 5, 5, 7, 38, tzinfo=LONDON),
    )


def test_mansfield_mayor_post_is_breaking_with_its_author_and_image_credit(loaded):
    post = Post.objects.get(headline="Labour's Andy Abrahams re-elected as Mansfield Mayor")
    assert (post.author_name, post.author_role, post.author_outlet) == (
        "Kevin Stanley",
        "Reporter",
        "BBC Radio Nottingham",
    )
    assert (post.breaking, post.key_point, post.image_caption, post.image_credit) == (
        True,
        True,
        "",
        "Labour Party",
    )
    assert post.body.split("\n\n")[0] == (
        "Labour's Andy Abrahams has been re-elected as Mayor of Mansfield with 9,987 votes."
    )
    assert len(post.body.split("\n\n")) == 3
    assert list(post.councils.values_list("slug", flat=True)) == ["mansfield"]
    assert list(post.ballots.values_list("ballot_paper_id", flat=True)) == ["mayor.mansfield.2023-05-04"]


def test_posts_split_author_role_and_outlet_and_keep_captions(loaded):
    authors = dict(Post.objects.published().values_list("headline", "author_outlet"))
    assert authors["Counting begins in Derby"] == "East Midlands Today"
    assert authors["Tom Hollis wins despite convictions"] == ""
    blaby = Post.objects.get(headline="Blaby Lib Dems might be 'popping champagne'")
    assert (blaby.author_name, blaby.author_role, blaby.author_outlet, blaby.image_caption) == (
        "Adam Whitty",
        "",
        "BBC Radio Leicester",
        "Paul Hartshorn has kept his seat in Hinckley",
    )
    hollis = Post.objects.get(headline="Tom Hollis: 'You can’t lick your wounds in private'")
    assert (hollis.author_outlet, hollis.image_credit) == ("Local Democracy Reporting Service", "LDRS")
    assert list(hollis.ballots.values_list("ballot_paper_id", flat=True)) == [
        "local.ashfield.huthwaite-and-brierley.2023-05-04"
    ]


def test_draft_post_is_not_published(loaded):
    draft = Post.objects.get(status="draft")
    assert (draft.headline, draft.published_at) == ("Recount under way at Rushcliffe", None)
    assert not Post.objects.published().filter(pk=draft.pk).exists()
    assert not Event.objects.filter(post=draft).exists()
    assert draft.ballots.get().status == "recount"


def test_the_event_log_replays_the_night_in_order(loaded):
    events = list(Event.objects.order_by("id").select_related("ballot", "post"))
    nwl_call = next(
        i
        for i, e in enumerate(events)
        if e.kind == "control_called"
        and e.payload.get("election_id") == "local.north-west-leicestershire.2023-05-04"
    )
    nwl_post = next(
        i
        for i, e in enumerate(events)
        if e.post and e.post.headline == "Labour jump for joy in NW Leicestershire"
    )
    assert nwl_call < nwl_post
    assert (
        events[nwl_call].payload["headline"]
        == "Conservatives lose North West Leicestershire to no overall control"
    )
    declared_at = [e.ballot.declared_at for e in events if e.kind == "ballot_declared"]
    assert declared_at == sorted(declared_at)
    assert Counter(e.kind for e in events) == {
        "ballot_declared": 412,
        "control_called": 21,
        "post_published": 19,
        "ballot_status": 5,
        # Before the night, each with its event too: the local groups, councils and wards; each
        # election created and its composition set; each ballot created with its candidates, and
        # its previous winners. (And the baseline of migration 0002's nine parties, from migration 0007.)
        "reference": 469,
        "election": 48,
        "nominations": 437,
        "previous_winners": 437,
    }


# --------------------------------------------------------------------------
# Loading: deterministic and idempotent
# --------------------------------------------------------------------------


@pytest.mark.pure
def test_generator_is_deterministic_whatever_the_global_random_state():
    random.seed(1)
    first = generator.build_demo()
    random.seed(2)
    assert generator.build_demo() == first


@pytest.mark.pure
def test_the_committed_files_are_exactly_what_the_generator_writes():
    """demo/data/ is the generator's output, byte for byte: edit demo/seed.toml, then `manage.py generate_demo`."""
    written = files.files_text(generator.build_demo())
    assert sorted(written) == sorted(files.NAMES)
    assert sorted(p.name for p in files.DATA_DIR.iterdir()) == sorted(files.NAMES)
    for name, text in written.items():
        assert (files.DATA_DIR / name).read_bytes() == text.encode("utf-8"), name
    assert files.stale(generator.build_demo()) == []


@pytest.mark.pure
def test_seats_are_scaled_by_the_largest_remainder():
    assert generator.scale_seats({"Lab": 28, "LD": 17, "Ind": 3}, 40) == {"Lab": 23, "LD": 14, "Ind": 3}
    assert generator.scale_seats({"Con": 1, "Lab": 2}, 3) == {"Con": 1, "Lab": 2}


def test_load_demo_prints_a_summary(loaded):
    assert loaded == (
        "Loaded the demo: East Midlands local elections, 4 May 2023.\n"
        "Councils: 23 (21 called; still counting: Erewash, Rushcliffe); mayoralties: 2\n"
        "Ballots declared: 412 of 437 (889 of 948 council seats)\n"
        "Posts: 19 published, 1 draft\n"
    )


def test_loading_again_changes_nothing(loaded):
    before = content()
    last_event = Event.objects.order_by("-id").first().pk
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    assert out.getvalue().startswith("The demo is already loaded: nothing changed")
    assert content() == before
    assert Event.objects.order_by("-id").first().pk == last_event


def test_partly_missing_demo_is_refused(loaded):
    Post.objects.filter(status="draft").delete()
    with pytest.raises(CommandError, match="Part of the demo is missing"):
        call_command("load_demo", stdout=io.StringIO())
    with pytest.raises(CommandError, match="Part of the demo is missing"):
        call_command("load_demo", "--reset", stdout=io.StringIO())


def test_reset_returns_to_the_eve_through_the_services_then_plays_the_night_again(loaded):
    before = content()
    events_before = list(Event.objects.order_by("id").values_list("id", "kind", "payload"))
    out = io.StringIO()
    call_command("load_demo", "--reset", stdout=out)
    reset = Event.objects.get(kind="reset")
    assert out.getvalue().startswith(
        f"Reset the demo to the eve of the poll (event {reset.pk}); playing its night"
    )
    # The same rows, and the night's events again after the reset's.
    after_content = content()
    assert after_content[:-2] + after_content[-1:] == before[:-2] + before[-1:]
    # The night: what followed the eve's setup (parties, councils, elections, wards, nominations).
    setup = {"reference", "election", "nominations", "previous_winners"}
    night = [event for event in before[-2] if event[0] not in setup]
    assert after_content[-2][-len(night) :] == night
    # Nothing deleted or rewritten: the old log is a prefix of the new one.
    after = list(Event.objects.order_by("id").values_list("id", "kind", "payload"))
    assert after[: len(events_before)] == events_before
    new = Counter(kind for _, kind, _ in after[len(events_before) :])
    assert new == {
        "post_withdrawn": 19,
        "reset": 1,
        "ballot_declared": 412,
        "control_called": 21,
        "post_published": 19,
        "ballot_status": 5,
    }
    assert reset.payload == {
        "poll_date": "2023-05-04",
        "ballots": 437,
        "statuses": {},
        "posts_withdrawn": sorted(reset.payload["posts_withdrawn"]) and reset.payload["posts_withdrawn"],
        "ended_rehearsal": False,
        "reason": "the demo was reset",
        "reload": True,
    }
    assert len(reset.payload["posts_withdrawn"]) == 19
    # A partner's cursor from before the reset stays valid: the feed resumes right after it.
    from schema import schema

    cursor = events_before[len(events_before) // 2][0]
    resumed = schema.execute_sync(
        "query($after: String) { events(after: $after, first: 5) { id } }",
        variable_values={"after": str(cursor)},
    ).data["events"]
    assert [int(e["id"]) for e in resumed] == [pk for pk, _, _ in after if pk > cursor][:5]
    # The log alone still rebuilds everything the API shows, the reset and the night after it included.
    from results import record

    assert record.unrecorded() == []


def test_reset_demo_leaves_every_ballot_awaiting_with_no_result_and_no_post(loaded):
    loader.reset_demo()
    assert Counter(Ballot.objects.values_list("status", flat=True)) == {"awaiting": 437}
    assert not Candidacy.objects.filter(votes__isnull=False).exists()
    assert not Candidacy.objects.filter(elected__isnull=False).exists()
    assert not Ballot.objects.filter(declared_at__isnull=False).exists()
    assert not Post.objects.filter(status="published").exists()
    assert all(not standing(c.slug).composition.control.called for c in seed.COUNCILS)
    assert Event.objects.order_by("-id").first().kind == "reset"


def test_the_event_log_alone_rebuilds_the_demo(loaded):
    from results import record

    # Loaded through the importers and the services: every row the API shows has its events.
    assert record.unrecorded() == []
