import hashlib

import pytest
from django.core.exceptions import ValidationError

from users import actions, validators
from users.models import SipUser
from voipadmin.kamailio.models import Subscriber
from voipadmin.models import ChangeLogEntry

pytestmark = pytest.mark.django_db

DOMAIN = "voip.example.test"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def sub(ext, domain=DOMAIN):
    return Subscriber.objects.filter(username=str(ext), domain=domain).first()


def test_creating_a_user_stores_only_the_digest_hashes_and_issues_a_password(make_user):
    user = make_user(1001)

    password = user.new_password
    assert len(password) >= 16
    assert user.ha1 == md5(f"1001:{DOMAIN}:{password}")
    assert user.ha1b == md5(f"1001@{DOMAIN}:{DOMAIN}:{password}")
    row = sub(1001)
    assert (row.password, row.ha1, row.ha1b) == ("", user.ha1, user.ha1b)
    assert password not in str(SipUser.objects.filter(pk=user.pk).values().get())


def test_a_given_password_is_used_and_a_missing_pin_is_generated(make_user):
    user = make_user(1002, password="a-given-password-123")
    assert user.new_password == "a-given-password-123"
    assert user.ha1 == md5(f"1002:{DOMAIN}:a-given-password-123")
    assert validators.pin_problem(user.voicemail_pin, 1002) is None
    assert user.new_voicemail_pin == user.voicemail_pin


def test_the_audit_log_never_holds_a_secret(make_user):
    user = make_user(1003, password="a-given-password-123", voicemail_pin="7391")
    entry = ChangeLogEntry.objects.get(content_type__model="sipuser", object_id=str(user.pk), action="create")
    text = str(entry.changes)
    assert "a-given-password-123" not in text and "7391" not in text and user.ha1 not in text
    assert entry.changes["ha1"] == [None, "********"] and entry.changes["voicemail_pin"] == [None, "********"]


def test_it_refuses_an_extension_outside_the_site_ranges(make_user):
    with pytest.raises(ValidationError) as exc:
        make_user(4001, site="central")
    assert "outside Central's extension ranges (1000–3999)" in str(exc.value.message_dict["extension"])
    assert not SipUser.objects.exists() and not Subscriber.objects.exists()


def test_it_refuses_an_extension_already_used_anywhere(make_user):
    make_user(1001)
    with pytest.raises(ValidationError) as exc:
        make_user(1001)
    assert "extension" in exc.value.message_dict
    assert SipUser.objects.count() == 1 and Subscriber.objects.count() == 1


def test_it_refuses_a_weak_pin_and_a_short_password(make_user):
    with pytest.raises(ValidationError) as exc:
        make_user(1004, voicemail_pin="1234", password="short")
    assert set(exc.value.message_dict) == {"voicemail_pin", "password"}


def test_it_refuses_an_extension_a_service_code_reserves(make_user, monkeypatch):
    monkeypatch.setattr(validators, "_EXTENSION_CHECKS", [lambda exts: {e: "used by service code" for e in exts}])
    with pytest.raises(ValidationError, match="service code"):
        make_user(1005)


def test_disabling_removes_the_subscriber_and_enabling_brings_it_back(make_user, actor):
    user = make_user(1001)
    hashes = (user.ha1, user.ha1b)

    actions.update_user(user, actor=actor, enabled=False)
    assert sub(1001) is None

    actions.update_user(user, actor=actor, enabled=True)
    assert (sub(1001).ha1, sub(1001).ha1b) == hashes


def test_changing_the_extension_moves_the_subscriber_and_issues_a_new_password(make_user, actor):
    user = make_user(1001)
    pk = user.pk

    user = actions.update_user(user, actor=actor, extension=1010)

    assert user.pk == pk  # never delete-and-recreate
    assert sub(1001) is None and sub(1010).ha1 == md5(f"1010:{DOMAIN}:{user.new_password}")
    assert ChangeLogEntry.objects.filter(content_type__model="sipuser", object_id=str(pk), message="SIP password reset").exists()


def test_moving_to_a_site_with_another_domain_rehashes_for_that_realm(make_user, actor, sites):
    user = make_user(1001)
    user = actions.update_user(user, actor=actor, site=sites["branch2"], extension=6001)
    assert sub(1001) is None
    assert sub(6001, "branch2.example.test").ha1 == md5(f"6001:branch2.example.test:{user.new_password}")


def test_a_plain_edit_keeps_the_password(make_user, actor):
    user = make_user(1001)
    ha1 = user.ha1
    user = actions.update_user(user, actor=actor, name="Renamed", nat=True)
    assert user.new_password is None and sub(1001).ha1 == ha1 == SipUser.objects.get().ha1


def test_deleting_removes_the_subscriber_and_is_audited(make_user, actor):
    user = make_user(1001)
    pk = user.pk
    actions.delete_user(user, actor=actor)
    assert not SipUser.objects.exists() and sub(1001) is None
    assert ChangeLogEntry.objects.filter(content_type__model="sipuser", object_id=str(pk), action="delete").exists()


def test_a_password_reset_returns_the_new_password_once_and_audits_without_it(make_user, actor):
    user = make_user(1001)
    old = user.ha1
    password = actions.reset_password(user, actor=actor)
    assert sub(1001).ha1 == md5(f"1001:{DOMAIN}:{password}") != old
    entry = ChangeLogEntry.objects.filter(content_type__model="sipuser", object_id=str(user.pk)).first()
    assert entry.message == "SIP password reset" and password not in str(entry.changes)


def test_a_voicemail_pin_reset_follows_the_policy(make_user, actor):
    user = make_user(1001)
    assert actions.reset_voicemail_pin(user, actor=actor, pin="7391") == "7391"
    assert SipUser.objects.get().voicemail_pin == "7391"
    with pytest.raises(ValidationError, match="extension itself"):
        actions.reset_voicemail_pin(user, actor=actor, pin="1001")
    generated = actions.reset_voicemail_pin(user, actor=actor)
    assert validators.pin_problem(generated, 1001) is None and SipUser.objects.get().voicemail_pin == generated
    assert ChangeLogEntry.objects.filter(content_type__model="sipuser", object_id=str(user.pk), message="Voicemail PIN reset").count() == 2


def test_changes_ask_no_asterisk_to_reload(make_user, actor, sites, pushed):
    """Users are realtime on every Asterisk (no cache): see tests/asterisk/test_push_real.py."""
    user = make_user(1001)
    assert pushed == []
    actions.update_user(user, actor=actor, nat=True)
    actions.reset_voicemail_pin(user, actor=actor, pin="7391")
    actions.reset_password(user, actor=actor)
    actions.delete_user(user, actor=actor)
    assert pushed == []


def test_demo_users_load_idempotently(db):
    from sites import demo as site_demo
    from users import demo
    from voipadmin.actors import Actor

    actor = Actor.command("load_demo_estate")
    sites = site_demo.load(actor)
    demo.load(actor, sites)
    entries = ChangeLogEntry.objects.count()
    users = demo.load(actor, sites)
    assert ChangeLogEntry.objects.count() == entries
    assert SipUser.objects.count() == len(users) == 12 and Subscriber.objects.count() == 12
    assert SipUser.objects.filter(site__slug="branch1", nat=True).count() == 3


def test_turning_voicemail_on_issues_a_pin(make_user, actor):
    user = make_user(1001, voicemail_enabled=False)
    assert user.voicemail_pin == ""
    user = actions.update_user(user, actor=actor, voicemail_enabled=True)
    assert user.new_voicemail_pin and SipUser.objects.get().voicemail_pin == user.new_voicemail_pin
