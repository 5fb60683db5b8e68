"""Real Celery (and portal) processes for tests, on Redis or on RabbitMQ, against the pytest-django test database.

Registered for the whole suite in ``tests/conftest.py`` (``pytest_plugins``).

Fixtures
--------
``broker`` (parametrized: ``redis``, ``rabbitmq``)
    The broker under test: a test that uses it (or ``processes``) runs once per broker. Redis is
    ``CELERY_BROKER_URL`` (``make test``'s), RabbitMQ is ``TEST_RABBITMQ_URL`` (default
    ``amqp://guest:guest@127.0.0.1:5672//``). A broker that does not answer fails the test.
``processes`` (function)
    A :class:`Processes` on that broker with a queue prefix of its own (``VOIPADMIN_CELERY_QUEUE_PREFIX``),
    so tests sharing a broker never take each other's tasks. It starts ``celery -A voipadmin worker``,
    ``celery -A voipadmin beat`` and gunicorn portals as real processes on the test database (the
    test needs committed rows: it implies ``transactional_db``); the test process's own Celery app
    publishes to the same broker and queues (not eager). Every process it started is killed at the
    end (SIGKILL to its process group) and its queues are deleted from the broker.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from tests.kamailio.harness import _die_with_parent, dburl_from_settings, free_port

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

__all__ = ["broker", "processes"]


@dataclass(frozen=True)
class Broker:
    name: str  # "redis" | "rabbitmq"
    url: str

    def __str__(self) -> str:
        return self.name


def broker_url(name: str) -> str:
    if name == "redis":
        url = os.environ.get("CELERY_BROKER_URL", "")
        return url if url.startswith("redis://") else "redis://127.0.0.1:6379/15"
    return os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _require_broker(broker: Broker) -> None:
    from kombu import Connection

    try:
        with Connection(broker.url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - kombu raises many types
        pytest.fail(f"the {broker.name} broker at {broker.url} does not answer ({exc}); these tests need it "
                    f"(Redis: CELERY_BROKER_URL, RabbitMQ: TEST_RABBITMQ_URL)", pytrace=False)


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request) -> Broker:
    found = Broker(request.param, broker_url(request.param))
    _require_broker(found)
    return found


# --- the test process's Celery app on a given broker ------------------------------------------------------------


def _reset_app(app) -> None:
    """Celery caches its router and connection pools (kombu's are process-wide): rebuild them."""
    from kombu import pools

    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)
    app.amqp.__dict__.pop("queues", None)
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()


@contextlib.contextmanager
def app_on_broker(app, url: str, prefix: str) -> Iterator:
    """The test process publishes as a worker host configured with ``url`` and ``prefix`` would.

    (Celery reads the ``CELERY_BROKER_URL`` environment variable before its configuration: set both.)
    """
    from voipadmin.settings import celery_transport_options

    keys = ("broker_url", "broker_transport_options", "task_routes", "task_default_queue", "task_always_eager")
    saved = {key: app.conf[key] for key in keys}
    saved_env = os.environ.get("CELERY_BROKER_URL")
    os.environ["CELERY_BROKER_URL"] = url
    routes = {"push.tasks.*": {"queue": f"{prefix}push"}, "live.tasks.*": {"queue": f"{prefix}live"}}
    app.conf.update(broker_url=url, broker_transport_options=celery_transport_options(url), task_routes=routes,
                    task_default_queue=f"{prefix}celery", task_always_eager=False)
    _reset_app(app)
    try:
        yield app
    finally:
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        app.conf.update(saved)
        _reset_app(app)


# --- processes --------------------------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    kind: str  # worker | beat | portal
    popen: subprocess.Popen
    log_path: Path
    ready_marker: str
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(self.log().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL to the whole process group (a prefork worker's pool processes too): a host that dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)


@dataclass
class Processes:
    """Worker, beat and portal processes of one test, all on one broker, one queue prefix, one database."""

    broker: Broker
    database_url: str
    workdir: Path
    prefix: str
    started: list[Process] = field(default_factory=list)

    def environment(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "CELERY_TASK_ALWAYS_EAGER", "COV_"))
               and k not in ("DATABASE_URL_FILE", "CELERY_BROKER_URL_FILE")}  # (both set: refused at start-up)
        env.update({
            "DJANGO_SETTINGS_MODULE": "voipadmin.settings",
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker.url,
            "VOIPADMIN_CELERY_QUEUE_PREFIX": self.prefix,
            "VOIPADMIN_VAR_DIR": str(self.workdir / "var"),
            "LOG_LEVEL": "INFO",
        })
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def _start(self, name: str, kind: str, command: list[str], ready_marker: str, *, port: int | None = None,
               **env: str) -> Process:
        log_path = self.workdir / f"{name}.log"
        rundir = self.workdir / name
        rundir.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(command, cwd=rundir, env=self.environment(**env), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        process = Process(name, kind, popen, log_path, ready_marker, port)
        self.started.append(process)
        return process

    def worker(self, name: str, queue: str, *, concurrency: int = 1, **env: str) -> Process:
        """``celery -A voipadmin worker`` consuming ``queue`` (push, live or celery, prefixed)."""
        command = [str(BIN / "celery"), "-A", "voipadmin", "worker", "-n", f"{name}.{self.prefix}@%h",
                   "-Q", f"{self.prefix}{queue}", "-c", str(concurrency), "-l", "INFO",
                   "--without-gossip", "--without-mingle", "--without-heartbeat"]
        return self._start(name, "worker", command, " ready.", **env)

    def beat(self, name: str, **env: str) -> Process:
        """``celery -A voipadmin beat`` (the LeaderScheduler of the settings) with a schedule file of its own."""
        command = [str(BIN / "celery"), "-A", "voipadmin", "beat", "-l", "INFO",
                   "-s", str(self.workdir / f"{name}-schedule")]
        return self._start(name, "beat", command, "beat: Starting...", **env)

    def portal(self, name: str, *, threads: int = 2, **env: str) -> Process:
        """The portal under gunicorn (one worker process), on a free loopback port."""
        port = free_port(udp=False)
        command = [str(BIN / "python"), "-m", "gunicorn", "voipadmin.wsgi:application", "--bind", f"127.0.0.1:{port}",
                   "--workers", "1", "--threads", str(threads), "--timeout", "60", "--log-level", "warning"]
        return self._start(name, "portal", command, "", port=port, **env)

    def wait_ready(self, *procs: Process, timeout: float = 90.0) -> None:
        """Wait until each process says it is ready (a portal: answers HTTP); fail with its log if it died."""
        deadline = time.monotonic() + timeout
        waiting = list(procs or self.started)
        while waiting:
            for process in list(waiting):
                if not process.alive:
                    pytest.fail(f"{process.kind} {process.name} exited with {process.popen.returncode}\n"
                                f"{process.log_tail()}", pytrace=False)
                if process.kind == "portal" and _answers_http(process.url):
                    waiting.remove(process)
                elif process.kind != "portal" and process.ready_marker in process.log():
                    waiting.remove(process)
            if waiting and time.monotonic() > deadline:
                pytest.fail(f"not ready within {timeout:.0f}s: {', '.join(p.name for p in waiting)}\n"
                            + "\n".join(p.log_tail() for p in waiting), pytrace=False)
            time.sleep(0.05)

    def stop_all(self) -> None:
        """SIGKILL, all at once: the test is over, nothing is left to finish (a worker's clean shutdown takes
        seconds), and whatever a worker held unacknowledged goes with the test's queues (``delete_queues``)."""
        for process in self.started:
            process.kill()

    def queues(self) -> list[str]:
        return [f"{self.prefix}{q}" for q in ("push", "live", "celery")]

    def delete_queues(self) -> None:
        """Leave nothing of this test in the shared broker."""
        from kombu import Connection

        with Connection(self.broker.url, connect_timeout=3) as conn:
            channel = conn.default_channel
            if self.broker.name == "redis":
                client = channel.client
                for key in client.keys(f"*{self.prefix}*"):
                    client.delete(key)
                for tag, message in client.hgetall("unacked").items():  # what a killed worker held
                    if self.prefix.encode() in message:
                        client.hdel("unacked", tag)
                        client.zrem("unacked_index", tag)
                return
            for name in self.queues():
                with contextlib.suppress(Exception):
                    channel.queue_delete(name)
                with contextlib.suppress(Exception):
                    channel.exchange_delete(name)


def _answers_http(url: str) -> bool:
    try:
        urllib.request.urlopen(url + "/login/", timeout=1)  # noqa: S310 - loopback only
        return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means it serves
    except (OSError, socket.timeout):
        return False


@pytest.fixture
def processes(broker, transactional_db, tmp_path) -> Iterator[Processes]:
    from django.db import connection

    from voipadmin.celery import app

    prefix = f"t{uuid.uuid4().hex[:8]}-"
    procs = Processes(broker=broker, database_url=dburl_from_settings(connection.settings_dict),
                      workdir=tmp_path / "processes", prefix=prefix)
    procs.workdir.mkdir()
    try:
        with app_on_broker(app, broker.url, prefix):
            yield procs
    finally:
        procs.stop_all()
        procs.delete_queues()
