"""Write a timeline: the demo's night, or a plausible one for the imported ballots of a poll date."""

from __future__ import annotations

import datetime as dt
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from results import timeline


class Command(BaseCommand):
    help = (
        "Write a timeline for replay_night. --demo: the demo's night (settings.DEMO_TIMELINE, "
        "demo/data/night-2023-05-04.jsonl, which `manage.py generate_demo` writes). --poll-date D [--seed N]: a plausible night for the ballots of D already imported "
        "(counts per council overnight or next day, recounts, a postponed ward, a tie decided by lot, two "
        "corrections, live posts); with --recorded, the night the event log recorded for D (a past night, or "
        "a rehearsal's with --with-rehearsals). Writes to --output, or standard output."
    )

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true")
        parser.add_argument("--poll-date")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--recorded",
            action="store_true",
            help="With --poll-date: the night as the event log recorded it (rehearsals left out unless "
            "--with-rehearsals), instead of a generated one.",
        )
        parser.add_argument("--with-rehearsals", action="store_true")
        parser.add_argument("--after", type=int, help="With --recorded: only events after this cursor.")
        parser.add_argument("--output", "-o")

    def handle(self, *args, demo_night=False, poll_date=None, seed=1, output=None, **options):
        if options.get("demo"):
            if settings.DEMO_TIMELINE is None:
                raise CommandError("settings.DEMO_TIMELINE is not set: there is no demo night.")
            text = settings.DEMO_TIMELINE.read_text(encoding="utf-8")
        elif poll_date:
            try:
                day = dt.date.fromisoformat(poll_date)
            except ValueError:
                raise CommandError(
                    f"--poll-date takes a date such as 2023-05-04, not {poll_date!r}."
                ) from None
            try:
                if options.get("recorded"):
                    text = timeline.from_events(
                        day, after=options.get("after"), rehearsals=options.get("with_rehearsals", False)
                    )
                else:
                    text = timeline.generate(day, seed=seed)
            except timeline.TimelineError as exc:
                raise CommandError(str(exc)) from exc
        else:
            raise CommandError("Say --demo or --poll-date.")
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
            self.stderr.write(f"Wrote {text.count(chr(10)) - 1} actions to {output}.")
        else:
            sys.stdout.write(text)
