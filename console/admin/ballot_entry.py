"""The ballot page: type a ward's votes, preview what the declaration publishes, confirm.

Every write goes through ``results.services`` (declare, correct, retract,
status) or ``results.drafts`` (figures saved before declaring, not public),
passing the version the editor loaded, so a second editor's save is refused
instead of overwriting the first. The preview comes from ``results.preview``:
the same rules that derive every published figure. Errors are shown next to
the field, or the candidate's row, that caused them; nothing is saved then.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms.utils import ErrorList
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from results import drafts, plausibility, presence, rules, services
from results.errors import ErrorCode, refusals_of, text
from results.figures import composition_moves
from results.models import Ballot, Candidacy, Election, PendingCheck
from results.preview import Preview, ballot_in, preview_result, preview_retraction
from results.standings import ballot_changes

from . import history
from .missing import does_not_exist
from .overview import declared_list_url, work_list_url

COUNT_FIELDS = ("ballot_papers_counted", "rejected_ballots", "electorate")

# The console's words for a refusal shown on a candidate's row (the row names the candidate), by code.
ROW_WORDS = {
    ErrorCode.VOTES_NOT_WHOLE: lambda p: "Votes must be a whole number.",
    ErrorCode.VOTES_NEGATIVE: lambda p: f"Votes cannot be negative ({p['votes']}).",
    ErrorCode.VOTES_ABOVE_VALID: lambda p: (
        f"{p['votes']:,} votes is more than the {p['valid']:,} valid ballot papers counted "
        f"({p['counted']:,} counted, {p['rejected']:,} rejected)."
    ),
    ErrorCode.VOTES_ABOVE_ELECTORATE: lambda p: (
        f"{p['votes']:,} votes is more than the electorate of {p['electorate']:,}."
    ),
}
# ... and for one shown next to a count or above a section, where its figures are worded for the desk.
FIELD_WORDS = {
    ErrorCode.PAPERS_ABOVE_ELECTORATE: lambda p: (
        f"{p['counted']:,} ballot papers counted is more than the electorate of {p['electorate']:,}."
    ),
    ErrorCode.REJECTED_ABOVE_PAPERS: lambda p: (
        f"{p['rejected']:,} rejected is more than the {p['counted']:,} ballot papers counted."
    ),
    ErrorCode.LOT_WRONG_COUNT: lambda p: (
        f"Tick exactly {p['places']} lot winner{'s' if p['places'] != 1 else ''}: {p['given']} ticked."
    ),
}
# What no count can produce: shown only once the figures are otherwise right.
IMPOSSIBLE = {
    ErrorCode.VOTES_ABOVE_ELECTORATE,
    ErrorCode.TOTAL_ABOVE_ELECTORATE,
    ErrorCode.TOTAL_ABOVE_PAPERS,
}


def ballot_paper_order(candidacy: Candidacy) -> tuple[str, str]:
    """Ballot papers list candidates by surname, then forenames (``rules.ballot_paper_order``)."""
    return rules.ballot_paper_order(candidacy.person_name)


# --------------------------------------------------------------------------
# The form
# --------------------------------------------------------------------------


class CountInput(forms.TextInput):
    """A big box for a count: numeric keypad on touch screens, no spinner, no autofill."""

    def __init__(self, attrs=None):
        base = {"inputmode": "numeric", "autocomplete": "off", "class": "count-input", "data-entry": ""}
        super().__init__({**base, **(attrs or {})})


class CountField(forms.IntegerField):
    """A whole number typed as people type counts: "1,234" and "1 234" are 1234."""

    widget = CountInput
    default_error_messages = {
        "invalid": "Type a whole number, such as 1234.",
        "min_value": "Cannot be negative.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = value.replace(",", "").replace(" ", "").replace("\u00a0", "")
        return super().to_python(value)


class BallotEntryForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    previewed = forms.CharField(widget=forms.HiddenInput, required=False)
    ballot_papers_counted = CountField(label="Ballot papers counted", help_text="Rejected ones included.")
    rejected_ballots = CountField(label="Rejected ballot papers")
    electorate = CountField(label="Electorate")
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=500,
        help_text="Kept in the history, e.g. “returning officer re-read Able's total”.",
        # In the Enter chain of a correction: after the counts, before the preview.
        widget=forms.TextInput(
            attrs={"class": "vTextField reason-input", "autocomplete": "off", "data-entry": ""}
        ),
    )
    source = forms.ChoiceField(
        label="Source",
        required=False,
        choices=[("", "—")] + [(v, label) for v, label in Ballot.Source.choices if v != Ballot.Source.IMPORT],
        help_text="Where these figures came from; shown with the result in the API.",
    )
    source_url = forms.URLField(
        label="Council page",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="The council's results page, if the figures are taken from it.",
    )
    certification = forms.ChoiceField(
        label="Status of the figures",
        required=False,
        choices=[
            ("", "Declared by the returning officer"),
            (Ballot.Certification.PROVISIONAL, "Provisional: before the formal declaration"),
            (Ballot.Certification.CERTIFIED, "Certified: checked against the formal declaration"),
        ],
    )
    figures_checked = forms.BooleanField(
        label="Figures checked: they match the returning officer's sheet",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "checked-input"}),
    )

    def __init__(self, *args, ballot: Ballot, candidacies: list[Candidacy], require_votes: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.ballot = ballot
        self.candidacies = candidacies
        self.contested = not rules.is_uncontested(len(candidacies), ballot.winner_count)
        self.require_votes = require_votes and self.contested
        self.section_errors: dict[str, ErrorList] = {}
        if self.contested:
            # Votes come first in tab order: the returning officer reads them first.
            order = list(self.fields)
            for c in candidacies:
                self.fields[f"votes_{c.pk}"] = CountField(label=f"Votes for {c.person_name}")
                self.fields[f"lot_{c.pk}"] = forms.BooleanField(
                    label=f"{c.person_name} won the drawing of lots",
                    required=False,
                    widget=forms.CheckboxInput(attrs={"data-entry": "", "class": "lot-input"}),
                )
            self.order_fields([f"votes_{c.pk}" for c in candidacies] + order)

    # ---------------------------------------------------------------- reading

    def votes(self) -> dict[int, int | None]:
        if not self.contested:
            return {}
        return {c.pk: self.cleaned_data.get(f"votes_{c.pk}") for c in self.candidacies}

    def lot_winners(self) -> set[int]:
        if not self.contested:
            return set()
        return {c.pk for c in self.candidacies if self.cleaned_data.get(f"lot_{c.pk}")}

    def counts(self) -> dict[str, int | None]:
        return {name: self.cleaned_data.get(name) for name in COUNT_FIELDS}

    def digest(self) -> str:
        """Fingerprint of the figures, so that what is confirmed is exactly what was previewed."""
        figures = [
            self.cleaned_data.get("version"),
            sorted(self.votes().items()),
            sorted(self.lot_winners()),
            [self.cleaned_data.get(name) for name in COUNT_FIELDS],
        ]
        return hashlib.sha256(json.dumps(figures).encode()).hexdigest()[:20]

    # ---------------------------------------------------------------- checking

    def clean(self):
        data = super().clean()
        # The services' own check of the figures, each refusal placed by its code.
        refusals = services.count_errors(
            self.ballot,
            {c.pk: c.person_name for c in self.candidacies},
            self.votes(),
            **self.counts(),
        )
        impossible = []
        for field, error in refusals:
            if error.code in IMPOSSIBLE:
                impossible.append((field, error))
            else:
                self.place_refusal(field, error)
        for c in self.candidacies if self.contested and self.require_votes else ():
            name = f"votes_{c.pk}"
            if name in data and data[name] is None:
                self.add_error(name, f"Enter the votes for {c.person_name}.")
        if self.contested and not self.errors:
            for field, error in impossible:
                self.place_refusal(field, error)
        return data

    def findings(self, saved: dict | None = None) -> tuple[plausibility.Finding, ...]:
        """What is impossible or improbable about the figures typed (``saved``: the figures before)."""
        return plausibility.check_figures(
            self.votes(),
            seats=self.ballot.winner_count,
            electorate=self.cleaned_data.get("electorate"),
            ballot_papers_counted=self.cleaned_data.get("ballot_papers_counted"),
            rejected_ballots=self.cleaned_data.get("rejected_ballots"),
            saved=saved,
            names={c.pk: c.person_name for c in self.candidacies},
            thresholds=plausibility.Thresholds.from_settings(),
        )

    def add_section_error(self, section: str, message: str) -> None:
        self.section_errors.setdefault(section, ErrorList()).append(message)

    def check_lot(self, seats: int) -> None:
        """Lot winners must be level at the cut-off: say which row is wrong, as the service would."""
        votes = self.votes()
        lot = self.lot_winners()
        if not lot or any(v is None for v in votes.values()):
            return
        try:
            rules.decide_winners(votes, seats, lot)
        except rules.InvalidLot:
            names = {c.pk: c.person_name for c in self.candidacies}
            self.place_refusal("lot_winners", services.lot_refusal(votes, seats, lot, names))
        except rules.TieUnresolved:
            pass

    def add_service_error(self, exc: ValidationError) -> None:
        """Put a service's refusal next to the field or candidate's row it names, by its codes."""
        for field, error in refusals_of(exc):
            self.place_refusal(field, error)

    def place_refusal(self, field: str | None, error: ValidationError) -> None:
        """One coded refusal (``results.errors``) next to the field or row its code and params name;
        else above its section (the field it was raised on)."""
        code, params = error.code, error.params or {}
        if code == ErrorCode.LOT_NOT_TIED:
            rows = [
                c for c in self.candidacies if c.pk in params["candidacies"] and f"lot_{c.pk}" in self.fields
            ]
            for c in rows:
                message = f"{c.person_name} did not tie for the last seat, so cannot win it by lot."
                self.add_error(f"lot_{c.pk}", ValidationError(message, code=code))
            if rows:
                return
        elif code in ROW_WORDS and f"votes_{params.get('candidacy')}" in self.fields:
            self.add_error(
                f"votes_{params['candidacy']}", ValidationError(ROW_WORDS[code](params), code=code)
            )
            return
        message = FIELD_WORDS[code](params) if code in FIELD_WORDS else text(error)
        if field in COUNT_FIELDS and field in self.fields:
            self.add_error(field, ValidationError(message, code=code))
        else:
            self.add_section_error(field or "__all__", message)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or bool(self.section_errors)


# --------------------------------------------------------------------------
# The view
# --------------------------------------------------------------------------


class BallotEntry:
    """One request to a ballot's page."""

    template = "admin/results/ballot/entry.html"

    def __init__(self, model_admin, request, object_id):
        self.model_admin = model_admin
        self.request = request
        self.opts = model_admin.model._meta
        stored = model_admin.get_object(request, unquote(object_id))
        if stored is None:
            self.missing = does_not_exist(model_admin, request, object_id)
            return
        self.missing = None
        if not model_admin.has_view_or_change_permission(request, stored):
            raise PermissionDenied
        self.can_change = model_admin.has_change_permission(request, stored)
        self.load(stored.pk, stored.election_id)

    def load(self, ballot_pk: int, election_pk: int) -> None:
        self.election = Election.objects.with_results().get(pk=election_pk)
        self.ballot = ballot_in(self.election, ballot_pk)
        self.candidacies = sorted(self.ballot.candidacies.all(), key=ballot_paper_order)
        self.pending = None
        if settings.TWO_PERSON_CHECK and not self.ballot.is_published:
            self.pending = PendingCheck.objects.select_related("typed_by").filter(ballot_id=ballot_pk).first()

    @property
    def two_person(self) -> bool:
        """Whether a declaration here needs a second editor's check."""
        return settings.TWO_PERSON_CHECK and not self.ballot.is_published

    @property
    def checking(self) -> bool:
        """Whether this editor is the second one, typing blind the figures another editor sent."""
        return self.pending is not None and self.pending.typed_by_id != self.request.user.pk

    # ---------------------------------------------------------------- plumbing

    def form(self, data=None, *, require_votes=False, initial=None) -> BallotEntryForm:
        return BallotEntryForm(
            data,
            ballot=self.ballot,
            candidacies=self.candidacies,
            require_votes=require_votes,
            initial=initial if initial is not None else self.stored_initial(),
        )

    def stored_initial(self) -> dict:
        initial = {"version": self.ballot.version, **{f: getattr(self.ballot, f) for f in COUNT_FIELDS}}
        if self.ballot.source != Ballot.Source.IMPORT:
            initial.update(source=self.ballot.source, source_url=self.ballot.source_url)
        for c in self.candidacies:
            initial[f"votes_{c.pk}"] = c.votes
            initial[f"lot_{c.pk}"] = c.elected_by_lot
        if self.checking:
            # The second editor types blind: nothing of the first editor's, nor of any draft, is shown.
            return {"version": self.ballot.version}
        if self.pending is not None:  # the editor's own figures, sent for a check
            figures = self.pending.figures
            initial.update({name: figures.get(name) for name in COUNT_FIELDS})
            for c in self.candidacies:
                initial[f"votes_{c.pk}"] = figures["votes"].get(str(c.pk))
                initial[f"lot_{c.pk}"] = str(c.pk) in figures["lot_winners"]
        if not figures_visible(self.can_change, self.ballot):
            # Figures before a declaration are not results: only the data desk sees them.
            initial = {name: None for name in initial} | {"version": self.ballot.version}
        return initial

    def saved_figures(self) -> dict:
        """The figures stored now (a draft, or the declaration a correction replaces), for comparison."""
        saved: dict = {c.pk: c.votes for c in self.candidacies}
        saved.update({name: getattr(self.ballot, name) for name in COUNT_FIELDS})
        return saved

    def change_url(self, ballot: Ballot | None = None) -> str:
        return reverse("admin:results_ballot_change", args=[(ballot or self.ballot).pk])

    def redirect(self, url: str | None = None) -> HttpResponseRedirect:
        return HttpResponseRedirect(url or self.change_url())

    def render(self, form: BallotEntryForm, *, status: int = 200, **context) -> TemplateResponse:
        ballot = self.ballot
        preview: Preview | None = context.get("preview")
        tied = self.tied(form)
        rows = self.rows(form, tied, preview)
        blocking = {name for name in form.errors if name != "figures_checked"}
        confirmable = (
            preview is not None
            and preview.complete
            and not blocking
            and not form.section_errors
            and context.get("kind") != "retract"
        )
        status_actions = []
        if not ballot.is_published:
            status_actions = [(s.value, s.label) for s in Ballot.SETTABLE_STATUSES if s != ballot.status]
        autofocus = self.autofocus(form, tied, preview, confirmable, context)
        if autofocus and autofocus in form.fields:
            form.fields[autofocus].widget.attrs["autofocus"] = True
        if not self.can_change:
            for field in form.fields.values():
                field.disabled = True
        full_context = {
            **self.model_admin.admin_site.each_context(self.request),
            "title": f"{ballot.label}: {self.election.council.name}",
            "is_nav_sidebar_enabled": False,  # the whole width for the figures
            "subtitle": None,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "original": ballot,
            "has_view_permission": True,
            "has_change_permission": self.can_change,
            "ballot": ballot,
            "election": self.election,
            "form": form,
            "rows": rows,
            "tied": tied,
            "lot_column": any(row["lot"] is not None for row in rows),
            "status_actions": status_actions,
            "confirmable": confirmable,
            "autofocus": autofocus,
            "work_list_url": work_list_url(self.election),
            "declared_list_url": declared_list_url(self.election),
            "heartbeat_seconds": presence.HEARTBEAT_SECONDS,
            "two_person": self.two_person,
            "pending": self.pending,
            "checking": self.checking,
            "history": history.history(ballot, figures=figures_visible(self.can_change, ballot)),
            "previous_winners": [(p.party, p.seats) for p in ballot.previous_winners.all()],
            "changes_now": [],
            "count_fields": [form[name] for name in COUNT_FIELDS],
            "top_errors": {k: v for k, v in form.section_errors.items() if k not in ("votes", "lot_winners")},
            "change_url": self.change_url(),
            **context,
        }
        if preview is not None:
            full_context.update(preview_context(preview))
        if ballot.is_published and preview is None:
            full_context["changes_now"] = ballot_changes(ballot)
        return TemplateResponse(self.request, self.template, full_context, status=status)

    def rows(self, form: BallotEntryForm, tied: set[int], preview: Preview | None) -> list[dict]:
        """One row per candidate: the vote and lot boxes, and who is (or would be) elected."""
        elected_now = {c.pk for c in self.candidacies if c.elected}
        rows = []
        for c in self.candidacies:
            rows.append(
                {
                    "candidacy": c,
                    "votes": form[f"votes_{c.pk}"] if form.contested else None,
                    "lot": form[f"lot_{c.pk}"]
                    if form.contested and (c.pk in tied or form.has_error(f"lot_{c.pk}"))
                    else None,
                    "elected_now": c.pk in elected_now and self.ballot.is_published,
                    "elected": preview is not None and c in preview.elected,
                    "by_lot": preview is not None and c.pk in preview.by_lot,
                }
            )
        return rows

    def autofocus(
        self, form: BallotEntryForm, tied: set[int], preview: Preview | None, confirmable: bool, context: dict
    ) -> str | None:
        """Where the cursor starts: the editor's next step (the checked box before Confirm when warned)."""
        with_errors = [name for name in form.errors if name in form.fields and name != "figures_checked"]
        if confirmable and context.get("warnings"):
            return "figures_checked"  # a deliberate second action before Confirm
        if confirmable or context.get("kind") == "retract":
            return "confirm"
        if with_errors:
            return with_errors[0]
        if tied and preview is not None and not preview.complete:
            return next(f"lot_{c.pk}" for c in self.candidacies if c.pk in tied)
        if form.contested:
            return f"votes_{self.candidacies[0].pk}"
        return None

    def tied(self, form: BallotEntryForm) -> set[int]:
        """Candidates level at the cut-off, from the figures on the form (typed or stored)."""
        if not form.contested:
            return set()
        if form.is_bound and hasattr(form, "cleaned_data"):
            votes = form.votes()
        else:
            votes = {c.pk: c.votes for c in self.candidacies}
        if any(v is None for v in votes.values()):
            return set()
        try:
            rules.decide_winners(votes, self.ballot.winner_count)
        except rules.TieUnresolved as tie:
            return set(tie.tied)
        return set()

    def conflict(self, form: BallotEntryForm) -> TemplateResponse:
        """Someone saved this ballot since the editor opened it: show theirs next to yours, save nothing."""
        stored = Ballot.objects.select_related("election__council", "ward").get(pk=self.ballot.pk)
        self.load(stored.pk, stored.election_id)
        submitted = form.cleaned_data
        rows = []
        for c in self.candidacies:
            if form.contested:
                rows.append((c.person_name, c.votes, submitted.get(f"votes_{c.pk}")))
        for name in COUNT_FIELDS:
            rows.append((form.fields[name].label, getattr(self.ballot, name), submitted.get(name)))
        conflict = history.conflict(self.ballot, self.ballot.label, rows)
        return self.render(self.form(), status=409, conflict=conflict)

    def refused(self, form: BallotEntryForm, write: Callable[[], object]) -> TemplateResponse | None:
        """Run ``write`` (a call of the services or drafts); ``None`` once it is done. A save refused
        because someone saved first shows the conflict; any other refusal, the form with its errors
        placed by their codes."""
        try:
            write()
        except services.StaleEdit:
            return self.conflict(form)
        except ValidationError as exc:
            form.add_service_error(exc)
            return self.render(form)
        return None

    # ---------------------------------------------------------------- requests

    def respond(self):
        if self.missing is not None:
            return self.missing
        if self.request.method != "POST":
            if not self.can_change:
                messages.info(self.request, read_only_note(self.ballot))
            return self.render(self.form())
        if not self.can_change:
            raise PermissionDenied
        post = self.request.POST
        if "_status" in post:
            return self.set_status(post["_status"])
        if "_certify" in post:
            return self.certify()
        if "_save" in post:
            return self.save()
        if "_retract_preview" in post or "_retract" in post:
            return self.retract(confirm="_retract" in post)
        return self.publish(confirm="_confirm" in post)

    def bound(self, *, require_votes: bool) -> BallotEntryForm | None:
        form = self.form(self.request.POST, require_votes=require_votes)
        return form

    def stale(self, form: BallotEntryForm) -> bool:
        return form.cleaned_data["version"] != self.ballot.version

    def save(self):
        form = self.bound(require_votes=False)
        if not form.is_valid():
            return self.render(form)
        if self.stale(form):
            return self.conflict(form)
        if refused := self.refused(form, lambda: self._save_figures(form)):
            return refused
        messages.success(
            self.request,
            f"Saved the figures for {self.ballot.label}. They are not public until the ballot is declared.",
        )
        return self.redirect()

    def _save_figures(self, form: BallotEntryForm) -> Ballot:
        saved = drafts.save_count_in_progress(
            self.ballot,
            votes=form.votes(),
            **form.counts(),
            expected_version=form.cleaned_data["version"],
        )
        names = {c.pk: c.person_name for c in self.candidacies}
        votes = ", ".join(
            f"{names[pk]} {v:,}"
            for pk, v in sorted(form.votes().items(), key=lambda kv: names[kv[0]])
            if v is not None
        )
        counts = ", ".join(
            f"{form.fields[k].label.lower()} {v:,}" for k, v in form.counts().items() if v is not None
        )
        summary = "; ".join(part for part in (votes, counts) if part) or "no figures"
        self.model_admin.log_change(
            self.request,
            saved,
            f"Saved figures before declaring (not public), version {saved.version}: {summary}.",
        )
        return saved

    def set_status(self, status: str):
        form = self.bound(require_votes=False)
        if not form.is_valid():
            return self.render(form)
        if self.stale(form):
            return self.conflict(form)
        typed_changed = form.votes() != {c.pk: c.votes for c in self.candidacies if form.contested} or any(
            form.counts()[k] != getattr(self.ballot, k) for k in COUNT_FIELDS
        )

        def write():
            with transaction.atomic():
                version = form.cleaned_data["version"]
                if typed_changed:
                    version = self._save_figures(form).version  # keep what was typed before moving on
                services.set_ballot_status(
                    self.ballot, status, user=self.request.user, expected_version=version
                )

        if refused := self.refused(form, write):
            return refused
        messages.success(self.request, f"{self.ballot.label}: {Ballot.Status(status).label.lower()}.")
        return self.redirect()

    def certify(self):
        """Mark the published result certified against the formal declaration (figures unchanged)."""
        form = self.bound(require_votes=False)
        if not form.is_valid():
            return self.render(form)
        refused = self.refused(
            form,
            lambda: services.certify_ballot(
                self.ballot,
                source=form.cleaned_data.get("source", ""),
                source_url=form.cleaned_data.get("source_url", ""),
                user=self.request.user,
                expected_version=form.cleaned_data["version"],
            ),
        )
        if refused:
            return refused
        messages.success(self.request, f"{self.ballot.label}: certified.")
        return self.redirect()

    def publish(self, *, confirm: bool):
        form = self.bound(require_votes=True)
        if not form.is_valid():
            return self.render(form)
        if self.stale(form):
            return self.conflict(form)
        kind = "correct" if self.ballot.is_published else "declare"
        if self.ballot.status == Ballot.Status.POSTPONED:
            form.add_section_error(
                "status", f"{self.ballot.label} is postponed: set it back to counting before declaring."
            )
            return self.render(form)
        if not self.candidacies:
            form.add_section_error("candidacy", f"{self.ballot.label} has no candidates to declare.")
        form.check_lot(self.ballot.winner_count)
        if form.has_errors:
            return self.render(form)
        try:
            preview = preview_result(
                self.election,
                self.ballot.pk,
                votes=form.votes(),
                lot_winners=form.lot_winners(),
                electorate=form.cleaned_data.get("electorate"),
                ballot_papers_counted=form.cleaned_data.get("ballot_papers_counted"),
            )
        except rules.InvalidLot as bad:  # check_lot names the row; this is the backstop
            form.add_section_error("lot_winners", f"The drawing of lots does not fit the votes: {bad}.")
            return self.render(form)
        if kind == "correct" and not form.cleaned_data.get("reason", "").strip():
            form.add_error(
                "reason", "Say why you are correcting this result: the reason is kept in its history."
            )
            return self.render(form)
        warnings = plausibility.improbable(form.findings(self.saved_figures()))
        correction = self.correction(form, preview) if kind == "correct" else None
        changed = confirm and form.cleaned_data.get("previewed") != form.digest()
        if not confirm or changed or not preview.complete:
            return self.show_preview(
                form, preview, kind, changed=changed, warnings=warnings, correction=correction
            )
        if warnings and not form.cleaned_data.get("figures_checked"):
            form.add_error(
                "figures_checked",
                "These figures look wrong (see the warnings): check them with the returning officer's, "
                "then tick this box to publish them as they are, or correct them.",
            )
            return self.render(form, preview=preview, kind=kind, warnings=warnings, correction=correction)
        if kind == "declare" and self.two_person:
            return self.two_person_confirm(form, preview)
        return self.confirm(form, preview, kind)

    def show_preview(self, form: BallotEntryForm, preview: Preview, kind: str, *, changed: bool, **context):
        """What the declaration (or correction) would publish, and a fresh fingerprint to confirm it."""
        data = form.data.copy()
        data["previewed"] = form.digest()
        data.pop("figures_checked", None)  # ticked for what was previewed, never carried over
        shown = self.form(data, require_votes=True)
        shown.is_valid()
        shown.check_lot(self.ballot.winner_count)
        notice = "The figures changed since the preview: check this preview, then confirm." if changed else ""
        return self.render(shown, preview=preview, kind=kind, notice=notice, **context)

    def confirm(self, form: BallotEntryForm, preview: Preview, kind: str):
        """Publish what was previewed (declare or correct), then go to the next ballot of the work list."""
        call = services.correct_ballot if kind == "correct" else services.declare_ballot
        extra = {"reason": form.cleaned_data.get("reason", "")} if kind == "correct" else {}
        extra["source"] = form.cleaned_data.get("source", "")
        extra["source_url"] = form.cleaned_data.get("source_url", "")
        if kind == "declare":
            extra["certification"] = form.cleaned_data.get("certification", "")
        refused = self.refused(
            form,
            lambda: call(
                self.ballot,
                votes=form.votes() if form.contested else None,
                lot_winners=form.lot_winners(),
                **form.counts(),
                user=self.request.user,
                expected_version=form.cleaned_data["version"],
                loaded=self.election,  # the one load of the election: the service checks it is current
                **extra,
            ),
        )
        if refused:
            return refused
        done = "Corrected" if kind == "correct" else "Declared"
        messages.success(self.request, published_message(f"{done} {self.ballot.label}", preview))
        if kind == "correct":
            return self.redirect()
        following = next_in_work_list(self.ballot)
        if following is None:
            messages.info(self.request, f"Nothing left to declare in {self.election.council.name}.")
            return self.redirect(reverse("admin:election_night"))
        return self.redirect(self.change_url(following))

    def correction(self, form: BallotEntryForm, preview: Preview) -> dict:
        """What a correction changes: each figure old → new, then winners, seat changes and control."""
        stored = {
            "candidacies": [
                {
                    "person_name": c.person_name,
                    "person_id": c.person_id,
                    "votes": c.votes,
                    "elected": c.elected,
                    "elected_by_lot": c.elected_by_lot,
                }
                for c in self.candidacies
            ],
            **{name: getattr(self.ballot, name) for name in COUNT_FIELDS},
        }
        elected = {c.pk for c in preview.elected}
        typed = form.votes()
        previewed = {
            "candidacies": [
                {
                    "person_name": c.person_name,
                    "person_id": c.person_id,
                    "votes": typed.get(c.pk) if form.contested else None,
                    "elected": c.pk in elected,
                    "elected_by_lot": c.pk in preview.by_lot,
                }
                for c in self.candidacies
            ],
            **form.counts(),
        }
        seat_before = tuple(change.headline for change in ballot_changes(self.ballot))
        seat_after = tuple(change.headline for change in preview.changes)
        return {
            "figures": history.version_changes(stored, previewed),
            "seat_changes": (seat_before, seat_after) if seat_before != seat_after else None,
            "control": (
                (preview.standing_before.headline, preview.standing_after.headline)
                if preview.control_changes
                else None
            ),
        }

    def two_person_confirm(self, form: BallotEntryForm, preview: Preview):
        """Under the two-person check: send the figures for a check, or check another editor's."""
        figures = {
            "votes": form.votes() if form.contested else {},
            "lot_winners": form.lot_winners(),
            **form.counts(),
            "user": self.request.user,
            "expected_version": form.cleaned_data["version"],
        }
        outcome = None  # what confirm_check did; none for figures sent for a check

        def write():
            nonlocal outcome
            if self.pending is None:
                drafts.submit_for_check(self.ballot, **figures)
            else:
                outcome = drafts.confirm_check(self.ballot, **figures)

        if refused := self.refused(form, write):
            return refused
        if outcome is None:
            self.model_admin.log_change(
                self.request, self.ballot, "Sent the figures for a second editor's check (not public)."
            )
            messages.success(
                self.request,
                f"Sent {self.ballot.label} for a second editor's check: not public until another editor "
                "types the same figures.",
            )
        elif outcome.event is None:
            self.model_admin.log_change(
                self.request,
                self.ballot,
                "Typed figures that differ from those waiting for a check (not public).",
            )
            messages.warning(
                self.request,
                f"Nothing published: your figures for {self.ballot.label} differ from "
                f"{self.pending.typed_by.get_username()}'s in {', '.join(outcome.differ)}. Check them with the "
                "returning officer: yours now wait for a check by another editor.",
            )
            return self.redirect()
        else:
            typed_by = self.pending.typed_by.get_username()
            done = f"Declared {self.ballot.label} (typed by {typed_by}, checked by you)"
            messages.success(self.request, published_message(done, preview))
        following = next_in_work_list(self.ballot)
        if following is None:
            return self.redirect(reverse("admin:election_night"))
        return self.redirect(self.change_url(following))

    def retract(self, *, confirm: bool):
        form = self.bound(require_votes=False)
        if not form.is_valid():
            return self.render(form)
        if self.stale(form):
            return self.conflict(form)
        if not self.ballot.is_published:
            form.add_section_error(
                "status", f"{self.ballot.label} has not been declared: nothing to retract."
            )
            return self.render(form)
        if not confirm:
            preview = preview_retraction(self.election, self.ballot.pk)
            return self.render(self.form(initial=self.stored_initial()), preview=preview, kind="retract")
        refused = self.refused(
            form,
            lambda: services.retract_declaration(
                self.ballot,
                reason=form.cleaned_data.get("reason", ""),
                user=self.request.user,
                expected_version=form.cleaned_data["version"],
            ),
        )
        if refused:
            return refused
        messages.success(
            self.request, f"Retracted the declaration of {self.ballot.label}: its result is no longer public."
        )
        return self.redirect()


def published_message(done: str, preview: Preview) -> str:
    """What a published result did, after ``done`` ("Declared North"): its seat changes, and control
    if it changed."""
    headline = "; ".join(c.headline for c in preview.changes)
    message = done + (f": {headline}" if headline else "") + "."
    if preview.control_changes and preview.standing_after.headline:
        message += f" Control: {preview.standing_after.headline}."
    return message


def preview_context(preview: Preview) -> dict:
    """What the preview panel shows, flattened for the template."""
    winners = [(c, preview.votes.get(c.pk), c.pk in preview.by_lot) for c in preview.elected]
    composition: tuple = ()
    before, after = preview.standing_before, preview.standing_after
    if before is not None and after is not None:
        composition = composition_moves(before, after)
    tie_votes = None
    if preview.tie is not None:
        tie_votes = preview.votes.get(preview.tie.tied[0].pk)
    return {
        "preview_winners": winners,
        "preview_composition": composition,
        "preview_turnout": None if preview.turnout is None else f"{preview.turnout:.1%}",
        "tie_votes": tie_votes,
    }


def next_in_work_list(ballot: Ballot) -> Ballot | None:
    """The next ballot of the same election still to declare (by ward name), skipping postponed ones."""
    rest = list(
        Ballot.objects.to_declare()
        .filter(election_id=ballot.election_id)
        .exclude(pk=ballot.pk)
        .exclude(status=Ballot.Status.POSTPONED)
        .select_related("ward", "election__council")
        .order_by("ward__name", "pk")
    )
    here = ballot.label.casefold()
    after = [b for b in rest if b.label.casefold() > here]
    return (after or rest or [None])[0]


def figures_visible(can_change: bool, ballot: Ballot) -> bool:
    """Whether a user may see a ballot's figures: anyone who may read it once it is declared;
    before that (figures saved while counting, a retracted result) only those who may change it."""
    return can_change or ballot.is_published


def read_only_note(ballot: Ballot) -> str:
    hidden = "" if ballot.is_published else " Its figures are not shown until it is declared."
    return f"Read only: you can see {ballot.label} but not change it (that is the data desk's).{hidden}"


def entry_view(model_admin, request, object_id):
    return BallotEntry(model_admin, request, object_id).respond()
