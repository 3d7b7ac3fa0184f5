"""Load the demo: the East Midlands local elections of 4 May 2023 (see ``demo.loader``)."""

from django.core.management.base import BaseCommand, CommandError

from demo import loader


class Command(BaseCommand):
    help = (
        "Load the demo: the East Midlands local elections of 4 May 2023, two councils still counting. "
        "Does nothing if the demo is already loaded; --reset returns it to the eve of the poll through "
        "the services (a 'reset' event; nothing is deleted) and plays its night again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Reset the demo to the eve of the poll (every ballot awaiting, its posts withdrawn, one "
            "'reset' event telling clients to reload), then play its night again. The event log is kept.",
        )

    def handle(self, *args, reset: bool = False, **options):
        ids = loader.read_ids()
        if loader.is_loaded(ids) and not loader.is_complete(ids):
            raise CommandError(
                "Part of the demo is missing (an election, ballot or post was deleted outside the services): "
                "it cannot be reset through them. Load it into an empty database."
            )
        if reset and loader.is_loaded(ids):
            event = loader.reset_demo(ids)
            self.stdout.write(
                f"Reset the demo to the eve of the poll (event {event.pk}); playing its night again."
            )
            loader.play_night()
        elif loader.is_loaded(ids):
            self.stdout.write("The demo is already loaded: nothing changed (use --reset to load it again).")
            self.stdout.write(str(loader.demo_summary(ids)))
            return
        else:
            loader.load_demo()
        self.stdout.write(self.style.SUCCESS("Loaded the demo: East Midlands local elections, 4 May 2023."))
        self.stdout.write(str(loader.demo_summary(ids)))
