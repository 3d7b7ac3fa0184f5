"""Create a partner and its first key: `manage.py create_partner "Derby Telegraph" --per-minute 600`."""

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from partners import keys


class Command(BaseCommand):
    help = "Create a partner and issue its first API key. The key is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The partner's name (unique).")
        parser.add_argument("--per-minute", type=int, default=600, help="Requests per minute (default 600).")
        parser.add_argument(
            "--subscriptions", type=int, default=20, help="Concurrent subscriptions allowed (default 20)."
        )
        parser.add_argument("--contact", default="", help="Who to call on the night.")
        parser.add_argument("--label", default="default", help="A label for the key.")

    def handle(self, *args, name, per_minute, subscriptions, contact, label, **options):
        if not name.strip():
            raise CommandError("The partner's name must not be empty.")
        if per_minute < 1:
            raise CommandError("--per-minute must be at least 1.")
        if subscriptions < 0:
            raise CommandError("--subscriptions must not be negative.")
        try:
            partner = keys.create_partner(
                name, per_minute=per_minute, max_subscriptions=subscriptions, contact=contact
            )
        except IntegrityError as exc:
            raise CommandError(f"A partner named {name.strip()!r} already exists.") from exc
        key, raw = keys.issue_key(partner, label)
        self.stdout.write(
            f"Partner {partner.name!r}: {partner.per_minute} requests a minute, "
            f"{partner.max_subscriptions} concurrent subscriptions. Key {key.prefix}… ({key.label}); "
            "it is shown once, below: keep it secret."
        )
        self.stdout.write(raw)
