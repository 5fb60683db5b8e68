"""Services projected into Kamailio's tables and Asterisk's realtime ``extensions`` table.

The estate's **dialplan id map** (Kamailio ``dialplan.dpid``; ``attrs`` is NOT NULL and always set,
read in kamailio.cfg through ``$var(dp_attrs)`` with ``{param.value,name}``):

=====  ==============================  ==========================================================
dpid   purpose (owner)                 rule → ``attrs``
=====  ==============================  ==========================================================
1      service codes (services)        ``*125`` equal-match, output the code; attrs
                                       ``svc=<kind>;setid=<set>;alg=<algorithm>`` or
                                       ``svc=<kind>;dst=sip:host:port`` or ``svc=<kind>;target=home``,
                                       these two + ``;fb=<fallback set>;fa=8`` (see code_attrs)
2      outbound PSTN routes (trunks)   regex on the dialled number → stripped/prefixed number;
                                       attrs ``route=<id>;setid=<1000+id>;alg=8``
3      inbound numbers / DDIs          equal-match on the DDI → extension or service code;
       (services)                      attrs ``ddi=<id>;target=user|service``
4      caller's home site (services)   regex per block of a site's extension range, applied to
                                       the caller ($fU) → the site's Asterisk URI; attrs ``site=<slug>``
5      an extension's SIP domain       the same regexes, applied to a callee addressed to Kamailio's
       (services)                      own address (a DDI rewritten to an extension, an Asterisk
                                       dialling ``<ext>@<kamailio>``) → the site's SIP domain, the
                                       domain its phones register in; attrs ``site=<slug>``
=====  ==============================  ==========================================================

Dispatcher set ids: 1..999 are ``DispatcherSet`` rows (services), 1000+ are routes (trunks).

``address`` group 1 (``GRP_TRUSTED_PEERS`` in kamailio.cfg) is the estate's own nodes: every enabled
Asterisk and Kamailio known by an IP address. Kamailio lets them in without digest auth (an Asterisk
relaying a DDI from an E1, calling a phone); groups >= 2 are the ITSPs (trunks.projection). A node known
by a host name cannot be a row (the table holds addresses), nor can an address an ITSP trunk claims
(a carrier trusted as the estate's own would skip the DDI map and could call out): both are left out,
and :func:`untrusted_nodes` says why (the estate check reports it).
The ``extensions`` rows owned here are the service codes' rows in every site's context
(``site-<slug>``): exten = the code, priorities 1..n.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterable

from django.db.models import Q
from django.utils.translation import gettext, pgettext

from sites.models import AsteriskNode, ExtensionRange, KamailioNode, Site
from sites.ranges import regex_patterns
from trunks.choices import ItspAuth
from trunks.models import ItspTrunk
from trunks.projection import lock, sync_rows
from voipadmin import numbers
from voipadmin.kamailio.models import Address, DialplanRule, Dispatcher

from .choices import Announcement, DispatcherAlgorithm, RouteTo, ServiceKind
from .models import (DIALPLAN_ATTRS_MAX, SETID_MAX, AsteriskExtension, DispatcherDestination, InboundNumber,
                     ServiceCode, node_route_attrs)

DPID_SERVICES = 1
DPID_PSTN = 2  # trunks.projection
DPID_INBOUND = 3
DPID_HOME = 4
DPID_DOMAIN = 5
SERVICES_DPIDS = (DPID_SERVICES, DPID_INBOUND, DPID_HOME, DPID_DOMAIN)
#: Kamailio address group of the estate's own nodes (kamailio.cfg GRP_TRUSTED_PEERS); ITSPs are >= 2
GRP_TRUSTED_PEERS = 1

ANNOUNCEMENT_SOUNDS = {
    Announcement.USER_UNAVAILABLE: "vm-nobodyavail",
    Announcement.SERVICE_UNAVAILABLE: "ss-noservice",
}


# --- dispatcher -------------------------------------------------------------------------------------------------


#: Kamailio dispatcher destination flag "disabled" (DS_DISABLED_DST): never selected and never re-activated by
#: keepalives; a ``dispatcher.reload`` resets each destination to its row's flags, so a drain survives it.
DS_DISABLED_DST = 4


def destination_flags(dest: DispatcherDestination) -> int:
    """The row's flags: the destination's own, plus disabled while its node is drained (sites.actions.drain_node)."""
    return dest.flags | (DS_DISABLED_DST if dest.node.draining else 0)


def dispatcher_rows() -> list[dict[str, Any]]:
    rows = []
    for dest in DispatcherDestination.objects.select_related("dispatcher_set", "node").order_by(
            "dispatcher_set__setid", "-priority", "node__name"):
        rows.append({"setid": dest.dispatcher_set.setid, "destination": dest.node.sip_uri,
                     "flags": destination_flags(dest),
                     "priority": dest.priority, "attrs": destination_attrs(dest),
                     "description": dest.node.name[:64]})
    return rows


def dispatcher_scope():
    return Dispatcher.objects.filter(setid__gte=1, setid__lte=SETID_MAX)


#: a node name used as-is as its ``duid`` (Kamailio's attrs are ``name=value;...``, column 128 characters)
_DUID_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,32}\Z")


def destination_duid(dest: DispatcherDestination) -> str:
    """The destination's unique id for call load distribution: its node's name (names are unique), or
    ``node<id>`` for a name that does not fit an attrs value - or looks like another node's ``node<id>``."""
    name = dest.node.name
    return name if _DUID_SAFE.match(name) and not re.fullmatch(r"node[0-9]+", name) else f"node{dest.node_id}"


def destination_attrs(dest: DispatcherDestination) -> str:
    """The row's attrs: ``weight=N`` and the administrator's attrs, plus what the set's algorithm needs.
    10 (call load): ``duid=<node>;maxload=<max calls, 0 = no limit>`` - Kamailio counts calls per duid.
    11 (relative weight): ``rweight=<weight>`` (1..100, as Kamailio wants it); nothing updates it from the live
    load: pushing new rweights means a ``dispatcher.reload`` at every poll, which also forgets every keepalive
    state (kamailio.cfg: a dead node would be tried again at each poll) and every call-load count, so the
    nodes' live load (an Asterisk's CPU, its own count of calls) is not what Kamailio routes by, and 10 already
    follows the calls Kamailio itself counts, at once."""
    attrs = dest.kamailio_attrs
    algorithm = dest.dispatcher_set.algorithm
    if algorithm == DispatcherAlgorithm.CALL_LOAD:
        attrs += f";duid={destination_duid(dest)};maxload={dest.max_calls or 0}"
    elif algorithm == DispatcherAlgorithm.RELATIVE_WEIGHT:
        attrs += f";rweight={dest.weight}"
    return attrs


# --- dialplan ---------------------------------------------------------------------------------------------------


#: How Kamailio picks from a code's fallback set (``fa=``): the first active node by priority, so while a
#: code's own node is down all its calls land on one node (one conference room, not one per node), and the
#: set's priorities say which node takes over.
FALLBACK_ALGORITHM = 8


def fallback_sets() -> list[tuple[int, set[int]]]:
    """``(setid, node ids)`` of every dispatcher set with destinations, lowest set id first (one query)."""
    sets: dict[int, set[int]] = {}
    for setid, node_id in (DispatcherDestination.objects.order_by("dispatcher_set__setid")
                           .values_list("dispatcher_set__setid", "node_id")):
        sets.setdefault(setid, set()).add(node_id)
    return list(sets.items())


def fallback_setid(code: ServiceCode, sets: list[tuple[int, set[int]]] | None = None) -> int | None:
    """The set that takes the calls of a code served by one node (or by the caller's home node) while that
    node is down: the lowest-numbered set holding the code's node, else the lowest-numbered set — the
    estate's first. None for codes served by a set (the set fails over itself) or when there is no set."""
    if code.route_to == RouteTo.DISPATCHER_SET:
        return None
    sets = fallback_sets() if sets is None else sets
    if code.route_to == RouteTo.NODE:
        for setid, node_ids in sets:
            if code.node_id in node_ids:
                return setid
    return sets[0][0] if sets else None


def code_attrs(code: ServiceCode, sets: list[tuple[int, set[int]]] | None = None) -> str:
    """dpid 1 ``attrs`` of a code; a code served by one node also names its fallback set
    (``;fb=<set>;fa=8``, kamailio.cfg route[SERVICES]) when that fits the column."""
    if code.route_to == RouteTo.DISPATCHER_SET:
        return f"svc={code.kind};setid={code.dispatcher_set.setid};alg={code.dispatcher_set.algorithm}"[
            :DIALPLAN_ATTRS_MAX]
    if code.route_to == RouteTo.NODE and code.node.draining:
        # a drained node takes no new calls: its fallback set serves the code (Kamailio skips the node there,
        # its rows are disabled), as if it were down — also when the node is in no set Kamailio could skip
        setid = fallback_setid(code, sets)
        if setid is not None:
            return f"svc={code.kind};setid={setid};alg={FALLBACK_ALGORITHM}"[:DIALPLAN_ATTRS_MAX]
    if code.route_to == RouteTo.NODE:
        attrs = node_route_attrs(code.kind, code.node)  # (ServiceCode.clean refuses more than the column)
    else:
        attrs = f"svc={code.kind};target=home"
    setid = fallback_setid(code, sets)
    fallback = f";fb={setid};fa={FALLBACK_ALGORITHM}" if setid is not None else ""
    if len(attrs + fallback) <= DIALPLAN_ATTRS_MAX:  # never a truncated set id
        attrs += fallback
    return attrs[:DIALPLAN_ATTRS_MAX]


def range_patterns(start: int, end: int) -> list[str]:
    """Regular expressions that together match exactly the numbers start..end (e.g. ``^[1-3][0-9]{3}$``)."""
    return regex_patterns(start, end)


def home_node(site: Site, nodes: Iterable[AsteriskNode]) -> AsteriskNode | None:
    """The node serving a site's own users' media (voicemail role first, then pbx, then any enabled; a drained
    node only when every one is drained)."""
    candidates = [n for n in nodes if n.site_id == site.pk and n.enabled]
    candidates = [n for n in candidates if not n.draining] or candidates
    for role in ("voicemail", "pbx"):
        for node in candidates:
            if role in node.role_list:
                return node
    return candidates[0] if candidates else None


def dialplan_rows() -> list[dict[str, Any]]:
    rows = []
    codes = ServiceCode.objects.filter(enabled=True).select_related("dispatcher_set", "node").order_by("code")
    sets = fallback_sets()
    for code in codes:
        rows.append({"dpid": DPID_SERVICES, "pr": 10, "match_op": DialplanRule.MATCH_EQUAL, "match_exp": code.code,
                     "match_len": len(code.code), "subst_exp": "", "repl_exp": code.code,
                     "attrs": code_attrs(code, sets)})
    ddis = (InboundNumber.objects.filter(enabled=True).filter(Q(service_code__isnull=True) |
                                                                Q(service_code__enabled=True))
            .select_related("service_code", "user").order_by("number"))
    for ddi in ddis:
        rows.append({"dpid": DPID_INBOUND, "pr": 10, "match_op": DialplanRule.MATCH_EQUAL, "match_exp": ddi.number,
                     "match_len": len(ddi.number), "subst_exp": "", "repl_exp": ddi.destination,
                     "attrs": f"ddi={ddi.pk};target={ddi.target}"})
    nodes = list(AsteriskNode.objects.order_by("name"))
    for rng in ExtensionRange.objects.select_related("site").order_by("start"):
        patterns = range_patterns(rng.start, rng.end)
        for pattern in patterns:  # (a site's users register in its SIP domain, node or not)
            rows.append({"dpid": DPID_DOMAIN, "pr": 10, "match_op": DialplanRule.MATCH_REGEX, "match_exp": pattern,
                         "match_len": 0, "subst_exp": "", "repl_exp": rng.site.sip_domain,
                         "attrs": f"site={rng.site.slug}"[:64]})
        node = home_node(rng.site, nodes)
        if node is None:
            continue
        for pattern in patterns:
            rows.append({"dpid": DPID_HOME, "pr": 10, "match_op": DialplanRule.MATCH_REGEX, "match_exp": pattern,
                         "match_len": 0, "subst_exp": "", "repl_exp": node.sip_uri,
                         "attrs": f"site={rng.site.slug}"[:64]})
    return rows


def dialplan_scope():
    return DialplanRule.objects.filter(dpid__in=SERVICES_DPIDS)


# --- address group 1: the estate's own nodes ------------------------------------------------------------------


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((host or "").strip().strip("[]"))
    except ValueError:
        return None


def kamailio_host(node: KamailioNode) -> str:
    """The host part of a Kamailio's ``sip_address`` (``host``, ``host:port`` or ``[v6]:port``)."""
    text = (node.sip_address or "").strip()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    return text.split(":")[0] if text.count(":") == 1 else text


def _peer_nodes() -> list[tuple[str, str, str]]:
    """(kind, name, host) of every enabled node of the estate, Kamailios first."""
    peers = [("kamailio", n.name, kamailio_host(n))
             for n in KamailioNode.objects.filter(enabled=True).only("name", "sip_address").order_by("name")]
    peers += [("asterisk", n.name, n.host)
              for n in AsteriskNode.objects.filter(enabled=True).only("name", "host").order_by("name")]
    return peers


def _carrier_networks() -> list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    networks = []
    for trunk in ItspTrunk.objects.filter(enabled=True, auth_mode=ItspAuth.IP).only("name", "ip_addresses",
                                                                                     "auth_mode"):
        for ip, mask in trunk.ip_networks:
            networks.append((trunk.name, ipaddress.ip_network(f"{ip}/{mask}", strict=False)))
    return networks


def trusted_peers() -> tuple[list[dict[str, Any]], list[str]]:
    """(the group-1 ``address`` rows, one sentence per enabled node left out and why)."""
    rows, left_out = [], []
    carriers = _carrier_networks()
    for kind, name, host in _peer_nodes():
        label = (pgettext("trusted peers", "Kamailio node %(name)s") if kind == "kamailio"
                 else pgettext("trusted peers", "Asterisk node %(name)s")) % {"name": name}
        ip = _ip(host)
        if ip is None:
            left_out.append(gettext("%(node)s is known by the name %(host)s, and Kamailio's address table holds IP "
                                    "addresses: Kamailio does not trust it (its calls are challenged). Give the node "
                                    "its IP address as host.") % {"node": label, "host": repr(host)})
            continue
        carrier = next((trunk for trunk, net in carriers if ip.version == net.version and ip in net), None)
        if carrier is not None:
            left_out.append(gettext("%(node)s (%(ip)s) is inside the addresses of ITSP trunk %(trunk)s: a carrier's "
                                    "address is never trusted as the estate's own (its calls would skip the DDI map).")
                            % {"node": label, "ip": ip, "trunk": carrier})
            continue
        rows.append({"grp": GRP_TRUSTED_PEERS, "ip_addr": str(ip), "mask": ip.max_prefixlen, "port": 0,
                     "tag": f"{kind}:{name}"[:64]})
    return rows, left_out


def address_rows() -> list[dict[str, Any]]:
    return trusted_peers()[0]


def untrusted_nodes() -> list[str]:
    return trusted_peers()[1]


def address_scope():
    return Address.objects.filter(grp=GRP_TRUSTED_PEERS)


# --- Asterisk realtime extensions -------------------------------------------------------------------------------


def code_steps(code: ServiceCode, site: Site) -> list[tuple[str, str]]:
    """The (app, appdata) priorities of a code in a site's context."""
    kind, param = code.kind, code.parameter
    if kind == ServiceKind.VOICEMAIL:
        return [("Answer", ""), ("VoiceMailMain", f"${{CALLERID(num)}}@{site.slug}"), ("Hangup", "")]
    if kind == ServiceKind.CONFERENCE:
        return [("Answer", ""), ("ConfBridge", param or "estate"), ("Hangup", "")]
    if kind == ServiceKind.ECHO:
        return [("Answer", ""), ("Playback", "demo-echotest"), ("Echo", ""), ("Hangup", "")]
    if kind in (ServiceKind.ROOMS, ServiceKind.APPLICATION):
        # the node's static [va-app] hands the call to the application service (StasisBroadcast)
        return [("Goto", "va-app,${EXTEN},1")]
    if kind == ServiceKind.IVR:
        return [("Answer", ""), ("Goto", f"{param},s,1")]
    if kind == ServiceKind.ANNOUNCEMENT:
        if param:  # a stock sound by name, chosen on the code
            return [("Progress", ""), ("Playback", f"{param},noanswer"), ("Hangup", "")]
        # the caller's site's uploaded announcement (the node's static [va-announce] asks the application
        # service per call), else the stock sound
        if code.announcement == Announcement.RINGBACK:
            return [("Goto", "va-ringback,s,1")]
        purpose = code.announcement or Announcement.SERVICE_UNAVAILABLE
        sound = ANNOUNCEMENT_SOUNDS.get(purpose, "ss-noservice")
        return [("Gosub", f"va-announce,{purpose},1({sound})"), ("Hangup", "")]
    if kind == ServiceKind.DOUBLE_DIAL:
        return [("Dial", f"{param},30"), ("Hangup", "")]
    return [("Hangup", "")]


def extension_rows() -> list[dict[str, Any]]:
    rows = []
    sites = list(Site.objects.order_by("slug"))
    for code in ServiceCode.objects.filter(enabled=True).order_by("code"):
        for site in sites:
            for priority, (app, appdata) in enumerate(code_steps(code, site), start=1):
                rows.append({"context": site.asterisk_context[:40], "exten": code.code, "priority": priority,
                             "app": app, "appdata": appdata[:256]})
    return rows


def extension_scope(extra_codes: Iterable[str] = ()):
    """Rows owned by service codes: every ``*``/``#`` exten, plus digit-only codes (current and given)."""
    digit_codes = set(ServiceCode.objects.filter(code__regex=r"^[0-9]+$").values_list("code", flat=True))
    digit_codes.update(c for c in extra_codes if numbers.is_number(c))
    return AsteriskExtension.objects.filter(Q(exten__startswith="*") | Q(exten__startswith="#") |
                                            Q(exten__in=digit_codes))


# --- sync -------------------------------------------------------------------------------------------------------


def sync_address() -> bool:
    """Group 1 only (trunks own groups >= 2)."""
    lock()
    return sync_rows(Address, address_scope(), address_rows())


def sync_dispatcher() -> bool:
    lock()
    return sync_rows(Dispatcher, dispatcher_scope(), dispatcher_rows())


def sync_dialplan() -> bool:
    lock()
    return sync_rows(DialplanRule, dialplan_scope(), dialplan_rows())


def sync_extensions(extra_codes: Iterable[str] = ()) -> bool:
    lock()
    return sync_rows(AsteriskExtension, extension_scope(extra_codes), extension_rows())


#: Kamailio table → (desired rows, rows in the table, sync) — what check_estate compares and repairs
PROJECTIONS = {
    "address": (address_rows, address_scope, sync_address),
    "dispatcher": (dispatcher_rows, dispatcher_scope, sync_dispatcher),
    "dialplan": (dialplan_rows, dialplan_scope, sync_dialplan),
}
