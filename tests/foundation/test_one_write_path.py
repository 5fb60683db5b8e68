"""Every domain write goes through ``voipadmin.crud`` (row lock, validation, audit, effects), projections run in
the actions — never in model signals — and the Celery broker keeps its state under ``var/``."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.apps import apps
from django.db import close_old_connections, connection, transaction
from django.db.models import signals

ROOT = Path(__file__).resolve().parents[2]
OUR_APPS = ("voipadmin", "sites", "push", "users", "trunks", "services", "cdrs", "live", "nodeconf", "ops")
MODEL_SIGNALS = {"pre_save": signals.pre_save, "post_save": signals.post_save, "pre_delete": signals.pre_delete,
                 "post_delete": signals.post_delete, "m2m_changed": signals.m2m_changed}


def _ours(module: str) -> bool:
    return module.split(".")[0] in OUR_APPS


def _domain_models():
    return [m for m in apps.get_models() if _ours(m.__module__)]


@pytest.mark.parametrize("signal_name", sorted(MODEL_SIGNALS))
def test_no_model_of_ours_has_a_signal_receiver_of_ours(signal_name):
    """Projections are the actions' effects (crud ``effects``/``Hook``s), so a bulk write cannot skip them and
    a save cannot raise from inside a receiver. (Every model, so the next one added is covered too.)"""
    signal = MODEL_SIGNALS[signal_name]
    models = _domain_models()
    assert len(models) > 20
    found = []
    for model in models:
        sync, async_ = signal._live_receivers(model)
        for receiver in [*sync, *async_]:
            module = getattr(receiver, "__module__", "") or ""
            if _ours(module):
                found.append(f"{model._meta.label}: {module}.{getattr(receiver, '__qualname__', receiver)}")
    assert found == []


def test_no_app_writes_the_audit_log_by_hand():
    """``audit.record`` is called by ``voipadmin.crud`` alone: an action that snapshots, saves and logs on its
    own is the second write path the issue is about."""
    offenders = []
    for app in OUR_APPS:
        for path in (ROOT / app).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ("voipadmin/crud.py", "voipadmin/audit.py") or "/migrations/" in rel:
                continue
            if "audit.record(" in path.read_text():
                offenders.append(rel)
    assert offenders == []


def test_every_app_actions_module_writes_through_crud():
    for app in ("sites", "push", "users", "trunks", "services"):
        source = (ROOT / app / "actions.py").read_text()
        assert "crud.update(" in source or "crud.create(" in source, app
        assert "select_for_update" not in source, app  # (the lock is crud's: one place takes it)


# --- the row lock and PATCH semantics -------------------------------------------------------------------------


def test_an_update_from_a_stale_copy_changes_only_the_fields_it_names(actor):
    from sites import actions as site_actions
    from users import actions
    from users.models import SipUser

    site = site_actions.create_site(actor=actor, name="Central", slug="central", kind="central",
                                    sip_domain="voip.example.test", ranges=[(1000, 1999)])
    stale = actions.create_user(actor=actor, extension=1001, name="Ana", email="ana@example.test", site=site)
    SipUser.objects.filter(pk=stale.pk).update(name="Ana María")  # someone else, meanwhile
    actions.update_user(stale, actor=actor, email="ana.maria@example.test")
    fresh = SipUser.objects.get()
    assert (fresh.name, fresh.email) == ("Ana María", "ana.maria@example.test")
    from voipadmin.models import ChangeLogEntry

    entry = ChangeLogEntry.objects.filter(object_id=str(fresh.pk), action="update").get()
    assert entry.changes == {"email": ["ana@example.test", "ana.maria@example.test"]}  # diffed from the stored row


def _in_thread(fn, results: list, key: str) -> threading.Thread:
    def run():
        try:
            results.append((key, fn(), time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results.append((key, exc, time.monotonic()))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["user", "site", "trunk", "csv import"])
def test_an_update_waits_for_a_concurrent_writer_and_keeps_its_change(kind, require_postgres, actor):
    """crud.update locks the stored row (SELECT … FOR UPDATE): a writer holding it makes the update wait, and
    the update then starts from what that writer committed (its own fields only, PATCH)."""
    from sites import actions as site_actions
    from trunks import actions as trunk_actions
    from users import actions as user_actions

    site = site_actions.create_site(actor=actor, name="Central", slug="central", kind="central",
                                    sip_domain="voip.example.test", ranges=[(1000, 1999)])
    if kind == "user":
        obj = user_actions.create_user(actor=actor, extension=1001, name="Ana", site=site)
        model, other, mine = type(obj), {"name": "Ana Locked"}, {"email": "ana@example.test"}
        update = lambda: user_actions.update_user(obj, actor=actor, **mine)  # noqa: E731
    elif kind == "site":
        obj = site
        model, other, mine = type(obj), {"name": "Central Locked"}, {"time_zone": "Europe/Madrid"}
        update = lambda: site_actions.update_site(obj, actor=actor, **mine)  # noqa: E731
    elif kind == "csv import":
        from users import csvio

        obj = user_actions.create_user(actor=actor, extension=1001, name="Ana", site=site)
        model, other, mine = type(obj), {"nat": True}, {"name": "Ana B"}
        update = lambda: csvio.import_csv(b"extension,name,email,site\n1001,Ana B,,central\n",  # noqa: E731
                                          actor=actor)[1].updated
    else:
        obj = trunk_actions.create_itsp_trunk(actor=actor, name="itsp1", host="127.0.0.20",
                                              ip_addresses="127.0.0.20", address_group=2)
        model, other, mine = type(obj), {"description": "Locked"}, {"port": 5080}
        update = lambda: trunk_actions.update_itsp_trunk(obj, actor=actor, **mine)  # noqa: E731

    locked, release, results = threading.Event(), threading.Event(), []

    def holder():
        close_old_connections()
        with transaction.atomic():
            model.objects.select_for_update().filter(pk=obj.pk).update(**other)
            locked.set()
            release.wait(10)
            time.sleep(0.3)
            return time.monotonic()

    first = _in_thread(holder, results, "holder")
    assert locked.wait(10)
    second = _in_thread(update, results, "update")
    time.sleep(0.2)
    waiting = second.is_alive()
    release.set()
    first.join(10)
    second.join(10)
    by_key = {k: (v, t) for k, v, t in results}
    assert not isinstance(by_key["update"][0], Exception), by_key["update"][0]
    assert waiting, "the update did not wait for the row lock"
    assert by_key["update"][1] >= by_key["holder"][0]  # it finished after the holder committed
    fresh = model.objects.get(pk=obj.pk)
    for name, value in {**other, **mine}.items():
        assert getattr(fresh, name) == value, name


# --- Celery's filesystem broker keeps its state in var/ --------------------------------------------------------


def test_the_filesystem_broker_keeps_its_exchange_files_under_var(tmp_path):
    """kombu's filesystem transport writes ``control/`` into the working directory unless told otherwise."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "DATABASE_URL"}}
    env.update(VOIPADMIN_VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="voipadmin.settings")
    code = ("import django; django.setup()\n"
            "from voipadmin.celery import app\n"
            "app.send_task('users.tasks.purge_import_files')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert not (cwd / "control").exists()
    assert (tmp_path / "var" / "celery-control" / "celery.exchange").exists()
    assert any((tmp_path / "var" / "celery-broker").iterdir())
