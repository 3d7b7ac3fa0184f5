"""The election-night overview: every election's progress and control call, on one page.

It loads every election with ``Election.objects.with_results()`` and derives
each standing with ``results.standings``, so the page runs the same number of
queries however many councils, ballots and candidates there are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse

from ..models import Ballot, Candidacy, Election
from ..standings import ElectionStanding, election_standing

# The overview reloads itself this often: it is left open on a screen all night.
REFRESH_SECONDS = 30


@dataclass(frozen=True)
class ElectionRow:
    """One line of the overview."""

    election: Election
    standing: ElectionStanding | None
    ballots_total: int
    ballots_declared: int
    in_recount: tuple[Ballot, ...]
    last_declared_at: dt.datetime | None
    mayor: tuple[Candidacy, ...]
    work_list_url: str
    ballots_url: str

    @property
    def to_declare(self) -> int:
        return self.ballots_total - self.ballots_declared

    @property
    def complete(self) -> bool:
        return self.ballots_total > 0 and self.to_declare == 0


def work_list_url(election: Election) -> str:
    """The ballots of one election still to declare."""
    query = urlencode({"election__id__exact": election.pk, "progress": "to_declare"})
    return f"{reverse('admin:results_ballot_changelist')}?{query}"


def declared_list_url(election: Election) -> str:
    """The ballots of one election already declared (or uncontested)."""
    query = urlencode({"election__id__exact": election.pk, "progress": "published"})
    return f"{reverse('admin:results_ballot_changelist')}?{query}"


def election_row(election: Election) -> ElectionRow:
    ballots = list(election.ballots.all())
    published = [b for b in ballots if b.is_published]
    mayor: tuple[Candidacy, ...] = ()
    if election.is_mayoral and published:
        mayor = tuple(c for b in published for c in b.candidacies.all() if c.elected)
    return ElectionRow(
        election=election,
        standing=election_standing(election),
        ballots_total=len(ballots),
        ballots_declared=len(published),
        in_recount=tuple(b for b in ballots if b.status == Ballot.Status.RECOUNT),
        last_declared_at=max((b.declared_at for b in published if b.declared_at), default=None),
        mayor=mayor,
        work_list_url=work_list_url(election),
        ballots_url=f"{reverse('admin:results_ballot_changelist')}?election__id__exact={election.pk}",
    )


def overview_view(request):
    if not (request.user.has_perm("results.view_election") or request.user.has_perm("results.view_ballot")):
        raise PermissionDenied
    elections = Election.objects.with_results().order_by("-poll_date", "kind", "council__name")
    # Councils still counting first: that is where the night's work is.
    rows = sorted((election_row(e) for e in elections), key=lambda r: r.complete)
    councils = [r for r in rows if r.standing is not None]
    context = {
        **admin.site.each_context(request),
        "title": "Election night",
        "is_nav_sidebar_enabled": False,
        "refresh_seconds": REFRESH_SECONDS,
        "rows": rows,
        "ballots_declared": sum(r.ballots_declared for r in rows),
        "ballots_total": sum(r.ballots_total for r in rows),
        "councils_called": sum(1 for r in councils if r.standing.composition.control.called),
        "councils_total": len(councils),
        "in_recount": sum(len(r.in_recount) for r in rows),
    }
    return TemplateResponse(request, "admin/results/overview.html", context)
