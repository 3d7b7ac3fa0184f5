"""The election-night overview: every election's progress and control call, on one page.

It loads every election with its stored standing (computed on write by the
services: no rule runs here), ballots and candidacies, so the page runs the
same number of queries however many councils, ballots and candidates there are.

The page itself is the site's (``console.site``); this module gives its
rows and the JSON endpoints its script polls.

It stays live without reloading: the page polls ``updates`` with the cursor
of the last event it shows (the event log's id, as partners' polling feed
does); only when an event has been recorded since is the table rendered
again. Each poll also brings which wards other editors have open now
(``results.presence``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.db.models import Max, Prefetch
from django.http import HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from results import parties, presence, rehearsal
from results.figures import ElectionProgress, election_progress, night_progress
from results.models import Ballot, Candidacy, Election, Event
from results.standings import ElectionStanding, stored_standing

# The overview asks for news this often (one cheap query when there is none):
# a declaration shows within this interval plus one render, without a reload.
POLL_SECONDS = 1.5


@dataclass(frozen=True)
class ElectionRow:
    """One line of the overview."""

    election: Election
    standing: ElectionStanding | None
    progress: ElectionProgress  # ballots declared and to declare, in recount, the mayor elected
    work_list_url: str
    ballots_url: str
    open_now: tuple[tuple[Ballot, tuple[str, ...]], ...] = ()  # wards other editors have open

    # The progress's figures, as the page reads them.
    ballots_total = property(lambda self: self.progress.ballots_total)
    ballots_declared = property(lambda self: self.progress.ballots_declared)
    in_recount = property(lambda self: self.progress.in_recount)
    last_declared_at = property(lambda self: self.progress.last_declared_at)
    mayor = property(lambda self: self.progress.mayor)
    to_declare = property(lambda self: self.progress.to_declare)
    complete = property(lambda self: self.progress.complete)


def work_list_url(election: Election) -> str:
    """The ballots of one election still to declare."""
    query = urlencode({"election__id__exact": election.pk, "progress": "to_declare"})
    return f"{reverse('admin:results_ballot_changelist')}?{query}"


def declared_list_url(election: Election) -> str:
    """The ballots of one election already declared (or uncontested)."""
    query = urlencode({"election__id__exact": election.pk, "progress": "published"})
    return f"{reverse('admin:results_ballot_changelist')}?{query}"


def election_row(election: Election, open_by: dict[int, list[str]] | None = None) -> ElectionRow:
    ballots = list(election.ballots.all())
    open_by = open_by or {}
    return ElectionRow(
        election=election,
        standing=stored_standing(election),
        progress=election_progress(election, ballots),
        work_list_url=work_list_url(election),
        ballots_url=f"{reverse('admin:results_ballot_changelist')}?election__id__exact={election.pk}",
        open_now=tuple(
            (b, tuple(open_by[b.pk])) for b in sorted(ballots, key=lambda b: b.label) if b.pk in open_by
        ),
    )


def check_access(request) -> None:
    """Who may see the overview: readers of elections or ballots."""
    if not (request.user.has_perm("results.view_election") or request.user.has_perm("results.view_ballot")):
        raise PermissionDenied


def open_by_others(request) -> dict[int, list[str]]:
    """Ballot id → usernames of the other editors who have its page open now."""
    found: dict[int, list[str]] = {}
    for p in presence.present():
        if p.user_pk != request.user.pk:
            found.setdefault(p.ballot_pk, []).append(p.username)
    return found


def overview_context(request) -> dict:
    """The rows and totals of the overview (a fixed number of queries), and the cursor they reflect."""
    # The cursor first: an event committed while the rows load is shown at the next poll, never skipped.
    cursor = Event.objects.aggregate(last=Max("id"))["last"] or 0
    # Every derived figure is stored (compute on write): only the ballots (statuses, who has one
    # open) and the mayors' candidacies are read, with each election's stored standing.
    elections = list(
        Election.objects.select_related("council", "standing")
        .prefetch_related(
            Prefetch("ballots", queryset=Ballot.objects.select_related("ward")),
            Prefetch("ballots__candidacies", queryset=Candidacy.objects.select_related("party")),
        )
        .order_by("-poll_date", "kind", "council__name")
    )
    parties.refresh()
    open_by = open_by_others(request)
    # Councils still counting first: that is where the night's work is.
    rows = sorted((election_row(e, open_by) for e in elections), key=lambda r: r.complete)
    night = night_progress((r.progress, r.standing) for r in rows)
    return {
        "cursor": cursor,
        "rows": rows,
        "ballots_declared": night.ballots_declared,
        "ballots_total": night.ballots_total,
        "councils_called": night.councils_called,
        "councils_total": night.councils_total,
        "in_recount": night.in_recount,
    }


@require_GET
def updates_view(request):
    """What changed on the overview since ``after`` (an event id): the table again if anything did.

    Answers ``{"cursor", "changed", "html", "open_now"}``, and with a change
    ``rehearsal`` (whether the deployment rehearses now: the page reloads when
    it started or ended, for its banner). With no new event it costs one query
    (plus the cache reads of who has which ward open and of the rehearsal).
    """
    check_access(request)
    after = request.GET.get("after", "")
    if not after.isdigit():
        return HttpResponseBadRequest("after: the id of the last event the page shows, e.g. ?after=0")
    if not Event.objects.filter(id__gt=int(after)).exists():
        return JsonResponse(
            {"cursor": int(after), "changed": False, "html": None, "open_now": open_now_text(request)}
        )
    context = overview_context(request)
    html = render_to_string("admin/results/includes/overview_table.html", context, request=request)
    open_now = {
        row.election.election_id: open_now_line(row.open_now) for row in context["rows"] if row.open_now
    }
    return JsonResponse(
        {
            "cursor": context["cursor"],
            "changed": True,
            "html": html,
            "open_now": open_now,
            "rehearsal": rehearsal.current().active,
        }
    )


def open_now_line(open_now) -> str:
    """ "Bingham (bob); Cotgrave (carol, dan)": the wards of one election other editors have open."""
    return "; ".join(f"{ballot.label} ({', '.join(names)})" for ballot, names in open_now)


def open_now_text(request) -> dict[str, str]:
    """Election id → the line of wards other editors have open now (one query, none if nobody)."""
    open_by = open_by_others(request)
    if not open_by:
        return {}
    ballots = Ballot.objects.filter(pk__in=open_by).select_related("ward", "election__council")
    by_election: dict[str, list] = {}
    for b in sorted(ballots, key=lambda b: b.label):
        by_election.setdefault(b.election.election_id, []).append((b, tuple(open_by[b.pk])))
    return {election_id: open_now_line(rows) for election_id, rows in by_election.items()}


@require_POST
def presence_view(request):
    """A ballot page's heartbeat (or its leaving): answers who else has the same ballot open."""
    if not request.user.has_perm("results.view_ballot"):
        raise PermissionDenied
    ballot = request.POST.get("ballot", "")
    if not ballot.isdigit() or not Ballot.objects.filter(pk=int(ballot)).exists():
        return HttpResponseBadRequest("ballot: the id of an existing ballot")
    if request.POST.get("leave"):
        presence.leave(int(ballot), request.user)
        return JsonResponse({"others": []})
    presence.heartbeat(int(ballot), request.user)
    others = sorted(
        p.username for p in presence.present() if p.ballot_pk == int(ballot) and p.user_pk != request.user.pk
    )
    return JsonResponse({"others": others})
