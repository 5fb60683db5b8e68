"""Call load distribution (dispatcher algorithm 10) with the real Kamailio and the two real Asterisks.

The media set (*130, echo) switched to "least loaded" through the portal's action: the portal writes each
destination's ``duid=<node>;maxload=<max calls>``, and kamailio.cfg counts each call on its node from the
INVITE to the BYE. Calls are held in the background by sipp phones on their own loopback addresses.
"""
from __future__ import annotations

import pytest

from services import actions as service_actions
from services.choices import DispatcherAlgorithm
from voipadmin.actors import Actor

from tests.asterisk.helpers import channels, make_phone, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]

ACTOR = Actor.command("tests")


def loads(estate) -> dict[str, int]:
    """``{site: calls Kamailio counts on its node}`` in the media set (``dispatcher.list``: ATTRS DUID, the node's
    name, and the destination's RUNTIME DLGLOAD, listed while ds_hash_size is set)."""
    sites = {node.name: site for site, node in estate.nodes.items()}
    result = {}
    for record in estate.kamailio.rpc("dispatcher.list").get("RECORDS") or []:
        if record["SET"]["ID"] != estate.media.setid:
            continue
        for target in record["SET"]["TARGETS"]:
            dest = target["DEST"]
            result[sites[dest["ATTRS"]["DUID"]]] = dest["RUNTIME"]["DLGLOAD"]
    return result


def test_least_loaded_set_sends_each_call_to_the_node_with_fewest_calls(asterisk_estate):
    estate = asterisk_estate
    kamailio, setid = estate.kamailio, estate.media.setid
    service_actions.update_dispatcher_set(estate.media, actor=ACTOR, algorithm=DispatcherAlgorithm.CALL_LOAD)
    assert kamailio.rpc("dialplan.translate", 1, "*130")["Attributes"].endswith(f"setid={setid};alg=10")
    assert wait_for(lambda: loads(estate) == {"central": 0, "branch1": 0}, 2), loads(estate)
    phones = [make_phone(estate, 1021 + i, f"User {1021 + i}", "central", ip=f"127.0.0.{121 + i}") for i in range(3)]

    def echoing() -> dict[str, int]:
        return {name: len([c for c in channels(node) if c[2] == "*130"]) for name, node in estate.asterisks.items()}

    with phones[0].calling(kamailio, "*130", hold_ms=2000) as first:
        busy = wait_for(lambda: [name for name, n in echoing().items() if n], 5)
        assert len(busy) == 1, echoing()
        first_node = busy[0]
        other = "branch1" if first_node == "central" else "central"
        with phones[1].calling(kamailio, "*130", hold_ms=4500) as second:
            # the second call goes to the node with no call, whatever the order of the set
            assert wait_for(lambda: echoing() == {first_node: 1, other: 1}, 5), echoing()
            assert loads(estate) == {first_node: 1, other: 1}
            # the first call hangs up: its BYE takes it off its node's count
            assert wait_for(lambda: loads(estate) == {first_node: 0, other: 1}, 5), loads(estate)
            with phones[2].calling(kamailio, "*130", hold_ms=500) as third:
                # the third call goes where the load is lower: the first call's node
                assert wait_for(lambda: echoing()[first_node] == 1, 5), echoing()
                assert loads(estate) == {first_node: 1, other: 1}
    for call in (first, second, third):
        assert call.result.ok, call.result.output
    # every call ended with its BYE: nothing left on any node
    assert wait_for(lambda: loads(estate) == {first_node: 0, other: 0}, 3), loads(estate)
    # every count the BYEs and failures looked for was there (ds_load_update logs an error otherwise)
    assert "cannot find load" not in kamailio.log_path.read_text(errors="replace"), kamailio.log_tail()
