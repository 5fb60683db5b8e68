"""Conference rooms on the real estate (real Kamailio, the two real Asterisks, sipp callers, the application service).

One test, several calls (the suite's time is short). Room 800 of site central has a PIN and a code, *800, served
at the caller's home site: a central caller lands on the central node, a branch1 caller on the branch1 node. Both
at once: they end up in ONE ARI bridge, on the room's home node (whichever took the room first), the other node
relayed its caller there through Kamailio and holds no bridge; the room's profile records it there. A caller keying a wrong PIN three times is hung up
and never enters the bridge; the PIN changed in the portal meanwhile is what the next caller needs (no reload).
When everybody has left, the bridge and the room's ActiveRoom row are gone.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import httpx
import pytest

from media import actions as media_actions
from media.models import ActiveRoom
from services import actions as service_actions

from tests.asterisk.helpers import ACTOR, make_phone, wait_for
from tests.sip import Phone

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]

def pin_keys(*pins: str) -> list[tuple[str, int]]:
    """Keys after the answer: a pause (a relayed caller reaches the home node), then each PIN and #."""
    return [("", 2000)] + [(f"{pin}#", 400) for pin in pins]


class RoomPhone(Phone):
    """A phone that stays in the call through re-INVITEs: a room of two is a two-party bridge, whose members get the
    other's connected line (a re-INVITE) each time the room goes to two; the suite's call.xml hangs up after one."""

    def _call_cmd(self, *args, **kwargs) -> list[str]:
        cmd = super()._call_cmd(*args, **kwargs)
        scenario = Path(cmd[cmd.index("-sf") + 1])
        text = scenario.read_text()
        hold = '  <recv request="INVITE" timeout='
        assert hold in text and '  <recv request="ACK"/>\n\n  <label id="hangup"/>' in text
        text = text.replace(hold, '  <label id="hold"/>\n' + hold, 1).replace(
            '  <recv request="ACK"/>\n\n  <label id="hangup"/>', '  <recv request="ACK" next="hold"/>\n\n  <label id="hangup"/>')
        scenario.write_text(text)
        return cmd


def room_phone(estate, extension: int, site: str, ip: str) -> RoomPhone:
    phone = make_phone(estate, extension, f"User {extension}", site, ip=ip)
    return RoomPhone(phone.user, phone.password, ip=ip)


def ari(estate, site: str, path: str):
    plan = estate.plan.node(site)
    response = httpx.get(f"{plan.ari_url}{path}", auth=("voipadmin", plan.ari_password), timeout=3)
    response.raise_for_status()
    return response.json()


def room_members(estate, site: str) -> dict[str, list[str]]:
    """{bridge id: caller numbers of its callers} for the rooms' bridges on a node (ARI's recorder and announcer
    channels left out)."""
    numbers = {c["id"]: c["caller"]["number"] for c in ari(estate, site, "/channels")
               if not c["name"].startswith(("Recorder/", "Announcer/"))}
    return {b["id"]: sorted(numbers[c] for c in b["channels"] if c in numbers)
            for b in ari(estate, site, "/bridges") if b["id"].startswith("va-room-")}


def test_callers_on_two_nodes_share_one_bridge_a_wrong_pin_is_refused_and_a_new_pin_applies(media_service):
    estate = media_service.estate
    code = service_actions.create_service_code(actor=ACTOR, code="*800", name="Room 800", kind="application",
                                               route_to="home")
    profile = media_actions.create_conference_profile(actor=ACTOR, name="Recorded", record=True,
                                                      announce_join_leave=True)
    room = media_actions.create_conference_room(actor=ACTOR, site=estate.sites["central"], number="800",
                                                name="Board", pin="1234", service_code=code, profile=profile)
    phones = {"central": [room_phone(estate, 1001 + i, "central", f"127.0.0.{100 + i}") for i in range(2)],
              "branch1": [room_phone(estate, 4001 + i, "branch1", f"127.0.0.{110 + i}") for i in range(2)]}
    kamailio = estate.kamailio

    with contextlib.ExitStack() as calls:
        first = [calls.enter_context(phones[site][0].calling(kamailio, "*800", hold_ms=16000, timeout=30,
                                                             dtmf=pin_keys("1234")))
                 for site in ("central", "branch1")]
        # both in one bridge, on the node that took the room first; the other node relayed its caller there
        assert wait_for(lambda: ActiveRoom.objects.filter(room=room, members=2).exists(), 10), \
            media_service.log_tail()
        home = ActiveRoom.objects.select_related("node").get(room=room)
        home_site = home.node.site.slug
        other_site = "branch1" if home_site == "central" else "central"
        both = sorted(["1001", "4001"])
        assert wait_for(lambda: room_members(estate, home_site) == {home.bridge_id: both}, 10), \
            (room_members(estate, home_site), media_service.log_tail())
        assert room_members(estate, other_site) == {}
        assert "relaying" in media_service.log()

        # a caller of the other node keys a wrong PIN three times: hung up, never in the bridge; meanwhile the
        # room's PIN changes in the portal, and the next caller needs the new one
        refused_phone, late_phone = phones[other_site][1], phones[home_site][1]
        refused = calls.enter_context(refused_phone.calling(kamailio, "*800", hold_ms=14000, timeout=30,
                                                            dtmf=pin_keys("0000", "0000", "0000")))
        time.sleep(0.5)
        media_actions.update_conference_room(room, actor=ACTOR, pin="5678")
        late = calls.enter_context(late_phone.calling(kamailio, "*800", hold_ms=6000, timeout=30,
                                                      dtmf=pin_keys("5678")))
        seen: set[str] = set()
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            members = room_members(estate, home_site).get(home.bridge_id, [])
            seen.update(members)
            if late_phone.user in members and "wrong PIN" in media_service.log():  # both done
                break
            time.sleep(0.1)
        assert late_phone.user in seen, (seen, media_service.log_tail())
        assert refused_phone.user not in seen, seen
        assert room_members(estate, other_site) == {}
    results = [call.result for call in (*first, late)]
    for result in results:
        assert result.ok, result.output
    # the refused caller was answered, then hung up by the room before its hold ran out
    assert refused.result.status == 200 and refused.result.exit_code != 0, refused.result.output
    assert refused.result.elapsed < 14, refused.result.elapsed
    assert "wrong PIN" in media_service.log()
    # everybody left: the bridge is destroyed and the row deleted
    assert wait_for(lambda: not ActiveRoom.objects.filter(room=room).exists(), 5), media_service.log_tail()
    assert wait_for(lambda: room_members(estate, home_site) == {}, 3)
    # the profile records: the room's mixed audio is in the home node's recordings, named by room and time
    stored = [r["name"] for r in ari(estate, home_site, "/recordings/stored")]
    assert [name for name in stored if name.startswith("room-central-800-")], stored
