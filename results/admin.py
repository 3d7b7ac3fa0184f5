"""The admin, for now a read-only view of published data.

Results, control calls and posts change only through ``results.services``;
until the data desk's console (entry forms that call the services) lands,
the admin shows them without offering to edit them. Reference data (parties,
councils, wards) is edited here directly.
"""

from django.contrib import admin

from .models import (
    Ballot,
    Candidacy,
    CompositionBefore,
    Council,
    Election,
    Event,
    Party,
    Post,
    PreviousWinner,
    Ward,
)


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    list_display = ["ec_id", "name", "short_name", "abbreviation", "colour", "lead_party", "is_independent"]
    search_fields = ["ec_id", "name", "short_name"]
    list_select_related = ["lead_party"]


class WardInline(admin.TabularInline):
    model = Ward
    extra = 0


@admin.register(Council)
class CouncilAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "official_name", "seats_total"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [WardInline]


@admin.register(Ward)
class WardAdmin(admin.ModelAdmin):
    list_display = ["name", "council", "seats"]
    list_filter = ["council"]
    search_fields = ["name"]
    list_select_related = ["council"]


class CompositionInline(ReadOnlyMixin, admin.TabularInline):
    model = CompositionBefore
    extra = 0


@admin.register(Election)
class ElectionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["election_id", "council", "kind", "poll_date", "seats_total", "control_before"]
    list_filter = ["kind", "poll_date"]
    search_fields = ["election_id", "council__name"]
    list_select_related = ["council", "control_before"]
    inlines = [CompositionInline]


class CandidacyInline(ReadOnlyMixin, admin.TabularInline):
    model = Candidacy
    extra = 0
    fields = ["person_name", "party", "description", "votes", "elected", "elected_by_lot"]


class PreviousWinnerInline(ReadOnlyMixin, admin.TabularInline):
    model = PreviousWinner
    extra = 0


@admin.register(Ballot)
class BallotAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["ballot_paper_id", "election", "ward", "winner_count", "status", "declared_at"]
    list_filter = ["status", "election__council", "election"]
    search_fields = ["ballot_paper_id", "ward__name", "candidacies__person_name"]
    list_select_related = ["election", "ward"]
    inlines = [CandidacyInline, PreviousWinnerInline]


@admin.register(Post)
class PostAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["headline", "status", "published_at", "breaking", "key_point", "author_name"]
    list_filter = ["status", "breaking", "key_point"]
    search_fields = ["headline", "body"]


@admin.register(Event)
class EventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "kind", "created_at", "actor", "council", "ballot", "post"]
    list_filter = ["kind", "council"]
    list_select_related = ["actor", "council", "ballot", "post"]
