"""Load the demo: the East Midlands local elections of 4 May 2023 (see ``results.demo``)."""

from django.core.management.base import BaseCommand, CommandError

from results import demo


class Command(BaseCommand):
    help = (
        "Load the demo: the East Midlands local elections of 4 May 2023, two councils still counting. "
        "Does nothing if the demo is already loaded; --reset deletes the demo's own rows and loads it again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo's events, posts, ballots, elections, wards and councils, then load it again.",
        )

    def handle(self, *args, reset: bool = False, **options):
        plan = demo.build_demo()
        if reset:
            deleted = demo.delete_demo(plan)
            if deleted:
                made = ", ".join(f"{n} {model}" for model, n in sorted(deleted.items()))
                self.stdout.write(f"Deleted the demo's rows: {made}.")
        elif demo.is_loaded(plan):
            if not demo.is_complete(plan):
                raise CommandError("Part of the demo is missing: run load_demo --reset to load it again.")
            self.stdout.write("The demo is already loaded: nothing changed (use --reset to load it again).")
            self.stdout.write(str(demo.demo_summary(plan)))
            return
        demo.load_demo(plan)
        self.stdout.write(self.style.SUCCESS("Loaded the demo: East Midlands local elections, 4 May 2023."))
        self.stdout.write(str(demo.demo_summary(plan)))
