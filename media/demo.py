"""The demo estate's media applications: a conference room 800 on every site (central's also on its own code),
the "rooms" code that asks for a room number, the central main menu, an AGI application on two loopback
FastAGI servers, and a generated two-beep announcement central plays when a service is unavailable. Safe to run again (each object is found by its natural key and brought back to shape)."""
from __future__ import annotations

from typing import Any

from services import actions as service_actions
from services.models import DispatcherSet, ServiceCode
from voipadmin.actors import Actor

from . import actions
from .models import AgiApplication, Announcement, ConferenceProfile, ConferenceRoom, IvrMenu

CODES = [
    # code, name, kind
    ("*126", "Conference rooms (asks for the room)", "rooms"),
    ("*127", "Central meeting room 800", "application"),
    ("*141", "Main menu", "application"),
    ("*142", "CRM lookup (AGI)", "application"),
]


def _tone() -> bytes:
    """Two short beeps (8 kHz mono WAV), made here: the demo needs no sound file of its own."""
    import io
    import math
    import struct
    import wave

    samples = [int(8000 * math.sin(2 * math.pi * 660 * i / 8000)) if (i // 2000) % 2 == 0 else 0
               for i in range(8000)]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buf.getvalue()


def _upsert(model, lookup: dict[str, Any], create, update, actor: Actor, **fields):
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        return create(actor=actor, **lookup, **fields)
    return update(obj, actor=actor, **fields)


def load(actor: Actor, sites: dict) -> dict:
    dset = DispatcherSet.objects.filter(setid=1).first()
    codes = {}
    for code, name, kind in CODES:  # served by the Asterisks' set: any node runs the application service's calls
        route = dict(route_to="set", dispatcher_set=dset) if dset else dict(route_to="home")
        codes[code] = _upsert(ServiceCode, {"code": code}, service_actions.create_service_code,
                              service_actions.update_service_code, actor, name=name, kind=kind, **route)
    central = sites.get("central")
    profile = _upsert(ConferenceProfile, {"name": "Standard"}, actions.create_conference_profile,
                      actions.update_conference_profile, actor, site_default=central, max_members=20,
                      announce_join_leave=True, description="Every central room without a profile of its own")
    rooms = {}
    for slug, site in sites.items():
        rooms[slug] = _upsert(ConferenceRoom, {"site": site, "number": "800"}, actions.create_conference_room,
                              actions.update_conference_room, actor, name=f"{site.name} meeting room",
                              service_code=codes["*127"] if slug == "central" else None,
                              profile=profile if slug == "central" else None)
    agi = _upsert(AgiApplication, {"name": "CRM lookup"}, actions.create_agi_application,
                  actions.update_agi_application, actor, app_type="crm", app_id="crm-1", script="lookup",
                  strategy="failover", service_code=codes["*142"],
                  servers=[{"host": "127.0.0.1", "port": 4573}, {"host": "127.0.0.1", "port": 4574}])
    if central is not None:
        options = [{"key": "1", "action": "extension", "value": "1001"},
                   {"key": "2", "action": "room", "room": rooms["central"]},
                   {"key": "3", "action": "agi", "agi": agi},
                   {"key": "0", "action": "extension", "value": "1003"},
                   {"key": "timeout", "action": "extension", "value": "1003"},
                   {"key": "invalid", "action": "repeat"}]
        _upsert(IvrMenu, {"site": central, "name": "Main menu"}, actions.create_ivr_menu, actions.update_ivr_menu,
                actor, prompt_sound="demo-congrats", timeout=5, attempts=3, service_code=codes["*141"],
                options=options, hours=[],
                description="1 Ana García, 2 the meeting room, 3 the CRM, 0 or no key: reception")
    tone = Announcement.objects.defer("audio").filter(name="Demo tone").first() or actions.create_announcement(
        actor=actor, name="Demo tone", upload=_tone(), description="Two beeps, made by the demo loader")
    if central is not None:  # (the other sites and purposes keep the estate's built-in sounds)
        actions.set_site_announcement(actor=actor, site=central, purpose="service_unavailable", announcement=tone)
    return codes
