"""The admin's Exports page: each poll date's open exports, to download (``results.exports``)."""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.urls import reverse

from results.models import Election
from results.views import URL_FORMATS

LABELS = {
    "results.csv": "Results (Democracy Club's results CSV, one row per candidate; imports as candidates)",
    "compositions.csv": "Council compositions (CSV: before the poll, won, now, change, control)",
    "previous-winners.csv": "Previous winners (CSV; imports as previous winners)",
    "day.json": "The whole day (one JSON document)",
    "declarations.atom": "Declarations (Atom feed)",
}


def exports_view(request, admin_site):
    """Links to every export of every poll date: the same public URLs partners use."""
    dates = Election.objects.order_by("-poll_date").values_list("poll_date", flat=True).distinct()
    context = {
        **admin_site.each_context(request),
        "title": "Download the results",
        "dates": [
            {
                "date": date,
                "files": [
                    {"label": LABELS[name], "url": reverse("export", args=[date.isoformat(), name])}
                    for name in URL_FORMATS
                ],
            }
            for date in dates
        ],
    }
    return TemplateResponse(request, "admin/results/exports.html", context)
