"""Write the demo's files (demo/data/) from the seed's facts: see ``demo.generator`` and ``demo.files``."""

from django.core.management.base import BaseCommand, CommandError

from demo import files, generator


class Command(BaseCommand):
    help = (
        "Regenerate the demo's committed files (demo/data/: the importers' CSVs, the night's timeline, the "
        "demo's reference rows) from demo/seed.toml. Deterministic: the same files on every run. --check "
        "writes nothing and fails if a committed file differs from what the generator writes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Write nothing; fail if a file is stale.")

    def handle(self, *args, check: bool = False, **options):
        plan = generator.build_demo()
        if check:
            stale = files.stale(plan)
            if stale:
                raise CommandError(f"Stale in {files.DATA_DIR}: {', '.join(stale)} (run generate_demo).")
            self.stdout.write(f"The demo's {len(files.NAMES)} files are what the generator writes.")
            return
        changed = files.write(plan)
        self.stdout.write(
            f"Wrote {', '.join(changed)} in {files.DATA_DIR}." if changed else "Every file was up to date."
        )
