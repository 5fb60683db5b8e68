"""Objects the portal and API tests of the media applications share: a two-site estate with application codes,
and a tiny WAV file (built here: no fixture file, no clock)."""
from __future__ import annotations

import datetime
import io
import struct
import wave

from voipadmin.actors import Actor

SYSTEM = Actor.command("tests")


def wav_bytes(ms: int = 200, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", (i % 40) * 500 - 10000) for i in range(rate * ms // 1000)))
    return buf.getvalue()


def small_estate() -> dict:
    """Two sites (central 1000-1999, branch1 4000-4999), two users, application codes *141/*142/*143, a rooms
    code *126 and a voicemail code *123."""
    from services import actions as service_actions
    from sites import actions as site_actions
    from users import actions as user_actions

    central = site_actions.create_site(actor=SYSTEM, name="Central", slug="central", kind="central",
                                       sip_domain="central.example.test", ranges=[(1000, 1999)])
    branch = site_actions.create_site(actor=SYSTEM, name="Branch 1", slug="branch1", kind="delegation",
                                      sip_domain="branch1.example.test", ranges=[(4000, 4999)])
    users = {ext: user_actions.create_user(actor=SYSTEM, extension=ext, name=f"User {ext}", site=site,
                                           voicemail_enabled=ext != 1002)
             for ext, site in ((1001, central), (1002, central), (4001, branch))}
    codes = {code: service_actions.create_service_code(actor=SYSTEM, code=code, name=f"Code {code}", kind=kind,
                                                       route_to="home")
             for code, kind in (("*141", "application"), ("*142", "application"), ("*143", "application"),
                                ("*126", "rooms"), ("*123", "voicemail"))}
    return {"central": central, "branch": branch, "users": users, "codes": codes}


def fill(estate: dict, start: int, n: int) -> None:
    """n more of each kind (rooms with a profile, AGI applications with a server, menus with options and hours,
    announcements) for the list pages' and endpoints' query counts."""
    from media import actions
    from media.models import Announcement

    for i in range(start, start + n):
        profile = actions.create_conference_profile(actor=SYSTEM, name=f"Profile {i}")
        room = actions.create_conference_room(actor=SYSTEM, site=estate["central"], number=str(i), name=f"R{i}",
                                              profile=profile)
        agi = actions.create_agi_application(actor=SYSTEM, name=f"App {i}", app_id=f"a{i}",
                                             servers=[{"host": "127.0.0.1", "port": 4000 + i % 1000}])
        actions.create_ivr_menu(actor=SYSTEM, site=estate["central"], name=f"Menu {i}", options=[
            {"key": "1", "action": "room", "room": room}, {"key": "2", "action": "agi", "agi": agi},
            {"key": "3", "action": "extension", "value": "1001"}],
            hours=[{"weekday": 1, "opens": datetime.time(8), "closes": datetime.time(9)}])
        Announcement.objects.create(name=f"Sound {i}", audio=b"RIFF", sha256="0" * 64)
