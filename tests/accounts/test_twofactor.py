"""Two-factor login's rules: RFC 6238 codes, the ±1 step window, a code works once, recovery codes work once,
resets (by an administrator, by ``ensure_admin --reset``) are audited."""
from __future__ import annotations

import base64
import hashlib
import re
from io import StringIO

import pytest
from django.core.management import call_command

from accounts import twofactor
from accounts.models import AccountProfile
from voipadmin.models import ChangeLogEntry

from .twofactor_helpers import enrol, totp_now, unused_code

# RFC 6238 appendix B: the seeds are ASCII "1234567890" repeated to the hash's key length.
SEED_SHA1 = b"12345678901234567890"
SEED_SHA256 = b"12345678901234567890123456789012"
SEED_SHA512 = b"1234567890123456789012345678901234567890123456789012345678901234"
RFC6238 = [  # (time, SHA1, SHA256, SHA512), 8 digits
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
SECRET = base64.b32encode(SEED_SHA1).decode()  # GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
T = 1111111111.0  # a fixed moment: no test reads the wall clock


@pytest.fixture
def pinned_clock(monkeypatch):
    """The module's clock, set by the test (``pinned_clock.at = ...``)."""

    class Clock:
        at = T

    clock = Clock()
    monkeypatch.setattr(twofactor, "now", lambda: clock.at)
    return clock


@pytest.fixture
def fast_hashes(settings):
    """Recovery codes hashed quickly (the personas' passwords, made before, still check)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher",
                                 "django.contrib.auth.hashers.PBKDF2PasswordHasher"]


@pytest.mark.parametrize("at, sha1, sha256, sha512", RFC6238)
def test_codes_are_the_rfc_6238_test_vectors(at, sha1, sha256, sha512):
    step = twofactor.time_step(at)
    assert twofactor.hotp(SEED_SHA1, step, digits=8) == sha1
    assert twofactor.hotp(SEED_SHA256, step, digits=8, digest=hashlib.sha256) == sha256
    assert twofactor.hotp(SEED_SHA512, step, digits=8, digest=hashlib.sha512) == sha512
    assert twofactor.totp(SECRET, at) == sha1[-6:]  # what an app shows: 6 digits of the same value


def test_hotp_is_rfc_4226():
    expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
    assert [twofactor.hotp(SEED_SHA1, counter) for counter in range(10)] == expected


def test_a_code_of_the_step_before_or_after_is_accepted_but_not_two_steps_away():
    step = twofactor.time_step(T)
    for offset in (-1, 0, 1):
        assert twofactor.matching_step(SECRET, totp_now(SECRET, T + 30 * offset), at=T) == step + offset
    for offset in (-2, 2):
        assert twofactor.matching_step(SECRET, totp_now(SECRET, T + 30 * offset), at=T) is None


def test_a_spent_step_and_any_earlier_one_are_refused():
    step = twofactor.time_step(T)
    code = totp_now(SECRET, T)
    assert twofactor.matching_step(SECRET, code, at=T, after=step - 1) == step
    assert twofactor.matching_step(SECRET, code, at=T, after=step) is None
    assert twofactor.matching_step(SECRET, totp_now(SECRET, T - 30), at=T, after=step) is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", None])
def test_malformed_codes_are_refused(typed):
    assert twofactor.matching_step(SECRET, typed or "", at=T) is None


def test_a_typed_code_may_carry_spaces():
    code = totp_now(SECRET, T)
    assert twofactor.matching_step(SECRET, f" {code[:3]} {code[3:]} ", at=T) is not None


def test_the_secret_is_shown_grouped_and_as_an_otpauth_uri():
    secret = twofactor.new_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret) and twofactor._key(secret) != twofactor._key(twofactor.new_secret())
    assert twofactor.grouped(SECRET) == "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
    assert twofactor.totp(twofactor.grouped(SECRET), T) == twofactor.totp(SECRET, T)  # as typed by hand
    assert twofactor.provisioning_uri(SECRET, "alice") == \
        f"otpauth://totp/voipadmin:alice?secret={SECRET}&issuer=voipadmin"
    assert twofactor.provisioning_uri(SECRET, "ana maría").startswith("otpauth://totp/voipadmin:ana%20mar%C3%ADa?")


def test_the_qr_code_is_drawn_when_segno_is_installed(monkeypatch):
    try:
        import segno  # noqa: F401
    except ImportError:
        assert twofactor.qr_svg("otpauth://totp/x") is None
    else:
        assert twofactor.qr_svg("otpauth://totp/x").startswith("<svg")
    monkeypatch.setitem(__import__("sys").modules, "segno", None)  # absent: the page goes without it
    assert twofactor.qr_svg("otpauth://totp/x") is None


# --- with the database ------------------------------------------------------------------------------------------


def test_enrolment_needs_a_current_code_and_issues_ten_single_use_recovery_codes(alice, actor, fast_hashes):
    with pytest.raises(twofactor.CodeRefused):
        twofactor.confirm_enrolment(actor=actor, user=alice, secret=SECRET, code=totp_now(SECRET, T - 90), at=T)
    assert not twofactor.enabled_for(alice)

    codes = twofactor.confirm_enrolment(actor=actor, user=alice, secret=SECRET, code=totp_now(SECRET, T), at=T)
    assert len(codes) == len(set(codes)) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    profile = AccountProfile.objects.get(user=alice)
    assert profile.two_factor_enabled and profile.totp_secret == SECRET
    assert profile.totp_last_step == twofactor.time_step(T)  # the enrolment code cannot log in afterwards
    assert not any(c in str(profile.recovery_codes) for c in codes)  # hashes only

    entry = ChangeLogEntry.objects.filter(object_repr="alice", message="two-factor login enabled").get()
    assert SECRET not in str(entry.changes) and "recovery_codes" not in entry.changes

    with pytest.raises(twofactor.CodeRefused):  # once on, a second enrolment is refused
        twofactor.confirm_enrolment(actor=actor, user=alice, secret=SECRET, code=totp_now(SECRET, T + 30), at=T)


def test_a_code_logs_in_once(alice, actor):
    secret = enrol(alice)
    code = totp_now(secret, T)
    assert twofactor.use_code(actor=actor, user=alice, code=code, at=T)
    assert not twofactor.use_code(actor=actor, user=alice, code=code, at=T)  # replayed
    assert not twofactor.use_code(actor=actor, user=alice, code=totp_now(secret, T - 30), at=T)  # older
    assert twofactor.use_code(actor=actor, user=alice, code=totp_now(secret, T + 30), at=T)  # the next one


def test_unused_code_helper_gives_the_next_step_once_the_current_one_is_spent(alice, actor, pinned_clock):
    enrol(alice)
    first = unused_code(alice)
    assert twofactor.use_code(actor=actor, user=alice, code=first)
    second = unused_code(alice)
    assert second != first and twofactor.use_code(actor=actor, user=alice, code=second)
    with pytest.raises(AssertionError):
        unused_code(alice)


def test_each_recovery_code_works_once_and_is_struck_off(alice, actor, fast_hashes):
    enrol(alice, recovery_codes=["abcde-fghjk", "mnpqr-stuvw"])
    assert twofactor.verify(actor=actor, user=alice, code="ABCDE FGHJK")  # as typed from paper
    assert not twofactor.verify(actor=actor, user=alice, code="abcde-fghjk")
    assert len(AccountProfile.objects.get(user=alice).recovery_codes) == 1
    assert ChangeLogEntry.objects.filter(message="signed in with a recovery code; 1 left").count() == 1
    assert not twofactor.verify(actor=actor, user=alice, code="zzzzz-zzzzz")
    assert twofactor.verify(actor=actor, user=alice, code="mnpqrstuvw")


def test_new_recovery_codes_need_a_current_code_and_replace_the_old_ones(alice, actor, fast_hashes):
    secret = enrol(alice, recovery_codes=["abcde-fghjk"])
    with pytest.raises(twofactor.CodeRefused):
        twofactor.regenerate_recovery_codes(actor=actor, user=alice, code="000000", at=T)
    codes = twofactor.regenerate_recovery_codes(actor=actor, user=alice, code=totp_now(secret, T), at=T)
    assert len(codes) == 10
    assert not twofactor.use_recovery_code(actor=actor, user=alice, code="abcde-fghjk")
    assert twofactor.use_recovery_code(actor=actor, user=alice, code=codes[3])


def test_turning_it_off_needs_the_password_and_a_code(alice, actor):
    secret = enrol(alice)
    with pytest.raises(twofactor.CodeRefused):
        twofactor.disable(actor=actor, user=alice, password="wrong", code=totp_now(secret, T), at=T)
    with pytest.raises(twofactor.CodeRefused):
        twofactor.disable(actor=actor, user=alice, password="correct horse battery", code="123456", at=T - 3600)
    twofactor.disable(actor=actor, user=alice, password="correct horse battery", code=totp_now(secret, T), at=T)
    profile = AccountProfile.objects.get(user=alice)
    assert not profile.two_factor_enabled and profile.totp_secret == "" and profile.recovery_codes == []


def test_turning_it_off_is_refused_when_the_setting_requires_it_of_administrators(alice, bob, actor, settings):
    settings.REQUIRE_TWO_FACTOR = True
    secret = enrol(alice)
    with pytest.raises(twofactor.CodeRefused, match="required"):
        twofactor.disable(actor=actor, user=alice, password="correct horse battery", code=totp_now(secret, T), at=T)
    assert twofactor.enabled_for(alice)
    helpdesk = enrol(bob)  # the helpdesk is not obliged
    twofactor.disable(actor=actor, user=bob, password="correct horse battery", code=totp_now(helpdesk, T), at=T)
    assert not twofactor.enabled_for(bob)


def test_an_administrator_resets_another_accounts_second_factor_audited(alice, bob, actor):
    enrol(bob, recovery_codes=["abcde-fghjk"])
    twofactor.reset_two_factor(actor=actor, user=bob)
    profile = AccountProfile.objects.get(user=bob)
    assert not profile.two_factor_enabled and profile.recovery_codes == [] and profile.totp_last_step == 0
    entry = ChangeLogEntry.objects.get(message="two-factor login reset")
    assert (entry.actor, entry.object_repr) == ("alice", "bob") and "totp_confirmed_at" in entry.changes


def test_resetting_an_account_without_a_profile_creates_it(bob, actor):
    twofactor.reset_two_factor(actor=actor, user=bob)
    assert AccountProfile.objects.filter(user=bob).exists()
    assert ChangeLogEntry.objects.filter(object_repr="bob", message="two-factor login reset").exists()


def test_ensure_admin_reset_clears_the_administrators_second_factor(db):
    call_command("ensure_admin", stdout=StringIO())
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="admin")
    enrol(admin)
    call_command("ensure_admin", "--reset", stdout=StringIO())
    assert not AccountProfile.objects.get(user=admin).two_factor_enabled
    entry = ChangeLogEntry.objects.get(content_type__model="accountprofile", message="two-factor login reset")
    assert entry.actor == "manage.py ensure_admin --reset"
    assert "two-factor login reset" in ChangeLogEntry.objects.get(content_type__model="user", action="update").message


def test_required_for_means_administrators_only_and_only_with_the_setting(alice, bob, charlie, settings):
    assert not twofactor.required_for(alice)
    settings.REQUIRE_TWO_FACTOR = True
    assert twofactor.required_for(alice) and not twofactor.required_for(bob) and not twofactor.required_for(charlie)
    charlie.is_superuser = True
    assert twofactor.required_for(charlie)
