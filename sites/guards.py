"""Checks other apps register to veto a site change that would break what they keep.

Sites must not import the apps built on them, yet changing a site's SIP domain invalidates its users'
HA1 hashes and shrinking its extension ranges strands their extensions. Those apps register a guard
here; ``actions.update_site`` runs every guard before writing and refuses with their reasons.
"""
from __future__ import annotations

from typing import Callable

from .models import Site

# guard(site, new_fields, new_ranges or None) -> list of reasons to refuse
SiteGuard = Callable[[Site, dict, "list[tuple[int, int]] | None"], list[str]]
_GUARDS: list[SiteGuard] = []


def register(guard: SiteGuard) -> None:
    if guard not in _GUARDS:
        _GUARDS.append(guard)


def reasons_to_refuse(site: Site, fields: dict, ranges: list[tuple[int, int]] | None) -> list[str]:
    reasons: list[str] = []
    for guard in _GUARDS:
        reasons.extend(guard(site, fields, ranges))
    return reasons
