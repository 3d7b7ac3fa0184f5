"""The shared shape of the three import commands."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from results.importers import ImportFailed


class ImportCommand(BaseCommand):
    importer = None  # set by subclasses: a function (source) -> ImportReport

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="CSV file (UTF-8, with a header row)")

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            report = type(self).importer(file.read_bytes(), progress=self.stdout.write)
        except ImportFailed as failed:
            for error in failed.errors:
                self.stderr.write(f"{file}:{error.line}: {error.message}")
            if failed.written:
                raise CommandError(
                    f"{len(failed.errors)} error(s): stopped after {failed.written} were written (the data "
                    "changed while importing); fix the file and import it again"
                ) from None
            raise CommandError(f"{len(failed.errors)} error(s): nothing was imported") from None
        self.stdout.write(self.style.SUCCESS(report.summary()))
