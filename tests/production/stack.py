"""The production stack, started as deploy/README.md tells an operator to, on this machine.

``ProductionStack`` writes the environment file from ``deploy/voipadmin.env.example`` (paths moved under a
temporary directory, secrets in files named by ``*_FILE``), runs the documented ``manage.py`` steps in a
database of its own, and starts each service from the ``ExecStart=`` line of its systemd unit under
``deploy/systemd/`` (``/opt/voipadmin/venv`` → this checkout's virtualenv, ``/var/lib/voipadmin`` → the
temporary directory). Every process gets the file's environment and nothing else of ours, like a unit.
Used by tests/production/test_stack.py and bench/production.py.
"""
from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ENV_EXAMPLE = ROOT / "deploy" / "voipadmin.env.example"
UNITS = ROOT / "deploy" / "systemd"
HOST = "portal.voip.test"
# What a unit's environment has besides its EnvironmentFile (systemd passes little more than these).
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "HOME")


class StackError(AssertionError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as systemd's EnvironmentFile= reads them (comments and blank lines skipped)."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise StackError(f"{path}:{number}: not KEY=VALUE: {line!r}")
        values[key] = value.strip().strip('"')
    return values


def unit_directives(name: str) -> dict[str, list[str]]:
    """The [Service] (and other) directives of ``deploy/systemd/<name>``, each with its values in order."""
    directives: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        line = line.strip()
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            directives.setdefault(key.strip(), []).append(value.strip())
    return directives


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


class ProductionStack:
    """One production portal (gunicorn), optionally its workers and beat, in a throw-away database."""

    def __init__(self, workdir: Path, *, database_url: str, broker_url: str, database_name: str,
                 overrides: dict[str, str] | None = None, credentials_key: str | None = None) -> None:
        if not database_url.startswith(("postgres://", "postgresql://")):
            raise StackError("the production stack needs PostgreSQL: DATABASE_URL=postgres://... (make test sets it)")
        self.workdir = workdir
        self.var_dir = workdir / "var"
        self.secrets_dir = workdir / "secrets"
        self.log_dir = workdir / "log"
        self.database_name = database_name
        self.database_url = with_database(database_url, database_name)
        self.admin_url = with_database(database_url, "postgres")
        self.broker_url = broker_url
        self.queue_prefix = f"stack-{secrets.token_hex(4)}-"
        self.metrics_token = secrets.token_urlsafe(24)
        self.port = free_port()
        self.processes: dict[str, subprocess.Popen] = {}
        self.overrides = overrides or {}
        self.credentials_key = credentials_key  # a database kept between runs needs the key it was written with
        self.env: dict[str, str] = {}

    # --- the operator's steps ------------------------------------------------------------------------------

    def write_configuration(self) -> Path:
        """/etc/voipadmin/env and its secret files, from the documented example."""
        for directory in (self.var_dir, self.secrets_dir, self.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        from cryptography.fernet import Fernet

        secret_files = {"secret_key": secrets.token_urlsafe(50), "database_url": self.database_url,
                        "broker_url": self.broker_url, "metrics_token": self.metrics_token,
                        "credentials_key": self.credentials_key or Fernet.generate_key().decode()}
        for name, value in secret_files.items():
            path = self.secrets_dir / name
            path.write_text(value + "\n")
            path.chmod(0o640)
        text = ENV_EXAMPLE.read_text()
        text = text.replace("/etc/voipadmin/secrets/", f"{self.secrets_dir}/")
        text = text.replace("/var/lib/voipadmin", str(self.var_dir)).replace("portal.example.org", HOST)
        env_file = self.workdir / "env"
        env_file.write_text(text)
        values = read_env_file(env_file)
        values.update({"GUNICORN_BIND": f"127.0.0.1:{self.port}", "VOIPADMIN_CELERY_QUEUE_PREFIX": self.queue_prefix})
        values.update(self.overrides)
        self.env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ} | values
        self.env["PATH"] = f"{VENV_BIN}:{self.env.get('PATH', '/usr/bin:/bin')}"
        return env_file

    def create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.database_name}"')

    def drop_database(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')

    def manage(self, *args: str, timeout: float = 300) -> str:
        """``manage.py ARGS`` as the service user would run it; its output, or StackError with it."""
        result = subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise StackError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
        return result.stdout + result.stderr

    def ensure_admin(self) -> tuple[str, str]:
        """``manage.py ensure_admin``: the first administrator and the password it prints once."""
        out = self.manage("ensure_admin")
        match = re.search(r"user: (\S+)\s+password: (\S+)", out)
        if not match:
            raise StackError(f"ensure_admin printed no password:\n{out}")
        return match.group(1), match.group(2)

    # --- services --------------------------------------------------------------------------------------------

    def exec_start(self, unit: str) -> list[str]:
        """The unit's ExecStart= as this checkout runs it (systemd's ${VAR} and %H expanded)."""
        (line,) = unit_directives(unit)["ExecStart"]
        line = line.replace("/opt/voipadmin/venv/bin/", f"{VENV_BIN}/").replace("/opt/voipadmin/app", str(ROOT))
        line = line.replace("/var/lib/voipadmin", str(self.var_dir))
        line = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: self.env.get(m.group(1), ""), line)
        line = line.replace("%H", socket.gethostname()).replace("%%", "%")
        return shlex.split(line)

    def start(self, unit: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{unit}.log", "ab")
        proc = subprocess.Popen(self.exec_start(unit), cwd=ROOT, env=self.env | (extra_env or {}), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.processes[unit] = proc
        return proc

    def wait_for_portal(self, timeout: float = 30) -> None:
        """Until gunicorn answers /healthz (with any status: the checks may fail, the server is up)."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.processes.get("voipadmin-portal.service")
            if proc is not None and proc.poll() is not None:
                raise StackError(f"gunicorn exited ({proc.returncode}):\n{self.log('voipadmin-portal.service')}")
            try:
                httpx.get(f"{self.base_url}/healthz", headers={"Host": HOST}, timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise StackError(f"gunicorn did not answer within {timeout}s:\n{self.log('voipadmin-portal.service')}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, unit: str) -> str:
        path = self.log_dir / f"{unit}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        """TERM every process group we started (what systemd does at stop), KILL what is left after 15 s."""
        for proc in self.processes.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        self.processes.clear()

    def purge_broker(self) -> None:
        """Remove this stack's queues from the shared broker (their names carry our prefix)."""
        if not self.broker_url.startswith("redis://"):
            return
        import redis

        client = redis.Redis.from_url(self.broker_url)
        for key in client.scan_iter(match=f"*{self.queue_prefix}*"):
            client.delete(key)
