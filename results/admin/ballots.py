"""Ballots in the admin: the work list, and the page where a ward's result is typed and declared."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Prefetch
from django.utils.html import format_html

from ..models import Ballot, Candidacy
from . import ballot_entry, history


class ProgressFilter(admin.SimpleListFilter):
    """The work list: ballots whose result is still to come (``Ballot.objects.to_declare()``)."""

    title = "progress"
    parameter_name = "progress"

    def lookups(self, request, model_admin):
        return [("to_declare", "Still to declare (work list)"), ("published", "Declared or uncontested")]

    def queryset(self, request, queryset):
        if self.value() == "to_declare":
            return queryset.to_declare()
        if self.value() == "published":
            return queryset.published()
        return queryset


@admin.register(Ballot)
class BallotAdmin(admin.ModelAdmin):
    list_display = ["contest", "council", "seats", "status_badge", "candidates", "result", "declared_at"]
    list_display_links = ["contest"]
    list_filter = [ProgressFilter, "status", "election", "election__council"]
    search_fields = ["ward__name", "candidacies__person_name", "ballot_paper_id"]
    ordering = ["election__council__name", "election__kind", "ward__name"]
    list_per_page = 100
    change_list_template = "admin/results/ballot/change_list.html"
    actions = None

    def get_queryset(self, request):
        # Everything the list shows, in a fixed number of queries however many rows.
        return (
            super()
            .get_queryset(request)
            .select_related("election__council", "ward")
            .prefetch_related(
                Prefetch("candidacies", queryset=Candidacy.objects.select_related("party").order_by("pk"))
            )
        )

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

    @admin.display(description="candidates")
    def candidates(self, ballot: Ballot) -> int:
        return len(ballot.candidacies.all())

    @admin.display(description="elected")
    def result(self, ballot: Ballot) -> str:
        if not ballot.is_published:
            return "—"
        winners = [c for c in ballot.candidacies.all() if c.elected]
        winners.sort(key=lambda c: (-(c.votes or 0), c.person_name))
        return ", ".join(f"{c.person_name} ({c.party.abbreviation or c.party.short_name})" for c in winners)

    def has_add_permission(self, request):
        return False  # ballots come from the candidates import

    def has_delete_permission(self, request, obj=None):
        return False  # a ballot is part of the published record

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return ballot_entry.entry_view(self, request, object_id)

    def history_view(self, request, object_id, extra_context=None):
        return history.history_view(
            self, request, object_id, lambda ballot: f"{ballot.label}, {ballot.election.council.name}"
        )
