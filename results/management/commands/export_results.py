"""``manage.py export_results POLL_DATE [--format FORMAT]``: a poll date's published results to standard output."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from results import exports


class Command(BaseCommand):
    help = (
        "Write a poll date's published results to standard output: Democracy Club's results CSV by "
        "default; --format compositions, previous-winners, json or atom for the others. The event cursor "
        "the export is consistent with goes to standard error, and while rehearsing a line saying the "
        "export is test data (the file says so too)."
    )

    def add_arguments(self, parser):
        parser.add_argument("poll_date", help="YYYY-MM-DD, e.g. 2023-05-04")
        parser.add_argument("--format", choices=exports.FORMATS, default="results")

    def handle(self, poll_date, format, **options):
        try:
            date = dt.date.fromisoformat(poll_date)
        except ValueError as exc:
            raise CommandError(
                f"{poll_date!r} is not a date: give it as YYYY-MM-DD, e.g. 2023-05-04."
            ) from exc
        export = exports.export(date, format)
        self.stdout.write(export.content, ending="")
        self.stderr.write(f"events cursor: {export.events_cursor}")
        if export.rehearsal.active:
            label = f" ({export.rehearsal.label})" if export.rehearsal.label else ""
            self.stderr.write(
                f"REHEARSAL{label}: this export is test data, flagged as such in the file, not real results."
            )
