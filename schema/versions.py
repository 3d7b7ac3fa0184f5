"""Published versions of a ballot, as each declaration, correction, certification or retraction
published it (read from the event that recorded it: the log is never rewritten)."""

from __future__ import annotations

import datetime as dt

import strawberry
from django.db.models import Subquery
from django.db.models.functions import Coalesce

from results import models
from results.figures import NO_VERSION_FIGURES, version_figures

from .enums import BallotStatus, Certification, EventKind, ResultSource

VERSION_KINDS = (
    models.Event.Kind.BALLOT_DECLARED,
    models.Event.Kind.BALLOT_CORRECTED,
    models.Event.Kind.BALLOT_CERTIFIED,
    models.Event.Kind.BALLOT_RETRACTED,
)
FIGURE_KINDS = VERSION_KINDS[:3]


def _who(actor) -> str | None:
    if actor is None:
        return None
    return actor.get_full_name() or actor.get_username()


@strawberry.type(description="A candidate in one published version of a ballot.")
class CandidacyVersion:
    name: str = strawberry.field(description="The candidate's name as published then.")
    person_id: str | None = strawberry.field(description="Democracy Club person id; null where unknown.")
    party_id: strawberry.ID = strawberry.field(description="The party's id (see `parties`).")
    description: str | None = strawberry.field(description="Ballot paper description; null when none.")
    votes: int | None = strawberry.field(description="Votes; null for an uncontested ballot.")
    share: float | None = strawberry.field(description="Share of all votes cast in the ballot, 0 to 1.")
    elected: bool = strawberry.field(description="Elected in this version.")
    elected_by_lot: bool = strawberry.field(description="Won a tie at the cut-off by drawing lots.")


@strawberry.type(
    description="One published version of a ballot's result: its figures and winners as published, who "
    "published it and when, why (a correction's reason), and what changed from the version before."
)
class BallotVersion:
    version: int = strawberry.field(description="The ballot's version number after this change.")
    kind: EventKind = strawberry.field(
        description="BALLOT_DECLARED, BALLOT_CORRECTED, BALLOT_CERTIFIED or BALLOT_RETRACTED."
    )
    event_id: strawberry.ID = strawberry.field(description="The event that published it (its cursor).")
    recorded_at: dt.datetime = strawberry.field(description="When it was published.")
    entered_by: str | None = strawberry.field(
        description="Who at the data desk published it; null for an import or a script."
    )
    reason: str | None = strawberry.field(description="A correction's or retraction's reason.")
    status: BallotStatus = strawberry.field(description="The ballot's status in this version.")
    declared_at: dt.datetime | None = strawberry.field(description="When it was declared.")
    electorate: int | None = strawberry.field(description="Registered electors, as published then.")
    ballot_papers_counted: int | None = strawberry.field(
        description="Ballot papers counted, rejected included."
    )
    rejected_ballots: int | None = strawberry.field(description="Rejected ballot papers.")
    turnout: float | None = strawberry.field(description="Ballot papers counted over the electorate, 0 to 1.")
    certification: Certification | None = strawberry.field(description="How final this version was.")
    source: ResultSource | None = strawberry.field(description="Where its figures came from.")
    source_url: str | None = strawberry.field(description="The council's results page, where there is one.")
    candidacies: list[CandidacyVersion] = strawberry.field(
        description="Candidates as published in this version, by votes; empty for a retraction."
    )
    changes: list[str] = strawberry.field(
        description='What changed from the version before, one line each, e.g. "Bob Baker: 400 → 401", '
        '"Elected: Ann Able → Bob Baker"; empty for a first declaration.'
    )


def ballot_version(event: models.Event, *, figures: bool, changes: list[str] | None = None) -> BallotVersion:
    """The version an event published. ``figures=False`` (the ballot is no longer published: its
    declaration was retracted) withholds its votes and counts, as every other surface does."""
    p = event.payload or {}
    rows = p.get("candidacies", []) if event.kind in FIGURE_KINDS else []
    derived = version_figures(p, rows) if figures else NO_VERSION_FIGURES
    return BallotVersion(
        version=p.get("version", 0),
        kind=EventKind(event.kind),
        event_id=strawberry.ID(str(event.pk)),
        recorded_at=event.created_at,
        entered_by=_who(event.actor),
        reason=p.get("reason") or None,
        status=BallotStatus(p.get("status", "counting")),
        declared_at=dt.datetime.fromisoformat(p["declared_at"]) if p.get("declared_at") else None,
        electorate=p.get("electorate") if figures else None,
        ballot_papers_counted=p.get("ballot_papers_counted") if figures else None,
        rejected_ballots=p.get("rejected_ballots") if figures else None,
        turnout=derived.turnout,
        certification=Certification(p["certification"]) if p.get("certification") else None,
        source=ResultSource(p["source"]) if p.get("source") else None,
        source_url=p.get("source_url") or None,
        candidacies=[
            CandidacyVersion(
                name=c["person_name"],
                person_id=c.get("person_id") or None,
                party_id=strawberry.ID(c["party_id"]),
                description=c.get("description") or None,
                votes=c.get("votes") if figures else None,
                share=derived.share(i),
                elected=bool(c.get("elected")),
                elected_by_lot=bool(c.get("elected_by_lot")),
            )
            for i, c in enumerate(rows)
        ],
        changes=(p.get("changes") if changes is None else changes) or [] if figures else [],
    )


def versions_of(ballot: models.Ballot) -> list[models.Event]:
    """The ballot's version events since its poll's last reset, oldest first: one query per
    election, for all its ballots."""
    election = ballot.election
    cache = getattr(election, "_versions_cache", None)
    if cache is None:
        cache = {}
        # Versions since the poll's last reset only (a rehearsal's stay in the log, flagged): after a
        # reset the ballot answers as in a database that never rehearsed. Same query, a subquery.
        last_reset = (
            models.Event.objects.filter(
                kind=models.Event.Kind.RESET, payload__poll_date=election.poll_date.isoformat()
            )
            .order_by("-id")
            .values("id")[:1]
        )
        events = (
            models.Event.objects.filter(election_id=election.pk, kind__in=VERSION_KINDS)
            .filter(id__gt=Coalesce(Subquery(last_reset), 0))
            .select_related("actor")
            .order_by("id")
        )
        for event in events:
            cache.setdefault(event.ballot_id, []).append(event)
        election._versions_cache = cache
    return cache.get(ballot.pk, [])
