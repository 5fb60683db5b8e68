"""Clash rules between service codes and the estate's numbering.

A code is refused when it equals, or is a prefix of / prefixed by, another code (``*12`` vs ``*123``:
a phone dialling overlap would never reach the longer one), or when it collides with an extension:
a number inside any site's extension range or an existing user's extension (equal or prefix, as above).
Conversely users must not take an extension a code reserves: :func:`reserved_extensions` is registered
with ``users.validators`` (users never imports services).
"""
from __future__ import annotations

from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from voipadmin import numbers


def _prefix_clash(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _range_clash(code: str, start: int, end: int) -> int | None:
    """An extension in [start, end] that equals ``code`` or starts with it, else None."""
    if not numbers.is_number(code) or code.startswith("0"):
        return None
    base, length = int(code), len(code)
    for digits in range(length, len(str(end)) + 1):
        scale = 10 ** (digits - length)
        low, high = max(base * scale, start), min((base + 1) * scale - 1, end)
        if low <= high:
            return low
    # an extension that is a prefix of the code
    for cut in range(1, length):
        head = int(code[:cut])
        if start <= head <= end:
            return head
    return None


def code_problems(code: str, *, exclude_pk: int | None = None) -> list[str]:
    """Why ``code`` cannot be used (empty when it is free)."""
    from sites.models import ExtensionRange

    from .models import ServiceCode

    problems = []
    others = ServiceCode.objects.exclude(pk=exclude_pk).values_list("code", "name")
    for other, name in others:
        if other == code:
            problems.append(gettext("%(code)s is already the code of %(name)s.") % {"code": code, "name": name})
        elif _prefix_clash(code, other):
            problems.append(gettext("%(code)s clashes with service code %(other)s (%(name)s): one is a prefix of "
                                    "the other.") % {"code": code, "other": other, "name": name})
    if numbers.is_number(code):
        for rng in ExtensionRange.objects.select_related("site"):
            hit = _range_clash(code, rng.start, rng.end)
            if hit is not None:
                problems.append((gettext("%(code)s collides with extension %(hit)s of site %(site)s (range "
                                         "%(start)s-%(end)s): the code is an extension pattern.")
                                 if str(hit) == code else
                                 gettext("%(code)s collides with extension %(hit)s of site %(site)s (range "
                                         "%(start)s-%(end)s): the code overlaps an extension pattern."))
                                % {"code": code, "hit": hit, "site": rng.site, "start": rng.start, "end": rng.end})
                break
        sip_user = _sip_user_model()
        if sip_user is not None:
            heads = [int(code[:cut]) for cut in range(1, len(code) + 1) if not code.startswith("0")]
            clash = (sip_user.objects.filter(extension__in=heads).values_list("extension", flat=True).first()
                     or _user_extension_starting_with(sip_user, code))
            if clash:
                problems.append(gettext("%(code)s collides with the extension %(extension)s of an existing user.")
                                % {"code": code, "extension": clash})
    return problems


def _sip_user_model():
    try:
        return apps.get_model("users", "SipUser")
    except LookupError:
        return None


def _user_extension_starting_with(sip_user, code: str):
    from django.db.models import CharField
    from django.db.models.functions import Cast

    return (sip_user.objects.annotate(ext_text=Cast("extension", CharField()))
            .filter(ext_text__startswith=code).values_list("extension", flat=True).first())


def validate_code(code: str, *, exclude_pk: int | None = None) -> None:
    problems = code_problems(code, exclude_pk=exclude_pk)
    if problems:
        raise ValidationError({"code": problems})


def site_ranges_guard(site, fields: dict, ranges: list[tuple[int, int]] | None) -> list[str]:
    """For sites.guards: refuse new extension ranges that would swallow a digit service code.

    Only clashes the change would *add* count: a site whose ranges already overlap a code (made
    before this guard existed) can still be edited.
    """
    if not ranges:
        return []
    from .models import ServiceCode

    codes = list(ServiceCode.objects.filter(code__regex=r"^[0-9]+$").values_list("code", "name"))
    if not codes:
        return []
    current = list(site.extension_ranges.values_list("start", "end")) if site.pk else []
    reasons = []
    for code, name in codes:
        if any(_range_clash(code, start, end) is not None for start, end in current):
            continue
        for start, end in ranges:
            hit = _range_clash(code, start, end)
            if hit is not None:
                reasons.append(gettext("Range %(start)s-%(end)s would collide with service code %(code)s (%(name)s) "
                                       "at extension %(hit)s; change or delete the code first.")
                               % {"start": start, "end": end, "code": code, "name": name, "hit": hit})
                break
    return reasons


def reserved_extensions(extensions: set[int]) -> dict[int, str]:
    """For users.validators: extensions a service code reserves (one query for any number of extensions)."""
    from .models import ServiceCode

    digit_codes = [(c, n) for c, n in ServiceCode.objects.filter(code__regex=r"^[0-9]+$").values_list("code", "name")]
    taken = {}
    for ext in extensions:
        for code, name in digit_codes:
            if _prefix_clash(str(ext), code):
                taken[ext] = gettext("%(extension)s clashes with service code %(code)s (%(name)s).") % {
                    "extension": ext, "code": code, "name": name}
                break
    return taken
