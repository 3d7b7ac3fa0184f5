"""Create (or reset) the demo's logins and print them: a superuser, a data desk
user and a live editor, so each role of the night can be tried."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

ROLES = (
    # username, group (None = superuser), what the printed line calls it
    ("desk", "Data desk", "Data desk login"),
    ("editor", "Live editors", "Live editor login"),
)


class Command(BaseCommand):
    help = "Create or reset the demo's logins and print them (never use in production)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        self._login(username, password, superuser=True)
        self.stdout.write(f"Admin login: {username} / {password}")
        for name, group, label in ROLES:
            user = self._login(name, password, superuser=False)
            user.groups.set([Group.objects.get(name=group)])
            self.stdout.write(f"{label}: {name} / {password}")

    def _login(self, username: str, password: str, *, superuser: bool):
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
        user.is_staff = True
        user.is_superuser = superuser
        user.set_password(password)
        user.save()
        return user
