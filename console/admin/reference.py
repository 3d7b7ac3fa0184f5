"""Reference data (parties, councils, wards) edited through ``results.services`` (each save
a ``reference`` event, refused if someone saved the row since it was opened); elections,
candidacies and the event log shown for reading."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from results import services
from results.models import Candidacy, CompositionBefore, Council, Election, Event, Party, PreviousWinner, Ward

from . import candidates
from .overview import work_list_url


class ReadOnlyMixin:
    """Shown, never edited here: these change only through ``results.services`` and the importers."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class VersionedForm(forms.ModelForm):
    """Carries the version the editor loaded, so that a save over someone else's is refused."""

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version


class ThroughServicesMixin:
    """Saves go through a ``results.services`` function (an event, a version, optimistic
    locking); rows are never deleted here (the event log refers to them)."""

    form = VersionedForm
    service_fields: tuple[str, ...] = ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_through_service(self, request, obj, form, values, expected_version):
        raise NotImplementedError

    def _values(self, form):
        return {name: form.cleaned_data[name] for name in self.service_fields if name in form.cleaned_data}

    def save_form(self, request, form, change):
        # The service saves; the form only validates (the admin calls save_model next).
        return form.save(commit=False)

    def save_model(self, request, obj, form, change):
        expected = form.cleaned_data.get("loaded_version") if change else None
        saved = self.save_through_service(
            request, obj if change else None, form, self._values(form), expected
        )
        obj.pk, obj.version = saved.pk, saved.version

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            # A stale edit, or a value the service refused: nothing was saved.
            for message in exc.messages:
                self.message_user(request, message, level="error")
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Party)
class PartyAdmin(ThroughServicesMixin, admin.ModelAdmin):
    list_display = ["ec_id", "name", "short_name", "abbreviation", "colour", "lead_party", "is_independent"]
    search_fields = ["ec_id", "name", "short_name"]
    list_select_related = ["lead_party"]
    service_fields = services.PARTY_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return ["ec_id"] if obj is not None else []  # the natural id partners key on never changes

    def save_through_service(self, request, obj, form, values, expected_version):
        return services.save_party(
            obj,
            ec_id=form.cleaned_data.get("ec_id", ""),
            values=values,
            user=request.user,
            expected_version=expected_version,
        )


class WardInline(admin.TabularInline):
    """Shown on the council's page; wards are added and edited on their own pages (through the services)."""

    model = Ward
    extra = 0
    fields = ["slug", "name", "seats"]
    readonly_fields = ["slug", "name", "seats"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Council)
class CouncilAdmin(ThroughServicesMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "official_name", "seats_total"]
    search_fields = ["name", "slug"]
    inlines = [WardInline]
    service_fields = services.COUNCIL_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj is not None else []

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else {"slug": ["name"]}

    def save_through_service(self, request, obj, form, values, expected_version):
        return services.save_council(
            obj,
            slug=form.cleaned_data.get("slug", ""),
            values=values,
            user=request.user,
            expected_version=expected_version,
        )


@admin.register(Ward)
class WardAdmin(ThroughServicesMixin, admin.ModelAdmin):
    list_display = ["name", "council", "seats"]
    list_filter = ["council"]
    search_fields = ["name"]
    list_select_related = ["council"]
    service_fields = services.WARD_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return ["council", "slug"] if obj is not None else []

    def save_through_service(self, request, obj, form, values, expected_version):
        return services.save_ward(
            obj,
            council=form.cleaned_data.get("council"),
            slug=form.cleaned_data.get("slug", ""),
            values=values,
            user=request.user,
            expected_version=expected_version,
        )


class CompositionInline(ReadOnlyMixin, admin.TabularInline):
    model = CompositionBefore
    extra = 0


@admin.register(Election)
class ElectionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "election_id",
        "council",
        "kind",
        "poll_date",
        "seats_total",
        "control_before",
        "work_list",
    ]
    list_filter = ["kind", "poll_date"]
    search_fields = ["election_id", "council__name"]
    list_select_related = ["council", "control_before"]
    inlines = [CompositionInline]

    @admin.display(description="work list")
    def work_list(self, election: Election):
        return format_html('<a href="{}">Ballots still to declare</a>', work_list_url(election))


class PreviousWinnerInline(ReadOnlyMixin, admin.TabularInline):
    model = PreviousWinner
    extra = 0


@admin.register(Candidacy)
class CandidacyAdmin(admin.ModelAdmin):
    """A candidate's details, correctable while the ballot is undeclared (retract first otherwise)."""

    list_display = ["person_name", "party", "description", "ballot_link", "votes", "elected"]
    list_filter = ["ballot__election__council", "party"]
    search_fields = ["person_name", "person_id", "ballot__ballot_paper_id"]
    list_select_related = ["party", "ballot__ward", "ballot__election__council"]
    fields = [
        "ballot",
        "person_name",
        "person_id",
        "party",
        "description",
        "votes",
        "elected",
        "elected_by_lot",
    ]
    readonly_fields = ["ballot", "votes", "elected", "elected_by_lot"]
    autocomplete_fields = ["party"]

    @admin.display(description="ballot", ordering="ballot__ballot_paper_id")
    def ballot_link(self, candidacy: Candidacy):
        url = reverse("admin:results_ballot_change", args=[candidacy.ballot_id])
        return format_html('<a href="{}">{}</a>', url, candidacy.ballot.label)

    def has_add_permission(self, request):
        return False  # added on the ballot's candidates page, through the services

    def has_delete_permission(self, request, obj=None):
        return False  # withdrawn on the ballot's candidates page (the poll is then postponed)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.ballot.is_published:
            return False  # its result is public: retract the declaration to change it
        return super().has_change_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Changed through the services, with the ballot's version and an event: on its ballot's page.
        candidacy = self.get_object(request, object_id)
        if candidacy is not None and request.method == "POST":
            if not self.has_change_permission(request, candidacy):
                raise PermissionDenied
            return candidates.candidacy_post(self, request, candidacy)
        return candidates.candidacy_change_view(self, request, object_id)


@admin.register(Event)
class EventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "kind", "created_at", "actor", "council", "ballot", "post"]
    list_filter = ["kind", "council"]
    list_select_related = ["actor", "council", "ballot", "post"]

    def get_queryset(self, request):
        events = super().get_queryset(request)
        if not request.user.has_perm("results.view_post"):
            # Posts are the live editors' (drafts, withdrawn words): the data desk's log is results only.
            events = events.filter(post__isnull=True)
        return events
