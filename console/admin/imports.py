"""CSV imports from the admin: the three formats of ``results.importers``, all or nothing."""

from __future__ import annotations

from django import forms
from django.contrib import messages

from results import importers

IMPORT_PERMISSION = "results.import_data"

FORMATS = {
    "candidates": (
        "Candidates",
        importers.import_candidates,
        importers.CANDIDATE_COLUMNS,
        importers.CANDIDATE_OPTIONAL,
        "Democracy Club's format. Rows with votes_cast declare their ballot; "
        "changed figures of a declared ballot correct it.",
    ),
    "composition": (
        "Composition before the poll",
        importers.import_composition,
        importers.COMPOSITION_COLUMNS,
        importers.COMPOSITION_OPTIONAL,
        "One row per party and election. Control on the eve of the poll is derived.",
    ),
    "previous_winners": (
        "Previous winners",
        importers.import_previous_winners,
        importers.PREVIOUS_COLUMNS,
        importers.PREVIOUS_OPTIONAL,
        "The party of each seat's previous winner (notional where boundaries changed).",
    ),
}


class ImportForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the file holds",
        choices=[(key, spec[0]) for key, spec in FORMATS.items()],
        widget=forms.RadioSelect,
        initial="candidates",
    )
    file = forms.FileField(label="CSV file", help_text="UTF-8, with a header row.")


def run_import(request) -> tuple[ImportForm, list[importers.RowError], bool]:
    """The form of the Import page (the page is the site's), and a posted file imported, all or nothing:
    the form, the rows refused, and whether it was imported (its message is then queued)."""
    errors: list[importers.RowError] = []
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        label, importer, *_ = FORMATS[form.cleaned_data["kind"]]
        upload = form.cleaned_data["file"]
        try:
            report = importer(upload.read(), user=request.user)
        except importers.ImportFailed as failed:
            errors = failed.errors
            if failed.written:
                messages.warning(
                    request,
                    f"The data changed while {upload.name} was being imported: {failed.written} of its "
                    "ballots (or elections) were written before the error below. Fix it and import the file "
                    "again (what is already written is left as it is).",
                )
        else:
            messages.success(request, f"{label} imported from {upload.name}: {report.summary()}")
            return form, errors, True
    return form, errors, False


def format_notes() -> list[dict]:
    """The three formats and their columns, as the Import page explains them."""
    return [
        {"key": key, "label": label, "required": required, "optional": optional, "note": note}
        for key, (label, _, required, optional, note) in FORMATS.items()
    ]
