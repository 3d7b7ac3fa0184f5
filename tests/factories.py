"""Small builders for tests: real rows, created the way the importers create them."""

from __future__ import annotations

import datetime as dt

from django.utils.text import slugify

from results import services
from results.models import Ballot, Candidacy, Council, Election, Party, Ward
from results.standings import refresh_standings

POLL_DATE = dt.date(2023, 5, 4)


def party(ec_id: str) -> Party:
    """A party from migration 0002 (PP52, PP53, PP90, PP63, ynmp-party:2, ...)."""
    return Party.objects.get(ec_id=ec_id)


def council(slug: str = "testshire", name: str | None = None) -> Council:
    return Council.objects.get_or_create(
        slug=slug, defaults={"name": name or slug.replace("-", " ").title()}
    )[0]


def election(
    slug: str = "testshire",
    *,
    seats_total: int | None = None,
    before: dict[str, tuple[int, int]] | None = None,
    kind: str = "local",
    name: str | None = None,
) -> Election:
    """A council election; ``before`` maps party ids to (seats held, seats not up)."""
    c = council(slug, name)
    e = Election.objects.create(
        election_id=f"{kind}.{slug}.{POLL_DATE}", kind=kind, council=c, poll_date=POLL_DATE
    )
    if seats_total is not None:
        services.set_composition(
            e,
            seats_total=seats_total,
            rows=[(party(p), held, not_up) for p, (held, not_up) in (before or {}).items()],
        )
        e.refresh_from_db()
    else:
        refresh_standings([e.pk])  # rows made here, not by a service: store what a service would
    return e


def ballot(
    e: Election,
    ward_name: str | None,
    candidates: list[tuple[str, str]],
    *,
    seats: int = 1,
    previous: dict[str, int] | None = None,
) -> Ballot:
    """A ballot with candidates ``(person_name, party_id)``; no ward for a mayoralty."""
    ward = None
    if ward_name:
        ward = Ward.objects.create(council=e.council, slug=slugify(ward_name), name=ward_name, seats=seats)
        ballot_id = f"{e.kind}.{e.council.slug}.{ward.slug}.{e.poll_date}"
    else:
        ballot_id = e.election_id
    b = Ballot.objects.create(ballot_paper_id=ballot_id, election=e, ward=ward, winner_count=seats)
    for name, party_id in candidates:
        Candidacy.objects.create(ballot=b, person_name=name, party=party(party_id))
    if previous:
        services.set_previous_winners(b, [(party(p), n) for p, n in previous.items()])
        b.refresh_from_db()
    else:
        refresh_standings([e.pk])  # rows made here, not by a service: store what a service would
    return b


def votes(b: Ballot, **by_surname: int) -> dict[int, int]:
    """Map candidacy ids to votes by the last word of each name: ``votes(b, Able=10)``."""
    by_last = {c.person_name.split()[-1]: c.pk for c in b.candidacies.all()}
    return {by_last[name]: n for name, n in by_surname.items()}


def pk(b: Ballot, surname: str) -> int:
    return next(c.pk for c in b.candidacies.all() if c.person_name.split()[-1] == surname)
