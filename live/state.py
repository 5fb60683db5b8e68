"""Estate-wide state of extensions, merged from Kamailio and every Asterisk.

Phones register with Kamailio, so an Asterisk often does not know a phone's contact
(its PJSIP device then reads UNAVAILABLE) while Kamailio does.  The merge therefore
lets any Asterisk's *activity* win (ringing > in use), then idle (an Asterisk that
can reach the device), then a Kamailio registration, and only then "unavailable".

Kamailio's presence (``PresenceState``, the lamps' state, merged by the poller from every publication) joins
the same way: ringing or in a call wins like an Asterisk's activity; "idle" (publications, no dialog up)
makes a *registered* extension idle, but not an unregistered one, since Asterisk publishes "terminated" for
an UNAVAILABLE device too: no call is not the same as reachable.
"""
from __future__ import annotations

from typing import Iterable

from django.db.models import Q
from django.utils import timezone

from .choices import ExtensionStatus
from .models import DeviceState, ExtensionState, PresenceState, Registration

# Asterisk device states (ast_devstate_str) → estate state.
_DEVICE = {
    "RINGING": ExtensionStatus.RINGING,
    "RINGINUSE": ExtensionStatus.RINGING,
    "INUSE": ExtensionStatus.IN_USE,
    "BUSY": ExtensionStatus.IN_USE,
    "ONHOLD": ExtensionStatus.IN_USE,
    "NOT_INUSE": ExtensionStatus.IDLE,
}
# Hint status bits (AST_EXTENSION_*): 1 in use, 2 busy, 8 ringing, 16 on hold; 0 idle.
_RANK = {ExtensionStatus.RINGING: 4, ExtensionStatus.IN_USE: 3, ExtensionStatus.IDLE: 2,
         ExtensionStatus.REGISTERED: 1, ExtensionStatus.UNAVAILABLE: 0}


def _from_hint(status: int) -> str | None:
    if status < 0 or status & 4:  # removed/deactivated, or UNAVAILABLE
        return None
    if status & 8:
        return ExtensionStatus.RINGING
    if status & (1 | 2 | 16):
        return ExtensionStatus.IN_USE
    return ExtensionStatus.IDLE


def extension_states(extensions: Iterable[str]) -> dict[str, str]:
    """``{"1001": "in_use", "1002": "unavailable", ...}`` for the given extensions.

    Four queries whatever the number of extensions (use it once per page, not per row).
    Values are ``live.choices.ExtensionStatus`` values.
    """
    wanted = {str(e) for e in extensions if e not in (None, "")}
    result = {e: ExtensionStatus.UNAVAILABLE.value for e in wanted}
    if not wanted:
        return result

    def bump(ext: str, state: str | None) -> None:
        if state is not None and ext in result and _RANK[state] > _RANK[result[ext]]:
            result[ext] = str(state)

    now = timezone.now()
    for user in (Registration.objects.filter(user__in=wanted)
                 .filter(Q(expires__isnull=True) | Q(expires__gt=now))
                 .values_list("user", flat=True).distinct()):
        bump(user, ExtensionStatus.REGISTERED)
    for ext, state in DeviceState.objects.filter(extension__in=wanted).values_list("extension", "state"):
        bump(ext, _DEVICE.get(state.upper()))
    for ext, status in ExtensionState.objects.filter(exten__in=wanted).values_list("exten", "status"):
        bump(ext, _from_hint(status))
    for ext, state in PresenceState.objects.filter(extension__in=wanted).values_list("extension", "state"):
        if state != ExtensionStatus.IDLE or result[ext] == ExtensionStatus.REGISTERED:
            bump(ext, state)
    return result


def label(state: str) -> str:
    return ExtensionStatus(state).label if state in ExtensionStatus.values else state
