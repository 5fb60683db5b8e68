"""The call matrix with one Asterisk killed (SIGKILL, as a crash), timed (issue 16, "failover in seconds").

The real Kamailio in front of the two real Asterisks of the estate (tests/asterisk/estate.py: *130 on the
media set of both nodes, *123 to the caller's home node, *125 to the central node, the E1 line on the central
node). Kamailio probes every dispatcher destination with OPTIONS (every 2 s, inactive after two misses), gives
an INVITE to an Asterisk 1 s and to a carrier 2 s to answer before it tries the next destination, and marks a
destination that never answered inactive at once. The bounds below are generous (a dead destination used to
cost 30 s per try); bench/failover.py measures the real figures. A node killed here is restarted by the estate
fixture before the next test.
"""
from __future__ import annotations

import time

import pytest
from django.urls import reverse

from live import actions as live_actions
from live.models import DestinationState
from trunks import actions as trunk_actions
from voipadmin.actors import Actor
from voipadmin.connectors.kamailio import dispatcher_targets

from tests.asterisk.harness import free_port
from tests.sip import Phone
from tests.asterisk.helpers import channels, make_phone, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]

ACTOR = Actor.command("tests")
PING_INTERVAL = 2.0  # kamailio.cfg DS_PING_INTERVAL
KEEPALIVE_TIMEOUT = 3.0  # kamailio.cfg tm fr_timer: an unanswered OPTIONS fails after it
#: a call that first met the dead destination: its timer (1 s Asterisk, 2 s carrier) + the call itself
BEFORE_MARKED = 6.0
#: a call once Kamailio marked the dead destination: no waiting at all (hold 300 ms + sipp)
AFTER_MARKED = 3.0


def make_user(estate, extension: int, site: str, ip: str = "127.0.0.100") -> Phone:
    return make_phone(estate, extension, f"User {extension}", site, ip=ip)


def flags(kamailio, uri: str) -> list[str]:
    """FLAGS of ``uri`` in every dispatcher set the Kamailio holds (``["AP"]``, ``["IP", "AX"]``...)."""
    return [t["flags"] for t in dispatcher_targets(kamailio.rpc("dispatcher.list")) if t["uri"] == uri]


def test_star130_with_a_node_killed_goes_to_the_other_and_the_dashboard_shows_the_dead_node(asterisk_estate,
                                                                                             admin_client):
    estate = asterisk_estate
    phone = make_user(estate, 1001, "central")
    dead, dead_uri = estate.asterisks["branch1"], estate.nodes["branch1"].sip_uri
    assert wait_for(lambda: flags(estate.kamailio, dead_uri) == ["AP"], 2 * PING_INTERVAL + 1), \
        "the keepalive never reached the node"  # probed (P) and answering (A)

    dead.kill()
    killed = time.monotonic()
    assert wait_for(lambda: flags(estate.kamailio, dead_uri) == ["IP"], 3 * PING_INTERVAL + KEEPALIVE_TIMEOUT + 2), (
        flags(estate.kamailio, dead_uri), estate.kamailio.log_tail())
    marked = time.monotonic() - killed  # two missed keepalives: 2-7 s
    for _ in range(2):  # round robin would pick the dead node for one of them
        result = phone.call(estate.kamailio, "*130", hold_ms=300)
        assert result.ok and result.elapsed < AFTER_MARKED, (result.elapsed, result.output)
    # both ended cleanly (the channel goes a moment after sipp's BYE is answered: wait, on a loaded machine)
    assert wait_for(lambda: not [c for c in channels(estate.asterisks["central"]) if c[2] == "*130"], 3), \
        channels(estate.asterisks["central"])

    live_actions.poll_estate(actor=ACTOR, timeout=1.0)
    state = DestinationState.objects.get(uri=dead_uri, setid=estate.media.setid)
    assert (state.state, state.probing, state.asterisk_node_id) == ("inactive", True, estate.nodes["branch1"].pk)
    html = admin_client.get(reverse("live:estate_fragment")).content.decode()
    assert f'data-destination="1 {dead_uri}" data-state="inactive"' in html
    card = html[html.index(f'data-node="asterisk-{estate.nodes["branch1"].pk}"'):]
    assert 'data-dispatcher="inactive"' in card[:card.index("</div>")]

    dead.start()  # it answers the next keepalive: active again
    assert wait_for(lambda: flags(estate.kamailio, dead_uri) == ["AP"], PING_INTERVAL + 2), \
        flags(estate.kamailio, dead_uri)
    assert marked <= 3 * PING_INTERVAL + KEEPALIVE_TIMEOUT + 2


def test_codes_served_by_one_node_or_the_home_node_fall_back_to_the_media_set(asterisk_estate):
    """*125 (served by the central node) and *123 of a central caller (its home node) with the central node
    dead: the first call waits 1 s for the node, then the media set takes it, and Kamailio marks the node
    inactive there, so the next call does not wait."""
    estate = asterisk_estate
    phone = make_user(estate, 1002, "central")
    other = estate.asterisks["branch1"]
    dead_uri = estate.nodes["central"].sip_uri
    assert estate.kamailio.rpc("dialplan.translate", 1, "*125")["Attributes"] == (
        f"svc=conference;dst={dead_uri};fb=1;fa=8")
    estate.asterisks["central"].kill()

    with phone.calling(estate.kamailio, "*125", hold_ms=1500) as first:
        bridge = wait_for(lambda: "estate" in other.cli("confbridge list") and other.cli("confbridge list"), 5)
        assert bridge, other.cli("confbridge list")
    assert first.result.ok and first.result.elapsed < BEFORE_MARKED, (first.result.elapsed, first.result.output)
    assert "IP" in flags(estate.kamailio, dead_uri)  # marked at once in the fallback set, not by the keepalive

    with phone.calling(estate.kamailio, "*123", hold_ms=1500) as mailbox:
        running = wait_for(lambda: [c for c in channels(other) if c[5] == "VoiceMailMain"], 3)
        assert running and running[0][6] == "1002@central", channels(other)  # its own mailbox, on the other node
    assert mailbox.result.ok and mailbox.result.elapsed < AFTER_MARKED, (mailbox.result.elapsed,
                                                                        mailbox.result.output)


def test_pstn_with_the_itsp_down_is_answered_on_the_e1_line_within_seconds(asterisk_estate):
    """One Asterisk killed (branch1) and the ITSP silent: the ITSP gets 2 s, then the E1 line (central) answers;
    Kamailio marks the ITSP inactive, so the next call goes to the E1 line at once. With the ITSP back, calls
    leave by the ITSP again."""
    estate = asterisk_estate
    estate.asterisks["branch1"].kill()
    caller = make_user(estate, 1003, "central")
    carrier_ip, carrier_port = "127.0.0.130", free_port("127.0.0.130")  # nobody listens there yet
    itsp = trunk_actions.create_itsp_trunk(actor=ACTOR, name="itsp-carrier", host=carrier_ip, port=carrier_port,
                                           ip_addresses=carrier_ip)
    trunk_actions.update_route(estate.route, actor=ACTOR, trunks=[itsp, estate.e1])
    itsp_uri = f"sip:{carrier_ip}:{carrier_port}"
    host, port = estate.plan.e1_sim
    line = Phone("e1", "", ip=host, port=port)

    for number, bound in (("600123456", BEFORE_MARKED), ("600123457", AFTER_MARKED)):
        with line.answering() as uas:
            result = caller.call(estate.kamailio, number, hold_ms=300)
        # answered, held and hung up cleanly (the phone also takes the connected-line re-INVITE the node
        # sometimes sends once the line answers)
        assert result.ok and result.elapsed < bound, (number, result.elapsed, result.output)
        assert f"INVITE sip:{number}@{host}:{port}" in uas.received
        assert flags(estate.kamailio, itsp_uri) == ["IP"], estate.kamailio.log_tail()

    carrier = Phone("itsp", "", ip=carrier_ip, port=carrier_port)
    with carrier.answering() as up:
        assert wait_for(lambda: flags(estate.kamailio, itsp_uri) == ["AP"], PING_INTERVAL + KEEPALIVE_TIMEOUT)
        result = caller.call(estate.kamailio, "600123458", hold_ms=300)
    assert result.ok and result.elapsed < AFTER_MARKED, (result.elapsed, result.output)
    assert "INVITE sip:600123458@" in up.received
