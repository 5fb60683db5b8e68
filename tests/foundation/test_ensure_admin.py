"""``manage.py ensure_admin``: the first administrator, and ``--reset`` when its one-time password was missed."""
from __future__ import annotations

import re
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from voipadmin.models import ChangeLogEntry

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


def _password(out: str) -> str:
    match = re.search(r"user: \S+\s+password: (\S+)", out)
    assert match, out
    return match.group(1)


def test_it_creates_the_administrator_once_and_prints_the_password_once():
    first = _password(_run())
    user = get_user_model().objects.get(username="admin")
    assert user.check_password(first) and user.is_superuser and user.groups.filter(name="Administrator").exists()
    again = _run()
    assert "already exists" in again and "--reset" in again and "password:" not in again
    entry = ChangeLogEntry.objects.get(object_id=str(user.pk), action=ChangeLogEntry.Action.CREATE)
    assert entry.actor == "manage.py ensure_admin" and first not in str(entry.changes)


def test_reset_issues_a_new_password_reenables_the_account_and_clears_its_lockouts(client):
    old = _password(_run())
    User = get_user_model()
    User.objects.filter(username="admin").update(is_active=False)
    AccessAttempt.objects.create(username="admin", ip_address="127.0.0.1", user_agent="test", attempt_time=timezone.now(),
                                 failures_since_start=50, get_data="", post_data="", http_accept="", path_info="/login/")
    new = _password(_run("--reset"))
    assert new != old
    user = User.objects.get(username="admin")
    assert user.is_active and user.check_password(new) and not user.check_password(old)
    assert not AccessAttempt.objects.filter(username="admin").exists()
    answer = client.post("/login/", {"username": "admin", "password": new})  # through the lock-out checks
    assert answer.status_code == 302 and client.session.get("_auth_user_id") == str(user.pk)
    entry = ChangeLogEntry.objects.get(object_id=str(user.pk), action=ChangeLogEntry.Action.UPDATE)
    assert entry.actor == "manage.py ensure_admin --reset" and "1 lock-out record(s) cleared" in entry.message
    assert new not in entry.message and new not in str(entry.changes)


def test_reset_of_an_account_that_does_not_exist_is_a_clear_error_and_creates_nothing():
    with pytest.raises(CommandError, match="no account 'nobody'"):
        _run("--reset", "--username", "nobody")
    assert not get_user_model().objects.filter(username="nobody").exists()
