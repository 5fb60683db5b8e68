"""Drift check: what the database says versus what each Kamailio holds in memory.

Two kinds of difference are reported:

* **projection** — the portal's domain rows (trunks, routes, sets, codes, DDIs) versus the rows in
  Kamailio's tables the portal owns (e.g. someone edited ``dispatcher`` by hand, or a user's extension
  changed after a DDI pointed at it). Repair re-projects.
* **memory** — Kamailio's tables versus the live caches of every enabled Kamailio node, read over
  JSON-RPC (``dispatcher.list``, ``permissions.addressDump``/``subnetDump``, ``dialplan.dump``,
  ``uac.reg_dump``). Repair asks for the reloads through ``push.api`` (sent after commit).

Only the columns Kamailio keeps in memory are compared (dispatcher's runtime state flags are not).
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from django.db import transaction

from push import api as push
from sites.models import KamailioNode
from trunks import projection as trunk_projection
from trunks.notifier import KAMAILIO_RELOADS
from voipadmin.connectors.errors import NodeError
from voipadmin.connectors.kamailio import KamailioRpc, dispatcher_targets
from voipadmin.kamailio.models import Address, DialplanRule, Dispatcher, UacReg

from . import notifier
from . import projection as service_projection

TABLES = ("dispatcher", "address", "dialplan", "uacreg")
KNOWN_DPIDS = (1, 2, 3, 4)


@dataclass
class Difference:
    table: str
    where: str  # "only in database", "only in Kamailio", "missing from table", "extra in table"
    row: str

    def __str__(self) -> str:
        return f"{self.table}: {self.where}: {self.row}"


@dataclass
class NodeReport:
    node: str
    error: str = ""
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error and not self.differences


@dataclass
class EstateReport:
    projection: list[Difference] = field(default_factory=list)
    nodes: list[NodeReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.projection and all(n.ok for n in self.nodes)

    @property
    def difference_count(self) -> int:
        return len(self.projection) + sum(len(n.differences) for n in self.nodes)


# --- normalised rows (hashable tuples, rendered for people) ----------------------------------------------------


def _secret_digest(value: str | None) -> str:
    return hashlib.sha256((value or "").encode()).hexdigest()[:8]


def _norm_dispatcher(setid, uri, priority, attrs) -> tuple:
    return ("set", int(setid), "uri", str(uri), "priority", int(priority or 0), "attrs", attrs or "")


def _norm_address(grp, ip, mask, port, tag) -> tuple:
    return ("group", int(grp), "ip", str(ip), "mask", int(mask), "port", int(port or 0), "tag", tag or "")


def _norm_dialplan(dpid, pr, op, exp, length, subst, repl, attrs) -> tuple:
    return ("dpid", int(dpid), "pr", int(pr), "match_op", int(op), "match", exp or "", "len", int(length or 0),
            "subst", subst or "", "repl", repl or "", "attrs", attrs or "")


def _norm_uacreg(row: dict[str, Any]) -> tuple:
    return ("l_uuid", row["l_uuid"], "l_username", row["l_username"], "l_domain", row["l_domain"],
            "r_username", row["r_username"], "r_domain", row["r_domain"], "realm", row.get("realm") or "",
            "auth_username", row["auth_username"], "auth_password#", _secret_digest(row.get("auth_password")),
            "auth_proxy", row["auth_proxy"], "expires", int(row["expires"]))


def render(row: tuple) -> str:
    return " ".join(f"{k}={v}" for k, v in zip(row[::2], row[1::2]))


def _host_mask(ip: str) -> int:
    return 128 if ":" in ip else 32


def table_rows(table: str) -> list[tuple]:
    """A Kamailio table as Kamailio would load it (whole table, not only the portal's rows)."""
    if table == "dispatcher":
        return [_norm_dispatcher(r.setid, r.destination, r.priority, r.attrs) for r in Dispatcher.objects.all()]
    if table == "address":
        return [_norm_address(r.grp, r.ip_addr, r.mask, r.port, r.tag) for r in Address.objects.all()]
    if table == "dialplan":
        return [_norm_dialplan(r.dpid, r.pr, r.match_op, r.match_exp, r.match_len, r.subst_exp, r.repl_exp, r.attrs)
                for r in DialplanRule.objects.all()]
    if table == "uacreg":
        return [_norm_uacreg(r) for r in UacReg.objects.values()]
    raise ValueError(table)


def memory_rows(rpc: KamailioRpc, table: str, dpids: Iterable[int] = KNOWN_DPIDS) -> list[tuple]:
    """The same table as one Kamailio holds it in memory."""
    if table == "dispatcher":
        return [_norm_dispatcher(t["setid"], t["uri"], t["priority"],
                                 (t["attrs"] or {}).get("BODY") if isinstance(t["attrs"], dict) else t["attrs"])
                for t in dispatcher_targets(rpc.dispatcher_list())]
    if table == "address":
        rows = [_norm_address(e["group"], e["item"]["ip"], _host_mask(e["item"]["ip"]), e["item"].get("port"),
                              e["item"].get("tag")) for e in rpc.address_dump() or []]
        rows += [_norm_address(e["group"], e["item"]["ip"], e["item"]["mask"], e["item"].get("port"),
                               e["item"].get("tag")) for e in rpc.call("permissions.subnetDump") or []]
        return rows
    if table == "dialplan":
        rows = []
        for dpid in sorted(set(dpids)):
            dump = rpc.dialplan_dump(dpid) or {}
            for entry in dump.get("ENTRIES") or []:
                e = entry.get("ENTRY", entry)
                rows.append(_norm_dialplan(dpid, e["PRIO"], e["MATCHOP"], e["MATCHEXP"], e["MATCHLEN"],
                                           e.get("SUBSTEXP"), e.get("REPLEXP"), e.get("ATTRS")))
        return rows
    if table == "uacreg":
        return [_norm_uacreg(r) for r in rpc.uac_reg_dump() or []]
    raise ValueError(table)


def compare(table: str, expected: Iterable[tuple], actual: Iterable[tuple], *, missing: str,
            extra: str) -> list[Difference]:
    want, have = Counter(expected), Counter(actual)
    diffs = [Difference(table, missing, render(row)) for row in sorted((want - have).elements(), key=str)]
    diffs += [Difference(table, extra, render(row)) for row in sorted((have - want).elements(), key=str)]
    return diffs


# --- the check --------------------------------------------------------------------------------------------------

_PROJECTION_NORMALISERS: dict[str, Callable[[dict[str, Any]], tuple]] = {
    "dispatcher": lambda r: _norm_dispatcher(r["setid"], r["destination"], r["priority"], r["attrs"]),
    "address": lambda r: _norm_address(r["grp"], r["ip_addr"], r["mask"], r["port"], r["tag"]),
    "dialplan": lambda r: _norm_dialplan(r["dpid"], r["pr"], r["match_op"], r["match_exp"], r["match_len"],
                                         r["subst_exp"], r["repl_exp"], r["attrs"]),
    "uacreg": _norm_uacreg,
    "extensions": lambda r: ("context", r["context"], "exten", r["exten"], "priority", r["priority"],
                             "app", r["app"], "appdata", r["appdata"]),
}


def _projections():
    """(table, desired rows, scope) for every projection the portal owns."""
    for table, (rows, scope, _sync) in trunk_projection.PROJECTIONS.items():
        yield table, rows, scope
    for table, (rows, scope, _sync) in service_projection.PROJECTIONS.items():
        yield table, rows, scope
    yield "extensions", service_projection.extension_rows, service_projection.extension_scope


def check_projection() -> list[Difference]:
    diffs = []
    for table, rows, scope in _projections():
        normalise = _PROJECTION_NORMALISERS[table]
        desired = [normalise(r) for r in rows()]
        stored = [normalise(r) for r in scope().values()]
        diffs += compare(table, desired, stored, missing="missing from table", extra="extra in table")
    return diffs


def check_node(node: KamailioNode, *, timeout: float = 2.0) -> NodeReport:
    report = NodeReport(node=node.name)
    dpids = set(KNOWN_DPIDS) | set(DialplanRule.objects.values_list("dpid", flat=True).distinct())
    try:
        with KamailioRpc(node.jsonrpc_url, username=node.jsonrpc_username or None,
                         password=node.jsonrpc_password or None, timeout=timeout) as rpc:
            for table in TABLES:
                report.differences += compare(table, table_rows(table), memory_rows(rpc, table, dpids),
                                              missing="only in database", extra="only in Kamailio")
    except NodeError as exc:
        report.error = exc.reason
    return report


def check_estate(*, timeout: float = 2.0) -> EstateReport:
    report = EstateReport(projection=check_projection())
    for node in KamailioNode.objects.filter(enabled=True).order_by("name"):
        report.nodes.append(check_node(node, timeout=timeout))
    return report


def repair(*, reason: str = "estate check repair") -> list[str]:
    """Re-project every table the portal owns, then ask every Kamailio to reload all four (sent after commit)."""
    with transaction.atomic():
        trunk_projection.sync_all()
        service_projection.sync_dispatcher()
        service_projection.sync_dialplan()
        if service_projection.sync_extensions():
            notifier.asterisk_dialplan_changed(reason=reason)
        commands = sorted(KAMAILIO_RELOADS.values())
        for command in commands:
            push.request(push.KAMAILIO, command, reason=reason)
    return commands
