"""Draining a node in the portal, against the real Kamailio and the two real Asterisks (issue 14 item 3).

*130 is load-balanced (round robin) over the media set of both nodes (tests/asterisk/estate.py). A call is held
up on one node, the node is drained on its page (the push is eager here): Kamailio's ``dispatcher.list`` shows it
disabled within 2 s, new *130 calls all go to the other node, and the held call goes on until its caller hangs
up. Returned to service, the node takes calls again.
"""
from __future__ import annotations

import time

import pytest
from django.urls import reverse

from sites.models import AsteriskNode

from tests.asterisk.helpers import channels, make_phone, wait_for
from tests.asterisk.test_failover import PING_INTERVAL
from voipadmin.connectors.kamailio import dispatcher_targets

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]


def media_flags(estate, uri: str) -> str:
    """FLAGS of ``uri`` in the media set (*130's), as Kamailio holds it: "AP" active, "DX"/"DP" disabled..."""
    return next(t["flags"] for t in dispatcher_targets(estate.kamailio.rpc("dispatcher.list"))
                if t["uri"] == uri and t["setid"] == estate.media.setid)


def _echo_calls(node) -> int:
    return len([c for c in channels(node) if c[2] == "*130"])


def test_a_drained_node_gets_no_new_calls_and_its_call_goes_on_until_hung_up(asterisk_estate, admin_client):
    estate = asterisk_estate
    held_phone = make_phone(estate, 1001, "User 1001", "central", ip="127.0.0.100")
    new_phone = make_phone(estate, 1002, "User 1002", "central", ip="127.0.0.101")
    uris = {name: node.sip_uri for name, node in estate.nodes.items()}
    assert wait_for(lambda: all(media_flags(estate, u) == "AP" for u in uris.values()), 2 * PING_INTERVAL + 1), \
        {u: media_flags(estate, u) for u in uris.values()}

    with held_phone.calling(estate.kamailio, "*130", hold_ms=5000) as held:
        on = wait_for(lambda: [n for n, ast in estate.asterisks.items() if _echo_calls(ast)], 5)
        assert len(on) == 1, on
        drained, other = on[0], next(n for n in estate.asterisks if n != on[0])
        node = estate.nodes[drained]
        started = time.monotonic()
        response = admin_client.post(reverse("sites:asterisknode_drain", args=[node.pk]), {"draining": "1"})
        assert response.status_code == 302
        assert wait_for(lambda: media_flags(estate, uris[drained])[:1] == "D", 2.0), \
            (media_flags(estate, uris[drained]), estate.kamailio.log_tail())
        disabled_after = time.monotonic() - started
        print(f"drain: {uris[drained]} {media_flags(estate, uris[drained])} after {disabled_after:.2f} s")
        for _ in range(2):  # round robin would give the drained node one of them
            with new_phone.calling(estate.kamailio, "*130", hold_ms=800) as new:
                assert wait_for(lambda: _echo_calls(estate.asterisks[other]), 3), channels(estate.asterisks[other])
                assert _echo_calls(estate.asterisks[drained]) == 1  # only the held call
            assert new.result.ok, new.result.output
        assert _echo_calls(estate.asterisks[drained]) == 1, "the held call was cut"
    assert held.result.ok and held.result.elapsed >= 5.0, (held.result.elapsed, held.result.output)
    assert disabled_after < 2.0

    admin_client.post(reverse("sites:asterisknode_drain", args=[node.pk]), {"draining": "0"})
    assert not AsteriskNode.objects.get(pk=node.pk).draining
    assert wait_for(lambda: media_flags(estate, uris[drained])[:1] == "A", 2.0), \
        media_flags(estate, uris[drained])
    landed = set()
    for _ in range(2):  # round robin again over both
        with new_phone.calling(estate.kamailio, "*130", hold_ms=800) as new:
            landed |= set(wait_for(lambda: [n for n, ast in estate.asterisks.items() if _echo_calls(ast)], 3))
        assert new.result.ok, new.result.output
    assert drained in landed, landed
