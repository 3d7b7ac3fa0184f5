"""What the admin's Exports page lists (the page is the site's): each poll date's open exports (``results.exports``)."""

from __future__ import annotations

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


def export_dates() -> list[dict]:
    """Links to every export of every poll date, newest first: the same public URLs partners use."""
    dates = Election.objects.order_by("-poll_date").values_list("poll_date", flat=True).distinct()
    return [
        {
            "date": date,
            "files": [
                {"label": LABELS[name], "url": reverse("export", args=[date.isoformat(), name])}
                for name in URL_FORMATS
            ],
        }
        for date in dates
    ]
