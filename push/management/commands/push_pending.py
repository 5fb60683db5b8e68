"""``manage.py push_pending [--once]``: send due push jobs from the command line.

Runs the sweep in this process (no broker, no worker needed): every node with due
PENDING jobs is delivered to in turn. ``--once`` does one pass and exits 1 when jobs are
still pending afterwards; without it, it loops every PUSH_SWEEP_SECONDS.
"""
from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from push import conf, delivery
from push.models import PushJob, PushState


class Command(BaseCommand):
    help = "Send the push jobs that are due (one pass with --once, else forever)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one sweep and exit.")

    def handle(self, *args, once: bool = False, **options):
        if not conf.live_reload():
            raise CommandError("Live reload is off (VOIPADMIN_LIVE_RELOAD=false): pending jobs are held.")
        while True:
            self._pass()
            if once:
                pending = PushJob.objects.filter(state=PushState.PENDING).count()
                failed = PushJob.objects.filter(state=PushState.FAILED).count()
                self.stdout.write(f"{pending} pending, {failed} failed.")
                if pending:
                    raise SystemExit(1)
                return
            time.sleep(settings.PUSH_SWEEP_SECONDS)

    def _pass(self) -> None:
        def deliver_here(kind: str, node_id: int) -> None:
            outcome = delivery.deliver_node(kind, node_id)
            self.stdout.write(f"{kind} node {node_id}: sent {len(outcome.sent)}, retrying "
                              f"{len(outcome.retrying)}, failed {len(outcome.failed)}"
                              + (" (busy: another worker is sending)" if outcome.busy else "")
                              + (f" ({outcome.skipped})" if outcome.skipped else ""))

        delivery.sweep(deliver_here)
