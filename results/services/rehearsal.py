"""Rehearsal: the switch, zero counts, and the reset to the eve of the poll."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import rehearsal as rehearsal_state
from ..errors import ErrorCode, refuse
from ..models import Ballot, Candidacy, Event, PendingCheck, Post, Rehearsal
from ..standings import refresh_standings
from .ballots import _lock_election, lock_ballots
from .events import RESULT_FIELDS, _lock_event_log, new_event, record_event, record_events


def _no_ballots_polled(poll_date: dt.date, then: str) -> ValidationError:
    return refuse(
        "poll_date",
        ErrorCode.NO_BALLOTS_POLLED,
        f"No ballots are polled on {poll_date:%d %B %Y}{then}.",
        poll_date=poll_date,
    )


def _rehearsal_row() -> Rehearsal:
    """The switches' row, locked. Only ever called under the event-log lock (see ``record_events``)."""
    row, _ = Rehearsal.objects.select_for_update().get_or_create(pk=1)
    return row


def _ballots_of(poll_date: dt.date):
    return Ballot.objects.filter(election__poll_date=poll_date)


def start_rehearsal(poll_date: dt.date, *, label: str = "", user=None) -> Event:
    """Start rehearsing the poll of ``poll_date``: from now on every event is flagged as a rehearsal.

    The poll must be at its eve (nothing declared): each ballot's status is
    kept so that ``reset_to_eve`` can return to it. Records a
    ``rehearsal_started`` event (itself flagged). Refused while a rehearsal
    is already running.
    """
    label = label.strip()
    if len(label) > Rehearsal._meta.get_field("label").max_length:
        raise refuse("label", ErrorCode.LABEL_TOO_LONG, "That label is too long (200 characters at most).")
    with transaction.atomic():
        ballots = lock_ballots(_ballots_of(poll_date).values_list("pk", flat=True))
        if not ballots:
            raise _no_ballots_polled(poll_date, ": nothing to rehearse")
        declared = sorted(b.ballot_paper_id for b in ballots.values() if b.is_published)
        if declared:
            raise refuse(
                "poll_date",
                ErrorCode.BALLOTS_DECLARED,
                f"{len(declared)} ballots of {poll_date:%d %B %Y} are declared (the first is "
                f"{declared[0]}): a rehearsal starts from the eve of the poll. Reset first.",
                poll_date=poll_date,
                ballots=tuple(declared),
            )
        _lock_event_log()
        row = _rehearsal_row()
        if row.active:
            raise refuse(
                "active",
                ErrorCode.ALREADY_REHEARSING,
                f"Already rehearsing {row.poll_date:%d %B %Y} ({row.label or 'untitled'}): reset it first.",
                poll_date=row.poll_date,
            )
        row.active = True
        row.label = label
        row.started_at = timezone.now()
        row.poll_date = poll_date
        row.paused = False
        row.eve = {
            "ballots": {b.ballot_paper_id: b.status for b in ballots.values()},
            "zero_counts": row.zero_counts.isoformat() if row.zero_counts else None,
        }
        row.save()
        rehearsal_state.forget()
        return record_event(
            Event.Kind.REHEARSAL_STARTED,
            user=user,
            payload={"poll_date": poll_date.isoformat(), "label": label, "ballots": len(ballots)},
        )


def set_zero_counts(poll_date: dt.date | None, *, user=None) -> Event:
    """Show every undeclared ballot of ``poll_date`` at zero votes (``None``: switch it off).

    The API says so on every such ballot (``zeroCounts``); declared ballots
    always show their result. Records a ``zero_counts`` event.
    """
    with transaction.atomic():
        if poll_date is not None and not _ballots_of(poll_date).exists():
            raise _no_ballots_polled(poll_date, "")
        _lock_event_log()
        row = _rehearsal_row()
        before = row.zero_counts
        row.zero_counts = poll_date
        row.save(update_fields=["zero_counts"])
        rehearsal_state.forget()
        return record_event(
            Event.Kind.ZERO_COUNTS,
            user=user,
            payload={
                "poll_date": (poll_date or before).isoformat() if (poll_date or before) else None,
                "on": poll_date is not None,
            },
        )


def set_replay_paused(paused: bool) -> None:
    """Pause or resume a running replay (``replay_night`` waits while paused). Publishes nothing."""
    with transaction.atomic():
        Rehearsal.objects.get_or_create(pk=1)
        Rehearsal.objects.filter(pk=1).update(paused=paused)
        rehearsal_state.forget()


def reset_to_eve(poll_date: dt.date, *, posts: Iterable[Post] = (), user=None, reason: str = "") -> Event:
    """Return the poll of ``poll_date`` to its eve, and end the rehearsal if one is running.

    Every ballot of the day loses its result (votes, winners, figures,
    declaration time) and goes back to its status when the rehearsal
    started (awaiting, outside a rehearsal); posts published during the
    rehearsal, and ``posts``, are withdrawn (each with its
    ``post_withdrawn`` event); zero counts return to their state before the
    rehearsal. Then one ``reset`` event, which tells clients to reload.
    Nothing is deleted: the event log keeps the rehearsal, flagged, and
    every cursor stays valid. Locks in the lock order: ballots, elections,
    posts, the rehearsal row under the event-log lock.
    """
    with transaction.atomic():
        ballots = lock_ballots(_ballots_of(poll_date).values_list("pk", flat=True))
        if not ballots:
            raise _no_ballots_polled(poll_date, ": nothing to reset")
        for election_pk in sorted({b.election_id for b in ballots.values()}):
            _lock_election(election_pk)
        stored = Rehearsal.objects.filter(pk=1).first()
        rehearsing = stored is not None and stored.active and stored.poll_date == poll_date
        eve = stored.eve if rehearsing else {}
        rehearsal_posts = (
            Post.objects.filter(
                status=Post.Status.PUBLISHED,
                events__rehearsal=True,
                events__kind__in=[Event.Kind.POST_PUBLISHED, Event.Kind.POST_UPDATED],
            )
            if rehearsing
            else Post.objects.none()
        )
        post_pks = sorted({p.pk for p in posts} | set(rehearsal_posts.values_list("pk", flat=True)))
        withdrawn = list(
            Post.objects.select_for_update(no_key=True)
            .order_by("pk")
            .filter(pk__in=post_pks, status=Post.Status.PUBLISHED)
        )
        _reset_ballots(ballots, eve.get("ballots", {}))
        for post in withdrawn:
            post.status = Post.Status.WITHDRAWN
            post.version += 1
            post.save(update_fields=["status", "version", "updated_at"])
        # Compute on write: every election of the day back to its standing on the eve.
        elections = sorted({b.election_id for b in ballots.values()})
        refresh_standings(elections)
        _lock_event_log()
        row = _rehearsal_row()
        if rehearsing:
            row.active = False
            row.paused = False
            row.label, row.started_at, row.poll_date = "", None, None
            row.eve = {}
            row.zero_counts = dt.date.fromisoformat(eve["zero_counts"]) if eve.get("zero_counts") else None
            row.save()
        rehearsal_state.forget()
        events = _reset_events(poll_date, ballots, withdrawn, rehearsing=rehearsing, reason=reason, user=user)
        return record_events(events, fresh=elections)[-1]


def _reset_ballots(ballots: Mapping[int, Ballot], eve_status: Mapping[str, str]) -> None:
    """Clear the locked ballots' results (and their figures waiting for a check); each goes back to
    its status at the eve (``eve_status`` by ballot paper id; awaiting otherwise)."""
    Candidacy.objects.filter(ballot__in=list(ballots)).update(votes=None, elected=None, elected_by_lot=False)
    PendingCheck.objects.filter(ballot__in=list(ballots)).delete()
    for ballot in ballots.values():
        ballot.status = eve_status.get(ballot.ballot_paper_id, Ballot.Status.AWAITING)
        ballot.declared_at = None
        ballot.electorate = ballot.ballot_papers_counted = ballot.rejected_ballots = None
        ballot.certification = ballot.source = ballot.source_url = ""
        ballot.version += 1
    Ballot.objects.bulk_update(
        list(ballots.values()),
        RESULT_FIELDS,
    )


def _reset_events(
    poll_date: dt.date,
    ballots: Mapping[int, Ballot],
    withdrawn: list[Post],
    *,
    rehearsing: bool,
    reason: str,
    user,
) -> list[Event]:
    """A reset's unsaved events: each post withdrawn, then the ``reset`` (flagged as rehearsal when
    it ends one)."""
    events = [
        new_event(
            Event.Kind.POST_WITHDRAWN,
            user=user,
            payload={"uid": str(p.uid), "reason": "reset to the eve of the poll", "version": p.version},
            post=p,
        )
        for p in withdrawn
    ]
    events.append(
        new_event(
            Event.Kind.RESET,
            user=user,
            payload={
                "poll_date": poll_date.isoformat(),
                "ballots": len(ballots),
                # Each ballot now awaits its count, but for these (back to their status at the eve).
                "statuses": {
                    b.ballot_paper_id: b.status
                    for b in sorted(ballots.values(), key=lambda b: b.ballot_paper_id)
                    if b.status != Ballot.Status.AWAITING
                },
                "posts_withdrawn": [str(p.uid) for p in withdrawn],
                "ended_rehearsal": rehearsing,
                "reason": reason.strip(),
                "reload": True,
            },
        )
    )
    for event in events:
        # Part of the rehearsal it ends: flagged, like everything it undoes.
        event.rehearsal = rehearsing
    return events
