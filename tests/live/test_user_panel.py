"""A user's whole picture (the live panel on the user's page) and call control from it: hang up,
click-to-call, listen in — who may, what the node is asked, what the audit log keeps, and what an
administrator reads when the node is down or the call is gone."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cdrs.models import Cdr
from live import callcontrol
from live.models import ActiveCall, Registration
from tests.fakes.ami import closed_port, make_channel, running_ami_fake
from users import actions as user_actions
from voipadmin.connectors import ami
from voipadmin.connectors.errors import NodeError
from voipadmin.models import ChangeLogEntry

from .conftest import ACTOR

pytestmark = pytest.mark.django_db

SEEN = datetime(2026, 11, 30, 9, 0, tzinfo=dt_timezone.utc)
#: a registration still current whenever the suite runs (the panel compares expiry with the clock): no test may
#: depend on today's date, so not "SEEN + 5 minutes", which lapsed the morning after it was written
STILL_REGISTERED = datetime(2199, 1, 1, tzinfo=dt_timezone.utc)
CHANNEL = "PJSIP/kamailio-1-0000002a"


def users_channels(extension: str = "1001", channel: str = CHANNEL, linkedid: str = "ast-central-1.42"):
    """A call of ``extension`` to the echo test as the node lists it: one channel."""
    return [make_channel(Channel=channel, CallerIDNum=extension, CallerIDName="Ana García", ConnectedLineNum="",
                         Exten="*130", Uniqueid=linkedid, Linkedid=linkedid, Application="Echo")]


@pytest.fixture
def estate(make_site, make_asterisk, make_kamailio):
    """Site central (1000-3999) with one Asterisk (set per test: ``node_on``), a Kamailio, users 1001 and 1002."""
    central = make_site("central", 1000, 3999)
    make_kamailio(f"http://127.0.0.1:{closed_port()}/RPC")
    ana = user_actions.create_user(actor=ACTOR, extension=1001, name="Ana García", site=central)
    luis = user_actions.create_user(actor=ACTOR, extension=1002, name="Luis Martín", site=central)

    def node_on(fake=None, port=None):
        return make_asterisk(central, fake, port=port, roles="pbx,voicemail")

    return type("Estate", (), {"site": central, "ana": ana, "luis": luis, "node_on": staticmethod(node_on)})


def stored_call(node, extension: str = "1001", channel: str = CHANNEL, linkedid: str = "ast-central-1.42"):
    return ActiveCall.objects.create(node=node, site=node.site, channel=channel, uniqueid=linkedid,
                                     linkedid=linkedid, caller=extension, caller_name="Ana García", callee="*130",
                                     state="Up", duration_seconds=42, context="site-central", application="Echo",
                                     seen_at=SEEN)


def stored_registration(kamailio_node, extension: str = "1001", port: int = 5062):
    return Registration.objects.create(kamailio_node=kamailio_node, user=extension, domain="voip.example.test",
                                       contact=f"sip:{extension}@192.0.2.10:{port}", source=f"198.51.100.7:{port}",
                                       user_agent="Yealink T46U", nat=True, expires=STILL_REGISTERED,
                                       seen_at=SEEN)


def panel(client, user):
    return client.get(reverse("live:user_panel", args=[user.pk]))


# -- the panel ------------------------------------------------------------------------------------------


def test_the_users_page_loads_the_live_panel_for_administrators_only(client, alice, bob, estate):
    client.force_login(alice)
    page = client.get(reverse("users:sipuser_detail", args=[estate.ana.pk])).content.decode()
    assert f'hx-get="{reverse("live:user_panel", args=[estate.ana.pk])}"' in page
    client.force_login(bob)
    page = client.get(reverse("users:sipuser_detail", args=[estate.ana.pk])).content.decode()
    assert "user-live-panel" not in page


def test_the_panel_shows_registrations_calls_voicemail_and_recent_calls(admin_client, estate):
    from sites.models import KamailioNode

    with running_ami_fake(channels=users_channels()) as fake:
        node = estate.node_on(fake)
        stored_call(node)
        stored_registration(KamailioNode.objects.get())
        Cdr.objects.create(src="1001", dst="*130", start=datetime(2026, 11, 29, 10, 0), disposition="ANSWERED",
                           billsec=12)
        Cdr.objects.create(src="1003", dst="1001", start=datetime(2026, 11, 29, 11, 0), disposition="NO ANSWER",
                           billsec=0)
        Cdr.objects.create(src="1003", dst="1004", start=datetime(2026, 11, 29, 12, 0), disposition="ANSWERED")
        response = panel(admin_client, estate.ana)
        asked = [a.headers for a in fake.actions_named("MailboxCount")]
    assert response.status_code == 200
    html = response.content.decode()
    assert [a["Mailbox"] for a in asked] == ["1001@central"]  # asked now, of its node
    assert 'data-new="0"' in html and "mailbox <code>1001@central</code> on ast-central" in html
    assert f'data-channel="{CHANNEL}"' in html and "Hang up" in html and "Listen in" in html
    assert "sip:1001@192.0.2.10:5062" in html and "198.51.100.7:5062" in html and "Yealink T46U" in html
    assert 'data-extension-state="registered"' in html or 'data-extension-state="in_use"' in html
    recent = response.context["recent_calls"]
    assert [(r.src, r.dst) for r in recent] == [("1003", "1001"), ("1001", "*130")]  # newest first, only hers
    assert response.context["cdrs_made_url"] == "/cdrs/?src=1001"
    assert response.context["cdrs_received_url"] == "/cdrs/?dst=1001"
    assert 'id="user-originate"' in html


def test_the_panel_costs_the_same_queries_with_one_call_or_many(admin_client, estate, django_assert_num_queries):
    from sites.models import KamailioNode

    node = estate.node_on(port=closed_port())
    kam = KamailioNode.objects.get()
    stored_call(node)
    stored_registration(kam)
    admin_client.get(reverse("live:user_panel", args=[estate.ana.pk]))  # (warm the session and permissions)
    with CaptureQueriesContext(connection) as few:
        assert panel(admin_client, estate.ana).status_code == 200
    for i in range(6):
        stored_call(node, channel=f"PJSIP/kamailio-1-0000010{i}", linkedid=f"ast-central-2.{i}")
        stored_registration(kam, port=5070 + i)
        Cdr.objects.create(src="1001", dst=f"60012345{i}", start=datetime(2026, 11, 29, 10, i))
    with django_assert_num_queries(len(few.captured_queries)):
        response = panel(admin_client, estate.ana)
    assert len(response.context["calls"]) == 7 and len(response.context["registrations"]) == 7


def test_a_voicemail_node_that_is_down_is_a_sentence_in_the_panel_not_an_error(admin_client, estate):
    estate.node_on(port=closed_port())
    response = panel(admin_client, estate.ana)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Counts unknown: ast-central did not answer (connection refused)" in html


def test_the_panel_refreshes_itself_and_keeps_a_half_typed_extension(admin_client, estate):
    estate.node_on(port=closed_port())
    html = panel(admin_client, estate.ana).content.decode()
    assert f'hx-get="{reverse("live:user_panel", args=[estate.ana.pk])}" hx-trigger="every 10s"' in html
    assert 'id="user-originate-card" hx-preserve="true"' in html


# -- who may ----------------------------------------------------------------------------------------------


OPERATIONS = ["live:user_hangup", "live:user_originate", "live:user_listen"]


@pytest.mark.parametrize("name", ["live:user_panel", *OPERATIONS])
def test_helpdesk_and_people_without_a_role_get_nothing(client, bob, charlie, estate, name):
    estate.node_on(port=closed_port())
    url = reverse(name, args=[estate.ana.pk])
    for persona in (bob, charlie):
        client.force_login(persona)
        assert client.get(url).status_code == 403, persona
        assert client.post(url, {"from_extension": "1002", "node": 1, "channel": CHANNEL,
                                 "listener": "1002"}).status_code == 403, persona
    assert not ChangeLogEntry.objects.filter(action="other").exists()


def test_an_administrator_without_listen_in_cannot_listen(client, alice, estate):
    from django.contrib.auth.models import Permission

    node = estate.node_on(port=closed_port())
    alice.groups.clear()
    alice.user_permissions.set(Permission.objects.filter(
        codename__in=["view_sipuser", "view_activecall", "control_call"]))
    client.force_login(alice)
    stored_call(node)
    html = panel(client, estate.ana).content.decode()
    assert "Hang up" in html and "Listen in" not in html
    url = reverse("live:user_listen", args=[estate.ana.pk])
    assert client.post(url, {"node": node.pk, "channel": CHANNEL, "listener": "1002"}).status_code == 403


def test_listen_in_is_an_administrators_permission_and_not_helpdesks(alice, bob):
    assert alice.has_perm("live.listen_in") and alice.has_perm("live.control_call")
    assert not bob.has_perm("live.listen_in") and not bob.has_perm("live.control_call")


# -- hang up ----------------------------------------------------------------------------------------------


def test_the_confirmation_page_says_what_will_be_hung_up_and_posts(admin_client, estate):
    node = estate.node_on(port=closed_port())
    stored_call(node)
    response = admin_client.get(reverse("live:user_hangup", args=[estate.ana.pk]),
                                {"node": node.pk, "channel": CHANNEL})
    html = response.content.decode()
    assert response.status_code == 200
    assert f"<code>{CHANNEL}</code> on <b>ast-central</b>" in html and 'method="post"' in html
    assert "csrfmiddlewaretoken" in html
    assert not ChangeLogEntry.objects.filter(action="other").exists()  # looking is not doing


def test_hanging_up_asks_the_node_for_the_channel_then_hangs_it_up_and_audits(admin_client, estate, monkeypatch):
    hung = []

    async def hangup(self, channel, *, cause=16):
        hung.append((self.node, channel))

    monkeypatch.setattr(ami.AmiSession, "hangup", hangup)
    with running_ami_fake(channels=users_channels()) as fake:
        node = estate.node_on(fake)
        response = admin_client.post(reverse("live:user_hangup", args=[estate.ana.pk]),
                                     {"node": node.pk, "channel": CHANNEL}, follow=True)
        listed = fake.actions_named("CoreShowChannels")
    assert hung == [(f"127.0.0.1:{fake.port}", CHANNEL)] and listed
    assert response.redirect_chain == [(estate.ana.get_absolute_url(), 302)]
    assert f"Hung up {CHANNEL} on ast-central." in response.content.decode()
    entry = ChangeLogEntry.objects.get(action="other")
    assert (entry.actor, entry.object_id, entry.content_type.model) == ("alice", str(estate.ana.pk), "sipuser")
    assert entry.message == f"Hang-up: hung up {CHANNEL} on ast-central"
    assert entry.changes == {"node": [None, "ast-central"], "channel": [None, CHANNEL], "outcome": [None, "done"]}
    history = admin_client.get(reverse("users:sipuser_detail", args=[estate.ana.pk])).content.decode()
    assert f"Hang-up: hung up {CHANNEL} on ast-central" in history  # the user's own audit trail


def test_a_node_that_is_down_is_said_plainly_and_the_attempt_is_audited(admin_client, estate):
    node = estate.node_on(port=closed_port())
    stored_call(node)
    response = admin_client.post(reverse("live:user_hangup", args=[estate.ana.pk]),
                                 {"node": node.pk, "channel": CHANNEL})
    assert response.status_code == 503
    assert "ast-central did not answer (connection refused); nothing was done." in response.content.decode()
    entry = ChangeLogEntry.objects.get(action="other")
    assert entry.message.startswith("Hang-up failed: ast-central did not answer (connection refused)")
    assert entry.changes["outcome"] == [None, "failed"]


def test_a_call_that_has_ended_is_said_plainly(admin_client, estate):
    with running_ami_fake(channels=[]) as fake:
        node = estate.node_on(fake)
        response = admin_client.post(reverse("live:user_hangup", args=[estate.ana.pk]),
                                     {"node": node.pk, "channel": CHANNEL})
    assert response.status_code == 409
    assert f"The call has already ended: {CHANNEL} is no longer on ast-central." in response.content.decode()


def test_a_channel_of_somebody_else_is_not_hung_up_from_this_users_page(admin_client, estate, monkeypatch):
    monkeypatch.setattr(ami.AmiSession, "hangup", lambda *a, **k: pytest.fail("hung up another user's call"))
    with running_ami_fake(channels=users_channels(extension="1002")) as fake:
        node = estate.node_on(fake)
        response = admin_client.post(reverse("live:user_hangup", args=[estate.ana.pk]),
                                     {"node": node.pk, "channel": CHANNEL})
    assert response.status_code == 409
    assert f"{CHANNEL} on ast-central is not a call of extension 1001." in response.content.decode()


@pytest.mark.parametrize("channel", ["PJSIP/x\r\nAction: Originate", "not a channel", ""])
def test_a_channel_name_that_is_not_one_is_a_form_error(admin_client, estate, channel):
    node = estate.node_on(port=closed_port())
    response = admin_client.post(reverse("live:user_hangup", args=[estate.ana.pk]),
                                 {"node": node.pk, "channel": channel})
    assert response.status_code == 400 and not ChangeLogEntry.objects.filter(action="other").exists()


# -- click-to-call ----------------------------------------------------------------------------------------


def test_click_to_call_rings_the_chosen_extension_first_then_the_user(admin_client, estate):
    with running_ami_fake() as fake:
        node = estate.node_on(fake)
        url = reverse("live:user_originate", args=[estate.ana.pk])
        confirm = admin_client.get(url, {"from_extension": "1002"}).content.decode()
        assert not fake.actions_named("Originate")  # the confirmation asks nothing
        response = admin_client.post(url, {"from_extension": "1002"}, follow=True)
        [originate] = [a.headers for a in fake.actions_named("Originate")]
    assert "rings it; when it answers, it calls <b>1001</b>" in confirm
    assert originate["Channel"] == "PJSIP/kamailio-1/sip:1002@127.0.0.1:5060"
    assert (originate["Application"], originate["Data"]) == ("Dial", "PJSIP/kamailio-1/sip:1001@127.0.0.1:5060,30,I")
    assert originate["Async"] == "true" and originate["CallerID"] == '"Ana García" <1001>'
    assert "Ast-central rings 1002, then connects it to 1001." in response.content.decode()
    entry = ChangeLogEntry.objects.get(action="other", object_id=str(estate.ana.pk))
    assert entry.message == "Click-to-call: ast-central rings 1002, then connects it to 1001"
    assert entry.changes["from"] == [None, "1002"] and entry.changes["node"] == [None, node.name]


@pytest.mark.parametrize("extension, says", [("1009", "1009 is not an enabled user of the estate."),
                                              ("1001", "a user cannot be rung to call itself"),
                                              ("10a2", "digits only")])
def test_click_to_call_from_an_extension_that_cannot_is_refused(admin_client, estate, extension, says):
    estate.node_on(port=closed_port())
    response = admin_client.post(reverse("live:user_originate", args=[estate.ana.pk]), {"from_extension": extension})
    assert response.status_code in (400, 409) and says in response.content.decode()


# -- listen in --------------------------------------------------------------------------------------------


def test_listening_in_rings_the_listener_into_a_quiet_chanspy_on_the_calls_node(admin_client, estate):
    with running_ami_fake(channels=users_channels()) as fake:
        node = estate.node_on(fake)
        url = reverse("live:user_listen", args=[estate.ana.pk])
        page = admin_client.get(url, {"node": node.pk, "channel": CHANNEL}).content.decode()
        response = admin_client.post(url, {"node": node.pk, "channel": CHANNEL, "listener": "1002"}, follow=True)
        [originate] = [a.headers for a in fake.actions_named("Originate")]
    assert 'name="listener"' in page and "Listen, unheard" in page
    assert originate["Channel"] == "PJSIP/kamailio-1/sip:1002@127.0.0.1:5060"
    assert (originate["Application"], originate["Data"]) == ("ChanSpy", f"{CHANNEL},qE")  # no w: no whisper
    assert response.status_code == 200
    entry = ChangeLogEntry.objects.get(action="other")
    assert entry.message == f"Listen-in: ast-central rings 1002 to listen to {CHANNEL}"
    assert entry.changes["listener"] == [None, "1002"]


# -- the connector ------------------------------------------------------------------------------------------


def test_the_connector_never_sends_a_header_with_a_line_break():
    session = ami.AmiSession("127.0.0.1", closed_port())
    with pytest.raises(NodeError) as caught:
        session._checked(Channel="PJSIP/1001\r\nAction: Hangup")
    assert caught.value.permanent and "line break" in caught.value.reason


def test_the_dial_string_goes_through_the_estates_first_kamailio(estate):
    assert callcontrol.dial_string("1002") == "PJSIP/kamailio-1/sip:1002@127.0.0.1:5060"
    with pytest.raises(callcontrol.CallControlError):
        callcontrol.dial_string("1002@evil")
