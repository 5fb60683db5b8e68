"""With DEBUG=false the portal refuses to start with a weak SECRET_KEY (Django's `check --deploy` rule, and the
repository's development key), read from SECRET_KEY or SECRET_KEY_FILE alike."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG = "k3y-for-the-deploy-check-" + "x9Qz!7Lm@2Rt#5Vb" * 3
DEV_KEY = "voipadmin-development-only-secret-key-never-use-in-production-0123456789"
WEAK = {
    "short": "aB3$" * 12,  # 48 characters
    "few different characters": "abcd" * 20,
    "django's insecure prefix": "django-insecure-" + "x9Qz!7Lm@2Rt#5Vb" * 3,
    "the development key": DEV_KEY,
}


def _import_settings(env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}}
    env.update({"ALLOWED_HOSTS": "voip.example.test", **env_extra})
    return subprocess.run([sys.executable, "-c", "import voipadmin.settings"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("why", WEAK)
def test_it_refuses_a_weak_secret_key_in_production(why):
    result = _import_settings({"DEBUG": "false", "SECRET_KEY": WEAK[why]})
    assert result.returncode != 0, why
    assert "ImproperlyConfigured: SECRET_KEY is too weak for DEBUG=false" in result.stderr, result.stderr[-2000:]
    assert WEAK[why] not in result.stderr  # the key itself is not printed


def test_it_reads_the_key_from_a_file_and_judges_it_the_same(tmp_path):
    weak, strong = tmp_path / "weak", tmp_path / "strong"
    weak.write_text(DEV_KEY + "\n")
    strong.write_text(STRONG + "\n")
    refused = _import_settings({"DEBUG": "false", "SECRET_KEY_FILE": str(weak)})
    assert refused.returncode != 0 and "SECRET_KEY is too weak" in refused.stderr
    accepted = _import_settings({"DEBUG": "false", "SECRET_KEY_FILE": str(strong)})
    assert "SECRET_KEY" not in accepted.stderr, accepted.stderr[-2000:]


def test_a_strong_key_starts_and_development_takes_any_key():
    assert "SECRET_KEY" not in _import_settings({"DEBUG": "false", "SECRET_KEY": STRONG}).stderr
    for key in WEAK.values():
        result = _import_settings({"DEBUG": "true", "SECRET_KEY": key})
        assert result.returncode == 0, result.stderr[-2000:]
