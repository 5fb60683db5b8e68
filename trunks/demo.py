"""The demo estate's trunks: two E1 lines on the central Asterisk (PSTN and the legacy PBX), one ITSP,
and the PSTN routes (ITSP first, the central E1 as backup; emergency calls E1 first)."""
from __future__ import annotations

from voipadmin.actors import Actor

from . import actions
from .models import E1Trunk, ItspTrunk, OutboundRoute

ROUTES = [
    # name, kind, pattern, priority, strip, prepend, trunks in order
    ("emergency", "emergency", "^(112|091|092|061|062|080|085)$", 10, 0, "", ["e1-pstn", "itsp-carrier"]),
    ("mobile", "mobile", "^[67][0-9]{8}$", 50, 0, "+34", ["itsp-carrier", "e1-pstn"]),
    ("national", "national", "^[89][0-9]{8}$", 60, 0, "+34", ["itsp-carrier", "e1-pstn"]),
    ("international", "international", "^00[1-9][0-9]{4,}$", 70, 2, "+", ["itsp-carrier", "e1-pstn"]),
]


def _upsert(model, name, create, update, actor, **fields):
    obj = model.objects.filter(name=name).first()
    if obj is None:
        return create(actor=actor, name=name, **fields)
    return update(obj, actor=actor, **fields)


def load(actor: Actor, sites: dict) -> dict:
    from sites.models import AsteriskNode

    central = AsteriskNode.objects.get(name="ast-central")
    trunks = {
        "e1-pstn": _upsert(E1Trunk, "e1-pstn", actions.create_e1_trunk, actions.update_e1_trunk, actor,
                           asterisk_node=central, span=1, channels="1-15,17-31", group=1, signalling="pri_cpe",
                           switch_type="euroisdn", role="pstn", description="Primary rate line to the PSTN"),
        "e1-legacy-pbx": _upsert(E1Trunk, "e1-legacy-pbx", actions.create_e1_trunk, actions.update_e1_trunk, actor,
                                 asterisk_node=central, span=2, channels="1-15,17-31", group=2,
                                 signalling="pri_net", switch_type="qsig", role="legacy_pbx",
                                 description="Q.SIG tie line to the legacy PBX"),
        "itsp-carrier": _upsert(ItspTrunk, "itsp-carrier", actions.create_itsp_trunk, actions.update_itsp_trunk,
                                actor, host="127.0.0.20", port=5060, transport="udp", auth_mode="ip",
                                ip_addresses="127.0.0.20", address_group=2, caller_id_presentation="allowed",
                                caller_id_number="+34911000000", description="SIP trunk of the carrier"),
    }
    for name, kind, pattern, priority, strip, prepend, order in ROUTES:
        _upsert(OutboundRoute, name, actions.create_route, actions.update_route, actor, kind=kind,
                pattern=pattern, priority=priority, strip=strip, prepend=prepend, trunks=[trunks[t] for t in order])
    return trunks
