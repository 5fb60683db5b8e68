"""The media application service as real processes (``manage.py run_media_apps``) against the real estate.

``media_services`` (function; implies ``asterisk_estate``: real Kamailio + two real Asterisks, built in the
transactional test database)
    A :class:`MediaServices`: ``start("a")`` runs ``run_media_apps --instance a`` on the test database and
    waits until every node lists its ARI application ``voipadmin.a`` (its event socket is open there);
    ``kill(svc)`` is a SIGKILL (a host that dies), ``svc.stop()`` a SIGTERM. Everything it started is killed
    at the end.
``media_service``
    One instance (``t1``) already connected to every node; ``media_service.estate`` is the estate.

Each instance writes its log and its latency log (``--latency-log``, one JSON line per call) under tmp_path.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.kamailio.harness import _die_with_parent, dburl_from_settings
from tests.asterisk.helpers import wait_for as wait_for_value
from tests.process_fixtures import Process

REPO = Path(__file__).resolve().parents[2]


@dataclass
class MediaService(Process):
    """One ``run_media_apps`` process (``kill()``: SIGKILL to its group, as tests/process_fixtures.py's)."""

    latency_path: Path | None = None

    @property
    def app(self) -> str:
        return f"voipadmin.{self.name}"

    def latencies(self) -> list[dict]:
        """The latency log: one dict per call (channel, node, kind, latency_ms)."""
        if not self.latency_path.exists():
            return []
        return [json.loads(line) for line in self.latency_path.read_text().splitlines() if line.strip()]

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM: a clean stop (stops claiming, lets calls finish, removes its instance row)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        return self.popen.wait(timeout)


@dataclass
class MediaServices:
    estate: object
    database_url: str
    workdir: Path
    started: list[MediaService] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "COV_")) and k not in ("DATABASE_URL_FILE", "CELERY_BROKER_URL_FILE")}
        env.update({"DJANGO_SETTINGS_MODULE": "voipadmin.settings", "PYTHONPATH": str(REPO),
                    "PYTHONUNBUFFERED": "1", "DATABASE_URL": self.database_url})
        return env

    def start(self, name: str, *, wait: bool = True, extra: tuple[str, ...] = ()) -> MediaService:
        log_path = self.workdir / f"media-{name}.log"
        latency = self.workdir / f"media-{name}-latency.jsonl"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                [sys.executable, str(REPO / "manage.py"), "run_media_apps", "--instance", name, "--latency-log",
                 str(latency), "--refresh", "1", "--grace", "2", "--heartbeat", "1", "-v", "2", *extra],
                cwd=REPO, env=self.environment(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent)
        service = MediaService(name, "media", popen, log_path, "connected", latency_path=latency)
        self.started.append(service)
        if wait:
            self.wait_connected(service)
        return service

    def applications(self, site: str) -> list[str]:
        """The ARI applications a node has registered right now (GET /ari/applications)."""
        plan = self.estate.plan.node(site)
        response = httpx.get(f"{plan.ari_url}/applications", auth=("voipadmin", plan.ari_password), timeout=3)
        response.raise_for_status()
        return [app["name"] for app in response.json()]

    def connected_sites(self, service: MediaService) -> list[str]:
        return [n.site for n in self.estate.plan.nodes if service.app in self.applications(n.site)]

    def start_many(self, *names: str) -> list[MediaService]:
        """Several instances started at once (a process takes seconds to start), each connected."""
        from django.utils import timezone

        from media.models import AppServiceInstance

        services = [self.start(name, wait=False) for name in names]
        for service in services:
            self.wait_connected(service)
        # each has beaten since all were there: each knows it has peers (an instance alone claims at once)
        rows = AppServiceInstance.objects.filter(name__in=names)
        assert wait_for_value(lambda: rows.count() == len(names), 5), list(rows.values_list("name", flat=True))
        seen = timezone.now()
        assert wait_for_value(lambda: all(beat > seen for beat in rows.values_list("heartbeat", flat=True)), 5)
        return services

    def wait_connected(self, service: MediaService, timeout: float = 20.0) -> None:
        """Until every node of the estate lists the instance's application; fails with its log if it died."""
        deadline = time.monotonic() + timeout
        sites = sorted(n.site for n in self.estate.plan.nodes)
        while True:
            if not service.alive:
                pytest.fail(f"run_media_apps {service.name} exited with {service.popen.returncode}\n"
                            f"{service.log_tail()}", pytrace=False)
            if sorted(self.connected_sites(service)) == sites:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"run_media_apps {service.name} not connected to {sites} within {timeout:.0f}s\n"
                            f"{service.log_tail()}", pytrace=False)
            time.sleep(0.1)

    def kill_all(self) -> None:
        for service in self.started:
            if service.alive:
                service.kill()


@pytest.fixture
def media_services(asterisk_estate, tmp_path):
    from django.db import connection

    services = MediaServices(asterisk_estate, dburl_from_settings(connection.settings_dict), tmp_path)
    try:
        yield services
    finally:
        services.kill_all()


@pytest.fixture
def media_service(media_services):
    service = media_services.start("t1")
    service.estate = media_services.estate
    return service
