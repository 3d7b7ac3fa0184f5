"""Open exports of a poll date's published results, each consistent with one event cursor.

- ``results``: Democracy Club's results CSV shape, one row per candidacy
  (votes and elected only once declared). It is also the candidates file
  ``importers.import_candidates`` reads, counts and declaration time
  included, so an export imports into an empty database as the same results.
- ``compositions``: per election and party, the composition before the poll
  in ``importers.import_composition``'s columns, then seats now, change and
  the control call.
- ``previous-winners``: ``importers.import_previous_winners``'s file.
- ``json``: the whole day in one document (elections, derived figures,
  ballots, candidacies, seat changes, previous winners, parties).
- ``atom``: an Atom feed of declarations and corrections (see ``atom_feed``).

While the deployment rehearses, every export says so: a ``rehearsal``
column (``true``) on every CSV row, ``rehearsal`` in the JSON document (as
the API's ``extensions.rehearsal``), "REHEARSAL" in the Atom feed's title and
each rehearsal entry's; the public URLs add an ``X-Rehearsal`` header and
name the file ``rehearsal-...``. The state is read in the export's snapshot,
so it is exact at its cursor. ``import_candidates`` refuses rows flagged as
rehearsal outside a rehearsal: test data never comes back as a result.

Only published data: an undeclared ballot's candidates are listed without
votes or winners. Each export reads everything in one snapshot (REPEATABLE
READ on PostgreSQL) with the id of the last event committed then: the
``events_cursor`` a client resumes the event feed from.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.db import connection, transaction
from django.db.models import Prefetch
from django.utils import timezone

from . import parties, rehearsal
from .models import Ballot, Candidacy, Election, Event, Party, PreviousWinner
from .standings import counting_party, stored_changes, stored_standing

FORMATS = ("results", "compositions", "previous-winners", "json", "atom")
CONTENT_TYPES = {
    "results": "text/csv; charset=utf-8",
    "compositions": "text/csv; charset=utf-8",
    "previous-winners": "text/csv; charset=utf-8",
    "json": "application/json",
    "atom": "application/atom+xml; charset=utf-8",
}
EXTENSIONS = {
    "results": "csv",
    "compositions": "csv",
    "previous-winners": "csv",
    "json": "json",
    "atom": "xml",
}

RESULTS_COLUMNS = (
    "election_id",
    "ballot_paper_id",
    "organisation_name",
    "post_label",
    "seats_contested",
    "person_id",
    "person_name",
    "party_id",
    "party_name",
    "party_description_text",
    "votes_cast",
    "elected",
    "ballot_status",
    "declared_at",
    "electorate",
    "ballot_papers_counted",
    "rejected_ballots",
    "certification",
    "source",
    "source_url",
    "rehearsal",
)
COMPOSITION_COLUMNS = (
    "election_id",
    "organisation_name",
    "seats_total",
    "seats_total_before",
    "cycle",
    "party_id",
    "party_name",
    "seats_before",
    "seats_not_up",
    "seats_won",
    "seats_now",
    "change",
    "control_called",
    "control_party_id",
    "rehearsal",
)
PREVIOUS_COLUMNS = ("ballot_paper_id", "party_id", "party_name", "seats", "rehearsal")


@dataclass(frozen=True)
class Export:
    """An export's text and the event cursor it is consistent with."""

    format: str
    poll_date: dt.date
    content: str
    events_cursor: int
    rehearsal: rehearsal.State = rehearsal.NOT_REHEARSING

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def filename(self) -> str:
        test = "rehearsal-" if self.rehearsal.active else ""
        return f"{test}results-{self.poll_date}-{self.format}.{EXTENSIONS[self.format]}"


@contextlib.contextmanager
def _snapshot():
    """One consistent read: REPEATABLE READ when this is the outermost transaction on PostgreSQL."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def latest_event_id() -> int:
    """The cursor of the last committed event (0 before the first)."""
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _elections(poll_date: dt.date) -> list[Election]:
    # Every derived figure is stored (compute on write): the composition before the poll is not read.
    elections = list(
        Election.objects.select_related("council", "standing")
        .prefetch_related(
            Prefetch("ballots", queryset=Ballot.objects.select_related("ward")),
            Prefetch("ballots__candidacies", queryset=Candidacy.objects.select_related("party")),
            Prefetch("ballots__previous_winners", queryset=PreviousWinner.objects.select_related("party")),
        )
        .filter(poll_date=poll_date)
        .order_by("council__name", "kind")
    )
    parties.refresh()  # the stored figures name parties by id: resolved from the shared rows
    return elections


def _csv(columns, rows) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _label(ballot) -> str:
    return ballot.ward.name if ballot.ward_id else ballot.election.council.name


def _ballots(election: Election):
    return sorted(election.ballots.all(), key=lambda b: b.ballot_paper_id)


def _candidacies(ballot):
    if ballot.is_published:
        return sorted(ballot.candidacies.all(), key=lambda c: (-(c.votes or 0), c.person_name, c.person_id))
    return sorted(ballot.candidacies.all(), key=lambda c: (c.person_name, c.person_id))


def _flag(active: bool) -> str:
    return "true" if active else "false"


def results_rows(elections: list[Election], rehearsing: bool = False) -> list[dict]:
    rows = []
    for election in elections:
        for ballot in _ballots(election):
            published = ballot.is_published
            for c in _candidacies(ballot):
                rows.append(
                    {
                        "election_id": election.election_id,
                        "ballot_paper_id": ballot.ballot_paper_id,
                        "organisation_name": election.council.name,
                        "post_label": _label(ballot),
                        "seats_contested": ballot.winner_count,
                        "person_id": c.person_id,
                        "person_name": c.person_name,
                        "party_id": c.party.ec_id,
                        "party_name": c.party.name,
                        "party_description_text": c.description,
                        "votes_cast": "" if not published or c.votes is None else c.votes,
                        "elected": ("true" if c.elected else "false") if published else "",
                        "ballot_status": ballot.status,
                        "declared_at": ballot.declared_at.isoformat() if published else "",
                        "electorate": _published(ballot, ballot.electorate),
                        "ballot_papers_counted": _published(ballot, ballot.ballot_papers_counted),
                        "rejected_ballots": _published(ballot, ballot.rejected_ballots),
                        "certification": ballot.certification if published else "",
                        "source": ballot.source if published else "",
                        "source_url": ballot.source_url if published else "",
                        "rehearsal": _flag(rehearsing),
                    }
                )
    return rows


def _published(ballot, value):
    return "" if not ballot.is_published or value is None else value


def composition_rows(elections: list[Election], rehearsing: bool = False) -> list[dict]:
    rows = []
    for election in elections:
        standing = stored_standing(election)
        if standing is None:
            continue  # a mayoralty has no council composition
        control = standing.composition.control
        for party, seats in standing.party_rows():
            rows.append(
                {
                    "election_id": election.election_id,
                    "organisation_name": election.council.name,
                    "seats_total": election.seats_total,
                    "seats_total_before": election.seats_total_before or "",
                    "cycle": election.cycle,
                    "party_id": party.ec_id,
                    "party_name": party.name,
                    "seats_before": seats.seats_before,
                    "seats_not_up": seats.seats_not_up,
                    "seats_won": seats.seats_won,
                    "seats_now": seats.seats,
                    "change": seats.change,
                    "control_called": "true" if control.called else "false",
                    "control_party_id": (standing.control_party.ec_id if standing.control_party else "")
                    if control.called
                    else "",
                    "rehearsal": _flag(rehearsing),
                }
            )
    return rows


def previous_rows(elections: list[Election], rehearsing: bool = False) -> list[dict]:
    return [
        {
            "ballot_paper_id": ballot.ballot_paper_id,
            "party_id": p.party.ec_id,
            "party_name": p.party.name,
            "seats": p.seats,
            "rehearsal": _flag(rehearsing),
        }
        for election in elections
        for ballot in _ballots(election)
        for p in sorted(ballot.previous_winners.all(), key=lambda p: p.party.ec_id)
    ]


def _party(party: Party | None) -> str | None:
    return party.ec_id if party is not None else None


def day_document(
    poll_date: dt.date,
    elections: list[Election],
    cursor: int,
    state: rehearsal.State = rehearsal.NOT_REHEARSING,
) -> dict:
    """The whole day as one JSON-ready document, in the API's field names."""
    parties: dict[str, Party] = {}
    out = [_election_document(election, parties) for election in elections]
    for party in list(parties.values()):
        lead = counting_party(party)
        parties[lead.ec_id] = lead
    return {
        "pollDate": poll_date.isoformat(),
        "eventsCursor": cursor,
        # As the API's extensions.rehearsal: null outside a rehearsal (with zero counts off).
        "rehearsal": rehearsal.public_flag(state),
        "parties": [
            {
                "id": p.ec_id,
                "name": p.name,
                "shortName": p.short_name,
                "colour": p.colour or None,
                "leadPartyId": p.lead_party.ec_id if p.lead_party_id else None,
            }
            for p in sorted(parties.values(), key=lambda p: p.ec_id)
        ],
        "elections": out,
    }


def _election_document(election: Election, parties: dict[str, Party]) -> dict:
    """One election of ``day_document``, its ballots and, for a council, its standing; the parties it
    names are added to ``parties``."""
    standing = stored_standing(election)
    ballots = []
    for ballot in _ballots(election):
        for c in ballot.candidacies.all():
            parties[c.party.ec_id] = c.party
        ballots.append(_ballot_document(ballot))
    entry = {
        "id": election.election_id,
        "kind": election.kind,
        "council": {"slug": election.council.slug, "name": election.council.name},
        "cycle": election.cycle,
        "ballots": ballots,
    }
    if standing is not None:
        control = standing.composition.control
        entry.update(
            seatsTotal=standing.composition.seats_total,
            majority=standing.composition.majority,
            seatsDeclared=standing.composition.seats_declared,
            controlBefore=_party(standing.control_before),
            control={
                "called": control.called,
                "partyId": _party(standing.control_party) if control.called else None,
                "outcome": control.outcome.value if control.outcome else None,
                "headline": standing.headline,
            },
            composition=[
                {
                    "partyId": party.ec_id,
                    "seats": row.seats,
                    "seatsBefore": row.seats_before,
                    "change": row.change,
                    "seatsWon": row.seats_won,
                    "seatsNotUp": row.seats_not_up,
                }
                for party, row in standing.party_rows()
            ],
        )
        for party, _ in standing.party_rows():
            parties[party.ec_id] = party
    return entry


def _ballot_document(ballot: Ballot) -> dict:
    """One ballot of ``day_document``: its figures only once published."""
    published = ballot.is_published
    return {
        "id": ballot.ballot_paper_id,
        "ward": {"slug": ballot.ward.slug, "name": ballot.ward.name, "seats": ballot.ward.seats}
        if ballot.ward_id
        else None,
        "seats": ballot.winner_count,
        "status": ballot.status,
        "declaredAt": ballot.declared_at.isoformat() if published else None,
        "electorate": ballot.electorate if published else None,
        "ballotPapersCounted": ballot.ballot_papers_counted if published else None,
        "rejectedBallots": ballot.rejected_ballots if published else None,
        "certification": (ballot.certification or None) if published else None,
        "source": (ballot.source or None) if published else None,
        "sourceUrl": (ballot.source_url or None) if published else None,
        "version": ballot.version,
        "candidacies": [
            {
                "name": c.person_name,
                "personId": c.person_id or None,
                "partyId": c.party.ec_id,
                "description": c.description or None,
                "votes": c.votes if published else None,
                "elected": bool(c.elected) if published else None,
                "electedByLot": bool(c.elected_by_lot) if published else False,
            }
            for c in _candidacies(ballot)
        ],
        "previousWinners": [
            {"partyId": p.party.ec_id, "seats": p.seats}
            for p in sorted(ballot.previous_winners.all(), key=lambda p: p.party.ec_id)
        ],
        "changes": [
            {
                "partyId": ch.party.ec_id,
                "kind": ch.kind.value,
                "previousPartyId": _party(ch.previous),
                "headline": ch.headline,
            }
            for ch in (stored_changes(ballot) if published else [])
        ],
    }


def _declarations(poll_date: dt.date, limit: int):
    return list(
        Event.objects.filter(
            kind__in=[Event.Kind.BALLOT_DECLARED, Event.Kind.BALLOT_CORRECTED], election__poll_date=poll_date
        )
        .select_related("ballot__ward", "election__council")
        .order_by("-id")[:limit]
    )


def atom_feed(
    poll_date: dt.date,
    cursor: int,
    *,
    base_url: str = "",
    limit: int = 100,
    state: rehearsal.State = rehearsal.NOT_REHEARSING,
) -> str:
    """An Atom feed of the day's declarations and corrections, newest first (the last ``limit``).

    Each entry's id is its event's cursor (``tag:`` URI), so a feed reader
    sees a correction as a new entry. A declaration since retracted is left
    out (its figures are no longer published). Candidates are shown with
    their party's name. While rehearsing the feed's title says so, and each
    entry published during a rehearsal says so in its title and a
    ``rehearsal`` category.
    """
    events = [e for e in _declarations(poll_date, limit) if e.ballot.is_published]
    party_ids = {c["party_id"] for e in events for c in e.payload.get("candidacies", [])}
    party_names = dict(Party.objects.filter(ec_id__in=party_ids).values_list("ec_id", "name"))
    updated = events[0].created_at if events else timezone.now()
    host = base_url.rstrip("/")
    test = "REHEARSAL (test data, not results): " if state.active else ""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{test}Declarations, {poll_date:%-d %B %Y}</title>",
        f"<id>tag:election-results,{poll_date}:declarations</id>",
        f'<link rel="self" href="{escape(host)}/exports/{poll_date}/declarations.atom"/>',
        f"<updated>{updated.isoformat()}</updated>",
        "<author><name>Election results desk</name></author>",
    ]
    for event in events:
        p = event.payload
        ballot = event.ballot
        place = ballot.ward.name if ballot.ward_id else f"Mayor of {event.election.council.name}"
        verb = "corrected" if event.kind == Event.Kind.BALLOT_CORRECTED else "declared"
        title = f"{'REHEARSAL: ' if event.rehearsal else ''}{place}, {event.election.council.name}: {verb}"
        lines_of_result = [
            f"{c['person_name']} ({party_names.get(c['party_id'], c['party_id'])})"
            + (f" {c['votes']:,}" if c.get("votes") is not None else "")
            + (" elected" if c.get("elected") else "")
            for c in p.get("candidacies", [])
        ]
        summary = "; ".join(lines_of_result)
        if p.get("reason"):
            summary += f". Reason: {p['reason']}"
        lines += [
            "<entry>",
            f"<title>{escape(title)}</title>",
            f"<id>tag:election-results,{poll_date}:event-{event.pk}</id>",
            f"<updated>{event.created_at.isoformat()}</updated>",
            f'<category term="{event.kind}"/>',
            *(['<category term="rehearsal"/>'] if event.rehearsal else []),
            f'<link href="{escape(host)}/graphql?query=%7Bballot(id:%22{ballot.ballot_paper_id}%22)%7Bstatus%7D%7D"/>',
            f"<summary>{escape(summary)}</summary>",
            "</entry>",
        ]
    lines.append("</feed>")
    return "\n".join(lines) + "\n"


def export(poll_date: dt.date, format: str = "results", *, base_url: str = "") -> Export:
    """One export of ``poll_date`` (see the module's docstring for the formats)."""
    if format not in FORMATS:
        raise ValueError(f"Unknown format {format!r}: use one of {', '.join(FORMATS)}.")
    builders: dict[str, Callable[[list[Election], bool], str]] = {
        "results": lambda es, test: _csv(RESULTS_COLUMNS, results_rows(es, test)),
        "compositions": lambda es, test: _csv(COMPOSITION_COLUMNS, composition_rows(es, test)),
        "previous-winners": lambda es, test: _csv(PREVIOUS_COLUMNS, previous_rows(es, test)),
    }
    with _snapshot():
        cursor = latest_event_id()
        # In the same snapshot as the cursor: the switch changes only with an event.
        state = rehearsal.read_state()
        if format == "atom":
            feed = atom_feed(poll_date, cursor, base_url=base_url, state=state)
            return Export(format, poll_date, feed, cursor, state)
        elections = _elections(poll_date)
        if format == "json":
            document = day_document(poll_date, elections, cursor, state)
            content = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
        else:
            content = builders[format](elections, state.active)
    return Export(format, poll_date, content, cursor, state)
