"""Manage partners' webhook endpoints from the shell (the admin does the same).

    manage.py webhooks add "Derby Telegraph" https://cms.example/hooks/results \\
        --selection '{ id kind ballot { id status } }' --council derby --kind BALLOT_DECLARED [--after 0]
    manage.py webhooks list
    manage.py webhooks pause 3 | resume 3 | resend 3 --from 1200 | rotate-secret 3 | show 3
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from partners.models import Partner
from push import services
from push.admin import lag
from push.models import WebhookEndpoint
from push.selection import DEFAULT_SELECTION


class Command(BaseCommand):
    help = "Add, list, pause, resume, re-send from a cursor, or rotate the secret of webhook endpoints."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Register an endpoint; its signing secret is printed once, last.")
        add.add_argument("partner", help="The partner's name.")
        add.add_argument("url", help="https://... (http only for WEBHOOK_ALLOW_HTTP_HOSTS, or in DEBUG).")
        add.add_argument("--selection", default=DEFAULT_SELECTION, help="The GraphQL selection on Event.")
        add.add_argument("--council", action="append", default=[], help="A council slug (repeat; none: all).")
        add.add_argument("--kind", action="append", default=[], help="An event kind (repeat; none: all).")
        add.add_argument("--description", default="")
        add.add_argument("--after", type=int, help="Start after this cursor (default: the latest event).")
        sub.add_parser("list", help="Every endpoint: id, state, cursor, lag, URL.")
        for name, text in [
            ("show", "One endpoint in full."),
            ("pause", "Stop delivering (the cursor stays)."),
            ("resume", "Deliver again from the last delivered cursor."),
            ("rotate-secret", "A new signing secret, printed once."),
        ]:
            sub.add_parser(name, help=text).add_argument("id", type=int)
        resend = sub.add_parser("resend", help="Re-send every matching event after a cursor.")
        resend.add_argument("id", type=int)
        resend.add_argument(
            "--from", dest="cursor", type=int, required=True, help="The cursor (an event id)."
        )

    def handle(self, *args, action, **options):
        try:
            getattr(self, "do_" + action.replace("-", "_"))(**options)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error

    def _endpoint(self, pk: int) -> WebhookEndpoint:
        endpoint = WebhookEndpoint.objects.select_related("partner").filter(pk=pk).first()
        if endpoint is None:
            raise CommandError(f"No webhook endpoint with id {pk}: see `manage.py webhooks list`.")
        return endpoint

    def do_add(self, *, partner, url, selection, council, kind, description, after, **_):
        owner = Partner.objects.filter(name=partner.strip()).first()
        if owner is None:
            raise CommandError(f"No partner named {partner!r}: create it with `manage.py create_partner`.")
        endpoint, secret = services.create_endpoint(
            owner,
            url,
            selection=selection,
            councils=council,
            kinds=kind,
            description=description,
            after=after,
        )
        self.stdout.write(
            f"Endpoint {endpoint.pk} for {owner.name}: {endpoint.url}, from cursor {endpoint.delivered_cursor}. "
            "Its signing secret is shown once, below: give it to the partner."
        )
        self.stdout.write(secret)

    def do_list(self, **_):
        for endpoint in WebhookEndpoint.objects.select_related("partner"):
            behind, seconds = lag(endpoint)
            self.stdout.write(
                f"{endpoint.pk}\t{endpoint.state}\tcursor {endpoint.delivered_cursor}\t"
                f"{behind} behind ({seconds:.0f} s)\t{endpoint.partner.name}\t{endpoint.url}"
            )

    def do_show(self, *, id, **_):
        endpoint = self._endpoint(id)
        behind, seconds = lag(endpoint)
        for label, value in [
            ("id", endpoint.pk),
            ("partner", endpoint.partner.name),
            ("url", endpoint.url),
            ("state", endpoint.state + (f" ({endpoint.paused_reason})" if endpoint.paused_reason else "")),
            ("councils", ", ".join(endpoint.councils) or "all"),
            ("kinds", ", ".join(endpoint.kinds) or "all"),
            ("selection", endpoint.selection),
            ("delivered cursor", endpoint.delivered_cursor),
            ("lag", f"{behind} events, {seconds:.0f} s"),
            ("failures", endpoint.failures),
        ]:
            self.stdout.write(f"{label}: {value}")
        for attempt in endpoint.attempts.all()[:10]:
            self.stdout.write(
                f"  {attempt.at:%Y-%m-%d %H:%M:%S} cursor {attempt.cursor} #{attempt.attempt} "
                f"{attempt.status_code or '-'} {attempt.duration_ms} ms {attempt.error}"
            )

    def do_pause(self, *, id, **_):
        services.pause(self._endpoint(id), "Paused from the command line.")
        self.stdout.write(f"Endpoint {id} paused.")

    def do_resume(self, *, id, **_):
        endpoint = services.resume(self._endpoint(id))
        self.stdout.write(f"Endpoint {id} resumed after cursor {endpoint.delivered_cursor}.")

    def do_resend(self, *, id, cursor, **_):
        services.resend_from(self._endpoint(id), cursor)
        self.stdout.write(f"Endpoint {id}: re-sending every matching event after {cursor}.")

    def do_rotate_secret(self, *, id, **_):
        secret = services.rotate_secret(self._endpoint(id))
        self.stdout.write(f"Endpoint {id}: new signing secret, shown once, below.")
        self.stdout.write(secret)
