"""A password cannot be guessed from many addresses: past a ceiling of failures per account (from any address,
within the cool-off window) the account is locked everywhere, once, with an alert in the audit log."""
from __future__ import annotations

import datetime

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group

from voipadmin.lockout import ALERT
from voipadmin.models import ChangeLogEntry

LIMIT = 20


@pytest.fixture
def erin(db, django_user_model, settings):
    """Erin is an administrator whose name an attacker knows."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = LIMIT
    user = django_user_model.objects.create_user(username="erin", password="correct horse battery")
    user.groups.add(Group.objects.get(name="Administrator"))
    return user


@pytest.fixture
def guesses(monkeypatch):
    """How many times a password was actually checked."""
    checked = []
    original = ModelBackend.authenticate

    def authenticate(self, request, username=None, password=None, **kwargs):
        checked.append(username)
        return original(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", authenticate)
    return checked


def _login(client, password: str, address: str, username: str = "erin"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_a_hundred_addresses_cannot_make_five_hundred_guesses(client, erin, guesses, django_user_model):
    answers = [_login(client, f"guess-{a}-{i}", f"127.0.0.{a}").status_code for a in range(1, 101) for i in range(5)]
    assert len(answers) == 500
    assert guesses.count("erin") == LIMIT  # not 500: every later attempt was refused unchecked
    assert set(answers[LIMIT - 1:]) == {429}  # from the one that crossed the ceiling on, every answer is the lock

    locked = _login(client, "correct horse battery", "127.0.0.200")  # erin herself, from a fresh address
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    assert "This account is locked: too many failed log-ins for it, from several addresses" in locked.content.decode()

    alerts = ChangeLogEntry.objects.filter(message__startswith=ALERT)
    assert [(a.object_id, a.object_repr, a.action, a.source) for a in alerts] == [(str(erin.pk), "erin", "other",
                                                                                   "system")]
    assert alerts[0].message.startswith(f"{ALERT}: {LIMIT} failed log-ins from 4 address(es) within 15 minutes")

    other = django_user_model.objects.create_user(username="frank", password="another good password")
    other.groups.add(Group.objects.get(name="Administrator"))
    assert _login(client, "another good password", "127.0.0.7", username="frank").status_code == 302  # not frank
    listing = client.get("/audit/", {"q": ALERT})  # where an administrator sees it
    assert listing.status_code == 200 and "erin" in listing.content.decode()
    assert ALERT in client.get(f"/audit/{alerts[0].pk}/").content.decode()


def test_the_lock_lifts_a_cool_off_after_the_last_failure_and_a_new_lock_alerts_again(client, erin, guesses):
    for a in range(1, 5):
        for i in range(5):
            _login(client, f"guess-{i}", f"127.0.0.{a}")
    assert _login(client, "correct horse battery", "127.0.0.99").status_code == 429
    AccessAttempt.objects.update(attempt_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
    assert _login(client, "correct horse battery", "127.0.0.99").status_code == 302  # the window has passed
    client.post("/logout/")
    for a in range(11, 16):
        for i in range(4):
            _login(client, f"guess-{i}", f"127.0.0.{a}")
    assert ChangeLogEntry.objects.filter(message__startswith=ALERT).count() == 2


def test_a_few_failures_from_one_address_still_lock_only_that_address(client, erin):
    for _ in range(5):
        _login(client, "wrong", "127.0.0.5")
    assert _login(client, "correct horse battery", "127.0.0.5").status_code == 429
    assert _login(client, "correct horse battery", "127.0.0.6").status_code == 302
    assert not ChangeLogEntry.objects.filter(message__startswith=ALERT).exists()
