"""Rehearsal switches: status, start, pause/resume a replay, zero counts, and the reset to the eve."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from results import rehearsal, services


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--poll-date takes a date such as 2023-05-04, not {value!r}.") from None


class Command(BaseCommand):
    help = (
        "Rehearsal switches. status: what the API says. start --poll-date D [--label L]: flag everything "
        "published from now on. pause / resume: a running replay_night waits / carries on. zero-counts "
        "on|off --poll-date D: undeclared ballots of that date show 0 votes (flagged zeroCounts). reset "
        "[--poll-date D]: return the poll to its eve (every ballot as before the rehearsal, no results, "
        "rehearsal posts withdrawn), end the rehearsal, and tell clients to reload."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "start", "pause", "resume", "zero-counts", "reset"])
        parser.add_argument("switch", nargs="?", choices=["on", "off"], help="For zero-counts.")
        parser.add_argument(
            "--poll-date", help="The poll, e.g. 2023-05-04 (reset: default the rehearsed one)."
        )
        parser.add_argument("--label", default="", help="For start: the rehearsal's name.")

    def handle(self, *args, action: str, switch=None, poll_date=None, label="", **options):
        day = _date(poll_date)
        state = rehearsal.read_state()
        try:
            if action == "status":
                self._status(state)
            elif action == "start":
                if day is None:
                    raise CommandError("start needs --poll-date.")
                event = services.start_rehearsal(day, label=label)
                self.stdout.write(f"Rehearsing the poll of {day} (event {event.pk}).")
            elif action in ("pause", "resume"):
                if not state.active:
                    raise CommandError("Not rehearsing: there is no replay to pause or resume.")
                services.set_replay_paused(action == "pause")
                self.stdout.write("Paused: the replay waits." if action == "pause" else "Resumed.")
            elif action == "zero-counts":
                if switch is None:
                    raise CommandError("zero-counts takes on or off.")
                if switch == "on" and day is None:
                    raise CommandError("zero-counts on needs --poll-date.")
                event = services.set_zero_counts(day if switch == "on" else None)
                self.stdout.write(f"Zero counts {switch} (event {event.pk}).")
            else:
                day = day or state.poll_date
                if day is None:
                    raise CommandError("Not rehearsing: say which poll to reset with --poll-date.")
                event = services.reset_to_eve(day, reason="rehearsal reset")
                self.stdout.write(
                    f"Reset the poll of {day} to its eve (event {event.pk}): {event.payload['ballots']} ballots, "
                    f"{len(event.payload['posts_withdrawn'])} posts withdrawn. Clients were told to reload."
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc

    def _status(self, state: rehearsal.State) -> None:
        if state.active:
            self.stdout.write(
                f"Rehearsing the poll of {state.poll_date} since {state.started_at:%Y-%m-%d %H:%M} "
                f"({state.label or 'untitled'}){'; replay paused' if state.paused else ''}."
            )
        else:
            self.stdout.write("Not rehearsing.")
        self.stdout.write(f"Zero counts: {state.zero_counts or 'off'}.")
