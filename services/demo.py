"""The demo estate's services: a dispatcher set of the four Asterisks, the media service codes (*1xx),
and two inbound numbers."""
from __future__ import annotations

from voipadmin.actors import Actor

from . import actions
from .models import DispatcherSet, InboundNumber, ServiceCode

CODES = [
    # code, name, kind, route_to, target (set name / node name), announcement, parameter
    ("*123", "Voicemail", "voicemail", "home", None, "", ""),
    ("*125", "Conference rooms", "conference", "node", "ast-central", "", "estate"),
    ("*130", "Echo test", "echo", "set", "asterisks", "", ""),
    ("*140", "Auto-attendant", "ivr", "node", "ast-central", "", "ivr-main"),
    ("*150", "User unavailable", "announcement", "set", "asterisks", "user_unavailable", ""),
    ("*151", "Service unavailable", "announcement", "set", "asterisks", "service_unavailable", ""),
    ("*152", "Ringback", "announcement", "set", "asterisks", "ringback", ""),
    ("*160", "Double dial (new + legacy PBX)", "double_dial", "node", "ast-central", "",
     "PJSIP/1000&DAHDI/g2/1000"),
]


def load(actor: Actor, sites: dict) -> dict:
    from sites.models import AsteriskNode

    nodes = {n.name: n for n in AsteriskNode.objects.all()}
    # Round robin spreads *130 and the announcements and ignores priorities; they order the set when it stands
    # in for *123 (home node) or *125/*140/*160 (ast-central) while that node is down: central first.
    destinations = [{"node": nodes[f"ast-{slug}"], "priority": 10 if slug == "central" else 0, "weight": 1}
                    for slug in ("central", "branch1", "branch2", "branch3") if f"ast-{slug}" in nodes]
    dset = DispatcherSet.objects.filter(setid=1).first()
    fields = dict(name="asterisks", algorithm=4,
                  description="The four Asterisks, round robin; by priority (central first) as a fallback")
    if dset is None:
        dset = actions.create_dispatcher_set(actor=actor, setid=1, destinations=destinations, **fields)
    else:
        dset = actions.update_dispatcher_set(dset, actor=actor, destinations=destinations, **fields)
    sets = {dset.name: dset}
    codes = {}
    for code, name, kind, route_to, target, announcement, parameter in CODES:
        fields = dict(name=name, kind=kind, route_to=route_to, announcement=announcement, parameter=parameter,
                      dispatcher_set=sets.get(target) if route_to == "set" else None,
                      node=nodes.get(target) if route_to == "node" else None)
        obj = ServiceCode.objects.filter(code=code).first()
        codes[code] = (actions.create_service_code(actor=actor, code=code, **fields) if obj is None
                       else actions.update_service_code(obj, actor=actor, **fields))
    _ddi(actor, "+34911000000", target="service", service_code=codes["*140"], description="Main number: IVR")
    from users.models import SipUser

    reception = SipUser.objects.filter(extension=1000).first()
    if reception is not None:
        _ddi(actor, "+34911000100", target="user", user=reception, description="Reception direct line")
    return codes


def _ddi(actor: Actor, number: str, **fields) -> InboundNumber:
    ddi = InboundNumber.objects.filter(number=number).first()
    if ddi is None:
        return actions.create_inbound_number(actor=actor, number=number, **fields)
    return actions.update_inbound_number(ddi, actor=actor, **fields)
