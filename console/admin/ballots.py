"""Ballots in the admin: the work list, and the page where a ward's result is typed and declared.

The work list is the desk's screen for the night: per ward its status, seats,
candidates, who last touched it and when, and recount flags, sorted by what
the desk does next (recounts, then counts under way, then those awaiting
their count). Everything it shows comes from one annotated query, however
many rows.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, CharField, Exists, IntegerField, OuterRef, Prefetch, Subquery, Value, When
from django.db.models.functions import Cast
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html

from results import rules
from results.models import Ballot, Candidacy, Election, Event

from . import ballot_entry, candidates, history

# What the desk does next with a ballot of each status, most urgent first.
NEXT_ACTION = {
    Ballot.Status.RECOUNT: (0, "Type the recount"),
    Ballot.Status.COUNTING: (1, "Type the figures"),
    Ballot.Status.AWAITING: (2, "Wait for the count"),
    Ballot.Status.POSTPONED: (3, "Postponed: nothing to do"),
    Ballot.Status.DECLARED: (4, "Declared: correct if needed"),
    Ballot.Status.UNCONTESTED: (4, "Uncontested"),
}


# The filters are a compact bar above the list (a closed drop-down each), not Django's sidebar.
BAR_FILTER = "admin/results/ballot/filter.html"


def next_rank():
    """The order of ``NEXT_ACTION`` as an SQL expression over the ballot's status."""
    return Case(
        *(When(status=status, then=Value(rank)) for status, (rank, _) in NEXT_ACTION.items()),
        default=Value(9),
        output_field=IntegerField(),
    )


class ProgressFilter(admin.SimpleListFilter):
    """The work list: ballots whose result is still to come (``Ballot.objects.to_declare()``)."""

    title = "progress"
    parameter_name = "progress"
    template = BAR_FILTER

    def lookups(self, request, model_admin):
        return [("to_declare", "Still to declare (work list)"), ("published", "Declared or uncontested")]

    def queryset(self, request, queryset):
        if self.value() == "to_declare":
            return queryset.to_declare()
        if self.value() == "published":
            return queryset.published()
        return queryset


class StatusFilter(admin.ChoicesFieldListFilter):
    template = BAR_FILTER


class CouncilFilter(admin.RelatedFieldListFilter):
    template = BAR_FILTER


@admin.register(Ballot)
class BallotAdmin(history.HistoryMixin, admin.ModelAdmin):
    list_display = [
        "contest",
        "council",
        "seats",
        "status_badge",
        "next_action",
        "candidates",
        "last_touched",
        "recount_flag",
        "result",
    ]
    list_display_links = ["contest"]
    # Shown as a bar above the list, not Django's sidebar (the template hides it): no list of election ids.
    list_filter = [ProgressFilter, ("status", StatusFilter), ("election__council", CouncilFilter)]
    search_fields = ["ward__name", "candidacies__person_name", "ballot_paper_id"]
    ordering = ["election__council__name", "election__kind", "ward__name"]
    list_per_page = 100
    change_list_template = "admin/results/ballot/change_list.html"
    actions = None

    def get_queryset(self, request):
        # Everything the list shows, in a fixed number of queries however many rows.
        events = Event.objects.filter(ballot=OuterRef("pk")).order_by("-id")
        logs = LogEntry.objects.filter(
            content_type_id=ContentType.objects.get_for_model(Ballot).pk,
            object_id=Cast(OuterRef("pk"), CharField()),
        ).order_by("-action_time", "-id")
        # Built here rather than by super(), which orders before the annotation exists.
        return (
            Ballot.objects.all()
            .select_related("election__council", "ward")
            .prefetch_related(
                Prefetch("candidacies", queryset=Candidacy.objects.select_related("party").order_by("pk"))
            )
            .annotate(
                next_rank=next_rank(),
                last_event_at=Subquery(events.values("created_at")[:1]),
                last_event_by=Subquery(events.values("actor__username")[:1]),
                last_log_at=Subquery(logs.values("action_time")[:1]),
                last_log_by=Subquery(logs.values("user__username")[:1]),
                was_recounted=Exists(
                    Event.objects.filter(
                        ballot=OuterRef("pk"), kind=Event.Kind.BALLOT_STATUS, payload__status="recount"
                    )
                ),
            )
            .order_by(*self.get_ordering(request))
        )

    def get_ordering(self, request):
        # By what the desk does next, then council and ward (a column header click overrides it).
        # An expression, not the annotation: other admins' ballot pickers order by this too.
        return [next_rank().asc(), "election__council__name", "election__kind", "ward__name"]

    @admin.display(description="ward", ordering="ward__name")
    def contest(self, ballot: Ballot) -> str:
        return ballot.label

    @admin.display(description="council", ordering="election__council__name")
    def council(self, ballot: Ballot) -> str:
        return ballot.election.council.name

    @admin.display(description="seats", ordering="winner_count")
    def seats(self, ballot: Ballot) -> int:
        return ballot.winner_count

    @admin.display(description="status", ordering="status")
    def status_badge(self, ballot: Ballot):
        return format_html(
            '<span class="status-badge status-{}">{}</span>', ballot.status, ballot.get_status_display()
        )

    @admin.display(description="next", ordering="next_rank")
    def next_action(self, ballot: Ballot) -> str:
        return NEXT_ACTION.get(ballot.status, (9, ""))[1]

    @admin.display(description="last touched")
    def last_touched(self, ballot: Ballot):
        touches = [
            (at, who or "an import or a script")
            for at, who in (
                (ballot.last_event_at, ballot.last_event_by),
                (ballot.last_log_at, ballot.last_log_by),
            )
            if at is not None
        ]
        if not touches:
            return "—"
        at, who = max(touches)
        return format_html(
            '{} <span class="small">{}</span>', who, timezone.localtime(at).strftime("%H:%M:%S")
        )

    @admin.display(description="recount")
    def recount_flag(self, ballot: Ballot):
        if ballot.status == Ballot.Status.RECOUNT:
            return format_html('<span class="status-badge status-recount">{}</span>', "In recount")
        if ballot.was_recounted:
            return format_html('<span class="status-badge">{}</span>', "Recounted")
        return "—"

    @admin.display(description="candidates")
    def candidates(self, ballot: Ballot) -> int:
        return len(ballot.candidacies.all())

    @admin.display(description="elected")
    def result(self, ballot: Ballot) -> str:
        if not ballot.is_published:
            return "—"
        winners = [c for c in ballot.candidacies.all() if c.elected]
        winners.sort(key=lambda c: rules.result_order(c.votes, c.elected_by_lot, c.person_name))
        return ", ".join(f"{c.person_name} ({c.party.abbreviation or c.party.short_name})" for c in winners)

    def changelist_view(self, request, extra_context=None):
        # Say which council and which part of its ballots this is, in the title and the breadcrumb.
        election_pk = request.GET.get("election__id__exact", "")
        election = (
            Election.objects.select_related("council").filter(pk=election_pk).first()
            if election_pk.isdigit()
            else None
        )
        part = {"to_declare": "still to declare", "published": "declared"}.get(
            request.GET.get("progress", "")
        )
        title = "Ballots" if part is None else f"Ballots {part}"
        if election is not None:
            title = f"{election.council.name}: {part or 'all ballots'}"
        context = {"title": title, "subtitle": None, "work_list_election": election, **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    def has_add_permission(self, request):
        return False  # ballots come from the candidates import

    def has_delete_permission(self, request, obj=None):
        return False  # a ballot is part of the published record

    def get_urls(self):
        # Ahead of the admin's own patterns, so the ballot's change URL opens its entry page; the
        # admin's pattern it shadows still reverses (admin:results_ballot_change) to the same URL.
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/change/", view(self.entry_view), name="results_ballot_entry"),
            path(
                "<path:object_id>/candidates/", view(self.candidates_view), name="results_ballot_candidates"
            ),
            *super().get_urls(),
        ]

    def entry_view(self, request, object_id):
        """The ballot page: type the votes, preview, declare or correct (``ballot_entry``)."""
        return ballot_entry.entry_view(self, request, object_id)

    def candidates_view(self, request, object_id):
        """The ballot's candidates, before its declaration (``candidates``)."""
        return candidates.candidates_view(self, request, object_id)

    def history_title(self, ballot: Ballot) -> str:
        return f"{ballot.label}, {ballot.election.council.name}"
