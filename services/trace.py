"""What happens when X dials Y: the path a call takes through the estate, from the portal's objects, and
checked against what every Kamailio holds in memory.

The trace follows ``request_route`` of deploy/kamailio/kamailio.cfg, in its order — a stage that takes the
call ends the path, as Kamailio's ``route(RELAY)``/``exit`` does::

    route(REGISTRAR);
    route(AUTH);          # a phone: digest auth, home site = dp_translate(DP_HOME, $fU)
                          # a carrier (address group >= 2, or an E1 line's Asterisk with X-VA-Inbound):
                          #   route(INBOUND): dp_translate(DP_INBOUND) rewrites the DDI, 404 when none
    route(SERVICES);      # dp_translate(DP_SERVICES): a code, served by a set, one node or the caller's home
    route(LOCATION);      # lookup("location"): a registered phone rings directly
    route(PSTN);          # not for a carrier's call; dp_translate(DP_PSTN): the route's trunks by priority
    route(TO_ASTERISK);   # dp_translate(DP_HOME) on the callee: its site's Asterisk; a carrier's call 404;
                          # anything else: ds_select_dst(DS_ASTERISK = set 1, algorithm 4)

Two halves, both free of view code:

* :func:`trace_call` — inputs (a user or a trunk, a number) → a :class:`Trace`, the ordered :class:`Step`\\ s,
  each with what matched and why, the dialplan lookups (dpid, number, the answer the portal expects) and the
  dispatcher set it hands the call to. Computed from the rows the portal projects into Kamailio's tables
  (``services.projection`` / ``trunks.projection``), read the way Kamailio's dialplan module reads them.
* :func:`check_live` — the trace and each Kamailio's RPC answers (:class:`NodeAnswers`, gathered by
  :func:`ask_kamailio`: ``dialplan.translate`` for every lookup, ``dispatcher.list`` once) → one
  :class:`NodeVerdict` per node: what agrees, what differs, and a node that could not be asked says why —
  *unreachable* (nothing answered) is told apart from *method not found* and other RPC errors.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import httpx
from django.utils.translation import gettext, gettext_lazy as _, pgettext
from sites.models import AsteriskNode, KamailioNode, Site
from trunks import projection as trunk_projection
from trunks.choices import ItspAuth, TrunkKind
from trunks.models import OutboundRoute, Trunk
from users.models import SipUser
from voipadmin.connectors.errors import NodeError
from voipadmin.connectors.kamailio import KamailioRpc, dispatcher_targets
from voipadmin.fields import misconfiguration
from voipadmin.kamailio.models import DialplanRule, Location

from . import projection
from .choices import DispatcherAlgorithm, RouteTo, ServiceKind
from .estate import _norm_dispatcher, compare, render
from .models import DispatcherDestination, InboundNumber, ServiceCode

#: kamailio.cfg: ``DS_ASTERISK`` and the algorithm route[TO_ASTERISK] hands other numbers to it with
DS_ASTERISK = 1
DS_ASTERISK_ALGORITHM = DispatcherAlgorithm.ROUND_ROBIN
#: what a number may be: digits, after an optional * # or + (a service code, an extension, a DDI)
NUMBER_RE = re.compile(r"^[*#+]?[0-9]+\Z")
NUMBER_MAX = 32

# stages, in kamailio.cfg's order
CALLER, INBOUND, SERVICES, LOCATION, PSTN, TO_ASTERISK = ("caller", "inbound", "services", "location", "pstn",
                                                          "to_asterisk")

#: What each ds_select_dst algorithm means for which Asterisk gets a call (failover: the next one of the list).
ALGORITHM_MEANING = {
    DispatcherAlgorithm.HASH_CALLID: _("a hash of the Call-ID picks the first node: each call may land on another "
                                       "node, a call's retransmissions on the same one"),
    DispatcherAlgorithm.HASH_FROM: _("a hash of the From URI picks the first node: the same caller always lands "
                                     "on the same node while it is up"),
    DispatcherAlgorithm.HASH_TO: _("a hash of the To URI picks the first node: every call to the same number "
                                   "lands on the same node while it is up"),
    DispatcherAlgorithm.HASH_RURI: _("a hash of the Request-URI picks the first node: every call to the same "
                                     "number lands on the same node while it is up"),
    DispatcherAlgorithm.ROUND_ROBIN: _("round robin: each new call starts at the next node in turn, so which node "
                                       "takes this call depends on the calls before it"),
    DispatcherAlgorithm.PRIORITY: _("always the highest-priority active node, the next one only when it fails"),
    DispatcherAlgorithm.WEIGHT: _("weight-based: nodes share calls in proportion to their weight"),
}


def algorithm_meaning(algorithm: int | None) -> str:
    if algorithm is None:
        return ""
    label = dict(DispatcherAlgorithm.choices).get(algorithm) or gettext("algorithm %(n)s") % {"n": algorithm}
    meaning = ALGORITHM_MEANING.get(algorithm) or gettext("an algorithm the portal does not offer")
    return gettext("%(label)s (algorithm %(n)s): %(meaning)s; on a 5xx or no answer Kamailio tries the next one of "
                   "the list.") % {"label": label, "n": algorithm, "meaning": meaning}


# --- the trace --------------------------------------------------------------------------------------------------


@dataclass
class Hop:
    """One destination, in the order Kamailio tries them."""

    name: str
    uri: str
    note: str = ""
    url: str = ""


@dataclass
class Lookup:
    """A ``dialplan.translate`` Kamailio runs at this stage, and the answer the portal's rows give."""

    dpid: int
    number: str
    expected: dict[str, str] | None  # {"Output": ..., "Attributes": ...}; None: no rule matches

    def describe(self, answer: Any) -> str:
        if not answer:
            return gettext("no rule")
        if not isinstance(answer, dict):
            return gettext("an unexpected answer %(answer)s") % {"answer": repr(str(answer)[:80])}
        return f"{answer.get('Output')!s} [{answer.get('Attributes') or ''}]"


@dataclass
class Step:
    stage: str
    title: str
    matched: bool
    why: str
    lookups: list[Lookup] = field(default_factory=list)
    setid: int | None = None
    algorithm: int | None = None
    hops: list[Hop] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # what the portal itself sees wrong or worth knowing
    url: str = ""

    @property
    def algorithm_note(self) -> str:
        return algorithm_meaning(self.algorithm)

    @property
    def order_label(self) -> str:
        """How the hops are ordered, for the page."""
        if self.hops and self.hops[0].note == OWN_NODE:
            return (gettext("the code's own node, then its fallback set %(setid)s") % {"setid": self.setid}
                    if self.setid else gettext("the code's own node"))
        return gettext("dispatcher set %(setid)s") % {"setid": self.setid} if self.setid is not None else ""


@dataclass
class Trace:
    caller: str
    number: str
    inbound: bool
    steps: list[Step] = field(default_factory=list)
    outcome: str = ""
    #: the number is no service code, extension, DDI or PSTN number of the estate
    matched_nothing: bool = False
    #: setid -> the rows the portal projects for it (estate's normalised dispatcher rows)
    expected_sets: dict[int, list[tuple]] = field(default_factory=dict)

    @property
    def lookups(self) -> list[Lookup]:
        return [lookup for step in self.steps for lookup in step.lookups]

    @property
    def setids(self) -> list[int]:
        return sorted({step.setid for step in self.steps if step.setid is not None})


def clean_number(value: str) -> str:
    """The number as Kamailio's R-URI user would carry it, or ValueError with a sentence for people."""
    number = (value or "").strip().replace(" ", "")
    if not number:
        raise ValueError(gettext("Enter the number dialled."))
    if len(number) > NUMBER_MAX:
        raise ValueError(gettext("A number has at most %(max)s characters (this one has %(length)s).")
                         % {"max": NUMBER_MAX, "length": len(number)})
    if not NUMBER_RE.match(number):
        raise ValueError(gettext("Enter digits, optionally after a leading *, # or + (e.g. *125, 4321, "
                                 "0049301234567)."))
    return number


class Dialplan:
    """The portal's dialplan rows, matched as Kamailio's dialplan module does: rules of a dpid by ``pr``
    (lowest first), an equal match compares the whole number, a regex searches it; the output is
    ``subst_exp`` → ``repl_exp`` (``\\1`` back-references) applied to the number, or ``repl_exp`` itself when
    there is no ``subst_exp``."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rules = sorted(rows, key=lambda r: (r["dpid"], r["pr"]))

    def matches(self, dpid: int, number: str) -> list[dict[str, Any]]:
        found = []
        for rule in self.rules:
            if rule["dpid"] != dpid:
                continue
            if rule["match_op"] == DialplanRule.MATCH_EQUAL:
                if number != rule["match_exp"]:
                    continue
            else:
                try:
                    if not re.search(rule["match_exp"], number):
                        continue
                except re.error:
                    continue
            found.append(rule)
        return found

    def translate(self, dpid: int, number: str) -> dict[str, str] | None:
        rules = self.matches(dpid, number)
        return self.output(rules[0], number) if rules else None

    @staticmethod
    def output(rule: dict[str, Any], number: str) -> dict[str, str]:
        if rule["subst_exp"]:
            repl = re.sub(r"\\(\d)", r"\\g<\1>", rule["repl_exp"])
            try:
                out = re.sub(rule["subst_exp"], repl, number, count=1)
            except re.error:
                out = number
        else:
            out = rule["repl_exp"]
        return {"Output": out, "Attributes": rule["attrs"]}


def _attrs(text: str) -> dict[str, str]:
    """``svc=conference;setid=2;alg=8`` → dict (kamailio.cfg reads them with ``{param.value,name}``)."""
    out = {}
    for pair in (text or "").split(";"):
        key, _, value = pair.partition("=")
        if key:
            out[key] = value
    return out


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


class _Estate:
    """What a trace reads, once: the projected rows, the nodes by URI, the sets' destinations."""

    def __init__(self) -> None:
        self.dialplan = Dialplan(projection.dialplan_rows() + trunk_projection.route_dialplan_rows())
        self.nodes = list(AsteriskNode.objects.select_related("site").order_by("name"))
        self.by_uri = {n.sip_uri: n for n in self.nodes}
        self.set_rows: dict[int, list[dict[str, Any]]] = {}
        for row in projection.dispatcher_rows() + trunk_projection.route_dispatcher_rows():
            self.set_rows.setdefault(row["setid"], []).append(row)
        self.destinations: dict[int, list[DispatcherDestination]] = {}
        for dest in (DispatcherDestination.objects.select_related("dispatcher_set", "node__site")
                     .order_by("dispatcher_set__setid", "-priority", "node__name")):
            self.destinations.setdefault(dest.dispatcher_set.setid, []).append(dest)

    def node_hop(self, uri: str, note: str = "") -> Hop:
        node = self.by_uri.get(uri)
        if node is None:
            return Hop(uri, uri, note)
        return Hop(node.name, uri, note or gettext("site %(site)s") % {"site": node.site.slug},
                   node.get_absolute_url())

    def set_hops(self, setid: int, flags: list[str]) -> list[Hop]:
        hops = []
        for dest in self.destinations.get(setid, []):
            node = dest.node
            note = gettext("site %(site)s, priority %(priority)s, weight %(weight)s") % {
                "site": node.site.slug, "priority": dest.priority, "weight": dest.weight}
            if dest.flags & 1:
                flags.append(gettext("%(node)s is marked inactive in set %(setid)s (flags %(flags)s): Kamailio skips "
                                     "it.") % {"node": node.name, "setid": setid, "flags": dest.flags})
            if not node.enabled:
                flags.append(gettext("%(node)s is disabled in the portal but still in set %(setid)s.")
                             % {"node": node.name, "setid": setid})
            hops.append(Hop(node.name, node.sip_uri, note, node.get_absolute_url()))
        return hops

    def expect_set(self, trace: Trace, setid: int) -> None:
        trace.expected_sets[setid] = [_norm_dispatcher(r["setid"], r["destination"], r["priority"], r["attrs"])
                                      for r in self.set_rows.get(setid, [])]


def trace_call(number: str, *, user: SipUser | None = None, trunk: Trunk | None = None) -> Trace:
    """The ordered path of a call from ``user`` (a phone of the estate) or ``trunk`` (a carrier's call to a
    DDI) to ``number`` (already checked by :func:`clean_number`)."""
    if (user is None) == (trunk is None):
        raise ValueError("Trace a call from a user or from a trunk.")
    estate = _Estate()
    if user is not None:
        trace = Trace(caller=f"{user.extension} {user.name}", number=number, inbound=False)
        home = _caller_step(trace, estate, user)
    else:
        trace = Trace(caller=gettext("trunk %(trunk)s") % {"trunk": trunk.name}, number=number, inbound=True)
        home = None
        if not _trunk_step(trace, trunk):
            return trace
        number = _inbound_step(trace, estate, number, trunk)
        if number is None:
            return trace
    if trace.outcome:  # refused before routing
        return trace
    if _services_step(trace, estate, number, user, home):
        return trace
    registered = _location_step(trace, number)
    if trace.inbound:
        trace.steps.append(Step(PSTN, gettext("PSTN routes: skipped"), False,
                                gettext("route[PSTN] never sends a call from the PSTN back out (FLT_INBOUND).")))
    if trace.inbound or not _pstn_step(trace, estate, number, registered):
        _to_asterisk_step(trace, estate, number, registered)
    if not trace.inbound:
        ddi = InboundNumber.objects.filter(number=number, enabled=True).select_related("user", "service_code").first()
        if ddi is not None:
            trace.steps[-1].details.append(gettext(
                "%(number)s is an inbound number of the estate (→ %(target)s), but only a carrier's call is "
                "rewritten to its target (route[INBOUND]); dialled from a phone it takes the path above.")
                % {"number": number, "target": ddi.destination})
    return trace


def _caller_step(trace: Trace, estate: _Estate, user: SipUser) -> dict[str, str] | None:
    """route[AUTH] for a phone: digest auth as its From user, then its home site (DP_HOME on $fU)."""
    ext = str(user.extension)
    home = estate.dialplan.translate(projection.DPID_HOME, ext)
    step = Step(CALLER, gettext("Caller: %(extension)s %(name)s") % {"extension": user.extension, "name": user.name},
                True, gettext("route[AUTH]: Kamailio authenticates the phone (digest against subscriber), then looks "
                              "up its home site with dialplan 4 on its extension."),
                lookups=[Lookup(projection.DPID_HOME, ext, home)], url=user.get_absolute_url())
    if home:
        site = _attrs(home["Attributes"]).get("site", "")
        step.details.append(gettext("Home site %(site)s: the Asterisk serving the call runs it in context "
                                    "site-%(site)s (X-VA-Site).") % {"site": site})
    else:
        step.flags.append(gettext("Extension %(extension)s is in no site's range with an enabled Asterisk: the call "
                                  "carries no X-VA-Site.") % {"extension": ext})
    if not user.enabled:
        step.flags.append(gettext("This user is disabled: it has no SIP account at Kamailio, which refuses its "
                                  "calls."))
        trace.outcome = gettext("Refused: the user is disabled (Kamailio challenges it and it cannot "
                                "authenticate).")
    trace.steps.append(step)
    return home


def _trunk_step(trace: Trace, trunk: Trunk) -> bool:
    """How Kamailio tells a carrier's call (route[AUTH] → route[INBOUND]); False when it would not."""
    detail = trunk.specific()
    step = Step(CALLER, gettext("Caller: trunk %(trunk)s (%(kind)s)") % {"trunk": trunk.name,
                                                                          "kind": trunk.get_kind_display()}, True, "",
                url=trunk.get_absolute_url())
    if trunk.kind == TrunkKind.E1:
        step.why = gettext("The E1 line arrives at Asterisk %(node)s, which hands the DDI to Kamailio with "
                           "X-VA-Inbound: %(trunk)s; Kamailio trusts the node (address group 1) and runs "
                           "route[INBOUND].") % {"node": detail.asterisk_node.name, "trunk": trunk.name}
        node_label = pgettext("trusted peers", "Asterisk node %(name)s") % {"name": detail.asterisk_node.name}
        untrusted = [why for why in projection.untrusted_nodes() if why.startswith(f"{node_label} ")]
        step.flags += untrusted
    elif detail.auth_mode == ItspAuth.IP:
        step.why = gettext("Kamailio knows the carrier by its source address (address group %(group)s, "
                           "%(addresses)s) and runs route[INBOUND].") % {
            "group": detail.address_group, "addresses": detail.ip_addresses.strip().replace(chr(10), ", ")}
    else:
        step.why = gettext("The trunk authenticates by registration (uacreg).")
        step.flags.append(gettext("Kamailio recognises a carrier's call by its source address (address group >= 2); "
                                  "a trunk by registration has no address row, so its calls are challenged like a "
                                  "phone's (route[AUTH]). The path below assumes the call reaches route[INBOUND]."))
    trace.steps.append(step)
    if not trunk.enabled:
        step.flags.append(gettext("This trunk is disabled: Kamailio no longer trusts its addresses."))
        trace.outcome = gettext("Refused: the trunk is disabled.")
        return False
    return True


def _inbound_step(trace: Trace, estate: _Estate, number: str, trunk: Trunk) -> str | None:
    """route[INBOUND]: DP_INBOUND rewrites the DDI to an extension or a service code; None: 404."""
    answer = estate.dialplan.translate(projection.DPID_INBOUND, number)
    lookup = Lookup(projection.DPID_INBOUND, number, answer)
    if answer is None:
        step = Step(INBOUND, gettext("DDI %(number)s: not an inbound number") % {"number": number}, False,
                    gettext("route[INBOUND]: dialplan 3 has no rule for this number, so Kamailio answers 404 Unknown "
                            "Number."), lookups=[lookup])
        ddi = InboundNumber.objects.filter(number=number).select_related("service_code").first()
        if ddi is not None:
            step.flags.append(gettext("Inbound number %(number)s exists but is disabled (or its service code is): "
                                      "it is not in Kamailio's dialplan.") % {"number": ddi.number})
            step.url = ddi.get_absolute_url()
        trace.steps.append(step)
        trace.matched_nothing = ddi is None
        trace.outcome = gettext("404 Unknown Number: %(number)s is not an inbound number of the estate.") % {
            "number": number}
        return None
    ddi = InboundNumber.objects.select_related("user", "service_code", "trunk").filter(
        pk=_int(_attrs(answer["Attributes"]).get("ddi"))).first()
    target = answer["Output"]
    if ddi is not None and ddi.target == "service":
        who = gettext("service code %(code)s") % {"code": ddi.service_code}
    elif ddi is not None:
        who = gettext("user %(extension)s %(name)s") % {"extension": ddi.user.extension, "name": ddi.user.name}
    else:
        who = target
    step = Step(INBOUND, f"DDI {number} → {target}", True,
                gettext("route[INBOUND]: dialplan 3 rewrites the DDI to %(target)s (%(who)s); the caller ID stays "
                        "the carrier's, and an Asterisk learns the DDI (X-VA-DDI).") % {"target": target, "who": who},
                lookups=[lookup],
                url=ddi.get_absolute_url() if ddi else "")
    if ddi is not None and ddi.trunk_id and ddi.trunk_id != trunk.pk:
        step.details.append(gettext("The portal says this DDI arrives on trunk %(trunk)s; Kamailio does not check "
                                    "the trunk, so it is answered the same way from any carrier.")
                            % {"trunk": ddi.trunk})
    trace.steps.append(step)
    return target


def _services_step(trace: Trace, estate: _Estate, number: str, user: SipUser | None,
                   home: dict[str, str] | None) -> bool:
    """route[SERVICES]; True when a service code takes the call."""
    answer = estate.dialplan.translate(projection.DPID_SERVICES, number)
    lookup = Lookup(projection.DPID_SERVICES, number, answer)
    if answer is None:
        step = Step(SERVICES, gettext("Service codes: no match"), False,
                    gettext("route[SERVICES]: dialplan 1 has no rule for %(number)s: not a service code.")
                    % {"number": number}, lookups=[lookup])
        code = ServiceCode.objects.filter(code=number, enabled=False).first()
        if code is not None:
            step.flags.append(gettext("Service code %(code)s exists but is disabled: it is not in Kamailio's "
                                      "dialplan.") % {"code": code})
            step.url = code.get_absolute_url()
        trace.steps.append(step)
        return False
    attrs = _attrs(answer["Attributes"])
    code = ServiceCode.objects.select_related("dispatcher_set", "node").filter(code=answer["Output"]).first()
    kind = dict(ServiceKind.choices).get(attrs.get("svc", ""), attrs.get("svc", ""))
    name = f"{code.code} {code.name}" if code else number
    step = Step(SERVICES, gettext("Service code %(code)s (%(kind)s)") % {"code": name, "kind": kind}, True, "",
                lookups=[lookup],
                url=code.get_absolute_url() if code else "")
    trace.steps.append(step)
    site = _site(home) if home else None
    fb, fa = _int(attrs.get("fb")), _int(attrs.get("fa"))
    if attrs.get("target") == "home":
        home_uri = home["Output"] if home else None
        if home_uri is None:
            step.why = (gettext("route[SERVICES]: dialplan 1 says the caller's home site serves it, and the caller "
                                "has none (a carrier's caller, or an extension outside every site): the code's "
                                "fallback set %(setid)s serves the call.") % {"setid": fb} if fb else
                        gettext("route[SERVICES]: dialplan 1 says the caller's home site serves it, and the caller "
                                "has none (a carrier's caller, or an extension outside every site): 404 No Home "
                                "Site."))
            if fb:
                _serve_by_set(trace, step, estate, fb, fa)
                trace.outcome = gettext("%(code)s on the fallback set %(setid)s: %(spread)s.") % {
                    "code": name, "setid": fb, "spread": _spread(step)}
            else:
                trace.outcome = gettext("404 No Home Site.")
            return True
        step.why = gettext("route[SERVICES]: dialplan 1 says the caller's home site serves it; dialplan 4 maps the "
                           "caller's extension to %(uri)s.") % {"uri": home_uri}
        _serve_by_node(trace, step, estate, home_uri, fb, fa)
    elif attrs.get("dst"):
        step.why = gettext("route[SERVICES]: dialplan 1 says one node serves it, %(uri)s.") % {"uri": attrs["dst"]}
        _serve_by_node(trace, step, estate, attrs["dst"], fb, fa)
    else:
        setid, alg = _int(attrs.get("setid")), _int(attrs.get("alg"))
        step.why = gettext("route[SERVICES]: dialplan 1 says dispatcher set %(setid)s serves it (ds_select_dst).") % {
            "setid": setid}
        if setid is not None:
            _serve_by_set(trace, step, estate, setid, alg)
        if not step.hops:
            step.flags.append(gettext("Set %(setid)s has no destination: Kamailio answers 503 Service Unavailable.")
                              % {"setid": setid})
    if code is not None:
        context_site = site
        if context_site is None and step.hops and step.hops[0].uri in estate.by_uri:
            context_site = estate.by_uri[step.hops[0].uri].site
        if context_site is not None:
            apps = " → ".join(f"{app}({data})" if data else app
                              for app, data in projection.code_steps(code, context_site))
            step.details.append(gettext("On the Asterisk, context %(context)s: %(apps)s")
                                % {"context": context_site.asterisk_context, "apps": apps})
        if code.route_to == RouteTo.HOME and user is not None:
            step.details.append(gettext("Served for the caller's own site (%(site)s).")
                                % {"site": site.slug if site else gettext("none")})
    trace.outcome = (gettext("%(code)s on %(spread)s.") % {"code": name, "spread": _spread(step)} if step.hops
                     else trace.outcome or gettext("%(code)s: no node can take it (503 Service Unavailable).")
                     % {"code": name})
    return True


def _site(home: dict[str, str]) -> Site | None:
    slug = _attrs(home["Attributes"]).get("site")
    return Site.objects.filter(slug=slug).first() if slug else None


def _hop_names(hops: list[Hop]) -> str:
    return gettext(" then ").join(h.name for h in hops) or gettext("nothing")


def _spread(step: Step) -> str:
    """Where a step sends the call, in words: a code's own node first, a set's nodes in turn or spread."""
    hops = step.hops
    if hops and hops[0].note == OWN_NODE:
        if not hops[1:]:
            return hops[0].name
        return gettext("%(node)s; while it is down, set %(setid)s: %(spread)s") % {
            "node": hops[0].name, "setid": step.setid, "spread": _spread_set(hops[1:], step.algorithm)}
    return _spread_set(hops, step.algorithm)


def _spread_set(hops: list[Hop], algorithm: int | None) -> str:
    if algorithm == DispatcherAlgorithm.PRIORITY or len(hops) < 2:
        return _hop_names(hops)
    label = str(dict(DispatcherAlgorithm.choices).get(algorithm)
                or gettext("algorithm %(n)s") % {"n": algorithm}).lower()
    return f"{', '.join(h.name for h in hops)} ({label})"


def _serve_by_set(trace: Trace, step: Step, estate: _Estate, setid: int, alg: int | None) -> None:
    step.setid, step.algorithm = setid, alg
    step.hops += estate.set_hops(setid, step.flags)
    estate.expect_set(trace, setid)


OWN_NODE = _("the code's own node")


def _serve_by_node(trace: Trace, step: Step, estate: _Estate, uri: str, fb: int | None, fa: int | None) -> None:
    step.hops.append(estate.node_hop(uri, str(OWN_NODE)))  # (plain text in the trace; compared lazily)
    if fb:
        step.details.append(gettext("If %(node)s is down (inactive in dispatcher set %(setid)s, or no answer within "
                                    "1 s), the fallback set %(setid)s takes the call, first by priority, never the "
                                    "same node twice.") % {"node": step.hops[0].name, "setid": fb})
        step.setid, step.algorithm = fb, fa
        estate.expect_set(trace, fb)
        step.hops += [h for h in estate.set_hops(fb, step.flags) if h.uri != uri]
    else:
        step.flags.append(gettext("No fallback set: while this node is down the code answers 503."))


def _location_step(trace: Trace, number: str) -> bool:
    """route[LOCATION]: a registered phone rings directly (no Asterisk). Registrations come and go; the step
    says what holds now (usrloc writes through to ``location``) and the path goes on for when it is not."""
    contacts = list(Location.objects.filter(username=number).values_list("contact", flat=True)[:5])
    if contacts:
        step = Step(LOCATION, gettext("Registered phone: %(number)s is registered now") % {"number": number}, True,
                    gettext("route[LOCATION]: lookup(\"location\"): a phone registered as this number rings "
                            "directly, without an Asterisk (Kamailio writes the call record). Registered now; the "
                            "steps below apply while it is not."), details=contacts)
    else:
        step = Step(LOCATION, gettext("Registered phone: %(number)s is not registered now") % {"number": number},
                    False, gettext("route[LOCATION]: lookup(\"location\"): a phone registered as this number rings "
                                   "directly, without an Asterisk (Kamailio writes the call record)."))
    trace.steps.append(step)
    return bool(contacts)


def _pstn_step(trace: Trace, estate: _Estate, number: str, registered: bool) -> bool:
    """route[PSTN]: the route's trunks by priority (ds_select_dst(setid, 8))."""
    rules = estate.dialplan.matches(trunk_projection.DPID_PSTN, number)
    answer = Dialplan.output(rules[0], number) if rules else None
    lookup = Lookup(trunk_projection.DPID_PSTN, number, answer)
    if answer is None:
        trace.steps.append(Step(PSTN, gettext("PSTN routes: no match"), False,
                                gettext("route[PSTN]: dialplan 2 has no route for %(number)s.") % {"number": number},
                                lookups=[lookup]))
        return False
    attrs = _attrs(answer["Attributes"])
    route = (OutboundRoute.objects.filter(pk=_int(attrs.get("route")))
             .prefetch_related("route_trunks__trunk__e1trunk__asterisk_node", "route_trunks__trunk__itsptrunk").first())
    setid = _int(attrs.get("setid"))
    name = route.name if route else attrs.get("route", "?")
    step = Step(PSTN, gettext("PSTN route %(route)s: %(number)s → %(output)s") % {
                    "route": name, "number": number, "output": answer["Output"]}, True,
                gettext("route[PSTN]: dialplan 2 matches route %(route)s (pattern %(pattern)s, priority "
                        "%(priority)s), rewrites the number to %(output)s and names dispatcher set %(setid)s: its "
                        "trunks by priority.") % {"route": name, "pattern": rules[0]["match_exp"],
                                                  "priority": rules[0]["pr"], "output": answer["Output"],
                                                  "setid": setid}, lookups=[lookup], setid=setid,
                algorithm=trunk_projection.ROUTE_ALGORITHM, url=route.get_absolute_url() if route else "")
    ties = [r for r in rules[1:] if r["pr"] == rules[0]["pr"]]
    for rule in ties:
        step.flags.append(gettext("Another route (%(route)s, pattern %(pattern)s) has the same priority "
                                  "%(priority)s and matches too: Kamailio may pick either.") % {
            "route": _attrs(rule["attrs"]).get("route"), "pattern": rule["match_exp"], "priority": rule["pr"]})
    if registered:
        step.details.append(gettext("Only while the number is not registered at Kamailio (route[LOCATION] comes "
                                    "first)."))
    if route is not None:
        for link in route.route_trunks.all():
            trunk = link.trunk
            if not trunk.enabled:
                step.flags.append(gettext("Trunk %(trunk)s is disabled: left out of the route.") % {
                    "trunk": trunk.name})
                continue
            if trunk.kind == TrunkKind.E1:
                e1 = trunk.e1trunk
                hop = Hop(trunk.name, e1.dispatcher_uri,
                          gettext("E1 line (span %(span)s, group %(group)s) on %(node)s: no answer within 1 s → "
                                  "next") % {"span": e1.span, "group": e1.group, "node": e1.asterisk_node.name},
                          trunk.get_absolute_url())
            else:
                hop = Hop(trunk.name, trunk.itsptrunk.dispatcher_uri, gettext("ITSP: no answer within 2 s → next"),
                          trunk.get_absolute_url())
            step.hops.append(hop)
    if setid is not None:
        estate.expect_set(trace, setid)
    if not step.hops:
        step.flags.append(gettext("The route has no enabled trunk: Kamailio answers 503 No Trunk Available."))
    trace.steps.append(step)
    trace.outcome = (gettext("Out to the PSTN as %(output)s by route %(route)s: %(trunks)s.") % {
                         "output": answer["Output"], "route": name, "trunks": _hop_names(step.hops)}
                     if step.hops else gettext("503 No Trunk Available (route %(route)s).") % {"route": name})
    return True


def _to_asterisk_step(trace: Trace, estate: _Estate, number: str, registered: bool) -> None:
    """route[TO_ASTERISK]: an extension to its site's Asterisk; anything else to set DS_ASTERISK (or 404)."""
    answer = estate.dialplan.translate(projection.DPID_HOME, number)
    lookup = Lookup(projection.DPID_HOME, number, answer)
    phone = gettext("rings the registered phone; otherwise ") if registered else ""
    if answer is not None:
        site = _attrs(answer["Attributes"]).get("site", "")
        callee = (SipUser.objects.filter(extension=int(number)).first() if number.isdigit() else None)
        step = Step(TO_ASTERISK, gettext("Extension %(number)s of site %(site)s") % {"number": number, "site": site},
                    True, gettext("route[TO_ASTERISK]: dialplan 4 puts %(number)s in site %(site)s's range; not "
                                  "registered at Kamailio, the call goes to that site's Asterisk, where its voicemail "
                                  "is (user unavailable).") % {"number": number, "site": site},
                    lookups=[lookup], hops=[estate.node_hop(answer["Output"], gettext("home node of site %(site)s")
                                                            % {"site": site})],
                    url=callee.get_absolute_url() if callee else "")
        if callee is not None:
            step.details.append((gettext("User %(extension)s %(name)s") if callee.enabled
                                 else gettext("User %(extension)s %(name)s (disabled)"))
                                % {"extension": callee.extension, "name": callee.name})
        else:
            step.flags.append(gettext("No user has extension %(number)s: the Asterisk will not find it.") % {
                "number": number})
        trace.steps.append(step)
        trace.outcome = gettext("Extension %(number)s: %(phone)sto %(node)s (site %(site)s).") % {
            "number": number, "phone": phone, "node": step.hops[0].name, "site": site}
        return
    kinds = (gettext("service code, extension or DDI target") if trace.inbound
             else gettext("service code, extension or PSTN route"))
    if trace.inbound:
        trace.steps.append(Step(TO_ASTERISK, gettext("No extension"), False,
                                gettext("route[TO_ASTERISK]: dialplan 4 has no rule for %(number)s, and a carrier's "
                                        "call is never handed to the Asterisks by default: 404 Not Found.")
                                % {"number": number}, lookups=[lookup]))
        trace.matched_nothing = not registered
        trace.outcome = gettext("%(phone)s404 Not Found: %(number)s matches no %(kinds)s.") % {
            "phone": phone, "number": number, "kinds": kinds}
        return
    step = Step(TO_ASTERISK, gettext("No match: to the estate's Asterisks (set %(setid)s)") % {"setid": DS_ASTERISK},
                False, gettext("route[TO_ASTERISK]: %(number)s matches no %(kinds)s. Kamailio hands it to dispatcher "
                               "set %(setid)s (DS_ASTERISK), whose Asterisk decides (usually: not found).")
                % {"number": number, "kinds": kinds, "setid": DS_ASTERISK}, lookups=[lookup])
    _serve_by_set(trace, step, estate, DS_ASTERISK, DS_ASTERISK_ALGORITHM)
    own = next((d.dispatcher_set.algorithm for d in estate.destinations.get(DS_ASTERISK, [])), None)
    if own is not None and own != DS_ASTERISK_ALGORITHM:
        step.details.append(gettext("kamailio.cfg picks from set %(setid)s round robin here, whatever the set's own "
                                    "algorithm (%(algorithm)s) says.") % {"setid": DS_ASTERISK, "algorithm": own})
    if not step.hops:
        step.flags.append(gettext("Set %(setid)s has no destination: Kamailio answers 404 Not Found.") % {
            "setid": DS_ASTERISK})
    trace.steps.append(step)
    trace.matched_nothing = not registered
    trace.outcome = (gettext("%(phone)s%(number)s matches no %(kinds)s: to the estate's Asterisks, %(spread)s.")
                     % {"phone": phone, "number": number, "kinds": kinds, "spread": _spread(step)} if step.hops else
                     gettext("%(phone)s%(number)s matches no %(kinds)s: 404 Not Found.")
                     % {"phone": phone, "number": number, "kinds": kinds})


# --- the live check ---------------------------------------------------------------------------------------------

UNREACHABLE = "unreachable"
METHOD_NOT_FOUND = "method not found"
RPC_ERROR = "error"
MISCONFIGURED = "misconfigured"
AGREES = "agrees"
DIFFERS = "differs"


@dataclass
class RpcFailure:
    kind: str  # UNREACHABLE, METHOD_NOT_FOUND, RPC_ERROR, MISCONFIGURED
    reason: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}"


@dataclass
class NodeAnswers:
    """What one Kamailio answered: ``translations[(dpid, number)]`` and ``dispatcher`` (``dispatcher.list``)
    each a value or an :class:`RpcFailure`; ``failure`` when the node could not be asked at all."""

    node: str
    failure: RpcFailure | None = None
    translations: dict[tuple[int, str], Any] = field(default_factory=dict)
    dispatcher: Any = None


@dataclass
class Finding:
    node: str
    step: int  # index into trace.steps
    ok: bool
    text: str
    level: str = "ok"  # ok, warning, difference, error


@dataclass
class NodeVerdict:
    node: str
    status: str  # AGREES, DIFFERS, UNREACHABLE, METHOD_NOT_FOUND, RPC_ERROR, MISCONFIGURED
    reason: str = ""
    findings: list[Finding] = field(default_factory=list)

    @property
    def differences(self) -> list[Finding]:
        return [f for f in self.findings if f.level in ("difference", "error")]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]


#: DEST FLAGS in dispatcher.list: the state letter (then P/X: probed by OPTIONS or not — every
#: destination is probed here, ds_probing_mode 1, so P alone says nothing)
STATE_LETTERS = {"A": _("active"), "I": _("inactive (skipped until it answers a keepalive)"),
                 "D": _("disabled (skipped)"), "T": _("trying (failing keepalives, still used)")}


def classify(error: NodeError) -> RpcFailure:
    """An RPC's failure for people: nothing answered, the method is unknown, or Kamailio refused it."""
    if getattr(error, "unreachable", False):
        return RpcFailure(UNREACHABLE, error.reason)
    if error.reason.startswith("unknown method"):
        return RpcFailure(METHOD_NOT_FOUND, error.reason)
    return RpcFailure(RPC_ERROR, error.reason)


def check_live(trace: Trace, answers: list[NodeAnswers]) -> list[NodeVerdict]:
    """Compare each node's answers with what the trace expects (pure: no I/O)."""
    verdicts = []
    set_steps = {}
    for index, step in enumerate(trace.steps):
        if step.setid is not None:
            set_steps.setdefault(step.setid, index)
    for node in answers:
        verdict = NodeVerdict(node.node, AGREES)
        verdicts.append(verdict)
        if node.failure is not None:
            verdict.status, verdict.reason = node.failure.kind, node.failure.reason
            continue
        failures = []
        for index, step in enumerate(trace.steps):
            for lookup in step.lookups:
                answer = node.translations.get((lookup.dpid, lookup.number))
                if isinstance(answer, RpcFailure):
                    failures.append(answer)
                    verdict.findings.append(Finding(node.node, index, False, f"dialplan.translate {lookup.dpid} "
                                                    f"{lookup.number}: {answer}", "error"))
                elif _same_translation(lookup.expected, answer):
                    verdict.findings.append(Finding(node.node, index, True, gettext(
                        "dialplan %(dpid)s %(number)s → %(answer)s, as the portal computes") % {
                        "dpid": lookup.dpid, "number": lookup.number, "answer": lookup.describe(answer)}))
                else:
                    verdict.findings.append(Finding(node.node, index, False, _difference(lookup, answer),
                                                    "difference"))
        if set_steps:
            listing = node.dispatcher
            if isinstance(listing, RpcFailure):
                failures.append(listing)
                for setid, index in set_steps.items():
                    verdict.findings.append(Finding(node.node, index, False, f"dispatcher.list: {listing}", "error"))
            elif listing is not None and not isinstance(listing, dict):
                failures.append(RpcFailure(RPC_ERROR, f"dispatcher.list: unexpected answer {str(listing)[:80]!r}"))
                for setid, index in set_steps.items():
                    verdict.findings.append(Finding(node.node, index, False, str(failures[-1]), "error"))
            else:
                targets = dispatcher_targets(listing or {})
                for setid, index in set_steps.items():
                    verdict.findings += _check_set(node.node, index, setid, trace.expected_sets.get(setid, []),
                                                   [t for t in targets if t["setid"] == setid])
        if failures and all(f.kind == METHOD_NOT_FOUND for f in failures):
            verdict.status, verdict.reason = METHOD_NOT_FOUND, failures[0].reason
        elif failures:
            verdict.status, verdict.reason = RPC_ERROR, failures[0].reason
        elif any(f.level == "difference" for f in verdict.findings):
            verdict.status = DIFFERS
    return verdicts


def _difference(lookup: Lookup, answer: Any) -> str:
    """What a node's dialplan answers that the portal does not compute, and the likely reason."""
    if answer is None:
        text = gettext("dialplan %(dpid)s %(number)s: Kamailio answers %(answer)s, the portal computes %(expected)s "
                       "(rule missing in Kamailio: not reloaded?)")
    elif lookup.expected is None:
        text = gettext("dialplan %(dpid)s %(number)s: Kamailio answers %(answer)s, the portal computes %(expected)s "
                       "(a rule the portal no longer has: not reloaded?)")
    else:
        text = gettext("dialplan %(dpid)s %(number)s: Kamailio answers %(answer)s, the portal computes %(expected)s")
    return text % {"dpid": lookup.dpid, "number": lookup.number, "answer": lookup.describe(answer),
                   "expected": lookup.describe(lookup.expected)}


def _same_translation(expected: dict[str, str] | None, answer: Any) -> bool:
    if not expected or not answer:
        return not expected and not answer
    if not isinstance(answer, dict):
        return False
    return (str(answer.get("Output")), str(answer.get("Attributes") or "")) == (
        expected["Output"], expected["Attributes"])


def _target_attrs(target: dict[str, Any]) -> str:
    attrs = target.get("attrs")
    return (attrs or {}).get("BODY") if isinstance(attrs, dict) else attrs


def _check_set(node: str, index: int, setid: int, expected: list[tuple],
               targets: list[dict[str, Any]]) -> list[Finding]:
    found = []
    actual = [_norm_dispatcher(setid, t["uri"], t["priority"], _target_attrs(t)) for t in targets]
    diffs = compare("dispatcher", expected, actual, missing=gettext("only in the portal"),
                    extra=gettext("only in Kamailio"))
    for diff in diffs:
        found.append(Finding(node, index, False, gettext("dispatcher set %(setid)s: %(where)s: %(row)s") % {
            "setid": setid, "where": diff.where, "row": diff.row}, "difference"))
    if not diffs:
        order = ", ".join(t["uri"] for t in targets) or gettext("no destination")
        found.append(Finding(node, index, True, gettext("dispatcher set %(setid)s as the portal computes (%(order)s)")
                             % {"setid": setid, "order": order}))
    for t in targets:
        state = str(t.get("flags") or "")[:1]
        if state and state != "A":
            found.append(Finding(node, index, False, gettext("dispatcher set %(setid)s: %(uri)s is %(state)s (FLAGS "
                                                             "%(flags)s)") % {
                "setid": setid, "uri": t["uri"], "state": STATE_LETTERS.get(state, state), "flags": t.get("flags")},
                "warning"))
    return found


# --- asking the Kamailios (I/O) ---------------------------------------------------------------------------------


class _TraceRpc(KamailioRpc):
    """The connector, telling "nothing answered" (connection refused, timeout, garbage on the wire) from an
    RPC error Kamailio sent back: only the former goes through ``_transport_error``."""

    def _transport_error(self, exc: Exception) -> NodeError:
        error = super()._transport_error(exc)
        error.unreachable = True  # type: ignore[attr-defined]
        return error


def ask_node(node: KamailioNode, trace: Trace, *, timeout: float = 2.0) -> NodeAnswers:
    """One node's answers to the trace's lookups and ``dispatcher.list`` (never raises for a node's fault)."""
    answers = NodeAnswers(node.name)
    if problem := misconfiguration(node):
        answers.failure = RpcFailure(MISCONFIGURED, problem)
        return answers
    try:
        with _TraceRpc(node.jsonrpc_url, username=node.jsonrpc_username or None,
                       password=node.jsonrpc_password or None, timeout=timeout) as rpc:
            for lookup in trace.lookups:
                key = (lookup.dpid, lookup.number)
                if key in answers.translations:
                    continue
                answers.translations[key] = _ask(rpc.dialplan_translate, lookup.dpid, lookup.number)
            if trace.setids:
                answers.dispatcher = _ask(rpc.dispatcher_list)
    except _Unreachable as exc:
        answers.failure = exc.failure
        answers.translations.clear()
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # (a URL httpx cannot use, a reply it cannot read)
        answers.failure = RpcFailure(RPC_ERROR, str(exc) or type(exc).__name__)
        answers.translations.clear()
    return answers


class _Unreachable(Exception):
    def __init__(self, failure: RpcFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


def _ask(method, *params) -> Any:
    try:
        return method(*params)
    except NodeError as exc:
        failure = classify(exc)
        if failure.kind == UNREACHABLE:
            raise _Unreachable(failure) from None
        return failure


def ask_kamailio(trace: Trace, *, timeout: float = 2.0) -> list[NodeAnswers]:
    """Every enabled Kamailio node's answers (in name order)."""
    return [ask_node(node, trace, timeout=timeout)
            for node in KamailioNode.objects.filter(enabled=True).order_by("name")]
