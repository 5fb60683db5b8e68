"""The test estate the real Asterisks serve: two sites, one Asterisk each, the suite's Kamailio in front.

An Asterisk's static files come from the portal's objects, but transactional tests empty the database
after every test. So a session's Asterisks are configured from an :class:`EstatePlan` (names, loopback
addresses, ports, credentials), and every test that uses them builds the very same estate again with
:func:`build_estate`: the nodes' files and the database always agree.

Two plans, two ways for a node to read the database (see nodeconf/database.py):

* ``estate`` — role ``asterisk`` on the public views; *130 is load-balanced over both nodes;
* ``site`` — each node its site's role ``asterisk_<slug>`` and schema; codes go to the caller's home node.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from .harness import free_port

SIP_DOMAIN = "voip.example.test"
#: (slug, name, kind, time zone, extension range)
SITES = [("central", "Central", "central", "Europe/Madrid", (1000, 3999)),
         ("branch1", "Branch 1", "delegation", "Atlantic/Canary", (4000, 5999))]
E1_TRUNK = "e1-pstn"
PSTN_PATTERN = "^6[0-9]{8}$"


@dataclass(frozen=True)
class NodePlan:
    name: str
    site: str
    host: str
    sip_port: int
    ami_port: int
    http_port: int
    roles: str

    @property
    def ami_secret(self) -> str:
        return f"ami-secret-of-{self.name}"

    @property
    def ari_password(self) -> str:
        return f"ari-secret-of-{self.name}"

    @property
    def ari_url(self) -> str:
        return f"http://{self.host}:{self.http_port}/ari"


@dataclass(frozen=True)
class EstatePlan:
    db_role: str  # "estate" | "site"
    nodes: tuple[NodePlan, ...] = field(default_factory=tuple)
    #: where the E1 line's stand-in (a sipp UAS; no DAHDI here) answers: the trunk dials PJSIP/{number}@e1-sim
    e1_sim: tuple[str, int] = ("127.0.0.120", 0)

    def local_files(self, site: str) -> dict[str, str]:
        """Files a node's operator would add beside the generated ones (*_local.conf): the E1 stand-in."""
        if site != "central":
            return {}
        host, port = self.e1_sim
        return {"pjsip_local.conf": (
            "; tests: a SIP UAS stands in for E1 span 1 (see trunk e1-pstn's dial string); what the line brings\n"
            "; in (its caller, from the sim's address) runs where chan_dahdi would send the span's calls\n"
            f"[e1-sim]\ntype = endpoint\ntransport = transport-udp\ncontext = va-e1-in-{E1_TRUNK}\n"
            "disallow = all\nallow = alaw,ulaw\naors = e1-sim\ndirect_media = no\n\n"
            f"[e1-sim]\ntype = aor\ncontact = sip:{host}:{port}\n\n"
            f"[e1-sim]\ntype = identify\nendpoint = e1-sim\nmatch = {host}\n")}

    def node(self, site: str) -> NodePlan:
        return next(n for n in self.nodes if n.site == site)


def make_plan(db_role: str, first_host: int) -> EstatePlan:
    """Nodes on 127.0.0.<first_host> (central) and the next address (branch1), each on free ports."""
    nodes = []
    for offset, (slug, *_rest) in enumerate(SITES):
        host = f"127.0.0.{first_host + offset}"
        nodes.append(NodePlan(name=f"ast-{slug}-{db_role}", site=slug, host=host, sip_port=free_port(host),
                              ami_port=free_port(host, udp=False), http_port=free_port(host, udp=False),
                              roles="pbx,voicemail,conference,gateway" if slug == "central" else "pbx,voicemail"))
    sim_host = "127.0.0.120" if db_role == "estate" else "127.0.0.121"
    return EstatePlan(db_role=db_role, nodes=tuple(nodes), e1_sim=(sim_host, free_port(sim_host)))


def build_estate(plan: EstatePlan, *, kamailio, actor) -> SimpleNamespace:
    """Sites, nodes (with the plan's credentials), the Kamailio node, an E1 trunk and PSTN route, and the
    service codes *130 (echo), *123 (voicemail), *125 (conference), through the portal's actions."""
    from services import actions as service_actions
    from sites import actions as site_actions
    from trunks import actions as trunk_actions

    sites = {}
    for slug, name, kind, tz, (start, end) in SITES:
        sites[slug] = site_actions.create_site(actor=actor, name=name, slug=slug, kind=kind, sip_domain=SIP_DOMAIN,
                                               time_zone=tz, ranges=[(start, end)])
    kam = site_actions.create_kamailio_node(actor=actor, name="kamailio-test", sip_address=kamailio.sip_address,
                                            jsonrpc_url=kamailio.rpc_url)
    nodes = {}
    for n in plan.nodes:
        nodes[n.site] = site_actions.create_asterisk_node(
            actor=actor, name=n.name, site=sites[n.site], host=n.host, sip_port=n.sip_port, ami_host=n.host,
            ami_port=n.ami_port, ami_username="voipadmin", ami_secret=n.ami_secret, ari_url=n.ari_url,
            ari_username="voipadmin", ari_password=n.ari_password, roles=n.roles)
    e1 = trunk_actions.create_e1_trunk(actor=actor, name=E1_TRUNK, asterisk_node=nodes["central"], span=1, group=1,
                                       dial_string="PJSIP/{number}@e1-sim")
    route = trunk_actions.create_route(actor=actor, name="national", pattern=PSTN_PATTERN, trunks=[e1])
    media = service_actions.create_dispatcher_set(
        actor=actor, setid=1, name="media", algorithm=4,
        destinations=[{"node": node} for node in nodes.values()])
    shared = plan.db_role == "estate"  # a per-site node only knows its own site's users and dialplan
    codes = {
        "*130": service_actions.create_service_code(
            actor=actor, code="*130", name="Echo test", kind="echo",
            **({"route_to": "set", "dispatcher_set": media} if shared else {"route_to": "home"})),
        "*123": service_actions.create_service_code(actor=actor, code="*123", name="Voicemail", kind="voicemail",
                                                    route_to="home"),
        "*125": service_actions.create_service_code(
            actor=actor, code="*125", name="Conference", kind="conference", parameter="estate",
            **({"route_to": "node", "node": nodes["central"]} if shared else {"route_to": "home"})),
    }
    return SimpleNamespace(plan=plan, sites=sites, nodes=nodes, kamailio_node=kam, e1=e1, route=route,
                           media=media, codes=codes)
