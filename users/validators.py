"""Rules for extensions, SIP passwords and voicemail PINs (shared by actions, forms and the CSV import)."""
from __future__ import annotations

import secrets
from typing import Callable, Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, ngettext

PIN_MIN, PIN_MAX = 4, 10
PASSWORD_MIN = 16
PASSWORD_LENGTH = 20
# No look-alikes (0/O, 1/l/I) and nothing a phone keypad or a CSV file would trip over.
PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

# Other apps (services: feature codes) register a bulk check here: it receives extensions and returns
# {extension: reason} for those it reserves. Kept as a hook so users never imports services (wrong direction).
_EXTENSION_CHECKS: list[Callable[[set[int]], dict[int, str]]] = []


def register_extension_check(check: Callable[[set[int]], dict[int, str]]) -> None:
    if check not in _EXTENSION_CHECKS:
        _EXTENSION_CHECKS.append(check)


def unavailable_extensions(extensions: Iterable[int]) -> dict[int, str]:
    """Extensions some other part of the estate reserves (one query per registered check, not per extension)."""
    wanted = set(extensions)
    taken: dict[int, str] = {}
    for check in _EXTENSION_CHECKS:
        for ext, reason in check(wanted).items():
            taken.setdefault(ext, reason)
    return taken


def extension_available(extension: int) -> None:
    """Raise ValidationError when the extension clashes with a service code or the like."""
    reason = unavailable_extensions([extension]).get(extension)
    if reason:
        raise ValidationError({"extension": reason})


_UNBIASED = 256 - 256 % len(PASSWORD_ALPHABET)  # reject bytes above this so every character is equally likely


def generate_password() -> str:
    """20 characters from PASSWORD_ALPHABET out of the OS CSPRNG (``secrets``), without modulo bias."""
    chars: list[str] = []
    while len(chars) < PASSWORD_LENGTH:
        chars.extend(PASSWORD_ALPHABET[b % len(PASSWORD_ALPHABET)] for b in secrets.token_bytes(PASSWORD_LENGTH)
                     if b < _UNBIASED)
    return "".join(chars[:PASSWORD_LENGTH])


def codecs_problem(codecs: str) -> str | None:
    """Asterisk's ``allow`` takes codec names separated by commas; anything else must not reach ps_endpoints."""
    if codecs and not all(c and c.replace("_", "").isascii() and c.replace("_", "").isalnum()
                          for c in codecs.split(",")):
        return gettext("%(codecs)s is not a comma-separated list of codec names (e.g. alaw,ulaw,g722).") % {
            "codecs": repr(codecs)}
    return None


def validate_codecs(codecs: str) -> None:
    """Field validator (form, API and CSV import alike) for :func:`codecs_problem`."""
    if problem := codecs_problem(codecs):
        raise ValidationError(problem, code="codecs")


def validate_pin_digits(pin: str) -> None:
    """Field validator: a stored PIN is ASCII digits (the policy itself, :func:`pin_problem`, is the actions')."""
    if pin and not (pin.isascii() and pin.isdigit()):
        raise ValidationError(gettext("The PIN must contain digits only."), code="pin_digits")


def password_problem(password: str) -> str | None:
    if len(password) < PASSWORD_MIN:
        return gettext("The SIP password must have at least %(min)d characters.") % {"min": PASSWORD_MIN}
    if len(password) > 64:
        return gettext("The SIP password must have at most %(max)d characters.") % {"max": 64}
    if any(c.isspace() or not c.isprintable() for c in password) or any(c in password for c in ",\"'"):
        return gettext("The SIP password may not contain spaces, quotes or commas.")
    return None


def validate_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise ValidationError({"password": problem})


def _is_run(pin: str) -> bool:
    """1234, 4321, and the wrap-around 7890 / 0987 kind: every step +1 or every step -1 (mod 10)."""
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:])}
    return steps == {1} or steps == {9}


def pin_problem(pin: str, extension: int | str | None = None) -> str | None:
    """Why ``pin`` breaks the PIN policy, or None when it is acceptable."""
    if not pin.isdigit() or not pin.isascii():
        return gettext("The PIN must contain digits only.")
    if not PIN_MIN <= len(pin) <= PIN_MAX:
        return gettext("The PIN must have %(min)d to %(max)d digits.") % {"min": PIN_MIN, "max": PIN_MAX}
    if len(set(pin)) == 1:
        return gettext("The PIN may not be one repeated digit.")
    if _is_run(pin):
        return gettext("The PIN may not be a run of digits such as 1234 or 4321.")
    if extension is not None and pin == str(extension):
        return gettext("The PIN may not be the extension itself.")
    return None


def validate_pin(pin: str, extension: int | str | None = None) -> None:
    problem = pin_problem(pin, extension)
    if problem:
        raise ValidationError({"voicemail_pin": problem})


def generate_pin(extension: int | str | None = None, length: int = 6) -> str:
    while True:
        pin = str(secrets.randbelow(10 ** length)).zfill(length)
        if pin_problem(pin, extension) is None:
            return pin


def site_change_guard(site, fields: dict, ranges) -> list[str]:
    """Refuse site changes that would silently break its users (registered with sites.guards).

    A new SIP domain makes every stored HA1 useless (the realm is part of the hash), and a shrunk
    extension range would leave users outside their site's ranges.
    """
    from .models import SipUser

    reasons = []
    users = SipUser.objects.filter(site=site)
    new_domain = fields.get("sip_domain")
    if new_domain is not None and new_domain != site.sip_domain:
        count = users.count()
        if count:
            reasons.append(ngettext(
                "%(count)d user of %(site)s registers in %(domain)s; its SIP password is hashed with that domain. "
                "Move it to another site or delete it before changing it.",
                "%(count)d users of %(site)s register in %(domain)s; their SIP passwords are hashed with that "
                "domain. Move them to another site or delete them before changing it.",
                count) % {"count": count, "site": site, "domain": site.sip_domain})
    if ranges is not None:
        stranded = [ext for ext in users.values_list("extension", flat=True)
                    if not any(start <= ext <= end for start, end in ranges)]
        if stranded:
            shown = ", ".join(str(e) for e in sorted(stranded)[:10]) + ("…" if len(stranded) > 10 else "")
            reasons.append(ngettext("Extension %(extensions)s of %(site)s would fall outside its ranges.",
                                    "Extensions %(extensions)s of %(site)s would fall outside its ranges.",
                                    len(stranded)) % {"extensions": shown, "site": site})
    return reasons
