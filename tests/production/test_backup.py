"""Backup and restore of the shared database, and the credentials key's backup and rotation, end to end
(deploy/backup.md): what the guide tells an operator to run, run here.

The "production" database is the test database with an estate built in it through the portal's actions: two
sites, users, a real Asterisk node's record (secrets encrypted with the credentials key), the Kamailio node,
the per-site schemas and database roles. It is dumped with ``pg_dump``, restored with ``pg_restore`` into a
fresh database, and then everything runs on the copy: ``asterisk_realtime_schemas``, a real Kamailio (a user
REGISTERs through it), a real Asterisk configured by ``asterisk_config`` (it reads the user from the copy's
realtime views), and ``check_estate``, clean. The key lives outside the dump: the copy is read with the key
file, refused without it, and the key is rotated (new key first, ``rotate_credentials_key``, old key
removed) with every secret still readable.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet

from tests.asterisk.estate import EstatePlan, NodePlan, build_estate
from tests.asterisk.harness import AsteriskError, AsteriskInstance
from tests.kamailio.harness import KamailioInstance, free_port, sip_register
from voipadmin.actors import Actor

from .commands import drop_database, manage, pg, scratch_database

pytestmark = [pytest.mark.kamailio, pytest.mark.asterisk, pytest.mark.postgres]

ACTOR = Actor.command("tests")
HOST = "127.0.0.61"  # the Asterisk node's loopback address (nobody else's in the suite)
PASSWORD = "restored-estate-sip-pw-1001"


SECRETS = ("from sites.models import AsteriskNode; from trunks.models import ItspTrunk; "
           "nodes = AsteriskNode.objects.all(); "
           "print(sorted([n.ami_secret for n in nodes] + [n.ari_password for n in nodes] "
           "+ [t.auth_password for t in ItspTrunk.objects.all()]))")


def unreadable(result: subprocess.CompletedProcess, secrets: list[str]) -> bool:
    """The secrets did not come out, and the portal said why (a stored secret no key opens)."""
    said = "cannot be decrypted" in result.stdout + result.stderr
    return said and repr(secrets) not in result.stdout


def write_key(path: Path, *keys: bytes | str) -> Path:
    path.write_text(",".join(k.decode() if isinstance(k, bytes) else k for k in keys) + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def restored_database(transactional_db):
    """A fresh database for the restore (dropped afterwards, whoever is still connected)."""
    db = scratch_database("restored")
    yield db
    drop_database(db.name)


def test_a_dump_restored_into_a_fresh_database_runs_kamailio_and_asterisk_and_survives_a_key_rotation(
        restored_database, asterisk_prefix, settings, tmp_path, require_postgres):
    from django.core.management import call_command
    from django.db import connection

    from trunks import actions as trunk_actions
    from users import actions as user_actions

    settings.LIVE_RELOAD = False  # nothing listens yet: the dump holds the estate and its pending pushes
    t0 = time.monotonic()
    kam_ports = SimpleNamespace(sip=free_port(), http=free_port(udp=False))
    kamailio_address = SimpleNamespace(sip_address=f"127.0.0.1:{kam_ports.sip}",
                                       rpc_url=f"http://127.0.0.1:{kam_ports.http}/RPC")
    node_plan = NodePlan(name="ast-central-bk", site="central", host=HOST, sip_port=free_port(HOST),
                         ami_port=free_port(HOST, udp=False), http_port=free_port(HOST, udp=False),
                         roles="pbx,voicemail,conference,gateway")
    plan = EstatePlan(db_role="estate", nodes=(node_plan,), e1_sim=("127.0.0.62", free_port("127.0.0.62")))
    estate = build_estate(plan, kamailio=kamailio_address, actor=ACTOR)
    user_actions.create_user(actor=ACTOR, extension=1001, name="Ana Restored", email="", site=estate.sites["central"],
                             password=PASSWORD, voicemail_enabled=True, voicemail_pin="8264")
    trunk_actions.create_itsp_trunk(actor=ACTOR, name="carrier", host="127.0.0.63", auth_mode="registration",
                                    username="estate", auth_password="carrier-secret-0042")
    call_command("asterisk_realtime_schemas", stdout=open(os.devnull, "w"))
    secrets = sorted([node_plan.ami_secret, node_plan.ari_password, "carrier-secret-0042"])

    # --- backup: the database (custom format), the cluster's roles, the key (kept apart from both)
    dump, roles = tmp_path / "estate.dump", tmp_path / "roles.sql"
    pg("pg_dump", "-Fc", "-f", str(dump), "-d", connection.settings_dict["NAME"])
    pg("pg_dumpall", "--roles-only", "-f", str(roles))
    for role in ("asterisk", "asterisk_central", "asterisk_branch1"):
        assert f"CREATE ROLE {role};" in roles.read_text()
    k0 = settings.CREDENTIALS_KEYS[0]
    key_file = write_key(tmp_path / "credentials.key", k0)
    listing = pg("pg_restore", "--list", str(dump)).stdout
    for item in ("TABLE public subscriber", "TABLE public location", "TABLE public dispatcher",
                 "VIEW public ps_endpoints", "VIEW public voicemail", "TABLE public cdr", "SCHEMA - asterisk_central",
                 "VIEW asterisk_central ps_aors", "FUNCTION public", "ACL public TABLE ps_endpoints"):
        assert item in listing, f"{item!r} missing from the dump"
    backed_up = time.monotonic() - t0

    # --- restore into a fresh database, then what the guide says to run on it
    db = restored_database
    pg("psql", "-d", "postgres", "-qc", f'CREATE DATABASE "{db.name}"')
    pg("pg_restore", "--exit-on-error", "-d", db.name, str(dump))
    assert "No migrations to apply" in manage(db.url, "migrate", "--noinput", key_file=key_file).stdout
    manage(db.url, "asterisk_realtime_schemas", key_file=key_file)
    search_path = pg("psql", "-d", db.name, "-Atc",
                     "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
                     "JOIN pg_database d ON d.oid = s.setdatabase "
                     f"WHERE r.rolname = 'asterisk_central' AND d.datname = '{db.name}'").stdout
    assert "search_path=asterisk_central" in search_path, "per-site role settings are per database: re-run the command"
    restored = time.monotonic() - t0

    kamailio = KamailioInstance(db.url, tmp_path / "kamailio", sip_port=kam_ports.sip, http_port=kam_ports.http,
                                defines={"UAC_REG_GC_INTERVAL": "2"})
    node = AsteriskInstance(asterisk_prefix, tmp_path / "asterisk", name=node_plan.name)
    try:
        kamailio.start()
        manage(db.url, "asterisk_config", node_plan.name, "--out", str(node.etc), "--prefix", str(asterisk_prefix),
               "--state-dir", str(node.state), "--ami-permit", "127.0.0.0/8", key_file=key_file)
        try:
            node.start()
        except AsteriskError as exc:
            pytest.fail(f"Asterisk did not start on the restored database: {exc}", pytrace=False)
        running = time.monotonic() - t0

        check = manage(db.url, "check_estate", key_file=key_file, check=False)
        assert check.returncode == 0 and "Estate in sync." in check.stdout, check.stdout + check.stderr
        result = sip_register(kamailio, "1001", "voip.example.test", PASSWORD)
        assert result.ok, result.output
        assert "1001" in node.cli("pjsip show endpoint 1001"), "Asterisk reads the user from the restored views"
        assert manage(db.url, "shell", "--no-imports", "-c", SECRETS, key_file=key_file).stdout.strip() == repr(secrets)

        # --- the key is not in the dump: without it the secrets cannot be read, and the error says why
        stranger = manage(db.url, "shell", "--no-imports", "-c", SECRETS, key=Fernet.generate_key().decode(),
                          check=False)
        assert unreadable(stranger, secrets)

        # --- rotation: new key first, re-encrypt, old key out
        k1 = Fernet.generate_key()
        both = write_key(tmp_path / "credentials-rotating.key", k1, k0)
        assert manage(db.url, "rotate_credentials_key", "--check", key_file=both, check=False).returncode == 1
        rotation = manage(db.url, "rotate_credentials_key", key_file=both)
        assert f"Re-encrypted {len(secrets)} secret(s)" in rotation.stdout
        assert manage(db.url, "rotate_credentials_key", "--check", key_file=both).returncode == 0
        new_only = write_key(tmp_path / "credentials-new.key", k1)
        assert manage(db.url, "shell", "--no-imports", "-c", SECRETS, key_file=new_only).stdout.strip() == repr(secrets)
        check = manage(db.url, "check_estate", key_file=new_only, check=False)  # logs in to Asterisk's AMI
        assert check.returncode == 0 and "Estate in sync." in check.stdout, check.stdout + check.stderr
        assert unreadable(manage(db.url, "shell", "--no-imports", "-c", SECRETS, key_file=key_file, check=False),
                          secrets), "the old key alone no longer opens anything"
        rotated = time.monotonic() - t0
    finally:
        node.stop()
        kamailio.stop()
    print(f"\nbackup {backed_up:.1f}s, restore + schemas {restored - backed_up:.1f}s, Kamailio and Asterisk up "
          f"{running - restored:.1f}s, checks and key rotation {rotated - running:.1f}s "
          f"(dump {dump.stat().st_size // 1024} KiB)")


def test_rotate_credentials_key_rewrites_only_what_the_newest_key_cannot_read_and_refuses_an_unknown_key(
        db, settings, require_postgres):
    """In process: after a new key is put first, every secret is re-encrypted once (a second run changes nothing);
    a value no configured key opens stops the command before anything is written."""
    from django.core.management import CommandError, call_command
    from django.db import connection

    from sites.models import KamailioNode

    old, new = Fernet.generate_key(), Fernet.generate_key()
    settings.CREDENTIALS_KEYS = [old]
    KamailioNode.objects.create(name="kam", sip_address="kam.backup.test:5060", jsonrpc_url="http://127.0.0.1:9/RPC",
                                jsonrpc_username="rpc", jsonrpc_password="json-rpc-secret-1")

    def stored() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT jsonrpc_password FROM sites_kamailionode")
            return cursor.fetchone()[0]

    before = stored()
    settings.CREDENTIALS_KEYS = [new, old]
    with pytest.raises(SystemExit):
        call_command("rotate_credentials_key", "--check", stdout=open(os.devnull, "w"))
    call_command("rotate_credentials_key", stdout=open(os.devnull, "w"))
    after = stored()
    assert after != before and Fernet(new).decrypt(after.encode()) == b"json-rpc-secret-1"
    call_command("rotate_credentials_key", stdout=open(os.devnull, "w"))
    assert stored() == after, "nothing left to rotate: nothing rewritten"

    settings.CREDENTIALS_KEYS = [Fernet.generate_key()]
    with pytest.raises(CommandError, match="sites.KamailioNode.jsonrpc_password .* cannot be decrypted"):
        call_command("rotate_credentials_key")
    assert stored() == after
