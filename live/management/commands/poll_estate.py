"""Poll the live estate from the command line (what the Celery beat task does every interval), then say how
the media application service is doing (its instances report by heartbeat, not by being polled)."""
from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from live import actions
from media import overview as media_overview
from voipadmin.actors import Actor


class Command(BaseCommand):
    help = "Poll every enabled Asterisk and Kamailio node once (--once) or every POLL_INTERVAL_SECONDS."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Run one cycle, print a summary and exit.")
        parser.add_argument("--timeout", type=float, default=None,
                            help="Per-node timeout in seconds (default LIVE_NODE_TIMEOUT_SECONDS).")

    def handle(self, *args, once: bool = False, timeout: float | None = None, **options) -> None:
        actor = Actor.command("poll_estate")
        while True:
            summary = actions.poll_estate(actor=actor, timeout=timeout)
            for line in summary.lines() + media_overview.service_health().lines():
                self.stdout.write(line)
            if once:
                return
            time.sleep(max(settings.POLL_INTERVAL_SECONDS - summary.seconds, 0.5))
