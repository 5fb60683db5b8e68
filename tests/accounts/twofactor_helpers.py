"""Two-factor login in tests (the lead's browser walk, the role × endpoint matrix): codes and enrolment.

``enrol(user)`` gives an account a second factor straight in the database and returns its base32 secret;
``totp_now(secret)`` is the code an authenticator app would show (``at``: seconds since the epoch, default
now). A code works once: to log the same account in twice within 30 seconds, use ``unused_code(user)``,
which picks the next step the portal still accepts.
"""
from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts import twofactor
from accounts.models import AccountProfile


def totp_now(secret: str, at: float | None = None) -> str:
    return twofactor.totp(secret, at)


def enrol(user, *, secret: str | None = None, recovery_codes: list[str] | tuple[str, ...] = ()) -> str:
    """Enrol ``user`` (no audit entry: a fixture, not a change anyone made); returns the secret."""
    secret = secret or twofactor.new_secret()
    AccountProfile.objects.update_or_create(user=user, defaults={
        "totp_secret": secret, "totp_confirmed_at": timezone.now(), "totp_last_step": 0,
        "recovery_codes": [make_password(c) for c in recovery_codes]})
    twofactor._forget_cached_profile(user)
    return secret


def unused_code(user, at: float | None = None) -> str:
    """A code the portal accepts now for ``user``: the current step's, or the next one if that was spent."""
    profile = AccountProfile.objects.get(user=user)
    step = max(twofactor.time_step(at), profile.totp_last_step + 1)
    if step > twofactor.time_step(at) + twofactor.WINDOW:
        raise AssertionError("every code of this window was used: wait 30 seconds")
    return twofactor.hotp(twofactor._key(profile.totp_secret), step)
