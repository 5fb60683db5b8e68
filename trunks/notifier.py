"""What changed → which reload intents (wazo-confd's notifier).

Called by actions inside their transaction with the tables whose projection changed; ``push.api``
writes the intents to the outbox, deduplicated, and sends them after commit (dropped on rollback).
"""
from __future__ import annotations

from typing import Iterable

from push import api as push

#: Kamailio table → the JSON-RPC that makes Kamailio re-read it
KAMAILIO_RELOADS = {
    "dispatcher": "dispatcher.reload",
    "dialplan": "dialplan.reload",
    "address": "permissions.addressReload",
    "uacreg": "uac.reg_reload",
}


def kamailio_tables_changed(tables: Iterable[str], *, reason: str) -> list[str]:
    """Ask every Kamailio to reload the given tables; returns the commands requested."""
    commands = sorted({KAMAILIO_RELOADS[t] for t in tables})
    for command in commands:
        push.request(push.KAMAILIO, command, reason=reason)
    return commands


def changed(result: dict[str, bool], *, reason: str) -> list[str]:
    """``result`` as returned by ``projection.sync_*``: {table: changed?}."""
    return kamailio_tables_changed([t for t, did in result.items() if did], reason=reason)


def e1_trunk_changed(node_ids: Iterable[int], *, reason: str) -> None:
    """An E1 line's settings live in the Asterisk it sits on (chan_dahdi): reload its dialplan side."""
    ids = sorted({i for i in node_ids if i})
    if ids:
        push.request(push.ASTERISK, "dialplan reload", node_ids=ids, reason=reason)
