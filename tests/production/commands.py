"""What an operator types, run from the tests: PostgreSQL's client programs and ``manage.py`` on a given database."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]


def _server() -> dict:
    from django.db import connection

    return connection.settings_dict


def pg(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """A PostgreSQL client program (``pg_dump``, ``pg_restore``, ``psql``, ...) as the test database's user."""
    db = _server()
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    base = ["-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432), "-U", db.get("USER") or "postgres"]
    result = subprocess.run([args[0], *base, *args[1:]], env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"$ {' '.join(args)}\nexit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}",
                    pytrace=False)
    return result


def manage(database_url: str, *args: str, key_file: Path | None = None, key: str | None = None,
           env: dict[str, str] | None = None, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """``manage.py`` as an operator runs it on a host: its DATABASE_URL, its key file, nothing of the test's."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("VOIPADMIN_CREDENTIALS_KEY", "PYTEST_", "DATABASE_URL"))}
    environ.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="voipadmin.settings",
                   VOIPADMIN_LIVE_RELOAD="false")
    if key_file is not None:
        environ["VOIPADMIN_CREDENTIALS_KEY_FILE"] = str(key_file)
    if key is not None:
        environ["VOIPADMIN_CREDENTIALS_KEY"] = key
    environ.update(env or {})
    result = subprocess.run([sys.executable, str(REPO / "manage.py"), *args], cwd=REPO, env=environ,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"$ manage.py {' '.join(args)}\nexit {result.returncode}\n{result.stdout[-3000:]}\n"
                    f"{result.stderr[-3000:]}", pytrace=False)
    return result


def scratch_database(suffix: str) -> SimpleNamespace:
    """``<DATABASE_URL's name>_<suffix>``, dropped if it exists (whoever is connected): name and URL."""
    from tests.kamailio.harness import dburl_from_settings

    base = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/") or "voipadmin"
    name = f"{base}_{suffix}"
    drop_database(name)
    return SimpleNamespace(name=name, url=dburl_from_settings({**_server(), "NAME": name}))


def drop_database(name: str) -> None:
    pg("psql", "-d", "postgres", "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)
