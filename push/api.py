"""Public entry point other apps call to ask for a reload of the live estate.

    push.api.request(KAMAILIO, "dispatcher.reload", reason="dispatcher set 'all' changed")
    push.api.request(ASTERISK, "dialplan reload", site_ids=[site.pk])

Called inside an action's transaction: the intent is written to the outbox in the
same transaction, deduplicated per (node, command), and sent after commit.
(Stub until the push app lands: records nothing.)
"""
from __future__ import annotations

from typing import Iterable

KAMAILIO = "kamailio"
ASTERISK = "asterisk"


def request(target: str, command: str, *, node_ids: Iterable[int] | None = None,
            site_ids: Iterable[int] | None = None, reason: str = "") -> None:
    return None
