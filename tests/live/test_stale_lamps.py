"""A restarted Asterisk's stale lamps (issue 15): when the poll sees a new instance, and that a failure to turn
them off is only logged (the poll goes on). The real Kamailio path: tests/kamailio/test_presence.py and
tests/asterisk/test_busy_lamps.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from live import actions
from live.choices import Health, NodeKind
from live.models import NodeState
from live.poller import NodeResult
from sites import actions as site_actions
from voipadmin.actors import Actor
from voipadmin.kamailio.models import Presentity

ACTOR = Actor.command("tests")
NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=timezone.utc)
BODY = (b'<?xml version="1.0"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" '
        b'entity="sip:4003@127.0.0.1:5060"><dialog id="4003"><state>confirmed</state></dialog></dialog-info>')


def state(*, uptime, last_seen, health=Health.UP):
    return NodeState(kind=NodeKind.ASTERISK, state=health, uptime_seconds=uptime, last_seen=last_seen)


def result(uptime):
    return NodeResult(kind=NodeKind.ASTERISK, node_id=1, name="a", state=Health.UP, uptime_seconds=uptime)


@pytest.mark.parametrize("previous, uptime, restarted", [
    (state(uptime=100, last_seen=NOW - timedelta(seconds=30)), 130, False),  # the same instance, 30 s on
    (state(uptime=100, last_seen=NOW - timedelta(seconds=30)), 131, False),  # (whole seconds, read a bit later)
    (state(uptime=100, last_seen=NOW - timedelta(seconds=30)), 20, True),  # started 20 s ago: a new instance
    (state(uptime=5, last_seen=NOW - timedelta(seconds=300), health=Health.DOWN), 200, True),  # down, came back new
    (state(uptime=100, last_seen=NOW - timedelta(seconds=300), health=Health.DOWN), 400, False),  # a network blip
    (state(uptime=None, last_seen=None, health=Health.DOWN), 50, True),  # never seen up: its start is unknown
    (state(uptime=None, last_seen=None), 50, False),
    (state(uptime=100, last_seen=NOW), None, False),  # uptime not told: cannot say
])
def test_a_restart_is_a_start_time_that_moved_on(previous, uptime, restarted):
    started = actions.restarted_since(previous, result(uptime), NOW)
    assert (started is not None) == restarted
    if restarted:
        assert started == NOW - timedelta(seconds=uptime)


@pytest.mark.django_db
def test_a_kamailio_that_does_not_answer_leaves_the_lamp_to_its_expiry_and_the_poll_goes_on(caplog):
    site = site_actions.create_site(actor=ACTOR, name="Central", slug="central", kind="central",
                                    sip_domain="voip.example.test", ranges=[(4000, 4099)])
    node = site_actions.create_asterisk_node(actor=ACTOR, name="ast-1", site=site, host="127.0.0.12", roles="pbx")
    site_actions.create_kamailio_node(actor=ACTOR, name="kamailio-1", sip_address="127.0.0.1:5060",
                                      jsonrpc_url="http://127.0.0.1:9/RPC")  # (nobody listens on port 9)
    t = int(NOW.timestamp())
    Presentity.objects.create(username="4003", domain="voip.example.test", event="dialog", etag="a.1", body=BODY,
                              expires=t + 50, received_time=t - 10, sender=f"sip:127.0.0.12:{node.sip_port}")
    Presentity.objects.create(username="4004", domain="voip.example.test", event="dialog", etag="a.2", body=BODY,
                              expires=t + 50, received_time=t - 10, sender="sip:127.0.0.13:5060")  # another node's
    assert [p.uri for p in actions.presence.stale_publications("127.0.0.12", node.sip_port, started=t - 5,
                                                                 now=t)] == ["sip:4003@voip.example.test"]
    assert actions.turn_off_stale_lamps(node.pk, started=NOW - timedelta(seconds=5), actor=ACTOR, now=NOW) == 0
    assert "not turned off (left to expire): sip:4003@voip.example.test: kamailio-1:" in caplog.text
