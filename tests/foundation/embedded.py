"""The embedded mode of ``make run`` as real processes, in a directory of the test's own.

``embedded_env(tmp_path, port)`` is the environment ``make run`` would see on a fresh clone, but with the
SQLite file, the filesystem broker and the logs under ``tmp_path`` (``VOIPADMIN_VAR_DIR``) and the portal
on ``port``: nothing is shared with the suite's PostgreSQL, Redis or the checkout's ``var/``.
``left_behind(tmp_path)`` finds any process still running with that environment (read from /proc).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_DROPPED = {"DATABASE_URL", "CELERY_BROKER_URL", "VOIPADMIN_CELERY_QUEUE_PREFIX", "CELERY_TASK_ALWAYS_EAGER",
            "HOST", "PORT", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}


def embedded_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED and not k.startswith("PYTEST_")}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'voipadmin.sqlite3'}", "VOIPADMIN_VAR_DIR": str(tmp_path),
                "PORT": str(port), "DJANGO_SETTINGS_MODULE": "voipadmin.settings", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``command`` as the leader of a process group of its own, as a terminal would start it."""
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def healthz(port: int, timeout: float = 3) -> int | None:
    """The status /healthz answers with on ``port`` (503 counts: it answered), None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def wait_for_healthz(port: int, process: subprocess.Popen, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the portal stopped before answering (status {process.returncode})"
        status = healthz(port)
        if status is not None:
            return status
        time.sleep(0.5)
    raise AssertionError(f"nothing answered /healthz on port {port} within {timeout} s")


def left_behind(tmp_path: Path) -> list[str]:
    """Command lines of the live processes started with ``VOIPADMIN_VAR_DIR=tmp_path``."""
    marker = f"VOIPADMIN_VAR_DIR={tmp_path}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
            if "zombie" in state:
                continue
            found.append(f"{entry.name}: " + (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, StopIteration):
            continue  # ended meanwhile, or not ours to read
    return found


def kill_everything(tmp_path: Path, *processes: subprocess.Popen) -> None:
    """Clean-up after a failed test: nothing it started may outlive it."""
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for line in left_behind(tmp_path):
        try:
            os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture(scope="session")
def migrated(tmp_path_factory):
    """A migrated embedded database with the demo estate, made once: each test starts from a copy of it
    (what `make run` finds on its second start), instead of migrating SQLite from nothing in each."""
    where = tmp_path_factory.mktemp("embedded-template")
    env = embedded_env(where, 1)  # (nothing is served)
    manage(env, "migrate", "--noinput")
    manage(env, "load_demo_estate")
    return where / "voipadmin.sqlite3"


@pytest.fixture
def embedded_db(migrated, tmp_path):
    for suffix in ("", "-wal", "-shm"):
        if migrated.with_name(migrated.name + suffix).exists():
            shutil.copy(migrated.with_name(migrated.name + suffix), tmp_path / f"voipadmin.sqlite3{suffix}")
    return tmp_path
