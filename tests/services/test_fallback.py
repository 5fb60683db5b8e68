"""Failover for every service code: a code served by one node (or by the caller's home node) names the
dispatcher set that stands in for that node (dpid 1 attrs ``fb=<set>;fa=8``), and Kamailio uses it.

The Kamailio tests use the routing tests' UDP stand-ins (test_kamailio_routing.Udp): the "Asterisks" are
sockets on 127.0.0.1 that answer Kamailio's OPTIONS keepalives, or stay silent like a dead node.
"""
from __future__ import annotations

import time

import pytest
from django.urls import reverse

from services import actions
from services.models import DispatcherSet
from services.projection import code_attrs
from voipadmin.kamailio.models import DialplanRule

from .test_kamailio_routing import _node, _request_line, _trust_loopback, send_invite, udp  # noqa: F401

pytestmark = pytest.mark.django_db


def _attrs() -> dict[str, str]:
    return dict(DialplanRule.objects.filter(dpid=1).values_list("match_exp", "attrs"))


def test_a_code_served_by_one_node_falls_back_to_the_first_set_holding_that_node(estate, actor):
    nodes = estate["nodes"]
    actions.create_dispatcher_set(actor=actor, setid=3, name="media", algorithm=4,
                                  destinations=[{"node": nodes["ast-media"]}, {"node": nodes["ast-branch1"]}])
    actions.create_dispatcher_set(actor=actor, setid=5, name="conference", algorithm=8,
                                  destinations=[{"node": nodes["ast-central"], "priority": 10},
                                                {"node": nodes["ast-media"]}])
    actions.create_service_code(actor=actor, code="*125", name="Conference", kind="conference", route_to="node",
                                node=nodes["ast-central"])
    actions.create_service_code(actor=actor, code="*130", name="Echo", kind="echo", route_to="node",
                                node=nodes["ast-media"])
    actions.create_service_code(actor=actor, code="*123", name="Voicemail", kind="voicemail", route_to="home")
    actions.create_service_code(actor=actor, code="*150", name="Echo", kind="echo", route_to="set",
                                dispatcher_set=DispatcherSet.objects.get(setid=5))
    assert _attrs() == {
        "*125": "svc=conference;dst=sip:127.0.0.11:5060;fb=5;fa=8",  # the only set holding ast-central
        "*130": "svc=echo;dst=sip:127.0.0.15:5060;fb=3;fa=8",  # the lowest-numbered set holding ast-media
        "*123": "svc=voicemail;target=home;fb=3;fa=8",  # the estate's first set
        "*150": "svc=echo;setid=5;alg=8",  # a set fails over by itself
    }


def test_without_a_set_there_is_nothing_to_fall_back_to(estate, actor):
    actions.create_service_code(actor=actor, code="*123", name="Voicemail", kind="voicemail", route_to="home")
    assert _attrs() == {"*123": "svc=voicemail;target=home"}


def test_a_node_in_no_set_falls_back_to_the_estates_first_set_and_a_set_id_is_never_cut(estate, actor):
    from sites import actions as site_actions

    nodes = estate["nodes"]
    actions.create_dispatcher_set(actor=actor, setid=987, name="media", algorithm=4,
                                  destinations=[{"node": nodes["ast-media"]}])
    long_host = site_actions.create_asterisk_node(actor=actor, name="ast-long", site=estate["central"],
                                                  host="pbx-" + "x" * 23 + ".test", roles="pbx")
    code = actions.create_service_code(actor=actor, code="*125", name="Conference", kind="conference",
                                       route_to="node", node=nodes["ast-central"])
    assert code_attrs(code) == "svc=conference;dst=sip:127.0.0.11:5060;fb=987;fa=8"
    code = actions.update_service_code(code, actor=actor, node=long_host)
    # 64 characters at most (dialplan.attrs): the fallback is left out rather than cut to a wrong set id
    assert code_attrs(code) == f"svc=conference;dst={long_host.sip_uri}" and len(code_attrs(code)) <= 64
    assert len(f"svc=conference;dst={long_host.sip_uri};fb=987;fa=8") > 64


def test_the_set_page_says_which_codes_it_stands_in_for_and_what_priorities_do(admin_client, estate, actor):
    nodes = estate["nodes"]
    dset = actions.create_dispatcher_set(actor=actor, setid=1, name="asterisks", algorithm=4,
                                         destinations=[{"node": nodes["ast-central"], "priority": 10},
                                                       {"node": nodes["ast-branch1"]}])
    actions.create_service_code(actor=actor, code="*125", name="Conference", kind="conference", route_to="node",
                                node=nodes["ast-central"])
    actions.create_service_code(actor=actor, code="*123", name="Voicemail", kind="voicemail", route_to="home")
    page = admin_client.get(dset.get_absolute_url()).content.decode()
    stands_in = page[page.index('id="fallback-for"'):]
    assert "*125 Conference" in stands_in and "node ast-central first" in stands_in
    assert "*123 Voicemail" in stands_in and "the caller's home node first" in stands_in
    assert "ignores priorities" in page
    form = admin_client.get(reverse("services:dispatcherset_edit", args=[dset.pk])).content.decode()
    assert "Round robin, weight and the hashes spread calls over every active destination and ignore priorities" in (
        form.replace("&#x27;", "'"))


# --- the real Kamailio ------------------------------------------------------------------------------------------


@pytest.mark.kamailio
@pytest.mark.django_db(transaction=True)
def test_a_silent_node_hands_its_code_to_the_fallback_set_within_seconds(live_kamailio, eager_push, estate, actor,
                                                                       udp):  # noqa: F811
    """*125 on a node that never answers: after its 1 s timer Kamailio marks it inactive in the fallback set and
    sends the call to the set's next node by priority; the next call skips the silent node at once."""
    phone, silent, standby = udp(), udp(), udp()
    dead = _node(actor, estate["central"], "ast-silent-test", silent.port)
    spare = _node(actor, estate["central"], "ast-standby-test", standby.port)
    actions.create_dispatcher_set(actor=actor, setid=4, name="standby", algorithm=4, destinations=[
        {"node": dead, "priority": 10}, {"node": spare, "priority": 5}])
    actions.create_service_code(actor=actor, code="*125", name="Conference", kind="conference", route_to="node",
                                node=dead)
    _trust_loopback(live_kamailio)

    started = time.monotonic()
    send_invite(phone, live_kamailio, "*125")
    assert silent.receive(timeout=1.0), live_kamailio.log_tail()  # tried first: the code's own node
    received = standby.receive(timeout=3.0)
    waited = time.monotonic() - started
    assert received and _request_line(received[0]).startswith("INVITE sip:*125@"), live_kamailio.log_tail()
    assert 0.8 <= waited <= 2.5, waited  # its 1 s timer (FR_ASTERISK_MS), not tm's 30 s
    listing = live_kamailio.rpc("dispatcher.list")
    states = {t["DEST"]["URI"]: t["DEST"]["FLAGS"] for r in listing["RECORDS"] for t in r["SET"]["TARGETS"]}
    assert states[dead.sip_uri] == "IP", states

    second = send_invite(phone, live_kamailio, "*125")
    received = standby.receive(timeout=0.5)  # straight away: known to be down
    assert received and second in received[0], live_kamailio.log_tail()
    while (late := silent.receive(timeout=0.3)) is not None:  # (the first call's retransmissions only)
        assert second not in late[0]
