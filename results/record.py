"""The public record, rebuilt from the event log alone, and checked against the database.

Every change to anything the API shows goes through ``results.services``
with its event, whose payload is a snapshot of what it published. So the log
alone rebuilds the public state: ``replay`` folds events (kind and payload,
as stored or as the API's ``events { kind data }`` feed gives them) into a
plain structure, and ``public_state`` reads the same structure from the
database. ``unrecorded`` compares the two: any difference is a write that
bypassed the services (a row with no creating event, or a change with no
event). A partner can run the same replay over the feed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Prefetch

from .models import Ballot, Candidacy, Council, Election, Event, Party, Ward
from .services import candidacy_snapshot

State = dict[str, dict]

PARTY_KEYS = ("name", "short_name", "abbreviation", "colour", "lead_party_id", "is_independent")
COUNCIL_KEYS = ("name", "official_name", "official_identifier", "seats_total")
ELECTION_KEYS = (
    "council",
    "kind",
    "poll_date",
    "cycle",
    "seats_total",
    "seats_total_before",
    "control_before_id",
)
PUBLISHED = Ballot.PUBLISHED_STATUSES


def _moment(value) -> str | None:
    """A time as one spelling (UTC), however it was written."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(dt.UTC).isoformat()


def empty_state() -> State:
    """No parties, councils, wards, elections or ballots."""
    return {"parties": {}, "councils": {}, "wards": {}, "elections": {}, "ballots": {}}


def _candidates(rows: Iterable[dict], published: bool) -> list[tuple]:
    return sorted(
        (
            c["person_name"],
            c.get("person_id") or "",
            c["party_id"],
            c.get("description") or "",
            c.get("votes") if published else None,
            bool(c.get("elected")) if published else None,
            bool(c.get("elected_by_lot")) if published else False,
        )
        for c in rows
    )


def _ballot(state: State, payload: dict) -> dict:
    return state["ballots"].setdefault(
        payload["ballot_paper_id"],
        {
            "election_id": payload.get("election_id"),
            "ward": None,
            "seats": None,
            "status": "awaiting",
            "declared_at": None,
            "counts": None,
            "candidacies": [],
            "previous_winners": [],
            "provenance": None,
        },
    )


def apply(state: State, kind: str, payload: dict[str, Any]) -> None:
    """Fold one event into ``state`` (see ``replay``)."""
    fold = _FOLDS.get(kind)
    if fold is not None:
        fold(state, payload)
    # Control calls are derived from the ballots; posts are not part of this structure.


def _reference(state: State, payload: dict) -> None:
    what = payload["object"]
    if what == "party":
        state["parties"][payload["party_id"]] = {k: payload[k] for k in PARTY_KEYS}
    elif what == "council":
        state["councils"][payload["council"]] = {k: payload[k] for k in COUNCIL_KEYS}
    elif what == "ward":
        state["wards"][f"{payload['council']}/{payload['ward']}"] = {
            "name": payload["name"],
            "seats": payload["seats"],
        }


def _election(state: State, payload: dict) -> None:
    state["elections"][payload["election_id"]] = {
        **{k: payload[k] for k in ELECTION_KEYS},
        "composition_before": sorted(
            (c["party_id"], c["seats_held"], c["seats_not_up"]) for c in payload["composition_before"]
        ),
    }


def _counts(payload: dict) -> tuple:
    return (payload.get("electorate"), payload.get("ballot_papers_counted"), payload.get("rejected_ballots"))


def _previous_winners(payload: dict) -> list[tuple]:
    return sorted((p["party_id"], p["seats"]) for p in payload["previous_winners"])


def _nominations(state: State, payload: dict) -> None:
    ballot = _ballot(state, payload)
    ballot["status"] = payload["status"]
    if "seats" in payload:
        ballot["seats"] = payload["seats"]
    if "ward" in payload:
        ballot["ward"] = payload["ward"]
    # Only a baseline (migration 0007) holds a published ballot's nominations, with its result.
    published = payload["status"] in PUBLISHED
    ballot["candidacies"] = _candidates(payload["candidacies"], published=published)
    if published:
        ballot["provenance"] = ("", "", "")  # nothing of it was recorded before migration 0007
        ballot["declared_at"] = _moment(payload["declared_at"])
        ballot["counts"] = _counts(payload)


def _previous(state: State, payload: dict) -> None:
    _ballot(state, payload)["previous_winners"] = _previous_winners(payload)


def _result(state: State, payload: dict) -> None:
    """A declaration, a correction or a certification: the published version."""
    ballot = _ballot(state, payload)
    ballot["status"] = payload["status"]
    ballot["declared_at"] = _moment(payload["declared_at"])
    ballot["counts"] = _counts(payload)
    ballot["candidacies"] = _candidates(payload["candidacies"], published=True)
    ballot["provenance"] = (
        payload.get("certification", ""),
        payload.get("source", ""),
        payload.get("source_url", ""),
    )
    if "previous_winners" in payload:
        ballot["previous_winners"] = _previous_winners(payload)


def _unpublish(ballot: dict, status: str) -> None:
    """A ballot's result withdrawn (a retraction, a reset): its nominations stay."""
    ballot.update(status=status, declared_at=None, counts=None, provenance=None)
    ballot["candidacies"] = _candidates(
        [
            dict(zip(("person_name", "person_id", "party_id", "description"), c[:4], strict=True))
            for c in ballot["candidacies"]
        ],
        published=False,
    )


def _retraction(state: State, payload: dict) -> None:
    _unpublish(_ballot(state, payload), payload["status"])


def _status(state: State, payload: dict) -> None:
    _ballot(state, payload)["status"] = payload["status"]


def _reset(state: State, payload: dict) -> None:
    # Every ballot of the poll back to its eve: no result, awaiting unless the payload says otherwise.
    statuses = payload.get("statuses", {})
    for ballot_id, ballot in state["ballots"].items():
        election = state["elections"].get(ballot["election_id"]) or {}
        if election.get("poll_date") != payload["poll_date"]:
            continue
        _unpublish(ballot, statuses.get(ballot_id, "awaiting"))


# How each kind of event changes the state (by its value: the kinds are strings).
_FOLDS: dict[str, Callable[[State, dict], None]] = {
    Event.Kind.REFERENCE_CHANGED: _reference,
    Event.Kind.ELECTION_CHANGED: _election,
    Event.Kind.NOMINATIONS_CHANGED: _nominations,
    Event.Kind.PREVIOUS_WINNERS: _previous,
    Event.Kind.BALLOT_DECLARED: _result,
    Event.Kind.BALLOT_CORRECTED: _result,
    Event.Kind.BALLOT_CERTIFIED: _result,
    Event.Kind.BALLOT_RETRACTED: _retraction,
    Event.Kind.BALLOT_STATUS: _status,
    Event.Kind.RESET: _reset,
}


def replay(events: Iterable[tuple[str, dict]]) -> State:
    """The public state that a sequence of ``(kind, payload)`` events, oldest first, leaves."""
    state = empty_state()
    for kind, payload in events:
        apply(state, kind, payload)
    return state


def public_state() -> State:
    """The same structure, read from the database (what the API shows)."""
    state = empty_state()
    for p in Party.objects.select_related("lead_party"):
        state["parties"][p.ec_id] = {
            "name": p.name,
            "short_name": p.short_name,
            "abbreviation": p.abbreviation,
            "colour": p.colour,
            "lead_party_id": p.lead_party.ec_id if p.lead_party_id else None,
            "is_independent": p.is_independent,
        }
    for c in Council.objects.all():
        state["councils"][c.slug] = {k: getattr(c, k) for k in COUNCIL_KEYS}
    for w in Ward.objects.select_related("council"):
        state["wards"][f"{w.council.slug}/{w.slug}"] = {"name": w.name, "seats": w.seats}
    elections = Election.objects.select_related("council", "control_before").prefetch_related(
        "composition_before__party"
    )
    for e in elections:
        state["elections"][e.election_id] = {
            "council": e.council.slug,
            "kind": e.kind,
            "poll_date": e.poll_date.isoformat(),
            "cycle": e.cycle,
            "seats_total": e.seats_total,
            "seats_total_before": e.seats_total_before,
            "control_before_id": e.control_before.ec_id if e.control_before_id else None,
            "composition_before": sorted(
                (c.party.ec_id, c.seats_held, c.seats_not_up) for c in e.composition_before.all()
            ),
        }
    ballots = Ballot.objects.select_related("election", "ward").prefetch_related(
        Prefetch("candidacies", queryset=Candidacy.objects.select_related("party")), "previous_winners__party"
    )
    for b in ballots:
        published = b.is_published
        state["ballots"][b.ballot_paper_id] = {
            "election_id": b.election.election_id,
            "ward": b.ward.slug if b.ward_id else None,
            "seats": b.winner_count,
            "status": b.status,
            "declared_at": _moment(b.declared_at) if published else None,
            "counts": (b.electorate, b.ballot_papers_counted, b.rejected_ballots) if published else None,
            "candidacies": _candidates((candidacy_snapshot(c) for c in b.candidacies.all()), published),
            "previous_winners": sorted((p.party.ec_id, p.seats) for p in b.previous_winners.all()),
            "provenance": (b.certification, b.source, b.source_url) if published else None,
        }
    return state


def differences(replayed: State, stored: State) -> list[str]:
    """What differs between two states, one line each (empty when they agree)."""
    lines = []
    for section in stored:
        for key in sorted(set(replayed[section]) | set(stored[section]), key=str):
            got, want = replayed[section].get(key), stored[section].get(key)
            if got is None:
                lines.append(f"{section} {key}: no event records it")
            elif want is None:
                lines.append(f"{section} {key}: in the events, not in the database")
            elif got != want:
                fields = sorted(k for k in want if got.get(k) != want.get(k))
                lines.append(
                    f"{section} {key}: "
                    + "; ".join(f"{k} is {want[k]!r}, the events say {got.get(k)!r}" for k in fields)
                )
    return lines


def unrecorded() -> list[str]:
    """Every difference between the database and the replayed event log: writes that bypassed
    the services. Empty when the record is complete."""
    events = Event.objects.order_by("id").values_list("kind", "payload").iterator(chunk_size=2000)
    return differences(replay(events), public_state())
