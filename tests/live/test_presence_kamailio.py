"""The portal reads the presence the real Kamailio 5.6 holds (issue 15): a trusted node PUBLISHes an
extension's dialog state, a phone SUBSCRIBEs to it, and one poll cycle later the users list, the user's page
and the dashboard show them (the rows are Kamailio's own: the poller reads them against the real clock,
as Kamailio wrote them)."""
from __future__ import annotations

import time

import pytest
from django.urls import reverse

from live import actions
from live.models import NodeState, PresenceState
from sites import actions as site_actions
from tests.fakes.ami import closed_port
from tests.sip.watcher import Watcher, publish_dialog_info
from users import actions as user_actions
from voipadmin.kamailio.hashing import credentials
from voipadmin.kamailio.models import Presentity, Subscriber

from .conftest import ACTOR

pytestmark = [pytest.mark.kamailio, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BRANCH = "branch1.example.test"
ASTERISK_IP = "127.0.0.12"  # ast-branch1: trusted by its address (nothing listens there)
WATCHER_IP = "127.0.0.150"
PASSWORD = "lamp-secret-2024"


def test_a_publication_and_a_subscription_on_kamailio_reach_the_portal(kamailio_clean, require_postgres,
                                                                        admin_client):
    kamailio = kamailio_clean
    branch = site_actions.create_site(actor=ACTOR, name="Branch 1", slug="branch1", sip_domain=BRANCH,
                                      ranges=[(4000, 5999)])
    node = site_actions.create_asterisk_node(actor=ACTOR, name="ast-branch1", site=branch, host=ASTERISK_IP,
                                             ami_port=closed_port(), ami_username="admin", ami_secret="secret")
    kam = site_actions.create_kamailio_node(actor=ACTOR, name="kamailio-1", sip_address=kamailio.sip_address,
                                            jsonrpc_url=kamailio.rpc_url)
    for ext in (4001, 4003):
        user_actions.create_user(actor=ACTOR, extension=ext, name=f"User {ext}", site=branch)
    if not Subscriber.objects.filter(username="4001").exists():
        Subscriber.objects.create(**credentials("4001", BRANCH, PASSWORD))
    else:
        Subscriber.objects.filter(username="4001").update(**credentials("4001", BRANCH, PASSWORD))
    kamailio.rpc("dialplan.reload")
    kamailio.rpc("permissions.addressReload")

    reply = publish_dialog_info(source_ip=ASTERISK_IP, proxy=(kamailio.sip_ip, kamailio.sip_port),
                                extension="4003", state="confirmed", expires=120)
    assert reply is not None and reply.status == 200, (reply and reply.text, kamailio.log_tail(20))
    deadline = time.monotonic() + 2
    while not Presentity.objects.filter(username="4003").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Presentity.objects.filter(username="4003").exists(), (list(Presentity.objects.values()),
                                                                 kamailio.log_tail(30))
    row = Presentity.objects.get(username="4003", event="dialog")
    assert row.domain == BRANCH and row.sender.startswith(f"sip:{ASTERISK_IP}:"), row.sender  # handle_publish(uri)
    assert row.expires > time.time() + 60

    with Watcher("4001", PASSWORD, domain=BRANCH, ip=WATCHER_IP, proxy=(kamailio.sip_ip, kamailio.sip_port)) as w:
        lamp = w.subscribe("4003")
        assert lamp.status == 200, kamailio.log_tail(20)
        lamp.wait_for("confirmed")
        summary = actions.poll_estate(actor=ACTOR, timeout=1.0)

    text = "\n".join(summary.lines())
    assert "presence: 1 publication(s) for 1 extension(s) (1 busy), 1 watcher(s)" in text, text
    assert PresenceState.objects.get(extension="4003").state == "in_use"
    assert NodeState.objects.get(kamailio_node=kam).watchers == 1
    assert NodeState.objects.get(kamailio_node=kam).publications == 1
    assert NodeState.objects.get(asterisk_node=node).publications == 1  # its sender's address is the node's
    badges = admin_client.get(reverse("live:extension_state_badges"), {"ext": ["4003"]}).content.decode()
    assert 'data-extension-state="in_use"' in badges
    html = admin_client.get(reverse("live:estate_fragment")).content.decode()
    assert f'data-presence="kamailio-{kam.pk}" data-watchers="1" data-publications="1"' in html
