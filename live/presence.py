"""Kamailio's presence, read from its own tables in the shared database (``presentity``, ``active_watchers``).

Why the tables and not JSON-RPC: they are in the portal's database already (one query each, whatever the
estate's size, and readable while a Kamailio's RPC is down), and Kamailio 5.6 has no RPC that lists watchers
(``presence.*`` offers cleanup, refreshWatchers, updateWatchers, presentity_list/show; the last two list the
in-memory cache of ``publ_cache=2`` only). It needs presence writing the DB: ``publ_cache`` 0/1 and
``subs_db_mode`` 3 (or 2, whose ``active_watchers`` rows lag by ``db_update_period``).

Each extension may have several publications at once (every Asterisk publishes the extensions' hints, Kamailio
publishes the calls it proxies itself with pua_dialoginfo), each an ``application/dialog-info+xml`` body. Their
merged state is what the lamps show: any dialog ``confirmed`` (or being set up) = in a call, else any ``early``
= ringing, else idle. Expired rows (``expires`` < now, Kamailio's clock in Unix seconds) are ignored: that is
how a lamp goes off when its Asterisk dies mid-call.

Bodies come from the network: they are parsed with size and DTD limits, and an unreadable one is counted,
never raised (it must break neither the poller nor a page).
"""
from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from .choices import ExtensionStatus

log = logging.getLogger(__name__)

#: dialog-info bodies are a few hundred bytes; anything this big is not one
MAX_BODY_BYTES = 64 * 1024
#: dialogs looked at per body (a phone has a handful of calls at most)
MAX_DIALOGS = 64
DIALOG_EVENT = "dialog"

# RFC 4235 dialog states → the lamp. "trying"/"proceeding" are the caller's side of a call being set up
# (pua_dialoginfo publishes them for the caller): the extension is busy, as Asterisk's INUSE says.
_DIALOG_STATES = {"confirmed": ExtensionStatus.IN_USE, "trying": ExtensionStatus.IN_USE,
                  "proceeding": ExtensionStatus.IN_USE, "early": ExtensionStatus.RINGING,
                  "terminated": ExtensionStatus.IDLE}
# In a call beats ringing within presence, as Asterisk's own body says "confirmed" for RINGINUSE.
_RANK = {ExtensionStatus.IN_USE: 3, ExtensionStatus.RINGING: 2, ExtensionStatus.IDLE: 1}


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def body_state(body: Any) -> str | None:
    """The state one dialog-info+xml body says (``in_use``, ``ringing``, ``idle``), or ``None`` when it is not
    a dialog-info document (empty, too big, a DTD, not XML, another root element)."""
    if isinstance(body, memoryview):
        body = body.tobytes()
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    if not isinstance(body, bytes) or not body.strip() or len(body) > MAX_BODY_BYTES:
        return None
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        return None  # a dialog-info body never has one; refusing it refuses entity expansion bombs up front
    try:
        root = ET.fromstring(body)
    except Exception:  # ParseError, but also LookupError (unknown encoding), ValueError...: all mean garbage
        return None
    if _local(root.tag) != "dialog-info":
        return None
    best = ExtensionStatus.IDLE
    for n, dialog in enumerate(d for d in root if _local(d.tag) == "dialog"):
        if n >= MAX_DIALOGS:
            break
        text = next((s.text for s in dialog if _local(s.tag) == "state"), None)
        state = _DIALOG_STATES.get((text or "").strip().lower())
        if state is not None and _RANK[state] > _RANK[best]:
            best = state
    return best.value


def merge(states: Iterable[str | None]) -> str | None:
    """The state of an extension from its publications' states (``None``: none readable)."""
    best = None
    for state in states:
        if state is not None and (best is None or _RANK[state] > _RANK[best]):
            best = state
    return None if best is None else str(best)


def split_hostport(text: str) -> tuple[str, int | None]:
    """``sip:127.0.0.1:5080;transport=udp`` / ``udp:127.0.0.1:5060`` / ``[::1]:5060`` / ``host`` → host, port."""
    rest = str(text or "").strip()
    if rest.lower().startswith(("sip:", "sips:", "udp:", "tcp:", "tls:", "sctp:", "ws:", "wss:")):
        rest = rest.split(":", 1)[1]
    rest = rest.split(";", 1)[0].rsplit("@", 1)[-1]
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port = rest.partition(":")
    return host.lower(), int(port) if port.isdigit() else None


@dataclass
class PresenceSnapshot:
    """What the presence tables held at one moment (``now``, Unix seconds on Kamailio's clock)."""

    now: int
    states: dict[str, str] = field(default_factory=dict)  # extension → in_use / ringing / idle
    publications_of: Counter = field(default_factory=Counter)  # extension → live publications
    senders: Counter = field(default_factory=Counter)  # (host, port) of the publisher → live publications
    unsigned: int = 0  # live publications with no sender (handle_publish() without a sender URI)
    garbage: int = 0  # live dialog publications whose body is not a dialog-info document
    watchers_on: Counter = field(default_factory=Counter)  # (host, port) of Kamailio's socket → live watchers

    @property
    def publications(self) -> int:
        return sum(self.senders.values()) + self.unsigned

    @property
    def watchers(self) -> int:
        return sum(self.watchers_on.values())

    @property
    def senders_recorded(self) -> bool:
        """Whether publishers can be told apart: some publication names its sender, or there is none at all
        (then no Asterisk publishes, whatever Kamailio records)."""
        return bool(self.senders) or not self.unsigned

    def published_by(self, nodes: Iterable[tuple[int, str, int | None]],
                     kamailios: Iterable[str] = ()) -> dict[int, int | None]:
        """Live publications per Asterisk, ``{node_id: count}`` for ``(node_id, host, sip_port)``; each count
        ``None`` when Kamailio does not record senders.

        A sender is its node's by host and port (Asterisk publishes from its UDP transport, host:sip_port);
        when no node has that port (TCP, a NAT), by host alone if one node only has that host. Senders at a
        Kamailio's ``kamailios`` address (pua_dialoginfo's own publications) are nobody's.
        """
        own = {split_hostport(address) for address in kamailios}
        nodes = [(pk, split_hostport(host)[0], port) for pk, host, port in nodes]
        if not self.senders_recorded:
            return {pk: None for pk, _, _ in nodes}
        counts = {pk: 0 for pk, _, _ in nodes}
        exact = {(host, port): pk for pk, host, port in nodes}
        hosts: dict[str, list[int]] = {}
        for pk, host, _ in nodes:
            hosts.setdefault(host, []).append(pk)
        for (host, port), n in self.senders.items():
            if (host, port) in own:
                continue
            pk = exact.get((host, port))
            if pk is None and len(hosts.get(host, ())) == 1:
                pk = hosts[host][0]
            if pk is not None:
                counts[pk] += n
        return counts

    def line(self) -> str:
        text = (f"presence: {self.publications} publication(s) for {len(self.states)} extension(s) "
                f"({sum(1 for s in self.states.values() if s != ExtensionStatus.IDLE)} busy), "
                f"{self.watchers} watcher(s)")
        if self.garbage:
            text += f", {self.garbage} unreadable body(ies) ignored"
        if not self.senders_recorded:
            text += "; Kamailio records no publisher (handle_publish without a sender URI)"
        return text


#: Asterisk device states of a phone in a call or ringing (DeviceStateList): its hint changed, so it published
BUSY_DEVICE_STATES = ("INUSE", "RINGING", "RINGINUSE", "BUSY", "ONHOLD")


def busy_asterisks() -> set[int]:
    """Asterisk nodes that report an extension's device busy or ringing now (one query).

    An Asterisk publishes an extension's state when it *changes* (it has no initial publish), so a node
    with no publication is only a fault when it carries a call: then the lamps miss that call. An idle
    node that has not published since it started is not one.
    """
    from .models import DeviceState

    return set(DeviceState.objects.filter(state__in=BUSY_DEVICE_STATES).exclude(extension="")
               .values_list("node_id", flat=True).distinct())


def read_presence(now: int) -> PresenceSnapshot:
    """Two queries: the live publications (their bodies parsed here, once per poll cycle) and the live
    watchers counted per Kamailio socket."""
    from django.db.models import Count

    from voipadmin.kamailio.models import ActiveWatcher, Presentity

    snap = PresenceSnapshot(now=int(now))
    per_extension: dict[str, list[str | None]] = {}
    rows = Presentity.objects.filter(expires__gt=snap.now).values_list("username", "event", "sender", "body")
    for username, event, sender, body in rows.iterator(chunk_size=2000):
        host, port = split_hostport(sender) if sender else ("", None)
        if host:
            snap.senders[(host, port)] += 1
        else:
            snap.unsigned += 1
        if event != DIALOG_EVENT:
            continue
        state = body_state(body)
        if state is None:
            snap.garbage += 1
        snap.publications_of[username] += 1
        per_extension.setdefault(username, []).append(state)
    for username, states in per_extension.items():
        merged = merge(states)
        if merged is not None:
            snap.states[username] = merged
    if snap.garbage:
        log.warning("%d presence publication(s) with an unreadable dialog-info body ignored", snap.garbage)
    for socket, n in (ActiveWatcher.objects.filter(expires__gt=snap.now).values_list("socket_info")
                      .annotate(n=Count("id")).values_list("socket_info", "n")):
        snap.watchers_on[split_hostport(socket)] += n
    return snap


# -- lamps a restarted Asterisk left on ----------------------------------------------------------------------


@dataclass(frozen=True)
class StalePublication:
    """A live dialog publication of a node's previous instance that still says ringing or in a call."""

    uri: str  # the presentity, sip:<extension>@<site SIP domain>
    etag: str
    entity: str  # the body's entity (Asterisk names the Kamailio it published to: sip:<ext>@<kamailio>:<port>)
    state: str


def idle_document(uri: str) -> str:
    """A full dialog-info document without dialogs: RFC 4235's "no dialog", the lamp off (what kamailio.cfg
    stores for an idle Asterisk too)."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" '
            f'version="1" state="full" entity="{uri}"/>\n')


def stale_publications(host: str, port: int | None, *, started: int, now: int) -> list[StalePublication]:
    """Live dialog publications (``expires`` > ``now``) sent from ``host``:``port`` and last received no later
    than ``started`` (Unix seconds: the node's new start, as its uptime says) that light a lamp. One query.
    What the new instance publishes comes after it has booted (seconds later): its own state, left alone."""
    from voipadmin.kamailio.models import Presentity

    found = []
    rows = (Presentity.objects.filter(event=DIALOG_EVENT, expires__gt=int(now), received_time__lte=int(started))
            .filter(sender__icontains=split_hostport(host)[0]).values_list("username", "domain", "etag", "sender", "body").order_by("id"))
    for username, domain, etag, sender, body in rows:
        if split_hostport(sender) != (split_hostport(host)[0], port):
            continue
        state = body_state(body)
        if state in (None, ExtensionStatus.IDLE):
            continue
        found.append(StalePublication(uri=f"sip:{username}@{domain}", etag=etag, entity=_entity(body),
                                      state=str(state)))
    return found


def _entity(body: Any) -> str:
    if isinstance(body, memoryview):
        body = body.tobytes()
    try:
        return ET.fromstring(body).get("entity") or ""
    except Exception:  # body_state read it already; this cannot fail, but a lamp is not worth a crash
        return ""
