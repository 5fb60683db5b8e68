"""Settings come from the environment and a bad value stops start-up with a clear message."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from voipadmin.env import envbool, envint, parse_database_url

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, env_extra: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    env.update(env_extra)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_it_rejects_a_boolean_that_is_not_one(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe' is not a boolean"):
        envbool("DEBUG", True)


def test_it_rejects_a_number_below_its_minimum(monkeypatch):
    monkeypatch.setenv("VOIPADMIN_POLL_INTERVAL", "0")
    with pytest.raises(ImproperlyConfigured, match="must be at least 1"):
        envint("VOIPADMIN_POLL_INTERVAL", 15, minimum=1)


def test_it_reads_postgres_and_sqlite_urls(tmp_path):
    pg = parse_database_url("postgres://voip:s%40cret@127.0.0.1:5433/estate?sslmode=disable", base_dir=tmp_path)
    assert pg["ENGINE"] == "django.db.backends.postgresql"
    assert (pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"], pg["NAME"]) == \
        ("voip", "s@cret", "127.0.0.1", "5433", "estate")
    assert pg["OPTIONS"] == {"sslmode": "disable"}
    lite = parse_database_url("sqlite:///var/x.sqlite3", base_dir=tmp_path)
    assert lite["NAME"] == str(tmp_path / "var/x.sqlite3")


def test_it_refuses_an_unknown_database_scheme(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="scheme 'mysql' is not supported"):
        parse_database_url("mysql://root@127.0.0.1/x", base_dir=tmp_path)


def test_it_stops_at_start_up_with_a_clear_error_for_a_bad_credentials_key():
    result = _manage("check", env_extra={"VOIPADMIN_CREDENTIALS_KEY": "not-a-key"})
    assert result.returncode != 0
    assert "VOIPADMIN_CREDENTIALS_KEY must be Fernet keys" in result.stderr


def test_it_refuses_production_without_a_secret_key():
    result = _manage("check", env_extra={"DEBUG": "false", "ALLOWED_HOSTS": "voip.example.test"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG=false" in result.stderr


def test_the_deploy_check_is_clean_in_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_extra={
        "DEBUG": "false", "ALLOWED_HOSTS": "voip.example.test",
        "SECRET_KEY": "k3y-for-the-deploy-check-" + "x9Qz!7Lm@2Rt#5Vb" * 3,
    })
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
