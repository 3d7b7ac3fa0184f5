"""Who changed a ballot or a post, when, and what they changed.

Two sources, merged newest first: the ``Event`` log (everything published,
with each version in its payload) and the admin's ``LogEntry`` rows (changes
nothing publishes: figures saved before a declaration, draft posts). Also
builds the message shown when a save is refused because someone else saved
first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.template.response import TemplateResponse
from django.utils import timezone

from results.figures import version_seat_changes
from results.models import Ballot, Event, Party, Post
from results.standings import previous_parties
from results.versions import COUNT_LABELS, _number, version_changes  # noqa: F401 (used by the console)

from .missing import does_not_exist

HISTORY_LIMIT = 50


@dataclass(frozen=True)
class HistoryEntry:
    when: dt.datetime
    who: str
    what: str
    public: bool
    details: tuple[str, ...] = ()
    reason: str = ""
    version: int | None = None
    changes: tuple[str, ...] = ()  # old → new against the version published before


def _who(user) -> str:
    return user.get_username() if user is not None else "an import or a script"


def ballot_figures(payload: dict) -> tuple[str, ...]:
    """One line per candidate, then the count, from a ballot event's payload."""
    lines = []
    for c in payload.get("candidacies", ()):
        mark = " elected" + (" by lot" if c.get("elected_by_lot") else "") if c.get("elected") else ""
        votes = "" if c.get("votes") is None else f" {_number(c['votes'])}"
        lines.append(f"{c['person_name']}{votes}{mark}")
    if payload.get("ballot_papers_counted") is not None or payload.get("electorate") is not None:
        lines.append(
            f"ballot papers counted {_number(payload.get('ballot_papers_counted'))}, "
            f"rejected {_number(payload.get('rejected_ballots'))}, "
            f"electorate {_number(payload.get('electorate'))}"
        )
    return tuple(lines)


PUBLISHED_VERSIONS = (Event.Kind.BALLOT_DECLARED, Event.Kind.BALLOT_CORRECTED)


class _BallotOutcomes:
    """Seat changes and control calls of a ballot's published versions, for the corrections' diffs.

    Loads, in three queries whatever the number of versions, the parties the
    versions name, the ballot's previous winners and its election's control
    calls. A correction's control call, if it changed, is the event recorded
    right after it: both are written in one transaction, which holds the
    event log's lock, so no other event can come between them.
    """

    def __init__(self, ballot: Ballot, versions: list[Event]):
        ids = {c.get("party_id") for e in versions for c in (e.payload or {}).get("candidacies", ())}
        previous = list(ballot.previous_winners.select_related("party__lead_party"))
        self.parties = {p.ec_id: p for p in Party.objects.filter(ec_id__in=ids).select_related("lead_party")}
        self.previous = previous_parties(previous)
        self.label = ballot.label
        last = max((e.pk for e in versions), default=0) + 1
        self.calls = list(
            Event.objects.filter(kind=Event.Kind.CONTROL_CALLED, election_id=ballot.election_id, id__lte=last)
            .order_by("id")
            .only("id", "payload")
        )

    def seat_changes(self, payload: dict) -> tuple[str, ...]:
        changes = version_seat_changes(
            self.label, payload.get("candidacies", ()), self.parties, self.previous
        )
        return tuple(change.headline for change in changes)

    def control(self, event: Event) -> tuple[str | None, str | None] | None:
        after = next((c for c in self.calls if c.pk == event.pk + 1), None)
        if after is None:
            return None  # the call did not change
        before = [c for c in self.calls if c.pk < event.pk]
        return (before[-1].payload.get("headline") if before else None, after.payload.get("headline"))

    def lines(self, before: Event, after: Event) -> tuple[str, ...]:
        lines = []
        seats_before, seats_after = (
            self.seat_changes(before.payload or {}),
            self.seat_changes(after.payload or {}),
        )
        if seats_before != seats_after:
            lines.append(
                f"Seat change: {'; '.join(seats_before) or 'none'} → {'; '.join(seats_after) or 'none'}"
            )
        control = self.control(after)
        if control is not None:
            lines.append(f"Control: {control[0] or 'not called'} → {control[1] or 'not called'}")
        return tuple(lines)


def _event_entry(
    event: Event, published_before: Event | None = None, outcomes: _BallotOutcomes | None = None
) -> HistoryEntry:
    payload = event.payload or {}
    details: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()
    what = event.get_kind_display()
    if event.kind in PUBLISHED_VERSIONS:
        details = ballot_figures(payload)
        if event.kind == Event.Kind.BALLOT_CORRECTED and published_before is not None:
            changes = version_changes(published_before.payload or {}, payload)
            if outcomes is not None:
                changes += outcomes.lines(published_before, event)
    elif event.kind == Event.Kind.BALLOT_STATUS:
        what = f"Status set to {Ballot.Status(payload['status']).label.lower()}"
    elif event.kind == Event.Kind.NOMINATIONS_CHANGED:
        change = payload.get("change")
        name = payload.get("person_name", "")
        if change == "ballot_created":
            what = f"Ballot created: {len(payload.get('candidacies', []))} candidates"
        elif change == "imported":
            what = "Candidates imported"
            changes = tuple(
                line
                for line in (
                    f"Added: {', '.join(payload.get('added', []))}" if payload.get("added") else "",
                    f"Changed: {', '.join(payload.get('changed', []))}" if payload.get("changed") else "",
                    f"Seats: {payload['seats_before']} → {payload['seats']}"
                    if "seats_before" in payload
                    else "",
                )
                if line
            )
        elif change == "added":
            what = f"Candidate added: {name}"
        elif change == "withdrawn":
            what = f"Candidate withdrawn: {name} (poll postponed)"
        else:
            what = f"Candidate changed: {name}"
            before, after = payload.get("before", {}), payload.get("after", {})
            changes = tuple(
                f"{key.replace('_', ' ').capitalize()}: {before.get(key) or '—'} → {after.get(key) or '—'}"
                for key in sorted(after)
            )
    elif event.kind == Event.Kind.PREVIOUS_WINNERS:
        shorts = payload.get("party_names", {})
        what = "Previous winners set: " + (
            ", ".join(
                f"{shorts.get(p['party_id'], p['party_id'])} {p['seats']}"
                for p in payload.get("previous_winners", [])
            )
            or "none"
        )
    elif event.kind in (Event.Kind.POST_PUBLISHED, Event.Kind.POST_UPDATED):
        details = tuple(
            line
            for line in (
                f"“{payload.get('headline', '')}”",
                "breaking" if payload.get("breaking") else "",
                "key point" if payload.get("key_point") else "",
            )
            if line
        )
    if event.rehearsal:
        # Test data stays flagged in the history, also after the reset that ended it.
        what = f"{what} (rehearsal)"
    return HistoryEntry(
        when=event.created_at,
        who=_who(event.actor),
        what=what,
        public=True,
        details=details,
        reason=payload.get("reason", ""),
        version=payload.get("version"),
        changes=changes,
    )


def _log_entry(entry: LogEntry) -> HistoryEntry:
    return HistoryEntry(
        when=entry.action_time,
        who=_who(entry.user),
        what=entry.get_change_message() or "Changed",
        public=False,
    )


def history(obj: Ballot | Post, limit: int = HISTORY_LIMIT, *, figures: bool = True) -> list[HistoryEntry]:
    """Every recorded change of a ballot or post, newest first.

    Two queries; with corrections, three more for their seat changes and control calls, and one
    when the oldest correction shown needs the version published before it. With
    ``figures=False`` (a reader who may not see a ballot's figures before it is declared) the
    entries keep who and when but lose the figures, and the admin's own log (figures saved
    before declaring) is left out.
    """
    events = list(obj.events.select_related("actor").order_by("-id")[:limit])
    logs = (
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk))
        .select_related("user")
        .order_by("-action_time")[:limit]
    )
    if not figures:
        return [replace(_event_entry(e), details=(), changes=()) for e in events]
    # Each correction is compared with the version published before it, even one older than the window.
    older = {}
    published = [e for e in events if e.kind in PUBLISHED_VERSIONS]
    for newer, previous in zip(published, published[1:], strict=False):
        older[newer.pk] = previous
    oldest = published[-1] if published else None
    if oldest is not None and oldest.kind == Event.Kind.BALLOT_CORRECTED:
        older[oldest.pk] = (
            obj.events.filter(kind__in=PUBLISHED_VERSIONS, id__lt=oldest.pk).order_by("-id").first()
        )
    outcomes = None
    if isinstance(obj, Ballot) and any(e.kind == Event.Kind.BALLOT_CORRECTED for e in events):
        outcomes = _BallotOutcomes(obj, published + [e for e in older.values() if e is not None])
    entries = [_event_entry(e, older.get(e.pk), outcomes) for e in events] + [_log_entry(e) for e in logs]
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:limit]


class HistoryPages:
    """A ballot's or post's history as the paginator reads it: its length, and one page at a time.

    The events and the admin's log are merged newest first, so the first ``n`` entries come from
    the newest ``n`` of each: a page costs the queries of ``history`` plus two counts."""

    def __init__(self, obj: Ballot | Post, *, figures: bool):
        self.obj, self.figures = obj, figures

    def count(self) -> int:
        logs = 0
        if self.figures:  # the admin's own log is left out for a reader who may not see the figures
            logs = LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(self.obj), object_id=str(self.obj.pk)
            ).count()
        return self.obj.events.count() + logs

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[HistoryEntry]:
        return history(self.obj, limit=window.stop, figures=self.figures)[window]


class HistoryMixin:
    """The History page of a model admin: every change of one object, published or not, a page at a time.

    As django-simple-history's ``SimpleHistoryAdmin``: ``history_view`` replaces the admin's own,
    ``history_list_per_page`` entries a page, the page chosen with ``?p=`` as on the change list.
    A model admin using it says how the page names its object (``history_title``).
    """

    history_list_per_page = 100
    history_template = "admin/results/history.html"

    def history_title(self, obj) -> str:
        return str(obj)

    def history_figures_visible(self, request, obj) -> bool:
        """Whether this reader may see the figures in the history (a ballot's before it is declared)."""
        if not isinstance(obj, Ballot):
            return True
        return self.has_change_permission(request, obj) or obj.is_published

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return does_not_exist(self, request, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        pages = HistoryPages(obj, figures=self.history_figures_visible(request, obj))
        paginator = Paginator(pages, self.history_list_per_page)
        page = paginator.get_page(request.GET.get(PAGE_VAR))
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {self.history_title(obj)}",
            "opts": self.opts,
            "original": obj,
            "history": page.object_list,
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "page_var": PAGE_VAR,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.history_template, context)


@dataclass(frozen=True)
class Conflict:
    """A refused save: who saved first, and their figures next to the ones refused."""

    message: str
    rows: tuple[tuple[str, str, str], ...] = field(default=())  # (what, theirs, yours)


def conflict(
    obj: Ballot | Post, label: str, rows: list[tuple[str, object, object]] | None, noun: str = "figures"
) -> Conflict:
    """The message for a save refused because ``obj`` changed since the editor opened it.

    ``rows`` holds ``(what, saved now, submitted)``; only those that differ are
    kept. ``None`` when the refused action carried no figures (a withdrawal).
    """
    entries = history(obj, limit=1)
    if entries:
        last = entries[0]
        when = timezone.localtime(last.when)
        # What they did, without the figures it may list: those are in the table below, once.
        what = last.what.split(":", 1)[0]
        who = f"{last.who} at {when:%H:%M:%S} ({what[:1].lower()}{what[1:]})"
    else:
        who = "someone else"
    differ = tuple(
        (what, _show(theirs), _show(yours)) for what, theirs, yours in rows or () if theirs != yours
    )
    message = f"{label} was changed by {who} after you opened it. Nothing of yours was saved"
    plural = noun.endswith("s")
    if rows is None:
        message += ": reload the page to see their change."
    elif differ:
        message += (
            f": their {noun} {'are' if plural else 'is'} below next to yours. "
            f"Check {'them' if plural else 'it'}, then enter yours again if needed."
        )
    else:
        message += f", but your {noun} {'match' if plural else 'matches'} what is saved now: reload the page."
    return Conflict(message=message, rows=differ)


def _show(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(sorted(str(v) for v in value)) or "—"
    return str(value)
