"""Drift check: what the database says versus what each Kamailio holds in memory.

Two kinds of difference are reported:

* **projection** — the portal's domain rows (trunks, routes, sets, codes, DDIs, the estate's own nodes as
  trusted peers in ``address`` group 1) versus the rows in Kamailio's tables the portal owns (e.g. someone
  edited ``dispatcher`` by hand, or a user's extension changed after a DDI pointed at it). Repair
  re-projects. A node that cannot be a trusted peer (known by a host name, or inside an ITSP's addresses)
  is reported here too, with the reason: only the operator can fix that.
* **memory** — Kamailio's tables versus the live caches of every enabled Kamailio node, read over
  JSON-RPC (``dispatcher.list``, ``permissions.addressDump``/``subnetDump``, ``dialplan.dump``,
  ``uac.reg_dump``). Repair asks for the reloads through ``push.api`` (sent after commit). A node that
  does not answer is "unreachable"; one that answers a method with an error is reported with the
  method and Kamailio's words (``permissions.subnetDump failed: Method Not Found (is the permissions
  module loaded?)``).

Only the columns Kamailio keeps in memory are compared (dispatcher's runtime state flags are not).

* **configuration** — each enabled Asterisk's static files (extensions.conf, pjsip.conf, voicemail.conf)
  as they are on its disk, read over AMI ``GetConfig``, versus what ``nodeconf.asterisk.render_node``
  generates for it. The portal never writes a node's files: a file that differs is reported with the
  command that regenerates it. A file that matches but that the node may not have loaded yet is
  "reload owed", and repair queues its reload through the push outbox (see ``asterisk_reload_state``).
"""
from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from django.db import transaction
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext

from push import api as push
from push.intents import ASTERISK_FILE_RELOADS
from push.models import NodeKind, PushJob, PushState
from sites.models import AsteriskNode, KamailioNode
from trunks import projection as trunk_projection
from trunks.notifier import KAMAILIO_RELOADS
from voipadmin.connectors.ami import AmiSession
from voipadmin.fields import misconfiguration
from voipadmin.connectors.errors import NodeError
from voipadmin.connectors.kamailio import KamailioRpc, dispatcher_targets
from voipadmin.kamailio.models import Address, DialplanRule, Dispatcher, UacReg

from . import projection as service_projection

TABLES = ("dispatcher", "address", "dialplan", "uacreg")
#: a node of the estate left out of address group 1 (the sentence says why; re-projecting cannot fix it)
NOT_TRUSTED = "not trusted"
KNOWN_DPIDS = (1, 2, 3, 4, 5)


@dataclass
class Difference:
    table: str
    where: str  # "only in database", "only in Kamailio", "missing from table", "extra in table", "not trusted"
    row: str

    def __str__(self) -> str:
        return f"{self.table}: {self.where}: {self.row}"


@dataclass
class NodeReport:
    node: str
    error: str = ""  # for people: "unreachable (connection refused)", "permissions.subnetDump failed: ..."
    differences: list[Difference] = field(default_factory=list)
    unreachable: bool = False  # nothing came back (as opposed to a method or a login the node refused)

    @property
    def ok(self) -> bool:
        return not self.error and not self.differences


# What a file of an Asterisk node is, compared with what the portal generates for it.
IN_STEP = "in step"  # on disk as generated, and the portal saw the node load it
DRIFT = "drift"  # on disk, not what the portal generates: the operator must write it
RELOAD_OWED = "reload owed"  # on disk as generated, not known to be loaded: repair queues the reload
RELOAD_QUEUED = "reload queued"  # ... and the reload is in the outbox
UNREADABLE = "unreadable"  # GetConfig refused (file missing, no privilege)


@dataclass
class ConfigFileReport:
    file: str
    command: str  # the reload that makes the node read it (push.intents.ASTERISK_FILE_RELOADS)
    state: str
    detail: str = ""  # drift: a short diff summary; unreadable: Asterisk's answer
    fingerprint: str = ""  # of the generated content (what the reload job records)
    db_role: str = "estate"  # the asterisk_config --db-role whose rendering the file was compared with

    @property
    def ok(self) -> bool:
        """A file on the node as generated is fine: the portal cannot see what a node has loaded, and a node
        just set up loaded its files when it started. A reload it may owe is advice, not a difference."""
        return self.state in (IN_STEP, RELOAD_OWED, RELOAD_QUEUED)


@dataclass
class AsteriskNodeReport:
    node: str
    node_id: int
    error: str = ""  # unreachable, login refused, or the portal cannot generate its files
    skipped: str = ""  # not checked, and why (not a difference)
    files: list[ConfigFileReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error and all(f.ok for f in self.files)

    def problems(self) -> list[str]:
        """One sentence per thing the operator has to do (empty when in step)."""
        node = self.node
        if self.error:
            return [f"node {node}: {self.error}"]
        out = []
        for f in self.files:
            if f.state == DRIFT:
                out.append(f"node {node}: {f.file} is not what the portal generates (run manage.py asterisk_config "
                           f"{node} and reload): {f.detail}")
            elif f.state == UNREADABLE:
                out.append(f"node {node}: {f.file} could not be read over AMI: {f.detail}")
        return out

    def advice(self) -> list[str]:
        """Files as generated that the portal has not seen the node load (a reload may be owed)."""
        out = []
        for f in self.files:
            if f.state == RELOAD_OWED:
                out.append(f"node {self.node}: {f.file} is what the portal generates, but the portal has not seen the "
                           f"node load it ({f.command} may be owed: check_estate --repair queues it){f.detail}")
            elif f.state == RELOAD_QUEUED:
                out.append(f"node {self.node}: {f.file} is what the portal generates; {f.command} is queued")
        return out


@dataclass
class EstateReport:
    projection: list[Difference] = field(default_factory=list)
    nodes: list[NodeReport] = field(default_factory=list)
    asterisk: list[AsteriskNodeReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.projection and all(n.ok for n in self.nodes) and all(n.ok for n in self.asterisk)

    @property
    def difference_count(self) -> int:
        return (len(self.projection) + sum(len(n.differences) for n in self.nodes)
                + sum(len(n.problems()) for n in self.asterisk))


# --- normalised rows (hashable tuples, rendered for people) ----------------------------------------------------


def _secret_digest(value: str | None) -> str:
    """8 hex characters that change when the password does, keyed with SECRET_KEY (Django's ``salted_hmac``).

    The report is shown on a page and printed by ``check_estate``; 8 characters of a plain SHA-256 would let
    anyone holding it test candidate ITSP passwords offline. Without the key nobody can.
    """
    return salted_hmac("voipadmin.services.estate.uacreg-password", value or "", algorithm="sha256").hexdigest()[:8]


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


def _memory_tag(tag: str | None) -> str | None:
    """permissions prints a NULL ``tag`` column as the string "NULL" (kamailio 5.6): the table's NULL."""
    return None if tag == "NULL" else tag


def memory_rows(rpc: KamailioRpc, table: str, dpids: Iterable[int] = KNOWN_DPIDS) -> list[tuple]:
    """The same table as one Kamailio holds it in memory."""
    if table == "dispatcher":
        return [_norm_dispatcher(t["setid"], t["uri"], t["priority"],
                                 (t["attrs"] or {}).get("BODY") if isinstance(t["attrs"], dict) else t["attrs"])
                for t in dispatcher_targets(rpc.dispatcher_list())]
    if table == "address":
        rows = [_norm_address(e["group"], e["item"]["ip"], _host_mask(e["item"]["ip"]), e["item"].get("port"),
                              _memory_tag(e["item"].get("tag"))) for e in rpc.address_dump() or []]
        rows += [_norm_address(e["group"], e["item"]["ip"], e["item"]["mask"], e["item"].get("port"),
                               _memory_tag(e["item"].get("tag"))) for e in rpc.subnet_dump() or []]
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
    diffs += [Difference("address", NOT_TRUSTED, why) for why in service_projection.untrusted_nodes()]
    return diffs


def check_node(node: KamailioNode, *, timeout: float = 2.0) -> NodeReport:
    report = NodeReport(node=node.name)
    if problem := misconfiguration(node):
        report.error = problem
        return report
    dpids = set(KNOWN_DPIDS) | set(DialplanRule.objects.values_list("dpid", flat=True).distinct())
    try:
        with KamailioRpc(node.jsonrpc_url, username=node.jsonrpc_username or None,
                         password=node.jsonrpc_password or None, timeout=timeout) as rpc:
            for table in TABLES:
                report.differences += compare(table, table_rows(table), memory_rows(rpc, table, dpids),
                                              missing="only in database", extra="only in Kamailio")
    except NodeError as exc:
        # A node that answered with an error is up: say which method failed and why, not "unreachable".
        report.error, report.unreachable = exc.describe(), not exc.answered
    return report


def check_estate(*, timeout: float = 2.0) -> EstateReport:
    report = EstateReport(projection=check_projection())
    for node in KamailioNode.objects.filter(enabled=True).order_by("name"):
        report.nodes.append(check_node(node, timeout=timeout))
    report.asterisk = check_asterisk_nodes(timeout=timeout)
    return report


@dataclass
class Repair:
    kamailio: list[str] = field(default_factory=list)  # the RPCs asked of every Kamailio
    asterisk: list[tuple[str, str, str]] = field(default_factory=list)  # (node, file, command) queued
    not_repaired: list[str] = field(default_factory=list)  # what only the operator can fix

    def describe(self) -> str:
        parts = ([gettext("%(commands)s on every Kamailio") % {"commands": ", ".join(self.kamailio)}]
                 if self.kamailio else [])
        parts += [gettext("%(command)s on %(node)s (%(file)s)") % {"command": command, "node": node, "file": file}
                  for node, file, command in self.asterisk]
        return "; ".join(parts) or gettext("nothing")


def repair(*, reason: str = "estate check repair", asterisk: list[AsteriskNodeReport] | None = None) -> Repair:
    """Re-project every table the portal owns and ask every Kamailio to reload all four; queue the reload
    of every Asterisk file that is on its node as generated but not known to be loaded (``asterisk``: the
    check's node reports; None checks the nodes now). Everything is sent after commit. Files that differ
    are left alone: the portal never writes a node's files, and reloading one would load the wrong thing."""
    if asterisk is None:
        asterisk = check_asterisk_nodes()
    done = Repair()
    with transaction.atomic():
        service_projection.sync_address()  # (group 1; first, as every services projection takes it)
        trunk_projection.sync_all()
        service_projection.sync_dispatcher()
        service_projection.sync_dialplan()
        service_projection.sync_extensions()  # (realtime rows: read on the next call, no reload)
        done.not_repaired += [f"address: {why}" for why in service_projection.untrusted_nodes()]
        done.kamailio = sorted(KAMAILIO_RELOADS.values())
        for command in done.kamailio:
            push.request(push.KAMAILIO, command, reason=reason)
        for node in asterisk:
            if node.error:
                done.not_repaired.append(gettext("node %(node)s: %(error)s") % {"node": node.node, "error": node.error})
                continue
            for f in node.files:
                if f.state == RELOAD_OWED:
                    push.request(push.ASTERISK, f.command, node_ids=[node.node_id],
                                 reason=f"{reload_marker(f.file, f.fingerprint)} on the node is what the portal "
                                        f"generates: load it ({reason})")
                    done.asterisk.append((node.node, f.file, f.command))
                elif f.state == DRIFT:
                    done.not_repaired.append(gettext("node %(node)s: %(file)s: the portal does not write a node's "
                                                     "files (run manage.py asterisk_config %(node)s and check again)")
                                             % {"node": node.node, "file": f.file})
                elif f.state == UNREADABLE:
                    done.not_repaired.append(gettext("node %(node)s: %(file)s could not be read over AMI (%(detail)s)")
                                             % {"node": node.node, "file": f.file, "detail": f.detail})
    return done


# --- Asterisk nodes: their static files versus what the portal generates ----------------------------------------
#
# Asterisk reads a .conf file as categories of ``key = value`` lines. Both sides are reduced to that:
# the generated text is parsed here the way Asterisk's config parser reads it (comments, ``\;``, ``=>``,
# ``[name](!)``/``(+)``), the node's side is GetConfig's answer (Asterisk's own parse of its file, includes
# inlined; categories from the ``*_local.conf`` files the generated file #tryinclude's are the operator's
# and are taken out). Categories are compared as a multiset (their order means nothing to Asterisk);
# lines keep their order in dialplan contexts (``same => n`` priorities, includes) and are compared by key
# elsewhere, keeping the relative order of repeated keys (and of pjsip's allow/disallow).


@dataclass(frozen=True)
class Category:
    name: str
    template: bool
    lines: tuple[tuple[str, str], ...]

    @property
    def kind(self) -> str:
        """pjsip objects share names (endpoint, aor, identify ``kamailio-1``): their ``type`` tells them apart."""
        return next((v for k, v in self.lines if k == "type"), "")

    def label(self) -> str:
        return f"[{self.name}]" + (f" ({self.kind})" if self.kind else "") + (" (template)" if self.template else "")


def _uncomment(line: str, depth: int) -> tuple[str, int]:
    """A line without its comments, as main/config.c reads it: ``;`` to the end, ``;-- … --;`` blocks
    (nested, across lines), ``\\;`` is a literal ``;``. ``depth``: block comments open before the line."""
    out: list[str] = []
    i = 0
    while i < len(line):
        if depth:
            if line.startswith("--;", i):
                depth, i = depth - 1, i + 3
            elif line.startswith(";--", i):
                depth, i = depth + 1, i + 3
            else:
                i += 1
            continue
        if line[i] == ";":
            if out and out[-1] == "\\":
                out[-1] = ";"
                i += 1
                continue
            if line.startswith(";--", i):
                depth, i = depth + 1, i + 3
                continue
            break
        out.append(line[i])
        i += 1
    return "".join(out), depth


def parse_conf(text: str) -> tuple[list[Category], list[str]]:
    """(categories, files it #include's / #tryinclude's) of an Asterisk .conf text."""
    cats: list[tuple[str, bool, list[tuple[str, str]]]] = []
    includes: list[str] = []
    depth = 0
    for raw in text.splitlines():
        line, depth = _uncomment(raw, depth)
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            directive, _, arg = line[1:].partition(" ")
            if directive.lower() in ("include", "tryinclude"):
                includes.append(arg.strip().strip('"<>'))
            continue
        if line.startswith("["):
            name, _, options = line[1:].partition("]")
            opts = [o.strip() for o in options.strip().strip("()").split(",") if o.strip()]
            if "+" in opts:  # more lines for the last category of that name
                previous = next((c for c in reversed(cats) if c[0] == name.strip()), None)
                if previous is not None:
                    cats.append(cats.pop(cats.index(previous)))
                    continue
            inherited = [kv for t in opts if t not in ("!", "+")
                         for c in cats if c[0] == t for kv in c[2]]
            cats.append((name.strip(), "!" in opts, list(inherited)))
            continue
        key, eq, value = line.partition("=")
        if not eq or not cats:
            continue  # (Asterisk ignores a line without '=' and refuses one before any category)
        value = value[1:] if value.startswith(">") else value
        cats[-1][2].append((key.strip(), value.strip()))
    return [Category(n, t, tuple(lines)) for n, t, lines in cats], includes


def categories_from_ami(answer: list[dict[str, Any]]) -> list[Category]:
    """``AmiSession.get_config``'s answer as :class:`Category` values."""
    return [Category(c["category"], bool(c.get("template")), tuple((k, v) for k, v in c["lines"])) for c in answer]


_SETTINGS_CONTEXTS = ("general", "globals")
_SAME_SORT_KEY = {"disallow": "allow"}  # pjsip: their relative order is the codec list


def _ordered(file: str, category: str) -> bool:
    return file == "extensions.conf" and category not in _SETTINGS_CONTEXTS


def normalise(file: str, categories: Iterable[Category]) -> Counter:
    """The multiset of categories, each with its lines in the order that matters for ``file``."""
    out: Counter = Counter()
    for cat in categories:
        lines = cat.lines if _ordered(file, cat.name) else tuple(
            sorted(cat.lines, key=lambda kv: _SAME_SORT_KEY.get(kv[0], kv[0])))  # (stable: repeats keep order)
        out[Category(cat.name, cat.template, lines)] += 1
    return out


def fingerprint(normalised: Counter) -> str:
    return hashlib.sha256(repr(sorted(normalised.elements(), key=repr)).encode()).hexdigest()[:12]


def reload_marker(file: str, digest: str) -> str:
    """How a reload job says which generated content it loads (searched for in ``PushJob.reasons``)."""
    return f"[{file} {digest}]"


def _shown(key: str, values: list[str]) -> str:
    if any(word in key.lower() for word in ("secret", "password")):
        return "(secret)" if values else "(none)"
    if not values:
        return "(none)"
    text = ", ".join(values)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def summarise(want: Counter, have: Counter, limit: int = 6) -> str:
    """A short diff of two normalised files, for people: what is missing, extra, or has other values."""
    missing, extra = list((want - have).elements()), list((have - want).elements())
    items = []
    for cat in missing[:]:
        twin = next((c for c in extra if (c.name, c.kind, c.template) == (cat.name, cat.kind, cat.template)), None)
        if twin is None:
            continue
        missing.remove(cat)
        extra.remove(twin)
        portal, node = _values(cat), _values(twin)
        keys = [k for k in dict.fromkeys([*portal, *node]) if portal.get(k) != node.get(k)]
        if not keys:  # same lines, another order
            items.append(f"{cat.label()} lines in another order")
        for key in keys:
            items.append(f"{cat.label()} {key}: node {_shown(key, node.get(key, []))}, "
                         f"portal {_shown(key, portal.get(key, []))}")
    items += [f"{cat.label()} missing" for cat in missing]
    items += [f"{cat.label()} not generated by the portal" for cat in extra]
    more = len(items) - limit
    return "; ".join(items[:limit]) + (f"; and {more} more" if more > 0 else "")


def _values(cat: Category) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in cat.lines:
        out.setdefault(key, []).append(value)
    return out


@dataclass
class _Expected:
    """What the portal generates for one file of a node: one candidate per database role."""

    file: str
    candidates: list[tuple[str, Counter]]  # (db role, normalised)
    includes: list[str]


def expected_files(node: AsteriskNode) -> list[_Expected]:
    """The node's files as ``asterisk_config`` writes them. The database access is the estate role
    (``nodeconf.database.access(site=None)``); a node set up with ``--db-role site`` (only its site's
    contexts and time zone) is compared with that rendering too, and matches either."""
    from nodeconf import asterisk as nodeconf_asterisk, database

    renders = [("estate", nodeconf_asterisk.render_node(node, db=database.access(site=None)))]
    renders.append(("site", nodeconf_asterisk.render_node(node, db=database.access(site=node.site))))
    out = []
    for file in ASTERISK_FILE_RELOADS:
        candidates, includes = [], []
        for role, files in renders:
            categories, found = parse_conf(files[file])
            candidates.append((role, normalise(file, categories)))
            includes = includes or found
        out.append(_Expected(file, candidates, includes))
    return out


async def _read_node(node: AsteriskNode, files: list[_Expected], timeout: float) -> dict[str, Any]:
    """{file: categories | NodeError} for each file and each local file it includes; a NodeError for the
    whole node when it cannot be reached."""
    read: dict[str, Any] = {}
    if problem := misconfiguration(node):
        return {"": NodeError(problem, permanent=True, node=node.name)}
    try:
        async with AmiSession(node.effective_ami_host, node.ami_port, node.ami_username, node.ami_secret,
                              timeout=timeout) as ami:
            for expected in files:
                for name in [expected.file, *expected.includes]:
                    if name in read:
                        continue
                    try:
                        read[name] = categories_from_ami(await ami.get_config(name))
                    except NodeError as exc:
                        if not exc.permanent:
                            raise
                        read[name] = exc
    except NodeError as exc:
        return {"": exc}
    return read


async def _read_nodes(work: list[tuple[AsteriskNode, list[_Expected]]], timeout: float) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(_read_node(node, files, timeout) for node, files in work)))


def _compare_file(expected: _Expected, read: dict[str, Any]) -> ConfigFileReport:
    command = ASTERISK_FILE_RELOADS[expected.file]
    answer = read.get(expected.file)
    if isinstance(answer, NodeError):
        return ConfigFileReport(expected.file, command, UNREADABLE, detail=answer.reason)
    have = normalise(expected.file, answer or [])
    for local in expected.includes:  # the operator's own additions (a missing *_local.conf is fine)
        extra = read.get(local)
        if isinstance(extra, list):
            have -= normalise(expected.file, extra)
    best = None
    for role, want in expected.candidates:
        if want == have:
            return ConfigFileReport(expected.file, command, IN_STEP, fingerprint=fingerprint(want), db_role=role)
        size = sum((want - have).values()) + sum((have - want).values())
        if best is None or size < best[0]:
            best = (size, role, want)
    _, role, want = best
    return ConfigFileReport(expected.file, command, DRIFT, detail=summarise(want, have), db_role=role)


def asterisk_reload_state(node: AsteriskNode, report: ConfigFileReport) -> None:
    """Whether the node has loaded the file it has on disk (which is what the portal generates).

    The rule: the portal counts a node as having loaded a generated file once a reload of that file,
    queued while the file on the node was exactly that content, was SENT to the node; the reload job
    records the content's fingerprint in its reasons (``reload_marker``). Until then the file is
    "reload owed" (or "reload queued" while the job is pending), and repair queues the reload: after
    the operator regenerated a file, and also once for a node the portal never reloaded (a new node,
    or files written by hand and reloaded from the CLI: the portal cannot tell what a node loaded, so it
    errs on the side of one reload too many, never one too few). A content change makes a new
    fingerprint, so every regeneration that changes a file gets its reload."""
    jobs = PushJob.objects.filter(node_kind=NodeKind.ASTERISK, asterisk_node=node, command=report.command,
                                  reasons__contains=reload_marker(report.file, report.fingerprint))
    states = set(jobs.values_list("state", flat=True))
    if PushState.SENT in states:
        return
    if PushState.PENDING in states:
        report.state = RELOAD_QUEUED
        return
    report.state = RELOAD_OWED
    failed = jobs.filter(state=PushState.FAILED).order_by("-id").first()
    if failed is not None:
        report.detail = f"; the last reload failed: {failed.last_error[:120]}"


def check_asterisk_nodes(*, timeout: float = 2.0) -> list[AsteriskNodeReport]:
    """Every enabled Asterisk's extensions.conf, pjsip.conf and voicemail.conf versus the portal's."""
    from nodeconf.asterisk import ConfigValueError

    reports, work = [], []
    for node in AsteriskNode.objects.filter(enabled=True).select_related("site").order_by("name"):
        report = AsteriskNodeReport(node=node.name, node_id=node.pk)
        reports.append(report)
        if not node.ami_username:
            report.skipped = gettext("no AMI user: the portal cannot read its files")
            continue
        try:
            work.append((node, report, expected_files(node)))
        except ConfigValueError as exc:
            report.error = gettext("the portal cannot generate its configuration: %(error)s") % {"error": exc}
    if work:
        answers = asyncio.run(_read_nodes([(node, files) for node, _, files in work], timeout))
        for (node, report, files), read in zip(work, answers):
            if "" in read:
                failure = read[""]
                report.error = (gettext("AMI login refused (%(reason)s)") if failure.permanent
                                else gettext("unreachable (%(reason)s)")) % {"reason": failure.reason}
                continue
            report.files = [_compare_file(expected, read) for expected in files]
            for f in report.files:
                if f.state == IN_STEP:
                    asterisk_reload_state(node, f)
    return reports
