"""What changed → which reload intents (wazo-confd's notifier).

Trunks live in Kamailio's tables: an ITSP is ``address``/``uacreg`` rows, a route is a dispatcher set
and a dialplan rule, an E1 is a dispatcher destination (its Asterisk, ``e1group=N`` in the row's
attrs). Nothing an E1 trunk holds is in Asterisk's realtime tables; its context (``va-trunk-<name>``)
is in the node's static extensions.conf, which only the operator can rewrite (``manage.py
asterisk_config``). A ``dialplan reload`` at change time would re-read the old file, so no trunk change
asks an Asterisk for one: the estate check (services/estate.py) reports the node's extensions.conf as
not what the portal generates, and queues the ``dialplan reload`` once the file on the node is.

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
