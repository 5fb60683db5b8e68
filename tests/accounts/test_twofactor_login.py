"""Two-factor login through the pages: the password then the code, enrolment, recovery codes, the required
setting. The module's clock is pinned (``accounts.twofactor.now``): codes are computed from the secret at that
moment, never from the wall clock."""
from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group

from accounts import twofactor
from accounts.models import AccountProfile
from voipadmin.models import ChangeLogEntry

from .twofactor_helpers import enrol, totp_now

T = 1700000000.0
PASSWORD = "correct horse battery"
MIDDLEWARE = "accounts.twofactor.TwoFactorRequiredMiddleware"


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        at = T

    pinned = Clock()
    monkeypatch.setattr(twofactor, "now", lambda: pinned.at)
    return pinned


@pytest.fixture
def fast_hashes(settings):
    """Recovery codes hashed quickly (the personas' passwords, made before, still check)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher",
                                 "django.contrib.auth.hashers.PBKDF2PasswordHasher"]


@pytest.fixture
def alice_secret(alice, fast_hashes):
    """Alice (administrator) has a second factor and two recovery codes."""
    return enrol(alice, recovery_codes=["abcde-fghjk", "mnpqr-stuvw"])


@pytest.fixture
def requiring(settings):
    """``VOIPADMIN_REQUIRE_TWO_FACTOR=true`` (and the middleware in place, as settings.py has it)."""
    settings.REQUIRE_TWO_FACTOR = True
    if MIDDLEWARE not in settings.MIDDLEWARE:
        middleware = list(settings.MIDDLEWARE)
        middleware.insert(middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, MIDDLEWARE)
        settings.MIDDLEWARE = middleware


def _password(client, username="alice", password=PASSWORD, next=None, **meta):
    data = {"username": username, "password": password, **({"next": next} if next else {})}
    return client.post("/login/", data, **meta)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- the log-in ---------------------------------------------------------------------------------------------


def test_an_account_without_a_second_factor_logs_in_with_its_password_as_before(client, alice):
    answer = _password(client)
    assert answer.status_code == 302 and answer["Location"] == "/" and _logged_in(client)


def test_the_password_then_the_code_logs_in(client, alice, alice_secret, clock):
    answer = _password(client)
    assert answer.status_code == 302 and answer["Location"] == "/login/code/"
    assert not _logged_in(client)  # not yet
    page = client.get("/login/code/")
    assert page.status_code == 200 and 'name="code"' in page.content.decode()
    assert client.get("/sites/").status_code == 302  # nothing of the portal before the code

    answer = client.post("/login/code/", {"code": totp_now(alice_secret, T)})
    assert answer.status_code == 302 and answer["Location"] == "/"
    assert client.session["_auth_user_id"] == str(alice.pk) and twofactor.PENDING_KEY not in client.session
    assert client.get("/sites/").status_code == 200


def test_the_page_asked_for_before_the_log_in_is_where_the_code_lands(client, alice, alice_secret, clock):
    _password(client, next="/sites/")
    assert client.post("/login/code/", {"code": totp_now(alice_secret, T)})["Location"] == "/sites/"


def test_a_code_cannot_be_used_twice(client, alice, alice_secret, clock):
    code = totp_now(alice_secret, T)
    _password(client)
    client.post("/login/code/", {"code": code})
    client.post("/logout/")
    _password(client)
    answer = client.post("/login/code/", {"code": code})
    assert answer.status_code == 200 and "That code is not right." in answer.content.decode()
    assert not _logged_in(client)
    assert client.post("/login/code/", {"code": totp_now(alice_secret, T + 30)}).status_code == 302  # the next


def test_a_recovery_code_logs_in_once(client, alice, alice_secret, clock):
    _password(client)
    assert client.post("/login/code/", {"code": "ABCDE-FGHJK"}).status_code == 302 and _logged_in(client)
    client.post("/logout/")
    _password(client)
    assert client.post("/login/code/", {"code": "abcde-fghjk"}).status_code == 200 and not _logged_in(client)
    assert len(AccountProfile.objects.get(user=alice).recovery_codes) == 1


def test_five_wrong_codes_send_the_person_back_to_the_password(client, alice, alice_secret, clock):
    _password(client, REMOTE_ADDR="127.0.0.7")
    for left in (4, 3, 2, 1):
        page = client.post("/login/code/", {"code": "000000"}, REMOTE_ADDR="127.0.0.7")
        assert page.status_code == 200 and f"{left} attempt" in page.content.decode()
    answer = client.post("/login/code/", {"code": "000000"}, REMOTE_ADDR="127.0.0.7")
    assert answer.status_code == 302 and answer["Location"] == "/login/"
    assert twofactor.PENDING_KEY not in client.session
    # the right code is too late now: the password is asked again
    assert client.post("/login/code/", {"code": totp_now(alice_secret, T)})["Location"] == "/login/"
    assert not _logged_in(client)
    assert "Too many wrong codes" in client.get("/login/").content.decode()
    # and the lock-out counts it as one failed log-in of alice from that address
    assert AccessAttempt.objects.get(username="alice", ip_address="127.0.0.7").failures_since_start == 1


def test_rounds_of_wrong_codes_end_in_the_lock_out(client, alice, alice_secret, clock):
    for _ in range(5):
        assert _password(client, REMOTE_ADDR="127.0.0.8")["Location"] == "/login/code/"
        for _ in range(5):
            answer = client.post("/login/code/", {"code": "000000"}, REMOTE_ADDR="127.0.0.8")
    assert answer.status_code == 429
    assert _password(client, REMOTE_ADDR="127.0.0.8").status_code == 429  # even with the right password


def test_the_code_step_waits_five_minutes(client, alice, alice_secret, clock):
    _password(client)
    clock.at = T + twofactor.PENDING_SECONDS + 1
    answer = client.post("/login/code/", {"code": totp_now(alice_secret, clock.at)})
    assert answer["Location"] == "/login/" and not _logged_in(client)
    assert "within five minutes" in client.get("/login/").content.decode()


def test_wrong_passwords_of_an_enrolled_account_still_lock_it_out(client, alice, alice_secret):
    for _ in range(4):
        assert _password(client, password="wrong", REMOTE_ADDR="127.0.0.5").status_code == 200
    assert _password(client, password="wrong", REMOTE_ADDR="127.0.0.5").status_code == 429
    assert _password(client, REMOTE_ADDR="127.0.0.5").status_code == 429
    assert twofactor.PENDING_KEY not in client.session


def test_the_code_page_without_a_password_first_goes_to_the_log_in(client):
    assert client.get("/login/code/")["Location"] == "/login/"
    assert client.post("/login/code/", {"code": "123456"})["Location"] == "/login/"


# --- enrolment and its page ---------------------------------------------------------------------------------


def test_enrolment_shows_the_secret_and_confirms_with_a_code_then_shows_recovery_codes_once(
        admin_client, alice, clock, fast_hashes):
    page = admin_client.get("/two-factor/")
    html = page.content.decode()
    secret = admin_client.session["twofactor_setup_secret"]
    assert twofactor.grouped(secret) in html
    assert f"otpauth://totp/voipadmin:alice?secret={secret}&amp;issuer=voipadmin" in html
    assert admin_client.get("/two-factor/").content.decode().count(twofactor.grouped(secret)) == 1  # same secret
    assert not AccountProfile.objects.filter(user=alice, totp_confirmed_at__isnull=False).exists()

    wrong = admin_client.post("/two-factor/", {"code": totp_now(secret, T - 300)})
    assert wrong.status_code == 200 and "That code is not right" in wrong.content.decode()

    done = admin_client.post("/two-factor/", {"code": totp_now(secret, T)})
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", done.content.decode())
    assert done.status_code == 200 and len(codes) == 10
    assert "no-cache" in done["Cache-Control"] or "no-store" in done["Cache-Control"]
    assert twofactor.enabled_for(alice) and AccountProfile.objects.get(user=alice).totp_secret == secret

    status = admin_client.get("/two-factor/").content.decode()  # now: its state, never the codes again
    assert "10 recovery codes left" in status and codes[0] not in status and secret not in status


def test_the_enrolment_page_draws_a_qr_code_when_segno_is_there(admin_client, monkeypatch):
    monkeypatch.setattr(twofactor, "qr_svg", lambda uri: "<svg id='fake-qr'></svg>")
    assert "fake-qr" in admin_client.get("/two-factor/").content.decode()
    monkeypatch.setattr(twofactor, "qr_svg", lambda uri: None)
    page = admin_client.get("/two-factor/")
    assert page.status_code == 200 and "twofactor-qr" not in page.content.decode()


def test_new_recovery_codes_from_the_page(admin_client, alice, alice_secret, clock):
    refused = admin_client.post("/two-factor/recovery-codes/", {"code": "000000"})
    assert refused.status_code == 200 and "That code is not right" in refused.content.decode()
    page = admin_client.post("/two-factor/recovery-codes/", {"code": totp_now(alice_secret, T)})
    assert len(re.findall(r"<li>[a-z2-9]{5}-[a-z2-9]{5}</li>", page.content.decode())) == 10
    assert not twofactor.use_recovery_code(actor=None, user=alice, code="abcde-fghjk")


def test_turning_it_off_from_the_page(admin_client, alice, alice_secret, clock):
    refused = admin_client.post("/two-factor/disable/", {"password": "wrong", "code": totp_now(alice_secret, T)})
    assert refused.status_code == 200 and "Wrong password." in refused.content.decode()
    answer = admin_client.post("/two-factor/disable/", {"password": PASSWORD, "code": totp_now(alice_secret, T)})
    assert answer["Location"] == "/two-factor/" and not twofactor.enabled_for(alice)
    assert ChangeLogEntry.objects.filter(message="two-factor login turned off", actor="alice").exists()


# --- required for administrators ----------------------------------------------------------------------------


def test_with_the_setting_an_administrator_without_it_is_sent_to_enrol_from_every_page(
        admin_client, alice, requiring, clock, fast_hashes):
    for path in ("/", "/sites/", "/users/", "/audit/", "/django-admin/"):
        answer = admin_client.get(path)
        assert (answer.status_code, answer["Location"]) == (302, "/two-factor/"), path
    page = admin_client.get("/two-factor/")
    assert page.status_code == 200 and "required for administrators" in page.content.decode()
    fragment = admin_client.get("/dashboard/", HTTP_HX_REQUEST="true")
    assert fragment["HX-Redirect"] == "/two-factor/"
    api = admin_client.get("/api/v1/sites/")
    assert api.status_code == 403 and "Two-factor login is required" in api.json()["detail"]

    secret = admin_client.session["twofactor_setup_secret"]
    admin_client.post("/two-factor/", {"code": totp_now(secret, T)})
    assert admin_client.get("/sites/").status_code == 200  # enrolled: the portal again
    page = admin_client.get("/two-factor/").content.decode()
    assert "it cannot be turned off" in page and 'action="/two-factor/disable/"' not in page


def test_with_the_setting_the_log_in_out_static_health_metrics_and_tokens_pass(admin_client, alice, requiring):
    from voipadmin.actors import Actor
    from voipadmin.api.tokens import create_token

    for path in ("/logout/", "/static/css/voipadmin.css", "/healthz", "/metrics", "/i18n/setlang/"):
        answer = admin_client.get(path)
        assert answer.get("Location") != "/two-factor/", path
    admin_client.force_login(alice)
    _token, key = create_token(actor=Actor(user=alice, label="alice", source="ui"), name="billing")
    answer = admin_client.get("/api/v1/sites/", HTTP_AUTHORIZATION=f"Token {key}")
    assert answer.status_code == 200


def test_with_the_setting_other_roles_and_enrolled_administrators_are_left_alone(
        client, alice, alice_secret, bob, requiring):
    client.force_login(bob)
    assert client.get("/users/").status_code == 200
    client.force_login(alice)
    assert client.get("/sites/").status_code == 200


def test_with_the_setting_a_superuser_without_the_role_must_enrol_too(client, charlie, requiring):
    charlie.is_superuser = True
    charlie.save()
    client.force_login(charlie)
    assert client.get("/sites/")["Location"] == "/two-factor/"


def test_without_the_setting_nobody_is_sent_to_enrol(admin_client, settings):
    settings.REQUIRE_TWO_FACTOR = False
    assert admin_client.get("/sites/").status_code == 200


def test_administrator_group_is_what_the_setting_looks_at(client, charlie, requiring):
    charlie.groups.add(Group.objects.get(name="Administrator"))
    client.force_login(charlie)
    assert client.get("/sites/")["Location"] == "/two-factor/"


def test_an_account_locked_out_while_its_code_was_awaited_is_not_logged_in(client, alice, alice_secret, clock):
    from django.utils import timezone

    _password(client, REMOTE_ADDR="127.0.0.9")
    AccessAttempt.objects.create(username="alice", ip_address="127.0.0.9", user_agent="<unknown>",
                                 attempt_time=timezone.now(), failures_since_start=5, get_data="", post_data="",
                                 http_accept="", path_info="/login/")
    answer = client.post("/login/code/", {"code": totp_now(alice_secret, T)}, REMOTE_ADDR="127.0.0.9")
    assert answer.status_code == 429 and not _logged_in(client)
    assert twofactor.PENDING_KEY not in client.session


def test_the_two_factor_pages_are_every_accounts_own(client, bob, charlie):
    """Self-service: any signed-in account may enrol (helpdesk and role-less too); nobody else's is reachable."""
    for person in (bob, charlie):
        client.force_login(person)
        assert client.get("/two-factor/").status_code == 200
        assert client.post("/two-factor/disable/", {})["Location"] == "/two-factor/"  # nothing to turn off
        assert client.get("/two-factor/disable/").status_code == 405
    client.logout()
    assert client.get("/two-factor/")["Location"].startswith("/login/?next=")
