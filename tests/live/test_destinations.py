"""Dispatcher destinations as Kamailio holds them (``dispatcher.list``): polled, recorded, shown.

Kamailio decides failover from these states (an inactive destination gets no calls until it answers its
OPTIONS keepalive again), so the dashboard shows Kamailio's word, not a guess of ours.
"""
from __future__ import annotations

import re
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from live import actions, poller
from live.models import DestinationState, NodeState
from services import actions as service_actions
from tests.fakes.ami import closed_port
from tests.fakes.kamailio_rpc import running_kamailio_fake
from voipadmin.connectors.kamailio import KamailioRpc

from .conftest import ACTOR

pytestmark = pytest.mark.django_db

LISTING = {"NRSETS": 2, "RECORDS": [
    {"SET": {"ID": 1, "TARGETS": [
        {"DEST": {"URI": "sip:127.0.0.21:5060", "FLAGS": "AP", "PRIORITY": 10, "ATTRS": {"BODY": "weight=1"}}},
        {"DEST": {"URI": "sip:127.0.0.22:5060", "FLAGS": "IP", "PRIORITY": 0, "ATTRS": {"BODY": "weight=1"}}},
        {"DEST": {"URI": "sip:127.0.0.23:5060", "FLAGS": "TP", "PRIORITY": 0}},
        {"DEST": {"URI": "sip:127.0.0.24:5060", "FLAGS": "DX", "PRIORITY": 0}}]}},
    {"SET": {"ID": 1001, "TARGETS": [
        {"DEST": {"URI": "sip:127.0.0.130:5060", "FLAGS": "AX", "PRIORITY": 20,
                  "ATTRS": {"BODY": "trunk=itsp-carrier"}}}]}}]}


def test_it_reads_each_destinations_state_from_its_flags():
    rows = poller.dispatcher_destination_rows(LISTING)
    assert [(r["setid"], r["uri"][4:], r["state"], r["probing"], r["flags"]) for r in rows] == [
        (1, "127.0.0.21:5060", "active", True, "AP"), (1, "127.0.0.22:5060", "inactive", True, "IP"),
        (1, "127.0.0.23:5060", "trying", True, "TP"), (1, "127.0.0.24:5060", "disabled", False, "DX"),
        (1001, "127.0.0.130:5060", "active", False, "AX")]
    assert rows[0]["priority"] == 10 and rows[4]["attrs"] == "trunk=itsp-carrier" and rows[2]["attrs"] == ""
    assert poller.dispatcher_destination_rows({"NRSETS": 0, "RECORDS": []}) == []


def test_the_fake_changes_states_as_kamailio_does():
    with running_kamailio_fake(dispatcher=[(1, "sip:127.0.0.21:5060"), (1, "sip:127.0.0.22:5060", "AP", 5)]) as fake:
        with KamailioRpc(fake.url) as rpc:
            assert rpc.call("dispatcher.set_state", "ip", 1, "sip:127.0.0.21:5060") == "Ok. Dispatcher state updated."
            rows = poller.dispatcher_destination_rows(rpc.dispatcher_list())
            with pytest.raises(Exception, match="State Update Failed"):
                rpc.call("dispatcher.set_state", "ip", 2, "sip:127.0.0.21:5060")
    # highest priority first, as Kamailio keeps a set
    assert [(r["uri"], r["flags"], r["priority"]) for r in rows] == [
        ("sip:127.0.0.22:5060", "AP", 5), ("sip:127.0.0.21:5060", "IP", 0)]


@pytest.fixture
def media_estate(make_site, make_asterisk):
    central, branch = make_site("central", 1000, 3999), make_site("branch1", 4000, 5999)
    nodes = [make_asterisk(central, None, name="ast-central", port=closed_port()),
             make_asterisk(branch, None, name="ast-branch1", port=closed_port())]
    for node, port in zip(nodes, (5061, 5062)):
        node.sip_port = port
        node.save(update_fields=["sip_port"])
    return nodes


def test_a_polled_kamailio_records_its_destinations_matched_to_the_nodes(media_estate, make_kamailio):
    central, branch = media_estate
    with running_kamailio_fake(dispatcher=[(1, central.sip_uri, "AP", 10), (1, branch.sip_uri, "IP"),
                                           (1001, "sip:127.0.0.130:5060", "AX", 20, "trunk=itsp-carrier")]) as kam:
        node = make_kamailio(kam.url)
        actions.poll_estate(actor=ACTOR, timeout=0.5)
        first = {d.uri: d for d in DestinationState.objects.all()}
        assert NodeState.objects.get(kamailio_node=node).state == "up"  # a node that is down is not Kamailio's fault
        assert (first[central.sip_uri].state, first[central.sip_uri].asterisk_node) == ("active", central)
        assert (first[branch.sip_uri].state, first[branch.sip_uri].asterisk_node) == ("inactive", branch)
        trunk = first["sip:127.0.0.130:5060"]
        assert (trunk.asterisk_node, trunk.target, trunk.setid, trunk.priority) == (None, "itsp-carrier", 1001, 20)
        DestinationState.objects.update(since=timezone.now() - timedelta(minutes=5))
        kam.state.dispatcher[1] = (1, branch.sip_uri, "AP", 0, "weight=1")  # it answered its keepalive again
        actions.poll_estate(actor=ACTOR, timeout=0.5)
    again = {d.uri: d for d in DestinationState.objects.all()}
    assert again[branch.sip_uri].state == "active" and again[branch.sip_uri].since > first[branch.sip_uri].since
    assert timezone.now() - again[central.sip_uri].since >= timedelta(minutes=5)  # unchanged: since kept
    node.enabled = False
    node.save()
    actions.poll_estate(actor=ACTOR, timeout=0.5)  # a Kamailio no longer polled: its view is forgotten
    assert not DestinationState.objects.exists()


def test_a_kamailio_that_cannot_list_its_destinations_is_degraded(make_kamailio):
    with running_kamailio_fake() as kam:
        node = make_kamailio(kam.url)
        real = kam.dispatch
        kam.dispatch = lambda method, params: ((500, "Internal error set structure", None)
                                               if method == "dispatcher.list" else real(method, params))
        actions.poll_estate(actor=ACTOR, timeout=0.5)
    state = NodeState.objects.get(kamailio_node=node)
    assert state.state == "degraded" and "dispatcher states unknown" in state.reason


@pytest.fixture
def polled_destinations(media_estate, make_kamailio):
    central, branch = media_estate
    dset = service_actions.create_dispatcher_set(actor=ACTOR, setid=1, name="media", algorithm=4,
                                                 destinations=[{"node": central}, {"node": branch}])
    with running_kamailio_fake(dispatcher=[(1, central.sip_uri, "AP"), (1, branch.sip_uri, "IP")]) as kam:
        make_kamailio(kam.url)
        actions.poll_estate(actor=ACTOR, timeout=0.5)
    return central, branch, dset


def test_the_dashboard_shows_what_kamailio_holds_for_each_destination(admin_client, polled_destinations):
    central, branch, _ = polled_destinations
    html = admin_client.get(reverse("live:estate_fragment")).content.decode()
    table = html[html.index('id="estate-destinations"'):]
    assert re.search(rf'data-destination="1 {branch.sip_uri}" data-state="inactive"', table)
    assert re.search(rf'data-destination="1 {central.sip_uri}" data-state="active"', table)
    assert "1 / 2 active" in table and "1 inactive" in table and "media" in table
    card = html[html.index(f'data-node="asterisk-{branch.pk}"'):]
    assert 'data-dispatcher="inactive"' in card[:card.index("</div>")]
    card = html[html.index(f'data-node="asterisk-{central.pk}"'):]
    assert 'data-dispatcher="inactive"' not in card[:card.index("</div>")]


def test_node_pages_show_the_dispatcher_states(admin_client, polled_destinations):
    central, branch, _ = polled_destinations
    page = admin_client.get(reverse("live:asterisk_node_fragment", args=[branch.pk])).content.decode()
    panel = page[page.index('id="node-dispatcher"'):]
    assert 'data-state="inactive"' in panel and "set 1 (media)" in panel
    from sites.models import KamailioNode

    kam = KamailioNode.objects.get()
    page = admin_client.get(reverse("live:kamailio_node_fragment", args=[kam.pk])).content.decode()
    assert f'data-destination="1 {central.sip_uri}" data-state="active"' in page


def test_the_dispatcher_set_page_pulls_its_destinations_states(admin_client, polled_destinations):
    central, branch, dset = polled_destinations
    page = admin_client.get(dset.get_absolute_url()).content.decode()
    assert f'hx-get="{reverse("live:destination_states")}?setid=1"' in page
    fragment = admin_client.get(reverse("live:destination_states"), {"setid": "1"}).content.decode()
    assert f'data-destination="1 {branch.sip_uri}" data-state="inactive"' in fragment and "<th>Set</th>" not in fragment
    assert "No destination" in admin_client.get(reverse("live:destination_states"), {"setid": "7"}).content.decode()
    everything = admin_client.get(reverse("live:destination_states")).content.decode()
    assert everything.count("data-destination=") == 2 and "<th>Set</th>" in everything
    bad = admin_client.get(reverse("live:destination_states"), {"setid": "one"})
    assert bad.status_code == 400 and b"setid must be a dispatcher set id" in bad.content


def test_helpdesk_does_not_see_destination_states(helpdesk_client, polled_destinations):
    assert helpdesk_client.get(reverse("live:destination_states"), {"setid": "1"}).status_code == 403


def test_the_dashboard_costs_the_same_queries_with_more_destinations(admin_client, polled_destinations,
                                                                    django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("live:estate_fragment")
    admin_client.get(url)
    with CaptureQueriesContext(connection) as small:
        admin_client.get(url)
    kam = DestinationState.objects.first().kamailio_node
    now = timezone.now()
    DestinationState.objects.bulk_create([
        DestinationState(kamailio_node=kam, setid=1000 + i, uri=f"sip:127.0.0.{i}:5060", state="active",
                         since=now, seen_at=now) for i in range(2, 40)])
    with django_assert_max_num_queries(len(small)):
        assert admin_client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as one:
        admin_client.get(reverse("live:destination_states"))
    with django_assert_max_num_queries(len(one)):
        admin_client.get(reverse("live:destination_states"))


# --- the real Kamailio ------------------------------------------------------------------------------------------


class OptionsResponder:
    """A UDP endpoint on loopback that answers every OPTIONS with 200, like an Asterisk or a carrier."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.options = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            text = data.decode(errors="replace")
            if not text.startswith("OPTIONS "):
                continue
            self.options += 1
            lines = text.split("\r\n")
            keep = [line for line in lines if line.split(":", 1)[0].lower() in ("via", "from", "call-id", "cseq")]
            to = next(line for line in lines if line.lower().startswith("to:"))
            self.sock.sendto("\r\n".join(["SIP/2.0 200 OK", *keep, f"{to};tag=ka{self.port}", "Content-Length: 0",
                                          "", ""]).encode(), addr)

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.mark.kamailio
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_real_kamailio_probes_its_destinations_and_the_dashboard_shows_its_states(
        kamailio_clean, admin_client, make_site, make_asterisk, make_kamailio, settings):
    """Kamailio's keepalive reaches a destination that answers (active, probed: AP); a destination an
    operator (or a failed call) marked inactive shows as such, from the real dispatcher.list."""
    responder = OptionsResponder()
    try:
        site = make_site()
        live_node = make_asterisk(site, None, name="ast-answers", port=closed_port())
        dead_node = make_asterisk(site, None, name="ast-dead", port=closed_port())
        for node, port in ((live_node, responder.port), (dead_node, closed_port())):
            node.sip_port = port
            node.save(update_fields=["sip_port"])
        make_kamailio(kamailio_clean.rpc_url)
        settings.LIVE_RELOAD = False  # the rows are written; this test reloads Kamailio itself
        service_actions.create_dispatcher_set(actor=ACTOR, setid=1, name="media", algorithm=4,
                                              destinations=[{"node": live_node}, {"node": dead_node}])
        kamailio_clean.rpc("dispatcher.reload")
        kamailio_clean.rpc("dispatcher.set_state", "ip", 1, dead_node.sip_uri)

        def flags():
            listing = kamailio_clean.rpc("dispatcher.list")
            return {t["DEST"]["URI"]: t["DEST"]["FLAGS"] for r in listing["RECORDS"] for t in r["SET"]["TARGETS"]}

        deadline = time.monotonic() + 6  # the keepalive runs every 2 s (DS_PING_INTERVAL)
        while flags().get(live_node.sip_uri) != "AP" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert flags() == {live_node.sip_uri: "AP", dead_node.sip_uri: "IP"}, kamailio_clean.log_tail()
        assert responder.options >= 1
        actions.poll_estate(actor=ACTOR, timeout=1.0)
    finally:
        responder.close()
    states = {d.asterisk_node.name: (d.state, d.probing) for d in DestinationState.objects.all()}
    assert states == {"ast-answers": ("active", True), "ast-dead": ("inactive", True)}
    html = admin_client.get(reverse("live:estate_fragment")).content.decode()
    assert f'data-destination="1 {dead_node.sip_uri}" data-state="inactive"' in html
