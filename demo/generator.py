"""The demo's generator: the seed's facts (``demo.seed``) made into a whole night.

The ward-level results that make the seed's totals are *generated*
(``random.Random`` seeded with 2023 and each council's slug, no other
randomness and no clock) and every generated ballot is marked
``illustrative``. ``build_demo()`` is pure: it returns the whole plan
(councils, ballots with their candidates, votes and previous winners, posts,
and the night's timeline) and is the same on every call; ``demo.files``
writes it as the committed files under ``demo/data/``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from django.utils.text import slugify

from results import rules

from .plan import BallotPlan, CandidatePlan, DemoPlan, ElectionPlan, Step
from .seed import (
    COUNCILS,
    DRAFT_POST,
    LAB_COOP,
    MAYORS,
    PARTIES,
    PARTY_ORDER,
    POLL_DATE,
    SEED_POSTS,
    CouncilSpec,
    MayorSpec,
    Milestone,
    Person,
    WardSpec,
)

RANDOM_SEED = 2023

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


def _lay_out_wards(rng: random.Random, spec: CouncilSpec) -> list[WardSpec]:
    """The council's wards, by name: the seed's, then generated ones making up its seats."""
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
    return wards


def _ward_status(position: int, live: tuple[int, int, int]) -> str:
    """A ward's status at the end of the demo's night, by its place in the declaration order."""
    declared_n, counting_n, recount_n = live
    if position < declared_n:
        return "declared"
    if position < declared_n + counting_n:
        return "counting"
    if position < declared_n + counting_n + recount_n:
        return "recount"
    return "awaiting"


def _ward_ballot(
    spec: CouncilSpec,
    ward: WardSpec,
    status: str,
    at: dt.datetime,
    slate: list[_Candidate],
    count: _Count,
    previous: list[str],
) -> tuple[BallotPlan, list[Step]]:
    """One ward's ballot, and what happens to it on the night."""
    ballot_id = f"local.{spec.slug}.{slugify(ward.name)}.{POLL_DATE}"
    declared = status == "declared"
    ballot = BallotPlan(
        ballot_paper_id=ballot_id,
        election_id=spec.election_id,
        council_slug=spec.slug,
        ward_slug=slugify(ward.name),
        label=ward.name,
        seats=ward.seats,
        candidates=tuple(
            CandidatePlan(
                name=cand.name,
                party_id=cand.party_id,
                description=cand.description,
                votes=count.votes[i] if declared else None,
                elected=cand.elected,
            )
            for i, cand in enumerate(slate)
        ),
        previous=tuple((PARTIES[p][0], n) for p, n in sorted(Counter(previous).items(), key=_party_rank)),
        status=status,
        declared_at=at if declared else None,
        electorate=count.electorate if declared else None,
        ballot_papers_counted=count.counted if declared else None,
        rejected_ballots=count.rejected if declared else None,
        illustrative=True,
    )
    steps: list[Step] = []
    if declared:
        steps.append(Step(at, "declare", ballot_id))
    elif status in ("counting", "recount"):
        steps.append(Step(at, "status", ballot_id, "counting"))
        if status == "recount":
            steps.append(Step(at + dt.timedelta(minutes=25), "status", ballot_id, "recount"))
    return ballot, steps


def _plan_council(rng: random.Random, spec: CouncilSpec) -> tuple[ElectionPlan, list[BallotPlan], list[Step]]:
    """One council's election, its ballots (by ward name) and its night, drawn from ``rng`` in a fixed order."""
    wards = _lay_out_wards(rng, spec)
    winners = _assign_winners(rng, spec, wards)
    previous = _assign_previous(rng, spec, wards, winners)
    live = _live_counts(spec, len(wards))
    order = _declaration_order(rng, spec, wards, winners)

    taken_people = {p.name for w in spec.wards for p in w.people}
    slates: dict[str, list[_Candidate]] = {}
    counts: dict[str, _Count] = {}
    for w in wards:
        slate = _slate(rng, spec, w, Counter(winners[w.name]), Counter(previous[w.name]), taken_people)
        slates[w.name] = slate
        counts[w.name] = _count(rng, w.seats, slate)

    ballots: dict[str, BallotPlan] = {}
    steps: list[Step] = []
    for position, (w, at) in enumerate(order):
        status = _ward_status(position, live)
        ballots[w.name], ward_steps = _ward_ballot(
            spec, w, status, at, slates[w.name], counts[w.name], previous[w.name]
        )
        steps += ward_steps

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
