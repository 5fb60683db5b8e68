"""In a real browser: Alice opens a user's page, reads its live picture (state, voicemail, the call it is on,
its registration) and hangs the call up through the confirmation page.

The node is the protocol-faithful AMI fake (tests/fakes/ami.py) listing the user's call; its Hangup is
recorded here instead of sent (the fake does not play Asterisk's Hangup: tests/asterisk/test_call_control.py
hangs up a real call on a real Asterisk).
"""
from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

import pytest

from tests.browser_fixtures import SHOTS, login
from tests.fakes.ami import closed_port, make_channel, running_ami_fake

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHANNEL = "PJSIP/kamailio-1-0000002a"
SEEN = datetime(2026, 11, 30, 9, 0, tzinfo=dt_timezone.utc)


def test_an_administrator_sees_a_users_picture_and_hangs_up_its_call(browser, live_server, alice,
                                                                      monkeypatch):
    from live.models import ActiveCall, Registration
    from sites import actions as site_actions
    from users import actions as user_actions
    from voipadmin.actors import Actor
    from voipadmin.connectors import ami
    from voipadmin.models import ChangeLogEntry

    hung = []

    async def hangup(self, channel, *, cause=16):
        hung.append(channel)

    monkeypatch.setattr(ami.AmiSession, "hangup", hangup)
    actor = Actor.command("tests")
    listing = [make_channel(Channel=CHANNEL, CallerIDNum="1001", CallerIDName="Ana García", ConnectedLineNum="",
                            Exten="*130", Uniqueid="ast-central-1.42", Linkedid="ast-central-1.42",
                            Application="Echo")]
    with running_ami_fake(channels=listing) as fake:
        site = site_actions.create_site(actor=actor, name="Central", slug="central", kind="central",
                                        sip_domain="voip.example.test", ranges=[(1000, 1999)])
        kam = site_actions.create_kamailio_node(actor=actor, name="kamailio-1", sip_address="127.0.0.1:5060",
                                                jsonrpc_url=f"http://127.0.0.1:{closed_port()}/RPC")
        node = site_actions.create_asterisk_node(actor=actor, name="ast-central", site=site, host="127.0.0.1",
                                                 ami_port=fake.port, ami_username=fake.username,
                                                 ami_secret=fake.secret, roles="pbx,voicemail")
        ana = user_actions.create_user(actor=actor, extension=1001, name="Ana García", site=site)
        ActiveCall.objects.create(node=node, site=site, channel=CHANNEL, uniqueid="ast-central-1.42",
                                  linkedid="ast-central-1.42", caller="1001", caller_name="Ana García",
                                  callee="*130", state="Up", duration_seconds=42, application="Echo", seen_at=SEEN)
        Registration.objects.create(kamailio_node=kam, user="1001", domain="voip.example.test",
                                    contact="sip:1001@192.0.2.10:5062", source="198.51.100.7:5062",
                                    user_agent="Yealink T46U", expires=datetime(2099, 1, 1, tzinfo=dt_timezone.utc), seen_at=SEEN)

        SHOTS.mkdir(parents=True, exist_ok=True)
        page = login(browser, live_server, "alice")
        page.goto(f"{live_server.url}/users/{ana.pk}/")
        page.wait_for_selector("#user-calls")  # the live panel came in (HTMX)
        assert CHANNEL in page.locator("#user-calls").inner_text()
        assert "0 new" in page.locator("#user-voicemail").inner_text()
        assert "Yealink T46U" in page.locator("#user-registrations").inner_text()
        assert page.locator("#user-state [data-extension-state]").count() == 1
        assert page.locator("#user-originate").count() == 1
        page.screenshot(path=str(SHOTS / "user-picture.png"), full_page=True)

        page.click(f"#user-calls tr[data-channel='{CHANNEL}'] >> text=Hang up")
        page.wait_for_load_state("networkidle")
        assert "End the call of 1001" in page.locator("#call-control-summary").inner_text()
        assert hung == []  # nothing happens before the confirmation
        page.click("#call-control-confirm")
        page.wait_for_load_state("networkidle")
        assert page.url.endswith(f"/users/{ana.pk}/")
        assert f"Hung up {CHANNEL} on ast-central." in page.content()
        page.screenshot(path=str(SHOTS / "user-picture-hung-up.png"), full_page=True)
        page.close()
    assert hung == [CHANNEL]
    assert ChangeLogEntry.objects.filter(action="other", object_id=str(ana.pk), actor="alice").count() == 1
