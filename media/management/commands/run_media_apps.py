"""Run the media application service (rooms, menus, AGI hand-off) against every enabled Asterisk over ARI."""
from __future__ import annotations

import asyncio
import logging
import re
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from media.service.runner import Service, default_instance_name

NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,55}\Z")


class Command(BaseCommand):
    requires_system_checks = []  # (a long-running service like the Celery workers: `manage.py check` is separate)
    help = ("Run the media application service: one ARI event socket per enabled Asterisk node, claiming the "
            "calls [va-app] broadcasts. Several instances may run at once; SIGTERM stops one cleanly.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--instance", default="",
                            help="This instance's name (ARI application voipadmin.NAME); default host-pid. "
                                 "Give a fixed name under a service manager: a restart then finds its calls.")
        parser.add_argument("--latency-log", default="",
                            help="Append one JSON line per call: the time from StasisStart to its first ARI "
                                 "request (latency_ms).")
        parser.add_argument("--grace", type=float, default=20.0,
                            help="Seconds a stopping instance lets calls in progress finish (default 20).")
        parser.add_argument("--heartbeat", type=float, default=2.0,
                            help="Seconds between heartbeats (default 2); an instance silent for 3 heartbeats "
                                 "is taken for dead and its calls are taken over.")
        parser.add_argument("--refresh", type=float, default=3.0,
                            help="Seconds between readings of the node list (default 3).")

    def handle(self, *args, instance: str = "", latency_log: str = "", grace: float = 20.0, refresh: float = 3.0,
               heartbeat: float = 2.0, **options) -> None:
        name = instance or default_instance_name()
        if not NAME_RE.match(name):
            raise CommandError(f"--instance {name!r}: letters, digits, _ . - only (at most 56).")
        level = {0: logging.WARNING, 1: logging.INFO}.get(options.get("verbosity", 1), logging.DEBUG)
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("media").setLevel(level)
        for noisy in ("httpx", "httpcore", "websockets"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # each worker thread keeps its connection (checked before reuse) instead of one new connection per call
        for database in settings.DATABASES.values():
            database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"] = 300, True
        service = Service(name, latency_log=latency_log or None, grace=grace, refresh=refresh,
                          heartbeat=heartbeat)
        asyncio.run(self._run(service))

    @staticmethod
    async def _run(service: Service) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, service.stop)
        await service.run()
