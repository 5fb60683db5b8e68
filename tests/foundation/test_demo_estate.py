"""`load_demo_estate` builds the design's estate, idempotently, on SQLite and on PostgreSQL."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from sites.models import AsteriskNode, ExtensionRange, KamailioNode, Site
from voipadmin.models import ChangeLogEntry

ROOT = Path(__file__).resolve().parents[2]


def _assert_demo_shape():
    assert set(Site.objects.values_list("slug", flat=True)) >= {"central", "branch1", "branch2", "branch3"}
    assert Site.objects.get(slug="central").kind == "central"
    ranges = {r.site.slug: (r.start, r.end) for r in ExtensionRange.objects.select_related("site")}
    assert ranges == {"central": (1000, 3999), "branch1": (4000, 5999), "branch2": (6000, 7999),
                      "branch3": (8000, 9999)}
    assert AsteriskNode.objects.count() == 4
    assert KamailioNode.objects.count() == 1
    assert {s.sip_domain for s in Site.objects.all()} == {"voip.example.test"}


def _every_address_is_loopback():
    hosts = [n.host for n in AsteriskNode.objects.all()] + \
            [k.sip_address.rsplit(":", 1)[0] for k in KamailioNode.objects.all()]
    return all(h.startswith("127.") for h in hosts)


def test_it_loads_the_demo_estate_on_postgres_and_twice_changes_nothing(require_postgres):
    call_command("load_demo_estate")
    _assert_demo_shape()
    assert _every_address_is_loopback()
    entries = ChangeLogEntry.objects.count()
    call_command("load_demo_estate")
    _assert_demo_shape()
    assert ChangeLogEntry.objects.count() == entries, "a second run must not change anything"


def test_it_loads_the_demo_estate_on_a_fresh_sqlite_database(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
           "VOIPADMIN_VAR_DIR": str(tmp_path)}
    for args in (["migrate", "--noinput"], ["load_demo_estate"], ["load_demo_estate"]):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "Demo estate loaded" in result.stdout


def test_the_demo_node_secrets_are_encrypted_at_rest(require_postgres):
    from django.db import connection

    call_command("load_demo_estate")
    with connection.cursor() as cur:
        cur.execute("SELECT ami_secret, ari_password FROM sites_asterisknode")
        for ami_secret, ari_password in cur.fetchall():
            assert "demo" not in ami_secret and ami_secret.startswith("gAAAA")
            assert "demo" not in ari_password
    assert AsteriskNode.objects.first().ami_secret == "demo-ami-secret"
