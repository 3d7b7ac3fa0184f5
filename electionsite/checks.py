"""Deployment checks of this project, run by ``manage.py check --deploy`` (and ``bin/serve``)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.staticfiles, deploy=True)
def static_files_collected(app_configs, **kwargs):
    """With DEBUG off, whitenoise serves the files ``collectstatic`` gathered, by their manifest:
    without it every admin page fails."""
    if settings.DEBUG:
        return []
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.is_file():
        return []
    return [
        checks.Error(
            f"{manifest} does not exist: with DEBUG off the admin's pages cannot find their static files.",
            hint="Run `python manage.py collectstatic --no-input` (bin/serve does) before starting the server.",
            id="electionsite.E001",
        )
    ]
