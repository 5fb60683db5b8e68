"""Two-factor login: a time-based one-time code (TOTP, RFC 6238) after the password, and recovery codes.

* The maths is RFC 4226/6238 with ``hmac``: SHA-1, 6 digits, 30-second steps, the step before and after
  accepted (phones drift). A code works once: an accepted step is stored (``totp_last_step``) and only a
  later step is accepted after it, under the profile's row lock, so two requests racing with one code
  cannot both win.
* Ten recovery codes are issued at enrolment (and on request), shown once, stored as password hashes;
  each works once.
* ``REQUIRE_TWO_FACTOR`` (``VOIPADMIN_REQUIRE_TWO_FACTOR``): administrators without a second factor are
  sent to the enrolment page on every portal page until they enrol (``TwoFactorRequiredMiddleware``).
* Every change of the second factor goes through ``voipadmin.crud`` on the account's profile (audited; the
  secret, the last step and the code hashes are never written into the log).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from voipadmin import crud
from voipadmin.actors import Actor
from voipadmin.fields import is_undecryptable
from voipadmin.roles import ADMINISTRATOR

from .models import AccountProfile

ISSUER = "voipadmin"
DIGITS = 6
STEP_SECONDS = 30
WINDOW = 1  # steps either side of now: a phone's clock may be a little off
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper, typed by hand
RECOVERY_CODE_LENGTH = 10  # ~50 bits each
#: the log-in's second step: wrong codes allowed before the password is asked again, and how long it waits
MAX_CODE_ATTEMPTS = 5
PENDING_SECONDS = 300


class CodeRefused(ValidationError):
    """The one-time code (or password) given does not prove the second factor."""


# --- RFC 4226 / RFC 6238 -------------------------------------------------------------------------------------


def new_secret() -> str:
    """160 random bits (RFC 4226's recommended key length), base32 as authenticator apps read it."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def _key(secret: str) -> bytes:
    clean = "".join(secret.split()).upper()
    return base64.b32decode(clean + "=" * (-len(clean) % 8))


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, digest=hashlib.sha1) -> str:
    """RFC 4226: the code for ``counter`` (dynamic truncation of HMAC(key, counter))."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


def now() -> float:
    """Seconds since the Unix epoch: the one clock of this module (tests set it)."""
    return time.time()


def time_step(at: float | None = None) -> int:
    """RFC 6238's T: whole 30-second steps since the Unix epoch (``at``: seconds, default now)."""
    return int((now() if at is None else at) // STEP_SECONDS)


def totp(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows at ``at`` for this base32 secret."""
    return hotp(_key(secret), time_step(at))


def matching_step(secret, code: str, *, at: float | None = None, after: int = 0) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side), if later than ``after``; else None."""
    code = "".join(str(code).split())
    if not secret or is_undecryptable(secret) or len(code) != DIGITS or not code.isdigit():
        return None
    key, now = _key(str(secret)), time_step(at)
    found = None
    for step in range(now - WINDOW, now + WINDOW + 1):  # every step compared: no early exit to time
        if step > after and hmac.compare_digest(hotp(key, step), code):
            found = step
    return found


def grouped(secret: str) -> str:
    """The secret in groups of four, as people type it into an app."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI authenticator apps scan (Google Authenticator's key-URI format)."""
    label = quote(f"{ISSUER}:{username}", safe=":@")
    return f"otpauth://totp/{label}?" + urlencode({"secret": secret, "issuer": ISSUER}, quote_via=quote)


def qr_svg(uri: str) -> str | None:
    """The URI as an inline SVG QR code, or None when ``segno`` (optional, pure Python) is not installed."""
    try:
        import segno
    except ImportError:
        return None
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff")


# --- recovery codes ------------------------------------------------------------------------------------------


def new_recovery_codes() -> list[str]:
    return [_format_code("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH)))
            for _ in range(RECOVERY_CODE_COUNT)]


def _format_code(raw: str) -> str:
    half = RECOVERY_CODE_LENGTH // 2
    return f"{raw[:half]}-{raw[half:]}"


def normalise_recovery_code(text: str) -> str | None:
    """A recovery code as typed (any case, spaces or dashes) in its stored form, or None if it cannot be one."""
    raw = "".join(c for c in str(text).lower() if c not in " -\t")
    if len(raw) != RECOVERY_CODE_LENGTH or any(c not in RECOVERY_ALPHABET for c in raw):
        return None
    return _format_code(raw)


def _hashed(codes: list[str]) -> list[str]:
    return [make_password(code) for code in codes]


# --- who needs it --------------------------------------------------------------------------------------------


def profile_of(user) -> AccountProfile | None:
    try:
        return user.profile
    except AccountProfile.DoesNotExist:
        return None


def enabled_for(user) -> bool:
    profile = profile_of(user)
    return bool(profile and profile.two_factor_enabled)


def is_administrator(user) -> bool:
    return bool(user.is_superuser or user.groups.filter(name=ADMINISTRATOR).exists())


def required() -> bool:
    return bool(getattr(settings, "REQUIRE_TWO_FACTOR", False))


def required_for(user) -> bool:
    """Whether the setting obliges this account to keep a second factor (administrators)."""
    return required() and user.is_authenticated and is_administrator(user)


# --- writes (through crud: audited) --------------------------------------------------------------------------

_CLEARED = {"totp_secret": "", "totp_confirmed_at": None, "totp_last_step": 0, "recovery_codes": []}


def _profile_for_write(actor: Actor, user) -> AccountProfile:
    """The account's profile, created (audited) if it has none yet."""
    existing = AccountProfile.objects.filter(user=user).first()
    if existing is not None:
        return existing
    return crud.create(AccountProfile, actor=actor, fields={"user": user})


def _refuse(message: str) -> CodeRefused:
    return CodeRefused(message, code="invalid")


def confirm_enrolment(*, actor: Actor, user, secret: str, code: str, at: float | None = None) -> list[str]:
    """Keep ``secret`` as the account's second factor once ``code`` proves the app has it; returns the
    recovery codes (plain, to be shown once: only their hashes are stored)."""
    if enabled_for(user):
        raise _refuse(_("Two-factor login is already on for this account."))
    step = matching_step(secret, code, at=at)
    if step is None:
        raise _refuse(_("That code is not right. Check the phone's clock and enter the code shown now."))
    codes = new_recovery_codes()
    with transaction.atomic():
        profile = _profile_for_write(actor, user)
        crud.update(profile, actor=actor, message="two-factor login enabled",
                    fields={"totp_secret": secret, "totp_confirmed_at": timezone.now(), "totp_last_step": step,
                            "recovery_codes": _hashed(codes)})
    _forget_cached_profile(user)
    return codes


def use_code(*, actor: Actor, user, code: str, at: float | None = None) -> bool:
    """Check a one-time code of an enrolled account and spend its step (a code works once)."""
    with transaction.atomic():
        profile = AccountProfile.objects.filter(user=user).first()
        if profile is None or not profile.two_factor_enabled:
            return False
        locked = crud.lock(profile)  # two requests with one code: the second waits, then sees the step spent
        step = matching_step(locked.totp_secret, code, at=at, after=locked.totp_last_step)
        if step is None:
            return False
        crud.update(locked, actor=actor, fields={"totp_last_step": step})
    _forget_cached_profile(user)
    return True


def use_recovery_code(*, actor: Actor, user, code: str) -> bool:
    """Check a recovery code and strike it off (each works once)."""
    typed = normalise_recovery_code(code)
    if typed is None:
        return False
    with transaction.atomic():
        profile = AccountProfile.objects.filter(user=user).first()
        if profile is None or not profile.two_factor_enabled:
            return False
        locked = crud.lock(profile)
        hashes = list(locked.recovery_codes or [])
        used = next((h for h in hashes if check_password(typed, h)), None)  # (each check is a slow hash)
        if used is None:
            return False
        left = [h for h in hashes if h != used]
        crud.update(locked, actor=actor, fields={"recovery_codes": left},
                    message=f"signed in with a recovery code; {len(left)} left")
    _forget_cached_profile(user)
    return True


def verify(*, actor: Actor, user, code: str, at: float | None = None) -> bool:
    """A one-time code, or failing that a recovery code."""
    return use_code(actor=actor, user=user, code=code, at=at) or use_recovery_code(actor=actor, user=user, code=code)


def regenerate_recovery_codes(*, actor: Actor, user, code: str, at: float | None = None) -> list[str]:
    """New recovery codes (the old ones stop working), once a current one-time code is given."""
    if not use_code(actor=actor, user=user, code=code, at=at):
        raise _refuse(_("That code is not right: enter the code your app shows now."))
    codes = new_recovery_codes()
    crud.update(AccountProfile.objects.get(user=user), actor=actor, message="recovery codes replaced",
                fields={"recovery_codes": _hashed(codes)})
    _forget_cached_profile(user)
    return codes


def disable(*, actor: Actor, user, password: str, code: str, at: float | None = None) -> None:
    """Turn the account's second factor off: its password and a current code needed;
    refused where the setting requires two-factor login of this account."""
    if required_for(user):
        raise _refuse(_("Two-factor login is required for administrators: it cannot be turned off."))
    if not user.check_password(password):
        raise _refuse(_("Wrong password."))
    if not use_code(actor=actor, user=user, code=code, at=at):
        raise _refuse(_("That code is not right: enter the code your app shows now."))
    crud.update(AccountProfile.objects.get(user=user), actor=actor, message="two-factor login turned off",
                fields=dict(_CLEARED))
    _forget_cached_profile(user)


def reset_two_factor(*, actor: Actor, user) -> AccountProfile:
    """An administrator (or the operator's shell) takes an account's second factor away — a lost phone.
    The account logs in with its password alone (and is asked to enrol again where that is required)."""
    with transaction.atomic():
        profile = _profile_for_write(actor, user)
        profile = crud.update(profile, actor=actor, message="two-factor login reset", fields=dict(_CLEARED))
    _forget_cached_profile(user)
    return profile


def _forget_cached_profile(user) -> None:
    """``user.profile`` is cached on the instance (and loaded with it): re-read it next time."""
    try:
        del user._state.fields_cache["profile"]
    except (AttributeError, KeyError):
        pass


# --- the log-in's second step (session state between the password and the code) ----------------------------

PENDING_KEY = "twofactor_pending"


def begin_pending(request, user, *, redirect_to: str = "") -> None:
    """The password was right and the account has a second factor: remember who, not logged in yet."""
    request.session.cycle_key()  # a fresh session id for the half-logged-in state
    request.session[PENDING_KEY] = {"user": user.pk, "backend": getattr(user, "backend", ""),
                                    "since": now(), "attempts": 0, "next": redirect_to}


def pending(request) -> dict | None:
    """The waiting log-in, if there is one and it is not older than ``PENDING_SECONDS``."""
    state = request.session.get(PENDING_KEY)
    if not state:
        return None
    if now() - state.get("since", 0) > PENDING_SECONDS:
        end_pending(request)
        return None
    return state


def count_wrong_code(request) -> int:
    """One more wrong code; returns how many are left (0: the log-in starts again at the password)."""
    state = request.session[PENDING_KEY]
    state["attempts"] = state.get("attempts", 0) + 1
    request.session[PENDING_KEY] = state
    left = MAX_CODE_ATTEMPTS - state["attempts"]
    if left <= 0:
        end_pending(request)
    return max(left, 0)


def end_pending(request) -> None:
    request.session.pop(PENDING_KEY, None)


# --- administrators enrol when the setting requires it -------------------------------------------------------


def _exempt(path: str) -> bool:
    prefixes = ["/" + settings.STATIC_URL.strip("/") + "/", "/healthz", "/metrics", "/i18n/",
                reverse("login"), reverse("logout"), reverse("twofactor:setup"), reverse("twofactor:verify")]
    return any(path.startswith(p) for p in prefixes)


class TwoFactorRequiredMiddleware:
    """With ``REQUIRE_TWO_FACTOR``, an administrator without a second factor sees the enrolment page instead
    of any portal page until enrolled. API token requests (no session account), the log-in and log-out,
    the enrolment pages themselves, static files, ``/healthz`` and ``/metrics`` pass untouched."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._must_enrol(request):
            return self._to_enrolment(request)
        return self.get_response(request)

    @staticmethod
    def _must_enrol(request) -> bool:
        if not required():
            return False
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or getattr(user, "token", None) is not None:
            return False
        if request.path.startswith("/api/") and request.META.get("HTTP_AUTHORIZATION"):
            return False  # a token request: DRF authenticates it, the session is not used
        if enabled_for(user):  # (the common case, and no query: the profile comes with the account)
            return False
        return not _exempt(request.path) and is_administrator(user)

    @staticmethod
    def _to_enrolment(request):
        url = reverse("twofactor:setup")
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": _("Two-factor login is required: enrol at %(url)s first.")
                                 % {"url": url}}, status=403)
        if request.headers.get("HX-Request"):  # an HTMX fragment: move the whole page, not the fragment
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)
