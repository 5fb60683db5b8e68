"""The real Kamailio of the suite is polled for real: a phone registered with sipp shows up as registered."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from live import actions
from live.models import NodeState, Registration
from live.state import extension_states
from voipadmin.kamailio.hashing import credentials
from voipadmin.kamailio.models import Subscriber

from tests.kamailio.harness import sip_register

from .conftest import ACTOR

pytestmark = [pytest.mark.kamailio, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
DOMAIN = "voip.example.test"


def test_a_phone_registered_with_sipp_appears_on_the_dashboard_as_registered(
        kamailio_clean, require_postgres, admin_client, make_site, make_kamailio):
    site = make_site("central", 1000, 1999)
    node = make_kamailio(kamailio_clean.rpc_url)
    Subscriber.objects.create(**credentials("1001", DOMAIN, "s3cret-1001"))
    Subscriber.objects.create(**credentials("1002", DOMAIN, "s3cret-1002"))

    result = sip_register(kamailio_clean, "1001", DOMAIN, "s3cret-1001")
    assert result.status_code == 200, result
    actions.poll_estate(actor=ACTOR)

    state = NodeState.objects.get(kamailio_node=node)
    assert state.state == "up", state.reason
    assert state.version.startswith("kamailio 5.6") and state.uptime_seconds is not None
    reg = Registration.objects.get(kamailio_node=node)
    assert (reg.user, reg.domain) == ("1001", DOMAIN) and reg.contact.startswith("sip:1001@127.0.0.1:")
    assert reg.user_agent == "voipadmin-tests sipp" and reg.expires is not None
    assert extension_states(["1001", "1002"]) == {"1001": "registered", "1002": "unavailable"}
    response = admin_client.get(reverse("dashboard"))
    sites = {s.site.slug: s for s in response.context["sites"]}
    assert (sites["central"].registered, sites["central"].users) == (1, 2)
    html = response.content.decode()
    card = html[html.index(f'data-site="{site.slug}"'):]
    assert re.search(r"data-site-registered>1 / 2</span>", card[:card.index("</div></div></div>")])
    # and each user's state, as the users list fetches it from the dashboard's data
    badges = admin_client.get(reverse("live:extension_state_badges") + "?ext=1001&ext=1002").content.decode()
    assert re.search(r'id="ext-state-1001"[^>]*><span [^>]*data-extension-state="registered"', badges)
    assert re.search(r'id="ext-state-1002"[^>]*><span [^>]*data-extension-state="unavailable"', badges)
