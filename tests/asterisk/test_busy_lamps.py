"""Busy lamps (issue 15) on the real estate: sipp phones, the real Kamailio (presence), the two real Asterisks.

A watcher phone (tests/sip/watcher.py) registered at Kamailio subscribes to a branch user's dialog state; a
node of the estate rings that user (``Local/<ext>@va-ring``, the generated context a node rings an extension
through, deploy/asterisk/templates/extensions.conf): the node PUBLISHes the state of its call to Kamailio
(pjsip.conf outbound-publish lamps-kamailio-1), Kamailio NOTIFYs the watcher: early while the phone rings,
confirmed once it answers, off after the hang-up — whichever node carries the call. A user calling a
service of a node lights its own lamp the same way. A node killed mid-call publishes nothing more: Kamailio
forgets its publication when it expires (the tests' nodes ask for PUBLISH_EXPIRES seconds, Kamailio drops
it within its clean period after) and the lamp goes off; the node starts again with every lamp idle, and the
first poll that sees it back has Kamailio turn off what the dead instance left on (live.actions
turn_off_stale_lamps). A call a node dials straight to a phone (click-to-call) is published by Kamailio.
"""
from __future__ import annotations

import time

import pytest

from live import actions as live_actions
from tests.asterisk.helpers import PASSWORD, make_phone, wait_for
from tests.asterisk_fixtures import PUBLISH_EXPIRES
from tests.sip.watcher import Watcher
from voipadmin.actors import Actor
from voipadmin.kamailio.models import AccCdr, Presentity

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]

#: Kamailio's presence clean_period in the tests (tests/kamailio_fixtures.py PRESENCE_CLEAN_PERIOD)
CLEAN_PERIOD = 2
#: lamp states that mean "off": the call ended (terminated), or no dialog at all (idle)
OFF = ("terminated", "idle")
WATCHER_IP = "127.0.0.150"


@pytest.fixture
def estate(request):
    """The estate-wide plan, or (``indirect`` "site") each node reading its own site's schema only."""
    kind = getattr(request, "param", "estate")
    return request.getfixturevalue("asterisk_estate" if kind == "estate" else "site_asterisk_estate")


@pytest.fixture
def lamps(estate):
    """A receptionist's BLF keys: user 1001 (central) subscribed at Kamailio, ``lamps(ext)`` -> Subscription."""
    make_phone(estate, 1001, "Reception", "central")
    with Watcher("1001", PASSWORD, domain="voip.example.test", ip=WATCHER_IP,
                 proxy=(estate.kamailio.sip_ip, estate.kamailio.sip_port)) as watcher:
        def subscribe(extension: str):
            lamp = watcher.subscribe(extension)
            assert lamp.status == 200, (lamp.status, lamp.reason, estate.kamailio.log_tail())
            assert wait_for(lambda: lamp.notifies, 3), "no first NOTIFY"
            return lamp

        yield subscribe


def off_after(lamp, index: int, timeout: float):
    """The first NOTIFY from ``index`` on that says the lamp is off, or None."""
    found = wait_for(lambda: next((n for n in lamp.notifies[index:] if n.state in OFF), None), timeout)
    return found


def ring(node, extension: str, *, seconds: int) -> None:
    """``node`` rings ``extension`` as the estate does ([va-ring]) and holds the call ``seconds`` once answered
    (CLI originate: queued, the test goes on while it rings)."""
    out = node.cli(f"channel originate Local/{extension}@va-ring application Wait {seconds}")
    assert "error" not in out.lower(), out


@pytest.mark.parametrize("estate, carrier", [("estate", "branch1"), ("estate", "central"), ("site", "central")],
                         indirect=["estate"], ids=["branch-node", "central-node", "central-node-of-its-site-only"])
def test_the_lamp_of_a_user_rung_by_either_node_is_early_then_confirmed_then_off(estate, lamps, carrier):
    """The same whichever node carries the call, also a per-site node that does not know the branch's users."""
    callee = make_phone(estate, 4003, "User 4003", "branch1", ip="127.0.0.101")
    assert callee.register(estate.kamailio).ok
    lamp = lamps("4003")
    assert lamp.notifies[-1].state in OFF, lamp.notifies[-1].body
    node = estate.asterisks[carrier]
    start = len(lamp.notifies)
    with callee.answering(ring_ms=1500) as uas:
        ring(node, "4003", seconds=2)
        early = lamp.wait_for("early", timeout=5, after=start)
        confirmed = lamp.wait_for("confirmed", timeout=5, after=start)
    assert uas.result.exit_code == 0, uas.result.output
    ended = off_after(lamp, lamp.notifies.index(confirmed) + 1, 5)
    assert ended, [(n.state, n.body) for n in lamp.notifies]
    assert early.at < confirmed.at < ended.at
    # the NOTIFYs say what the node published: the call of extension 4003
    assert [d.id for d in confirmed.dialogs if d.state == "confirmed"] == ["4003"], confirmed.body


def test_every_call_after_an_idle_lamp_rings_it_again(estate, lamps):
    """A node keeps one publication per extension and updates it; Kamailio 5.6 drops updates of a publication
    it holds as "terminated" (kamailio.cfg stores an idle node's document without dialogs): the second call
    of the same node must ring the lamp like the first."""
    callee = make_phone(estate, 4006, "User 4006", "branch1", ip="127.0.0.104")
    assert callee.register(estate.kamailio).ok
    lamp = lamps("4006")
    node = estate.asterisks["branch1"]
    for _ in range(2):
        start = len(lamp.notifies)
        with callee.answering(ring_ms=500) as uas:
            ring(node, "4006", seconds=1)
            lamp.wait_for("early", timeout=5, after=start)
            confirmed = lamp.wait_for("confirmed", timeout=5, after=start)
        assert uas.result.exit_code == 0, uas.result.output
        assert off_after(lamp, lamp.notifies.index(confirmed) + 1, 5), [(n.state, n.body) for n in lamp.notifies]


def test_a_users_own_call_to_a_node_lights_its_lamp(estate, lamps):
    """4004 calls the echo test (*130, on either node): in a call while it lasts, off after."""
    caller = make_phone(estate, 4004, "User 4004", "branch1", ip="127.0.0.102")
    lamp = lamps("4004")
    start = len(lamp.notifies)
    with caller.calling(estate.kamailio, "*130", hold_ms=1500) as call:
        confirmed = lamp.wait_for("confirmed", timeout=5, after=start)
    assert call.result.ok, call.result.output
    assert off_after(lamp, lamp.notifies.index(confirmed) + 1, 5), [(n.state, n.body) for n in lamp.notifies]


def test_a_node_killed_mid_call_leaves_the_lamp_on_no_longer_than_its_publication_and_starts_idle(estate, lamps):
    callee = make_phone(estate, 4005, "User 4005", "branch1", ip="127.0.0.103")
    assert callee.register(estate.kamailio).ok
    lamp = lamps("4005")
    node = estate.asterisks["branch1"]
    start = len(lamp.notifies)
    with callee.answering(timeout=PUBLISH_EXPIRES + 5):  # (no BYE will come: it ends on its timeout)
        ring(node, "4005", seconds=60)
        confirmed = lamp.wait_for("confirmed", timeout=5, after=start)
        assert "va-4005" in node.cli("database show CustomDevstate")
        node.kill()
        killed = time.monotonic()
        # expires is whole seconds and Kamailio drops it once expires < now: up to 1 s more (measured: 12.9 s)
        bound = PUBLISH_EXPIRES + 1 + CLEAN_PERIOD + 1
        ended = off_after(lamp, lamp.notifies.index(confirmed) + 1, bound + 2)
    assert ended, [(n.state, n.body) for n in lamp.notifies]
    assert ended.at - killed <= bound, ended.at - killed
    node.start()  # what a crash left in astdb is forgotten: the node starts with every lamp idle
    assert "va-4005" not in node.cli("database show CustomDevstate")


def poll(node):
    """One poll of ``node`` (an AsteriskNode), as the beat cycle polls it (live.actions.run_cycle)."""
    return live_actions.run_cycle([live_actions.asterisk_target(node)], actor=Actor.command("tests"),
                                  full_cycle=False)


def test_a_node_restarted_mid_call_turns_off_the_lamps_its_previous_instance_left_on(estate, lamps):
    """Killed mid-call and started again at once: the first poll that sees the node's new start time has
    Kamailio update the dead instance's publication to idle (pua.publish), long before it would expire."""
    callee = make_phone(estate, 4007, "User 4007", "branch1", ip="127.0.0.105")
    assert callee.register(estate.kamailio).ok
    lamp = lamps("4007")
    node, model = estate.asterisks["branch1"], estate.nodes["branch1"]
    uptime = int(node.cli("core show uptime seconds").split("System uptime:")[1].split()[0])
    time.sleep(max(0, live_actions.RESTART_SLACK_SECONDS + 1 - uptime))  # (a start time the restart moves on)
    assert poll(model).results[0].answered
    start = len(lamp.notifies)
    with callee.answering(timeout=8):  # (no BYE will come: it ends on its timeout)
        ring(node, "4007", seconds=60)
        confirmed = lamp.wait_for("confirmed", timeout=5, after=start)
        node.kill()
        # the tests' nodes publish for PUBLISH_EXPIRES (10 s), about what a node takes to start here: the dead
        # publication is given the default expiry (60 s) instead, so "well before it expires" means something
        dead = Presentity.objects.filter(username="4007", sender__endswith=f"{model.host}:{model.sip_port}")
        assert dead.update(expires=int(time.time()) + 60) == 1
        expires = dead.get().expires
        node.start()
        assert "va-4007" not in node.cli("database show CustomDevstate")
        polled = time.monotonic()
        summary = poll(model)
        ended = off_after(lamp, lamp.notifies.index(confirmed) + 1, 3)
    assert ended, [(n.state, n.body) for n in lamp.notifies]
    assert summary.lamps_turned_off == 1, estate.kamailio.log_tail()
    assert ended.at - polled < 2, ended.at - polled  # (measured once: about 0.3 s, the poll included)
    ended_wall = time.time() - (time.monotonic() - ended.at)
    assert ended_wall < expires - 30, (expires, ended_wall)  # well before the dead publication's expiry
    # a second poll of the same instance is no restart: nothing more to do
    assert poll(model).lamps_turned_off == 0


def test_a_call_a_node_dials_straight_to_a_phone_lights_its_lamp(estate, lamps):
    """Click-to-call, listen-in and an E1 line's DDI reach the phone through PJSIP/kamailio-N/... without
    [va-ring]: Kamailio publishes those calls itself (route[DIALOG_PUBLISH]), early, confirmed, then off."""
    callee = make_phone(estate, 4008, "User 4008", "branch1", ip="127.0.0.106")
    assert callee.register(estate.kamailio).ok
    lamp = lamps("4008")
    node = estate.asterisks["central"]
    kam = estate.kamailio
    start = len(lamp.notifies)
    with callee.answering(ring_ms=800) as uas:
        out = node.cli(f"channel originate PJSIP/kamailio-1/sip:4008@{kam.sip_ip}:{kam.sip_port} "
                       "application Wait 1")
        assert "error" not in out.lower(), out
        early = lamp.wait_for("early", timeout=5, after=start)
        confirmed = lamp.wait_for("confirmed", timeout=5, after=start)
    assert uas.result.exit_code == 0, uas.result.output
    ended = off_after(lamp, lamp.notifies.index(confirmed) + 1, 5)
    assert ended, [(n.state, n.body) for n in lamp.notifies]
    assert early.at < confirmed.at < ended.at
    # Kamailio's publication (its dialog id is the call's), once: the node did not publish this call
    assert len([d for d in confirmed.dialogs if d.state == "confirmed"]) == 1, confirmed.body
    # followed for its lamp, not recorded: the node's CDR is that call's record (acc cdr_skip no_call_record)
    time.sleep(0.3)
    assert not AccCdr.objects.exists(), list(AccCdr.objects.values())
