"""Public, cacheable downloads of a poll date's published results (``results.exports``).

Plain Django views, outside the GraphQL endpoint: each answer carries the
event cursor it is consistent with (``X-Events-Cursor``, and in the JSON
document), an ETag made of the format, the date and that cursor (a new event
is the only thing that can change an export), and the same short public
max-age as the API's GET answers, so a CDN can carry them. While the
deployment rehearses, an ``X-Rehearsal`` header says so (besides the flag
inside each file) and the file is named ``rehearsal-...``.
"""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from . import exports

# As the API's GET answers: no export is staler than the last committed event plus this.
EXPORT_MAX_AGE = 5

URL_FORMATS = {
    "results.csv": "results",
    "compositions.csv": "compositions",
    "previous-winners.csv": "previous-winners",
    "day.json": "json",
    "declarations.atom": "atom",
}


def _poll_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise Http404("Give the poll date as YYYY-MM-DD, e.g. /exports/2023-05-04/results.csv") from exc


def _etag(fmt: str, poll_date: dt.date, cursor: int) -> str:
    return f'"{fmt}-{poll_date}-{cursor}"'


@require_safe
def export_view(request, poll_date: str, filename: str):
    """One export; 304 when the client's ETag names the current event cursor."""
    fmt = URL_FORMATS.get(filename)
    if fmt is None:
        raise Http404(f"No export named {filename}: use one of {', '.join(URL_FORMATS)}.")
    date = _poll_date(poll_date)
    # Cheap check first: if no event committed since the client's copy, nothing changed.
    cursor = exports.latest_event_id()
    etag = _etag(fmt, date, cursor)
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
    else:
        export = exports.export(date, fmt, base_url=request.build_absolute_uri("/"))
        etag = _etag(fmt, date, export.events_cursor)
        response = HttpResponse(export.content, content_type=export.content_type)
        response["Content-Disposition"] = f'inline; filename="{export.filename}"'
        if export.rehearsal.active:
            label = export.rehearsal.label.encode("ascii", "replace").decode()
            response["X-Rehearsal"] = f"true; label={label!r}" if label else "true"
        cursor = export.events_cursor
    response["ETag"] = etag
    response["X-Events-Cursor"] = str(cursor)
    patch_cache_control(response, public=True, max_age=EXPORT_MAX_AGE)
    return response
