"""What changed → which reload intents (wazo-confd's notifier), called by services' actions.

Kamailio tables reuse trunks' map; Asterisk's realtime ``extensions`` rows are read by pbx_realtime
on each call, but Asterisk caches switch lookups, so a ``dialplan reload`` is asked of every node.
"""
from __future__ import annotations

from typing import Iterable

from push import api as push
from sites.models import AsteriskNode
from trunks.notifier import kamailio_tables_changed


def changed(result: dict[str, bool], *, reason: str) -> list[str]:
    """``result``: {"dispatcher"|"dialplan"|"extensions": changed?}; returns the intents requested."""
    requested = kamailio_tables_changed([t for t, did in result.items() if did and t != "extensions"],
                                        reason=reason)
    if result.get("extensions"):
        asterisk_dialplan_changed(reason=reason)
        requested.append("dialplan reload")
    return requested


def asterisk_dialplan_changed(*, reason: str, node_ids: Iterable[int] | None = None) -> None:
    ids = sorted(node_ids) if node_ids is not None else list(
        AsteriskNode.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True))
    if ids:
        push.request(push.ASTERISK, "dialplan reload", node_ids=ids, reason=reason)
