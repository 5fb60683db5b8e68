"""One poll cycle over the estate: every node at once, each under its own timeout.

The async part touches no ORM: targets are plain dataclasses read from the DB
beforehand, results are plain dataclasses written afterwards by
``live.actions.record_poll_cycle``.  A node that refuses, hangs or answers garbage
only costs its own timeout; the others finish as fast as they answer.

An Asterisk is polled over AMI and, when it has an ARI URL, over ARI at the same time
and in the same budget.  AMI decides up or down (connect, Login, Ping, CoreStatus,
CoreSettings); any other question that fails, and ARI failing, only degrades the node.
ARI is used for what AMI cannot tell: that the application interface answers (the
portal's ARI features need it), that it is the same Asterisk (system name), the
node's bridges (conference rooms and their members), and uptime if AMI gave none.
"""
from __future__ import annotations

import asyncio
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any, Iterable, Iterator

from voipadmin.connectors import ami as ami_connector
from voipadmin.connectors import ari as ari_connector
from voipadmin.connectors.errors import NodeError
from voipadmin.connectors.kamailio import AsyncKamailioRpc, dispatcher_targets, ul_contacts

from .choices import DestinationHealth, Health, NodeKind, TrunkHealth, TrunkKind

#: CLI command whose output lists E1/T1 PRI spans (chan_dahdi with libpri).  Its wording
#: ("PRI span 1/0: Provisioned, In Alarm, Down, Active") is NOT in the observed AMI
#: transcript (the captured Asterisk had no DAHDI): see parse_pri_spans.
PRI_SPANS_COMMAND = "pri show spans"
GATEWAY_ROLE = "gateway"
#: A node answering slower than this is degraded: it works, but something is wrong with it.
SLOW_MS = 500.0

# Kamailio uac module flags (modules/uac/uac_reg.c).
UAC_REG_DISABLED, UAC_REG_ONGOING, UAC_REG_ONLINE, UAC_REG_AUTHSENT = 1, 2, 4, 8


@dataclass(frozen=True)
class AsteriskTarget:
    node_id: int
    name: str
    site_id: int
    host: str
    port: int
    username: str
    secret: str
    gateway: bool = False
    ari_url: str = ""  # empty: the node has no ARI, it is not polled
    ari_username: str = ""
    ari_password: str = ""
    misconfigured: str = ""  # why the node cannot be polled as stored (a secret the keys cannot open): not polled


@dataclass(frozen=True)
class KamailioTarget:
    node_id: int
    name: str
    url: str
    username: str
    password: str
    misconfigured: str = ""


Target = AsteriskTarget | KamailioTarget


@dataclass
class NodeResult:
    """What one node told us in one cycle; ``state == down`` means no data (lists empty)."""

    kind: str
    node_id: int
    name: str
    state: str
    reason: str = ""
    polled_at: datetime = field(default_factory=lambda: datetime.now(dt_timezone.utc))
    latency_ms: float | None = None
    uptime_seconds: int | None = None
    version: str = ""
    site_id: int | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    registrations: list[dict[str, Any]] = field(default_factory=list)
    device_states: list[dict[str, Any]] = field(default_factory=list)
    extension_states: list[dict[str, Any]] = field(default_factory=list)
    trunks: list[dict[str, Any]] = field(default_factory=list)
    ari: str = ""  # Asterisk: Health.UP / Health.DOWN when ARI was polled; "" when the node has no ARI URL
    ari_latency_ms: float | None = None
    bridges: list[dict[str, Any]] = field(default_factory=list)
    destinations: list[dict[str, Any]] | None = None  # Kamailio: dispatcher.list (None: not known this cycle)

    @property
    def answered(self) -> bool:
        return self.state in (Health.UP, Health.DEGRADED)


# -- parsing helpers (pure; unit-tested) ------------------------------------------------------------


def parse_duration(text: str) -> int:
    """``"00:01:06"`` → 66; tolerant of ``"1:02:03:04"`` (days) and plain seconds."""
    try:
        parts = [int(p) for p in str(text or "0").split(":")]
    except ValueError:
        return 0
    seconds = 0
    for multiplier, value in zip((1, 60, 3600, 86400), reversed(parts)):
        seconds += multiplier * value
    return seconds


_CHANNEL_RE = re.compile(r"^(?P<tech>[A-Za-z0-9_]+)/(?P<resource>.+?)(?:-[0-9a-f]{8})?(?:;\d)?$")


def channel_trunk(channel: str) -> str:
    """Trunk a channel runs on: a non-numeric PJSIP/SIP peer (``PJSIP/itsp-00000001`` → ``itsp``)
    or a DAHDI span (``DAHDI/i1/600123-5`` → ``E1 span 1``); ``""`` for extensions and Local channels."""
    match = _CHANNEL_RE.match(channel or "")
    if not match:
        return ""
    tech, resource = match["tech"].upper(), match["resource"]
    if tech == "DAHDI":
        span = re.match(r"^i?(\d+)", resource)
        return f"E1 span {span.group(1)}" if span else "E1"
    if tech in ("PJSIP", "SIP", "IAX2") and not resource.isdigit():
        return resource
    return ""


def channel_extension(device: str) -> str:
    """``PJSIP/1001`` → ``1001``; other technologies map to no extension."""
    tech, _, resource = (device or "").partition("/")
    return resource if tech.upper() in ("PJSIP", "SIP") and resource else ""


def asterisk_call_rows(channels: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for ch in channels:
        callee = ch.get("Exten") or ""
        if ch.get("ConnectedLineNum") and ch.get("ConnectedLineNum") not in ("<unknown>", ch.get("CallerIDNum")):
            callee = ch["ConnectedLineNum"]
        rows.append({
            "channel": ch.get("Channel", "")[:255],
            "uniqueid": ch.get("Uniqueid", "")[:64],
            "linkedid": (ch.get("Linkedid") or ch.get("Uniqueid") or "")[:64],
            "caller": _clean(ch.get("CallerIDNum"))[:80],
            "caller_name": _clean(ch.get("CallerIDName"))[:80],
            "callee": _clean(callee)[:80],
            "state": (ch.get("ChannelStateDesc") or "")[:32],
            "duration_seconds": parse_duration(ch.get("Duration", "0")),
            "context": (ch.get("Context") or "")[:80],
            "application": (ch.get("Application") or "")[:80],
            "trunk": channel_trunk(ch.get("Channel", ""))[:80],
        })
    return rows


def _clean(value: Any) -> str:
    value = str(value or "")
    return "" if value in ("<unknown>", "<null>") else value


def _uri_host(uri: str) -> str:
    """``sip:1001@192.0.2.1:5060;ob`` → ``192.0.2.1``."""
    rest = str(uri or "").split(":", 1)[-1].split(";", 1)[0]
    hostport = rest.rsplit("@", 1)[-1]
    if hostport.startswith("["):
        return hostport[1:].split("]", 1)[0]
    return hostport.split(":", 1)[0]


def asterisk_registration_rows(contacts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for c in contacts:
        uri = c.get("Uri", "")
        via = c.get("ViaAddr") or ""
        source = f"{via}:{c.get('ViaPort')}" if via and c.get("ViaPort") else via
        try:
            expires = datetime.fromtimestamp(int(c.get("ExpirationTime")), dt_timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError):
            expires = None
        rows.append({
            "user": (c.get("Endpoint") or c.get("Aor") or "")[:64], "domain": "",
            "contact": uri[:512], "user_agent": (c.get("UserAgent") or "")[:255], "source": source[:128],
            "nat": bool(via) and _uri_host(uri) != via, "expires": expires,
        })
    return rows


def ari_bridge_rows(bridges: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """ARI ``/bridges`` → rows: a ConfBridge room is ``creator`` "ConfBridge" with the room as ``name``."""
    rows = []
    for b in bridges:
        if not isinstance(b, dict):
            continue
        members = b.get("channels")
        rows.append({
            "bridge_id": str(b.get("id") or "")[:64], "name": str(b.get("name") or "")[:80],
            "creator": str(b.get("creator") or "")[:80], "technology": str(b.get("technology") or "")[:32],
            "channels": len(members) if isinstance(members, list) else 0,
        })
    return rows


def kamailio_registration_rows(dump: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Rows from ``ul.dump``; NAT when registrar stored a ``Received`` (fix_nated_register)."""
    rows = []
    for c in ul_contacts(dump):
        aor = str(c.get("aor") or "")
        user, _, domain = aor.partition("@")
        received = c.get("Received") or ""
        received = "" if received == "[not set]" else received
        address = str(c.get("Address") or "")
        try:
            expires = now + timedelta(seconds=int(c.get("Expires")))
        except (TypeError, ValueError):
            expires = None  # "permanent" or "deleted"
        source = _uri_host(received) if received else _uri_host(address)
        if received:
            port = received.rsplit(":", 1)[-1].split(";")[0]
            source = f"{source}:{port}" if port.isdigit() else source
        rows.append({
            "user": user[:64], "domain": domain[:64], "contact": address[:512],
            "user_agent": str(c.get("User-Agent") or "")[:255], "source": source[:128],
            "nat": bool(received), "expires": expires,
        })
    return rows


def uac_trunk_rows(regs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``uac.reg_dump`` records → ITSP trunk states, from the uac module's flag bits."""
    rows = []
    for reg in regs or []:
        try:
            flags = int(reg.get("flags") or 0)
        except (TypeError, ValueError):
            flags = 0
        name = str(reg.get("l_uuid") or reg.get("r_username") or "?")
        target = f"{reg.get('r_username', '')}@{reg.get('r_domain', '')}"
        if flags & UAC_REG_DISABLED:
            state, detail = TrunkHealth.DOWN, f"disabled ({target})"
        elif flags & UAC_REG_ONLINE:
            state, detail = TrunkHealth.UP, f"registered as {target}"
        elif flags & (UAC_REG_ONGOING | UAC_REG_AUTHSENT):
            state, detail = TrunkHealth.PENDING, f"registering as {target}"
        else:
            state, detail = TrunkHealth.DOWN, f"not registered ({target})"
        rows.append({"kind": TrunkKind.ITSP, "name": name[:128], "state": state, "detail": detail[:255]})
    return rows


#: first letter of a destination's FLAGS in dispatcher.list (dispatcher.c ds_rpc_print_set)
_DESTINATION_STATES = {"A": DestinationHealth.ACTIVE, "T": DestinationHealth.TRYING,
                       "I": DestinationHealth.INACTIVE, "D": DestinationHealth.DISABLED}


def dispatcher_destination_rows(listing: dict[str, Any]) -> list[dict[str, Any]]:
    """``dispatcher.list`` → one row per destination of every set, state from its FLAGS: the first letter
    is the state (A active, T trying, I inactive, D disabled), the second P when Kamailio probes it with
    OPTIONS keepalives, X when it does not."""
    rows = []
    for target in dispatcher_targets(listing):
        flags = str(target.get("flags") or "")
        attrs = target.get("attrs")
        body = attrs.get("BODY") if isinstance(attrs, dict) else attrs
        rows.append({"setid": _int(target.get("setid"), 0), "uri": str(target.get("uri") or "")[:255],
                     "state": _DESTINATION_STATES.get(flags[:1].upper(), DestinationHealth.ACTIVE),
                     "probing": flags[1:2].upper() == "P", "flags": flags[:8],
                     "priority": _int(target.get("priority"), 0), "attrs": str(body or "")[:255]})
    return rows


_PRI_SPAN_RE = re.compile(r"^\s*PRI span (?P<span>\d+)(?:/(?P<dchan>\d+))?:\s*(?P<status>.+?)\s*$", re.I)


def parse_pri_spans(lines: Iterable[str]) -> list[dict[str, Any]]:
    """``pri show spans`` → E1 span states.

    chan_dahdi's sig_pri_cli_show_spans() prints ``PRI span <n>/<d-chan>: <status>``
    where status is built from "Provisioned", "In Alarm"/"Up", "Down"/"Active".  This
    shape comes from Asterisk's source, not from the observed transcript.
    """
    rows = []
    for line in lines:
        match = _PRI_SPAN_RE.match(line)
        if not match:
            continue
        status = match["status"]
        low = status.lower()
        if "alarm" in low:
            state = TrunkHealth.ALARM
        elif "down" in low:
            state = TrunkHealth.DOWN
        else:
            state = TrunkHealth.UP
        rows.append({"kind": TrunkKind.E1, "name": f"span {match['span']}", "state": state, "detail": status[:255]})
    return rows


# -- polling ------------------------------------------------------------------------------------------


async def _poll_asterisk(target: AsteriskTarget, timeout: float) -> NodeResult:
    ari_task = asyncio.ensure_future(_poll_ari(target, timeout)) if target.ari_url else None
    try:
        snap = await ami_connector.poll_asterisk_ami(
            target.host, target.port, target.username, target.secret, timeout=timeout,
            commands=[PRI_SPANS_COMMAND] if target.gateway else [])
        ari = await ari_task if ari_task is not None else None
    finally:
        if ari_task is not None and not ari_task.done():
            ari_task.cancel()  # AMI failed: the node is down whatever ARI would say
    result = NodeResult(kind=NodeKind.ASTERISK, node_id=target.node_id, name=target.name, site_id=target.site_id,
                        state=Health.UP, latency_ms=round(snap.latency_ms, 2), uptime_seconds=snap.uptime_seconds,
                        version=snap.asterisk_version[:255])
    result.calls = asterisk_call_rows(snap.channels)
    result.registrations = asterisk_registration_rows(snap.contacts)
    result.device_states = [{"device": d[:128], "extension": channel_extension(d)[:64], "state": s[:32]}
                            for d, s in snap.device_states.items()]
    result.extension_states = [{
        "exten": str(e.get("Exten", ""))[:64], "context": str(e.get("Context", ""))[:80],
        "hint": str(e.get("Hint", ""))[:255], "status": _int(e.get("Status"), -1),
        "status_text": str(e.get("StatusText", ""))[:32],
    } for e in snap.extension_states]
    problems = []
    if snap.latency_ms > SLOW_MS:
        problems.append(f"slow: {snap.latency_ms:.0f} ms round trip")
    for question, reason in snap.failures.items():
        asked = "Command" if question == ami_connector.UPTIME_COMMAND else question
        problems.append(f"{question}: {reason.removesuffix(f' waiting for {asked}')}")
    spans = snap.commands.get(PRI_SPANS_COMMAND)
    if spans is not None:
        if spans.ok:
            result.trunks = parse_pri_spans(spans.output)
        elif "no such command" not in spans.error.lower():  # that one: no chan_dahdi/libpri, so no E1 here
            problems.append(f"E1 spans unknown: {spans.error.removesuffix(' waiting for Command')}")
        alarms = [t["name"] for t in result.trunks if t["state"] != TrunkHealth.UP]
        if alarms:
            problems.append("E1 " + ", ".join(alarms) + " not up")
    if isinstance(ari, NodeError):
        result.ari = Health.DOWN
        problems.append(f"ARI: {ari.reason}")
    elif ari is not None:
        result.ari, result.ari_latency_ms = Health.UP, round(ari.latency_ms, 2)
        result.bridges = ari_bridge_rows(ari.bridges)
        if ari.system_name and snap.system_name and ari.system_name != snap.system_name:
            problems.append(f"ARI: answered by {ari.system_name!r}, not by this node ({snap.system_name!r})")
        elif result.uptime_seconds is None and ari.started is not None:
            up = datetime.now(dt_timezone.utc) - ari.started
            result.uptime_seconds = max(int(up.total_seconds()), 0)
    if problems:
        result.state, result.reason = Health.DEGRADED, "; ".join(problems)[:255]
    return result


async def _poll_ari(target: AsteriskTarget, timeout: float) -> ari_connector.AriSnapshot | NodeError:
    """ARI in the node's budget; never raises, since ARI alone cannot make a node down."""
    try:
        return await asyncio.wait_for(ari_connector.poll_asterisk_ari(
            target.ari_url, target.ari_username, target.ari_password, timeout=timeout), timeout)
    except NodeError as exc:
        return exc
    except asyncio.TimeoutError:
        return NodeError(f"timed out after {timeout:g}s")
    except Exception as exc:  # a surprise on the wire: report it, keep the node
        return NodeError(f"unexpected error: {exc.__class__.__name__}: {exc}")


async def _poll_kamailio(target: KamailioTarget, timeout: float) -> NodeResult:
    async with AsyncKamailioRpc(target.url, username=target.username or None, password=target.password or None,
                                timeout=timeout) as rpc:
        started = time.perf_counter()
        uptime = await rpc.core_uptime()
        latency = (time.perf_counter() - started) * 1000.0
        version, dump, regs, dispatcher = await asyncio.gather(
            rpc.core_version(), rpc.ul_dump(), _optional(rpc.uac_reg_dump()), _optional(rpc.dispatcher_list()),
            return_exceptions=True)
    now = datetime.now(dt_timezone.utc)
    for value in (version, dump):
        if isinstance(value, BaseException):
            raise value
    result = NodeResult(kind=NodeKind.KAMAILIO, node_id=target.node_id, name=target.name, state=Health.UP,
                        latency_ms=round(latency, 2), version=str(version).strip()[:255],
                        uptime_seconds=_int((uptime or {}).get("uptime") if isinstance(uptime, dict) else None, None))
    result.registrations = kamailio_registration_rows(dump, now)
    if latency > SLOW_MS:
        result.state, result.reason = Health.DEGRADED, f"slow: {latency:.0f} ms round trip"
    if isinstance(dispatcher, NodeError):
        result.state, result.reason = Health.DEGRADED, f"dispatcher states unknown: {dispatcher.reason}"[:255]
    elif isinstance(dispatcher, BaseException):
        raise dispatcher
    else:
        result.destinations = dispatcher_destination_rows(dispatcher) if isinstance(dispatcher, dict) else []
    if isinstance(regs, NodeError):
        result.state, result.reason = Health.DEGRADED, f"ITSP registrations unknown: {regs.reason}"[:255]
    elif isinstance(regs, BaseException):
        raise regs
    else:
        result.trunks = uac_trunk_rows(regs or [])
        failing = [t["name"] for t in result.trunks if t["state"] == TrunkHealth.DOWN]
        if failing:
            result.state, result.reason = Health.DEGRADED, ("ITSP not registered: " + ", ".join(failing))[:255]
    return result


async def _optional(coro):
    """uac is optional on a Kamailio: "unknown method" means "no ITSP trunks here"."""
    try:
        return await coro
    except NodeError as exc:
        if exc.permanent and "unknown method" in exc.reason:
            return []
        raise


def _int(value: Any, default: int | None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


async def poll_one(target: Target, timeout: float) -> NodeResult:
    """Poll one node; never raises: every failure becomes a ``down`` result with its reason."""
    kind = NodeKind.ASTERISK if isinstance(target, AsteriskTarget) else NodeKind.KAMAILIO
    site_id = target.site_id if isinstance(target, AsteriskTarget) else None
    if target.misconfigured:  # logging in with the wrong secret would only say "authentication failed"
        return NodeResult(kind=kind, node_id=target.node_id, name=target.name, site_id=site_id, state=Health.DOWN,
                          reason=target.misconfigured[:255])
    try:
        # The connectors bound each step; this bounds the whole node, whatever it does (an Asterisk
        # that greeted us gets the second it takes to refuse a wrong secret, see the AMI connector).
        if kind == NodeKind.ASTERISK:
            coro, limit = _poll_asterisk(target, timeout), max(timeout, ami_connector.LOGIN_ANSWER_SECONDS)
        else:
            coro, limit = _poll_kamailio(target, timeout), timeout
        return await asyncio.wait_for(coro, limit + 0.2)
    except NodeError as exc:
        reason = exc.reason
    except asyncio.TimeoutError:
        reason = f"timed out after {timeout:g}s"
    except Exception as exc:  # a bug or a surprise on the wire must not stop the cycle
        reason = f"unexpected error: {exc.__class__.__name__}: {exc}"
    return NodeResult(kind=kind, node_id=target.node_id, name=target.name, site_id=site_id, state=Health.DOWN,
                      reason=reason[:255])


async def poll_targets(targets: Iterable[Target], timeout: float) -> list[NodeResult]:
    return list(await asyncio.gather(*(poll_one(t, timeout) for t in targets)))


def run_poll(targets: Iterable[Target], timeout: float) -> list[NodeResult]:
    """Sync entry point for Celery tasks and commands (not from inside a running loop)."""
    targets = list(targets)
    if not targets:
        return []
    return asyncio.run(poll_targets(targets, timeout))


def poll_in_batches(targets: Iterable[Target], timeout: float, *, settle: float = 0.02,
                    max_wait: float = 0.1) -> Iterator[list[NodeResult]]:
    """Poll concurrently in a worker thread; yield results in batches as nodes answer.

    The caller (in its own thread, which owns the DB connection) can record the
    nodes that answered quickly while a hung one is still running out its timeout,
    so a dead node delays neither its neighbours' freshness nor the cycle's end by
    more than its own timeout.  A batch closes when no result arrived for ``settle``
    seconds, or ``max_wait`` seconds after its first result (so writing overlaps polling).
    """
    targets = list(targets)
    if not targets:
        return
    done: queue.Queue[NodeResult | None] = queue.Queue()

    async def run() -> None:
        async def one(t: Target) -> None:
            done.put(await poll_one(t, timeout))

        await asyncio.gather(*(one(t) for t in targets))

    def worker() -> None:
        try:
            asyncio.run(run())
        finally:
            done.put(None)

    thread = threading.Thread(target=worker, name="live-poller", daemon=True)
    thread.start()
    finished = False
    while not finished:
        item = done.get()
        batch: list[NodeResult] = []
        closes = time.monotonic() + max_wait
        while True:
            if item is None:
                finished = True
                break
            batch.append(item)
            wait = min(settle, closes - time.monotonic())
            if wait <= 0:
                break
            try:
                item = done.get(timeout=wait)
            except queue.Empty:
                break
        if batch:
            yield batch
    thread.join()
