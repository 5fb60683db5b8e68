"""The demo estate's sites and nodes: a central site, three delegations, one Kamailio.

Every address is on the loopback range so a simulator can answer for the nodes.
"""
from __future__ import annotations

from voipadmin.actors import Actor

from . import actions
from .choices import SiteKind
from .models import AsteriskNode, KamailioNode, Site

SIP_DOMAIN = "voip.example.test"

SITES = [
    # slug, name, kind, ranges, address, node host, roles, notes
    ("central", "Central", SiteKind.CENTRAL, [(1000, 3999)], "Headquarters", "127.0.0.11",
     "pbx,voicemail,conference,gateway,media", "Holds the E1 lines (PSTN and legacy PBX) and the media services."),
    ("branch1", "Branch 1", SiteKind.DELEGATION, [(4000, 5999)], "Delegation 1", "127.0.0.12", "pbx,voicemail",
     "Has remote extensions (home workers behind NAT)."),
    ("branch2", "Branch 2", SiteKind.DELEGATION, [(6000, 7999)], "Delegation 2", "127.0.0.13", "pbx,voicemail", ""),
    ("branch3", "Branch 3", SiteKind.DELEGATION, [(8000, 9999)], "Delegation 3", "127.0.0.14", "pbx,voicemail", ""),
]


def _upsert(model, lookup: dict, fields: dict, create, update, actor: Actor):
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        return create(actor=actor, **lookup, **fields)
    return update(obj, actor=actor, **fields)


def load(actor: Actor) -> dict[str, Site]:
    sites = {}
    for slug, name, kind, ranges, address, host, roles, notes in SITES:
        site = Site.objects.filter(slug=slug).first()
        fields = dict(name=name, kind=kind, sip_domain=SIP_DOMAIN, address=address, time_zone="Europe/Madrid",
                      notes=notes)
        if site is None:
            site = actions.create_site(actor=actor, slug=slug, ranges=ranges, **fields)
        else:
            site = actions.update_site(site, actor=actor, ranges=ranges, **fields)
        sites[slug] = site
        _upsert(AsteriskNode, {"name": f"ast-{slug}"},
                dict(site=site, host=host, sip_port=5060, ami_port=5038, ami_username="voipadmin",
                     ami_secret="demo-ami-secret", ari_url=f"http://{host}:8088/ari", ari_username="voipadmin",
                     ari_password="demo-ari-secret", roles=roles),
                actions.create_asterisk_node, actions.update_asterisk_node, actor)
    _upsert(KamailioNode, {"name": "kamailio-1"},
            dict(sip_address="127.0.0.10:5060", jsonrpc_url="http://127.0.0.10:5071/RPC"),
            actions.create_kamailio_node, actions.update_kamailio_node, actor)
    return sites
