"""Run the webhook delivery process (push/delivery.py) until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from django.core.management.base import BaseCommand

from push.delivery import FLUSH_INTERVAL, SCAN_INTERVAL, Deliverer


class Command(BaseCommand):
    help = (
        "Deliver every active webhook endpoint's events, in cursor order, signed, retried with back-off. "
        "Run one or more of these beside the web servers (several share the endpoints on PostgreSQL); "
        "stop it with SIGTERM: it writes what was acknowledged and exits."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scan-interval",
            type=float,
            default=SCAN_INTERVAL,
            help="Seconds between looks at the endpoints (new, paused, resumed, re-sent).",
        )
        parser.add_argument(
            "--flush-interval",
            type=float,
            default=FLUSH_INTERVAL,
            help="Seconds between writes of acknowledged cursors and attempts.",
        )

    def handle(self, *args, scan_interval: float, flush_interval: float, verbosity: int = 1, **options):
        if verbosity >= 1:
            logging.getLogger("push").setLevel(logging.INFO)
        # httpx logs every request at INFO: the attempts table records them instead.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        asyncio.run(self._run(scan_interval, flush_interval))

    async def _run(self, scan_interval: float, flush_interval: float) -> None:
        deliverer = Deliverer(scan_interval=scan_interval, flush_interval=flush_interval)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, deliverer.stop)
        self.stdout.write("Delivering webhooks (SIGTERM to stop).")
        self.stdout.flush()
        await deliverer.run()
        self.stdout.write("Stopped.")
