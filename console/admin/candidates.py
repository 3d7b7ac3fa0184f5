"""A ballot's candidates, before its declaration: add one the import missed, withdraw one, fix a name.

Every change goes through ``results.services`` (``add_candidacy``,
``change_candidacy``, ``withdraw_candidacy``) with the ballot's version as
loaded, so a change made meanwhile by someone else is refused, not
overwritten; each records a ``nominations`` event and shows in the ballot's
history. Withdrawing a candidate (one who died) countermands the poll: the
ballot is postponed.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from results import services
from results.models import Candidacy, Party

from . import history
from .ballot_entry import ballot_paper_order, figures_visible
from .missing import does_not_exist

TEXT = {"class": "vTextField", "autocomplete": "off"}


class VersionedForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)

    def add_service_error(self, exc: ValidationError) -> None:
        for field, errors in exc.message_dict.items():
            for message in errors:
                self.add_error(field if field in self.fields else None, message)


class AddForm(VersionedForm):
    person_name = forms.CharField(label="Name", max_length=255, widget=forms.TextInput(attrs=TEXT))
    party = forms.ModelChoiceField(queryset=Party.objects.order_by("name"), label="Party")
    description = forms.CharField(
        label="Description on the ballot paper",
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs=TEXT),
        help_text="e.g. “Local Conservatives”; empty for the party's name.",
    )


class ChangeForm(VersionedForm):
    candidacy = forms.IntegerField(widget=forms.HiddenInput)
    person_name = forms.CharField(label="Name", max_length=255, widget=forms.TextInput(attrs=TEXT))
    party = forms.ModelChoiceField(queryset=Party.objects.order_by("name"), label="Party")
    description = forms.CharField(
        label="Description", required=False, max_length=255, widget=forms.TextInput(attrs=TEXT)
    )


class WithdrawForm(VersionedForm):
    candidacy = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.TextInput(attrs={**TEXT, "placeholder": "e.g. died on 28 April; poll countermanded"}),
    )


# What each posted action is: its form and the prefix of its fields.
ACTIONS = {"add": (AddForm, "add"), "change": (ChangeForm, None), "withdraw": (WithdrawForm, None)}


def candidates_view(model_admin, request, object_id):
    """The candidates page of one ballot (``/admin/results/ballot/<id>/candidates/``)."""
    ballot = model_admin.get_object(request, unquote(object_id))
    if ballot is None:
        return does_not_exist(model_admin, request, object_id)
    if not model_admin.has_view_or_change_permission(request, ballot):
        raise PermissionDenied
    can_change = model_admin.has_change_permission(request, ballot) and not ballot.is_published
    url = reverse("admin:results_ballot_candidates", args=[ballot.pk])
    candidacies = sorted(ballot.candidacies.select_related("party"), key=ballot_paper_order)
    initial = {"version": ballot.version}
    add_form = AddForm(initial=initial, prefix="add")
    bound: dict[int, forms.Form] = {}
    conflict = None
    status = 200
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        action = request.POST.get("_action", "")
        form_class, prefix = ACTIONS.get(action, (None, None))
        if form_class is None:
            return HttpResponseRedirect(url)
        form = form_class(request.POST, prefix=prefix)
        if form.is_valid():
            try:
                message = apply_action(action, form.cleaned_data, ballot, candidacies, request.user)
            except (services.StaleEdit, Candidacy.DoesNotExist):
                conflict = history.conflict(ballot, ballot.label, None, noun="candidates")
                status = 409
            except ValidationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, message)
                return HttpResponseRedirect(url)
        if action == "add":
            add_form = form
        elif "candidacy" in form.data and str(form.data["candidacy"]).isdigit():
            bound[(action, int(form.data["candidacy"]))] = form
    ballot.refresh_from_db()
    rows = candidate_rows(ballot, candidacies, bound)
    # One list of parties for every row's drop-down, not one query per row.
    party_choices = [("", "---------"), *((p.pk, str(p)) for p in Party.objects.order_by("name"))]
    for form in [add_form, *(row["change"] for row in rows)]:
        form.fields["party"].choices = party_choices
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Candidates: {ballot.label}, {ballot.election.council.name}",
        "subtitle": None,
        "is_nav_sidebar_enabled": False,
        "opts": model_admin.opts,
        "original": ballot,
        "ballot": ballot,
        "rows": rows,
        "add_form": add_form,
        "can_change": can_change,
        "conflict": conflict,
        "entry_url": reverse("admin:results_ballot_change", args=[ballot.pk]),
        # Figures before a declaration are not results: a reader who may not change the ballot
        # (a live editor) sees who changed it and when, not the figures saved while counting.
        "history": history.history(
            ballot, figures=figures_visible(model_admin.has_change_permission(request, ballot), ballot)
        ),
    }
    return TemplateResponse(request, "admin/results/ballot/candidates.html", context, status=status)


def apply_action(action: str, data: dict, ballot, candidacies: list[Candidacy], user) -> str:
    """Add, change or withdraw a candidate through the services; the message that says it was done."""
    if action == "add":
        done = services.add_candidacy(
            ballot,
            person_name=data["person_name"],
            party=data["party"],
            description=data["description"],
            user=user,
            expected_version=data["version"],
        )
        return f"Added {done.person_name} ({done.party.short_name}) to {ballot.label}."
    if action == "change":
        done = services.change_candidacy(
            data["candidacy"],
            person_name=data["person_name"],
            party=data["party"],
            description=data["description"],
            user=user,
            expected_version=data["version"],
        )
        return f"Saved {done.person_name}'s details."
    name = next((c.person_name for c in candidacies if c.pk == data["candidacy"]), "The candidate")
    services.withdraw_candidacy(
        data["candidacy"], reason=data["reason"], user=user, expected_version=data["version"]
    )
    return (
        f"Withdrew {name} from {ballot.label}: the poll is countermanded and the ballot "
        "postponed. Set it back to counting when the new poll is held."
    )


def candidate_rows(ballot, candidacies: list[Candidacy], bound: dict) -> list[dict]:
    """Each candidate with its change and withdraw forms: the ones just posted (with their errors), or fresh."""
    rows = []
    for c in candidacies:
        rows.append(
            {
                "candidacy": c,
                "change": bound.get(("change", c.pk))
                or ChangeForm(
                    initial={
                        "version": ballot.version,
                        "candidacy": c.pk,
                        "person_name": c.person_name,
                        "party": c.party_id,
                        "description": c.description,
                    },
                    auto_id=f"id_change_{c.pk}_%s",
                ),
                "withdraw": bound.get(("withdraw", c.pk))
                or WithdrawForm(
                    initial={"version": ballot.version, "candidacy": c.pk}, auto_id=f"id_withdraw_{c.pk}_%s"
                ),
            }
        )
    return rows


def candidacy_change_view(model_admin, request, object_id):
    """A candidacy's own change page: its ballot's candidates page, where changes go through the services."""
    candidacy = model_admin.get_object(request, unquote(object_id))
    if candidacy is None:
        return does_not_exist(model_admin, request, object_id)
    return HttpResponseRedirect(
        reverse("admin:results_ballot_candidates", args=[candidacy.ballot_id]) + f"#candidate-{candidacy.pk}"
    )


class CandidacyPostForm(forms.Form):
    """The fields of Django's own candidacy form, for clients that post to it."""

    person_name = forms.CharField(max_length=255)
    person_id = forms.CharField(max_length=255, required=False)
    party = forms.ModelChoiceField(queryset=Party.objects.all())
    description = forms.CharField(max_length=255, required=False)
    version = forms.IntegerField(required=False)


def candidacy_post(model_admin, request, candidacy: Candidacy):
    """A post to a candidacy's change page: the change goes through ``services.change_candidacy``."""
    form = CandidacyPostForm(request.POST)
    url = (
        reverse("admin:results_ballot_candidates", args=[candidacy.ballot_id]) + f"#candidate-{candidacy.pk}"
    )
    if not form.is_valid():
        messages.error(request, f"Nothing was saved: {form.errors.as_text()}")
        return HttpResponseRedirect(url)
    data = form.cleaned_data
    try:
        services.change_candidacy(
            candidacy,
            person_name=data["person_name"],
            person_id=data["person_id"],
            party=data["party"],
            description=data["description"],
            user=request.user,
            expected_version=data["version"],
        )
    except ValidationError as exc:
        messages.error(
            request, "Nothing was saved: " + " ".join(m for ms in exc.message_dict.values() for m in ms)
        )
    else:
        messages.success(request, f"Saved {data['person_name']}'s details.")
    return HttpResponseRedirect(url)
