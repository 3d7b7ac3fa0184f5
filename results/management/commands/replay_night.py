"""Replay an election night through the services, as a rehearsal (see ``results.timeline``)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from results import rehearsal, services
from results import timeline as timeline_module


def parse_speed(value: str) -> float | None:
    """``max`` (as fast as possible: ``None``), or a factor such as 1, 10, 60 or ``60x``."""
    text = value.strip().lower()
    if text == "max":
        return None
    text = text.removesuffix("x")
    try:
        speed = float(text)
    except ValueError:
        raise CommandError(f"--speed takes a number (1 = real time, 10, 60) or max, not {value!r}.") from None
    if speed <= 0:
        raise CommandError("--speed must be more than 0 (or max).")
    return speed


class Command(BaseCommand):
    help = (
        "Replay a night from a timeline file (JSON Lines, see results/timeline.py; without one, the demo's "
        "night, loading the demo's eve of the poll into an empty database first) through the services, in "
        "order, at --speed 1 (real time), 10, 60 or max. Starts a rehearsal: everything published is flagged "
        "as such until `manage.py rehearsal reset`. Pause and resume with `manage.py rehearsal pause|resume` "
        "(from any terminal); the data desk can keep typing in the console meanwhile."
    )

    def add_arguments(self, parser):
        parser.add_argument("timeline", nargs="?", help="A timeline file; default: the demo's night.")
        parser.add_argument(
            "--speed", default="1", help="1 (real time), 10, 60, any factor, or max. Default 1."
        )
        parser.add_argument(
            "--from",
            dest="start",
            metavar="HH:MM",
            help="Start at this time of night (London time): earlier actions are played at once first.",
        )
        parser.add_argument(
            "--until",
            metavar="HH:MM",
            help="Stop after the last action at or before this time of night (London time): a slice of "
            "the night; play the rest later with --from.",
        )
        parser.add_argument("--label", default="", help='The rehearsal\'s name, e.g. "Dress rehearsal".')

    def handle(
        self,
        *args,
        timeline: str | None = None,
        speed: str = "1",
        start=None,
        until=None,
        label: str = "",
        **opts,
    ):
        speed_factor = parse_speed(speed)
        path = timeline or settings.DEMO_TIMELINE
        if path is None:
            raise CommandError(
                "Name a timeline file (settings.DEMO_TIMELINE, the default night, is not set)."
            )
        try:
            night = timeline_module.read(path)
        except (OSError, timeline_module.TimelineError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        # The demo's night needs the demo's eve of the poll: loaded by the demo app (results does not import it).
        if timeline is None and settings.DEMO_EVE_LOADER and import_string(settings.DEMO_EVE_LOADER)():
            self.stdout.write("Loaded the demo's eve of the poll (councils, candidates, compositions).")
        try:
            timeline_module.resolve(night)
            start_at = timeline_module.night_time(night, start) if start else None
            until_at = timeline_module.night_time(night, until, "--until") if until else None
        except timeline_module.TimelineError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        self._start_rehearsal(night, label or night.title)
        player = timeline_module.Player(
            night,
            speed=speed_factor,
            start=start_at,
            until=until_at,
            report=lambda message: self.stdout.write(f"  … {message}"),
        )
        began = time.monotonic()
        played = 0
        try:
            for action in player.play():
                played += 1
                if speed_factor is not None or played % 50 == 0 or played == len(night.actions):
                    clock = action.at.astimezone(timeline_module.LONDON).strftime("%H:%M")
                    self.stdout.write(f"[{clock}] {action.do} {action.target}")
        except timeline_module.TimelineError as exc:
            raise CommandError(f"{path}: stopped after {played} actions: {exc}") from exc
        except KeyboardInterrupt:
            self.stdout.write(f"Stopped after {played} of {len(night.actions)} actions; still rehearsing.")
            return
        elapsed = time.monotonic() - began
        if player.refused:
            self.stdout.write(
                self.style.WARNING(f"{len(player.refused)} actions were refused (the desk got there first?):")
            )
            for refusal in player.refused:
                self.stdout.write(f"  {refusal}")
        if until_at is not None and played + len(player.refused) < len(night.actions):
            self.stdout.write(
                f"Stopped at {until} (--until) after {played} of {len(night.actions)} actions; "
                f"play the rest with --from {until}."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Replayed {played} actions of {night.title or path} in {elapsed:.1f} s "
                f"(speed {speed}). Still rehearsing: every answer says so until `manage.py rehearsal reset`."
            )
        )

    def _start_rehearsal(self, night: timeline_module.Timeline, label: str) -> None:
        state = rehearsal.read_state()
        if state.active and state.poll_date == night.poll_date:
            # Into the running rehearsal (the desk may have typed some wards already, or a replay
            # is resumed with --from): what is already there is refused and reported, not replayed.
            self.stdout.write(
                f"Rehearsing {night.poll_date} already ({state.label or 'untitled'}): replaying into it."
            )
            return
        try:
            services.start_rehearsal(night.poll_date, label=label[:200])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"Rehearsal started for the poll of {night.poll_date}: everything published is flagged."
        )
