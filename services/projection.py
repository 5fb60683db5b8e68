"""Services projected into Kamailio's tables and Asterisk's realtime ``extensions`` table.

The estate's **dialplan id map** (Kamailio ``dialplan.dpid``; ``attrs`` is NOT NULL and always set,
read in kamailio.cfg through ``$var(dp_attrs)`` with ``{param.value,name}``):

=====  ==============================  ==========================================================
dpid   purpose (owner)                 rule → ``attrs``
=====  ==============================  ==========================================================
1      service codes (services)        ``*125`` equal-match, output the code; attrs
                                       ``svc=<kind>;setid=<set>;alg=<algorithm>`` or
                                       ``svc=<kind>;dst=sip:host:port`` or ``svc=<kind>;target=home``
2      outbound PSTN routes (trunks)   regex on the dialled number → stripped/prefixed number;
                                       attrs ``route=<id>;setid=<1000+id>;alg=8``
3      inbound numbers / DDIs          equal-match on the DDI → extension or service code;
       (services)                      attrs ``ddi=<id>;target=user|service``
4      caller's home site (services)   regex per block of a site's extension range, applied to
                                       the caller ($fU) → the site's Asterisk URI; attrs ``site=<slug>``
=====  ==============================  ==========================================================

Dispatcher set ids: 1..999 are ``DispatcherSet`` rows (services), 1000+ are routes (trunks).
The ``extensions`` rows owned here are the service codes' rows in every site's context
(``site-<slug>``): exten = the code, priorities 1..n.
"""
from __future__ import annotations

from typing import Any, Iterable

from django.db.models import Q

from sites.models import AsteriskNode, ExtensionRange, Site
from sites.ranges import regex_patterns
from trunks.projection import lock, sync_rows
from voipadmin.kamailio.models import DialplanRule, Dispatcher

from .choices import Announcement, RouteTo, ServiceKind
from .models import (DIALPLAN_ATTRS_MAX, SETID_MAX, AsteriskExtension, DispatcherDestination, InboundNumber,
                     ServiceCode, node_route_attrs)

DPID_SERVICES = 1
DPID_PSTN = 2  # trunks.projection
DPID_INBOUND = 3
DPID_HOME = 4
SERVICES_DPIDS = (DPID_SERVICES, DPID_INBOUND, DPID_HOME)

ANNOUNCEMENT_SOUNDS = {
    Announcement.USER_UNAVAILABLE: "vm-nobodyavail",
    Announcement.SERVICE_UNAVAILABLE: "ss-noservice",
}


# --- dispatcher -------------------------------------------------------------------------------------------------


def dispatcher_rows() -> list[dict[str, Any]]:
    rows = []
    for dest in DispatcherDestination.objects.select_related("dispatcher_set", "node").order_by(
            "dispatcher_set__setid", "-priority", "node__name"):
        rows.append({"setid": dest.dispatcher_set.setid, "destination": dest.node.sip_uri, "flags": dest.flags,
                     "priority": dest.priority, "attrs": dest.kamailio_attrs,
                     "description": dest.node.name[:64]})
    return rows


def dispatcher_scope():
    return Dispatcher.objects.filter(setid__gte=1, setid__lte=SETID_MAX)


# --- dialplan ---------------------------------------------------------------------------------------------------


def code_attrs(code: ServiceCode) -> str:
    if code.route_to == RouteTo.DISPATCHER_SET:
        target = f"setid={code.dispatcher_set.setid};alg={code.dispatcher_set.algorithm}"
    elif code.route_to == RouteTo.NODE:
        return node_route_attrs(code.kind, code.node)[:DIALPLAN_ATTRS_MAX]  # (ServiceCode.clean refuses more)
    else:
        target = "target=home"
    return f"svc={code.kind};{target}"[:DIALPLAN_ATTRS_MAX]


def range_patterns(start: int, end: int) -> list[str]:
    """Regular expressions that together match exactly the numbers start..end (e.g. ``^[1-3][0-9]{3}$``)."""
    return regex_patterns(start, end)


def home_node(site: Site, nodes: Iterable[AsteriskNode]) -> AsteriskNode | None:
    """The node serving a site's own users' media (voicemail role first, then pbx, then any enabled)."""
    candidates = [n for n in nodes if n.site_id == site.pk and n.enabled]
    for role in ("voicemail", "pbx"):
        for node in candidates:
            if role in node.role_list:
                return node
    return candidates[0] if candidates else None


def dialplan_rows() -> list[dict[str, Any]]:
    rows = []
    codes = ServiceCode.objects.filter(enabled=True).select_related("dispatcher_set", "node").order_by("code")
    for code in codes:
        rows.append({"dpid": DPID_SERVICES, "pr": 10, "match_op": DialplanRule.MATCH_EQUAL, "match_exp": code.code,
                     "match_len": len(code.code), "subst_exp": "", "repl_exp": code.code,
                     "attrs": code_attrs(code)})
    ddis = (InboundNumber.objects.filter(enabled=True).filter(Q(service_code__isnull=True) |
                                                                Q(service_code__enabled=True))
            .select_related("service_code", "user").order_by("number"))
    for ddi in ddis:
        rows.append({"dpid": DPID_INBOUND, "pr": 10, "match_op": DialplanRule.MATCH_EQUAL, "match_exp": ddi.number,
                     "match_len": len(ddi.number), "subst_exp": "", "repl_exp": ddi.destination,
                     "attrs": f"ddi={ddi.pk};target={ddi.target}"})
    nodes = list(AsteriskNode.objects.order_by("name"))
    for rng in ExtensionRange.objects.select_related("site").order_by("start"):
        node = home_node(rng.site, nodes)
        if node is None:
            continue
        for pattern in range_patterns(rng.start, rng.end):
            rows.append({"dpid": DPID_HOME, "pr": 10, "match_op": DialplanRule.MATCH_REGEX, "match_exp": pattern,
                         "match_len": 0, "subst_exp": "", "repl_exp": node.sip_uri,
                         "attrs": f"site={rng.site.slug}"[:64]})
    return rows


def dialplan_scope():
    return DialplanRule.objects.filter(dpid__in=SERVICES_DPIDS)


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
    if kind == ServiceKind.IVR:
        return [("Answer", ""), ("Goto", f"{param},s,1")]
    if kind == ServiceKind.ANNOUNCEMENT:
        if code.announcement == Announcement.RINGBACK:
            return [("Ringing", ""), ("Wait", "30"), ("Hangup", "")]
        sound = param or ANNOUNCEMENT_SOUNDS.get(code.announcement, "ss-noservice")
        return [("Progress", ""), ("Playback", f"{sound},noanswer"), ("Hangup", "")]
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
    digit_codes.update(c for c in extra_codes if c.isdigit())
    return AsteriskExtension.objects.filter(Q(exten__startswith="*") | Q(exten__startswith="#") |
                                            Q(exten__in=digit_codes))


# --- sync -------------------------------------------------------------------------------------------------------


def sync_dispatcher() -> bool:
    lock("dispatcher")
    return sync_rows(Dispatcher, dispatcher_scope(), dispatcher_rows())


def sync_dialplan() -> bool:
    lock("dialplan")
    return sync_rows(DialplanRule, dialplan_scope(), dialplan_rows())


def sync_extensions(extra_codes: Iterable[str] = ()) -> bool:
    lock("extensions")
    return sync_rows(AsteriskExtension, extension_scope(extra_codes), extension_rows())


#: Kamailio table → (desired rows, rows in the table, sync) — what check_estate compares and repairs
PROJECTIONS = {
    "dispatcher": (dispatcher_rows, dispatcher_scope, sync_dispatcher),
    "dialplan": (dialplan_rows, dialplan_scope, sync_dialplan),
}
