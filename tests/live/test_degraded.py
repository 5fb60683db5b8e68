"""What only degrades an Asterisk, never takes it down: an optional AMI question that fails, and ARI.

The fakes play nodes a real Asterisk cannot easily be made into (a listing that never answers, a
hung ARI); tests/asterisk/test_conformance.py checks the same verdicts against a real one.
"""
from __future__ import annotations

import time

import pytest
from django.urls import reverse

from live import actions, poller
from live.choices import Health
from live.models import ActiveCall, Bridge, NodeState, Registration
from tests.fakes.ami import closed_port, running_ami_fake
from tests.fakes.ari import make_bridge, running_ari_fake

from .conftest import ACTOR

pytestmark = pytest.mark.django_db
TIMEOUT = 0.5


def _with_ari(make_asterisk, site, ami, ari, **fields):
    return make_asterisk(site, ami, ari_url=f"{ari.base_url}/ari", ari_username=ari.username,
                         ari_password=ari.password, **fields)


def _poll(node, timeout: float = TIMEOUT) -> NodeState:
    started = time.perf_counter()
    actions.run_cycle([actions.asterisk_target(node)], actor=ACTOR, timeout=timeout)
    elapsed = time.perf_counter() - started
    assert elapsed < timeout + 0.5, f"the node took {elapsed:.2f}s, more than its budget"
    return NodeState.objects.get(asterisk_node=node)


def test_a_listing_the_node_never_answers_degrades_it_within_its_budget(make_site, make_asterisk):
    with running_ami_fake(channels=2, contacts=["1001"], silent_actions=["ExtensionStateList"]) as fake:
        node = make_asterisk(make_site(), fake)
        state = _poll(node)
    assert state.state == Health.DEGRADED
    assert state.reason == f"ExtensionStateList: timed out after {TIMEOUT}s"
    assert ActiveCall.objects.filter(node=node).count() == 2  # what it did answer is recorded
    assert Registration.objects.filter(asterisk_node=node).count() == 1
    assert state.uptime_seconds is not None and state.version


def test_a_listing_the_node_refuses_degrades_it_with_asterisks_words(make_site, make_asterisk):
    with running_ami_fake(channels=2, errors={"CoreShowChannels": "Internal error"}) as fake:
        node = make_asterisk(make_site(), fake)
        state = _poll(node)
    assert (state.state, state.reason) == (Health.DEGRADED, "CoreShowChannels: internal error")
    assert not ActiveCall.objects.filter(node=node).exists()


def test_without_the_command_privilege_uptime_is_unknown_and_the_node_degraded(make_site, make_asterisk):
    with running_ami_fake(write="system,call,reporting") as fake:
        node = make_asterisk(make_site(), fake)
        state = _poll(node)
    assert state.state == Health.DEGRADED and state.uptime_seconds is None
    assert state.reason == "core show uptime seconds: permission denied"


def test_uptime_comes_from_core_show_uptime_seconds_not_from_fully_booted(make_site, make_asterisk):
    with running_ami_fake(send_fully_booted=False) as fake:
        node = make_asterisk(make_site(), fake)
        fake._started -= 3600  # up for an hour
        state = _poll(node)
    assert state.state == Health.UP and 3600 <= state.uptime_seconds < 3610
    assert [a.headers.get("Command") for a in fake.actions_named("Command")] == ["core show uptime seconds"]


def test_core_status_refused_is_down_with_its_reason(make_site, make_asterisk):
    with running_ami_fake(errors={"CoreStatus": "Permission denied"}) as fake:
        node = make_asterisk(make_site(), fake)
        state = _poll(node)
    assert (state.state, state.reason) == (Health.DOWN, "permission denied")


def test_the_gateways_spans_are_asked_in_the_same_session(make_site, make_asterisk):
    with running_ami_fake(command_outputs={"pri show spans": ["PRI span 1/0: Provisioned, Up, Active"]}) as fake:
        node = make_asterisk(make_site(), fake, roles="pbx,gateway")
        state = _poll(node)
    assert state.state == Health.UP and fake.connections == 1
    assert node.live_trunks.get().name == "span 1"


# -- ARI --------------------------------------------------------------------------------------------------------


def test_ari_is_polled_with_ami_and_gives_the_bridges(make_site, make_asterisk):
    room = make_bridge("estate", ["ast-1.1", "ast-1.2"])
    call = make_bridge("", ["ast-1.3", "ast-1.4"], creator="", technology="simple_bridge", bridge_id="b-2")
    with running_ami_fake() as ami, running_ari_fake(bridges=[room, call]) as ari:
        node = _with_ari(make_asterisk, make_site(), ami, ari)
        # a healthy node: a budget no busy test machine reaches (the budgets are the tests below)
        state = _poll(node, timeout=5)
        assert [r.path for r in ari.requests][0] == "/ari/asterisk/ping"
        ari.bridges = [room]
        _poll(node, timeout=5)
    assert (state.state, state.reason, state.ari_state) == (Health.UP, "", Health.UP)
    assert state.ari_latency_ms is not None
    [bridge] = Bridge.objects.filter(node=node)  # replaced, like every live row, by the next cycle
    assert (bridge.name, bridge.creator, bridge.technology, bridge.channels, bridge.is_conference) == \
        ("estate", "ConfBridge", "softmix", 2, True)


@pytest.mark.parametrize("fault, reason", [("hang", f"ARI: timed out after {TIMEOUT:g}s"),
                                           ("server_error", "ARI: HTTP 500: Internal server error"),
                                           ("no_ari", "ARI: no ARI at this URL (HTTP 404 from the web server: "
                                                      "is res_ari loaded?)")])
def test_an_ari_failure_degrades_a_working_node(make_site, make_asterisk, fault, reason):
    with running_ami_fake(channels=2) as ami, running_ari_fake(fault=fault) as ari:
        node = _with_ari(make_asterisk, make_site(), ami, ari)
        state = _poll(node)
    assert (state.state, state.reason, state.ari_state) == (Health.DEGRADED, reason, Health.DOWN)
    assert ActiveCall.objects.filter(node=node).count() == 2


def test_an_ari_url_nobody_listens_on_degrades_the_node(make_site, make_asterisk):
    with running_ami_fake() as ami:
        node = make_asterisk(make_site(), ami, ari_url=f"http://127.0.0.1:{closed_port()}/ari",
                             ari_username="voipadmin", ari_password="x")
        state = _poll(node)
    assert (state.state, state.reason) == (Health.DEGRADED, "ARI: connection refused")


def test_ari_answering_for_another_asterisk_degrades_the_node(make_site, make_asterisk):
    with running_ami_fake(system_name="ast-central") as ami, running_ari_fake(system_name="ast-branch1") as ari:
        node = _with_ari(make_asterisk, make_site(), ami, ari)
        state = _poll(node)
    assert state.state == Health.DEGRADED
    assert state.reason == "ARI: answered by 'ast-branch1', not by this node ('ast-central')"


def test_ari_gives_the_uptime_when_ami_cannot(make_site, make_asterisk):
    with running_ami_fake(write="system,call,reporting") as ami, running_ari_fake() as ari:
        node = _with_ari(make_asterisk, make_site(), ami, ari)
        state = _poll(node)
    assert state.state == Health.DEGRADED and state.uptime_seconds is not None  # ARI's status.startup_time
    assert state.reason == "core show uptime seconds: permission denied"


def test_a_node_down_on_ami_is_down_whatever_ari_says_and_keeps_its_last_ari_state(make_site, make_asterisk):
    with running_ari_fake() as ari:
        with running_ami_fake() as ami:
            node = _with_ari(make_asterisk, make_site(), ami, ari)
            assert _poll(node).ari_state == Health.UP
        state = _poll(node)  # the AMI fake is gone: refused
    assert (state.state, state.reason, state.ari_state) == (Health.DOWN, "connection refused", Health.UP)
    assert not Bridge.objects.exists()


def test_an_ari_hang_does_not_hold_up_a_node_whose_ami_is_down(make_site, make_asterisk):
    with running_ari_fake(fault="hang") as ari:
        node = make_asterisk(make_site(), None, port=closed_port(), ari_url=f"{ari.base_url}/ari",
                             ari_username="ari", ari_password="secret")
        started = time.perf_counter()
        [result] = poller.run_poll([actions.asterisk_target(node)], TIMEOUT)
    assert (result.state, result.reason) == (Health.DOWN, "connection refused")
    assert time.perf_counter() - started < TIMEOUT


def test_the_node_page_and_test_connection_show_ari_uptime_and_the_conference_rooms(admin_client, make_site,
                                                                                   make_asterisk):
    with running_ami_fake(channels=2, contacts=["1001"]) as ami, \
            running_ari_fake(bridges=[make_bridge("estate", ["ast-1.1"])]) as ari:
        node = _with_ari(make_asterisk, make_site(), ami, ari)
        response = admin_client.post(reverse("live:asterisk_node_test", args=[node.pk]), HTTP_HX_REQUEST="true")
    result = response.content.decode()
    assert 'data-state="up"' in result and " · up 0h 0m · 2 channels, 1 registration · ARI up, 1 bridge" in result
    html = admin_client.get(reverse("live:asterisk_node", args=[node.pk])).content.decode()
    assert 'id="node-ari"><span class="badge text-bg-success" data-state="up">up</span>' in html
    assert 'id="node-bridges"' in html and "<td>estate</td><td>ConfBridge</td><td>1</td>" in html


def test_a_node_without_ari_says_so_on_its_page(admin_client, make_site, make_asterisk):
    with running_ami_fake() as ami:
        node = make_asterisk(make_site(), ami)
        _poll(node)
    html = admin_client.get(reverse("live:asterisk_node", args=[node.pk])).content.decode()
    assert 'id="node-ari"><span class="text-muted">not configured</span>' in html and "node-bridges" not in html
