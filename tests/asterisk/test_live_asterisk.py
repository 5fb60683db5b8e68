"""The live estate from real Asterisks: the poll cycle and "test connection" as the portal runs them.

The nodes are the suite's real Asterisks (tests/asterisk_fixtures.py), polled over AMI and ARI with the
credentials the portal stores for them; phones are sipp (tests/sip).
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import httpx
import pytest
from django.urls import reverse

from live import actions
from live.choices import Health
from live.models import ActiveCall, Bridge, NodeState, Registration
from tests.sip import Phone
from voipadmin.actors import Actor

from .test_conformance import PASSWORD, ensure_ari, make_user, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]

ACTOR = Actor.command("tests")


@pytest.fixture(params=["estate", "site"])
def estate(request):
    """Both ways a node reads the database (tests/asterisk/estate.py), ARI loaded on each node."""
    estate = request.getfixturevalue("asterisk_estate" if request.param == "estate" else "site_asterisk_estate")
    for site, node in estate.asterisks.items():
        ensure_ari(node, estate.plan.node(site))
    return estate


def _members(plan, room: str) -> int:
    """Members of a conference room as ARI sees them (a member counts once its join has completed)."""
    bridges = httpx.get(f"{plan.ari_url}/bridges", auth=("voipadmin", plan.ari_password), timeout=3).json()
    return sum(len(b["channels"]) for b in bridges if b["name"] == room)


def test_a_poll_cycle_reports_every_real_asterisk_up_with_version_uptime_and_ari(estate):
    summary = actions.poll_estate(actor=ACTOR)
    version = estate.asterisks["central"].cli("core show version").split()[1]
    for site, node in estate.nodes.items():
        state = NodeState.objects.get(asterisk_node=node)
        assert (state.state, state.reason) == (Health.UP, ""), site
        assert state.version == version and state.uptime_seconds is not None
        assert state.ari_state == Health.UP and state.ari_latency_ms is not None
    assert summary.count(Health.DOWN) == 0


def test_test_connection_reports_a_real_node_with_its_call_and_registration(estate, admin_client):
    """The node page's button, during a *125 conference call and with a phone registered straight to the node."""
    node, plan, home = estate.nodes["central"], estate.plan.node("central"), estate.asterisks["central"]
    make_user(estate, 1001, "Ana García")
    make_user(estate, 1002, "Luis Martín")
    phone = Phone("1001", PASSWORD, ip="127.0.0.102")
    direct = SimpleNamespace(sip_ip=plan.host, sip_port=plan.sip_port)
    assert phone.register(direct).ok
    caller = Phone("1002", PASSWORD, ip="127.0.0.101")
    try:
        with caller.calling(estate.kamailio, "*125", hold_ms=5000) as call:
            assert wait_for(lambda: _members(plan, "estate")), home.cli("core show channels")
            result = actions.test_node_connection(node, actor=ACTOR)
            response = admin_client.post(reverse("live:asterisk_node_test", args=[node.pk]), HTTP_HX_REQUEST="true")
            page = admin_client.get(reverse("live:asterisk_node", args=[node.pk])).content.decode()
        assert call.result.ok, call.result.output
    finally:
        phone.register(direct, expires=0)

    assert (result.state, result.reason) == (Health.UP, "")
    assert result.version == home.cli("core show version").split()[1] and result.uptime_seconds is not None
    [channel] = result.calls
    assert (channel["caller"], channel["callee"], channel["application"], channel["context"]) == \
        ("1002", "*125", "ConfBridge", "site-central")
    assert [(r["user"], r["source"].split(":")[0]) for r in result.registrations] == [("1001", "127.0.0.102")]
    assert [(b["name"], b["channels"]) for b in result.bridges] == [("estate", 1)]

    html = response.content.decode()
    assert response.status_code == 200 and 'data-state="up"' in html
    assert re.search(rf"{re.escape(result.version)} · up \d+h \d+m · 1 channel, 1 registration · ARI up, 1 bridge",
                     html), html
    state = NodeState.objects.get(asterisk_node=node)
    assert (state.state, state.version, state.ari_state) == (Health.UP, result.version, Health.UP)
    assert ActiveCall.objects.get(node=node).application == "ConfBridge"
    assert Registration.objects.get(asterisk_node=node).user == "1001"
    assert Bridge.objects.get(node=node).name == "estate"
    assert "<td>estate</td><td>ConfBridge</td><td>1</td>" in page and "Channels (1)" in page
