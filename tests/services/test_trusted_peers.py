"""The estate's own nodes as Kamailio's trusted peers (``address`` group 1), and an extension's SIP domain
(dialplan dpid 5): projected with everything else, reloaded only when they change, in the estate check.

(Calls that depend on them, on the real Kamailio and Asterisks: tests/asterisk/test_call_paths.py.)
"""
from __future__ import annotations

import pytest
from django.core.management import call_command

from push.models import PushJob
from services import estate as estate_check
from services import projection
from sites import actions as site_actions
from trunks import actions as trunk_actions
from voipadmin.kamailio.models import Address, DialplanRule

pytestmark = [pytest.mark.django_db]


def peers() -> list[tuple]:
    return sorted(Address.objects.filter(grp=1).values_list("ip_addr", "mask", "port", "tag"))


def _address_reloads() -> int:
    return PushJob.objects.filter(command="permissions.addressReload").count()


def test_every_enabled_asterisk_and_kamailio_is_a_trusted_peer(estate, actor):
    site_actions.create_kamailio_node(actor=actor, name="kamailio-1", sip_address="127.0.0.10:5060",
                                      jsonrpc_url="http://127.0.0.10:5071/RPC")
    site_actions.create_kamailio_node(actor=actor, name="kamailio-v6", sip_address="[::1]:5060",
                                      jsonrpc_url="http://127.0.0.10:5072/RPC")
    assert peers() == [("127.0.0.10", 32, 0, "kamailio:kamailio-1"), ("127.0.0.11", 32, 0, "asterisk:ast-central"),
                       ("127.0.0.12", 32, 0, "asterisk:ast-branch1"), ("127.0.0.15", 32, 0, "asterisk:ast-media"),
                       ("::1", 128, 0, "kamailio:kamailio-v6")]


def test_peers_follow_the_nodes_and_kamailio_reloads_only_when_the_rows_change(estate, actor):
    site_actions.create_kamailio_node(actor=actor, name="kamailio-1", sip_address="127.0.0.10:5060",
                                      jsonrpc_url="http://127.0.0.10:5071/RPC")
    node = estate["nodes"]["ast-media"]
    PushJob.objects.all().delete()
    site_actions.update_asterisk_node(node, actor=actor, roles="conference")  # nothing Kamailio trusts changed
    assert _address_reloads() == 0
    site_actions.update_asterisk_node(node, actor=actor, host="127.0.0.16")
    assert ("127.0.0.16", 32, 0, "asterisk:ast-media") in peers() and _address_reloads() == 1
    PushJob.objects.all().delete()
    site_actions.update_asterisk_node(node, actor=actor, enabled=False)
    assert "asterisk:ast-media" not in {p[3] for p in peers()} and _address_reloads() == 1
    site_actions.delete_asterisk_node(node, actor=actor)
    kam = site_actions.update_kamailio_node(estate_kamailio(), actor=actor, sip_address="127.0.0.9:5060")
    assert ("127.0.0.9", 32, 0, f"kamailio:{kam.name}") in peers()
    site_actions.delete_kamailio_node(kam, actor=actor)
    assert {p[3] for p in peers()} == {"asterisk:ast-central", "asterisk:ast-branch1"}


def estate_kamailio():
    from sites.models import KamailioNode

    return KamailioNode.objects.get()


def test_a_node_known_by_name_is_not_a_peer_and_the_estate_check_says_why(estate, actor, capsys):
    site_actions.create_asterisk_node(actor=actor, name="ast-named", site=estate["central"],
                                      host="pbx.central.example.test")
    assert "asterisk:ast-named" not in {p[3] for p in peers()}
    diffs = [d for d in estate_check.check_projection() if d.where == estate_check.NOT_TRUSTED]
    assert [str(d) for d in diffs] == [
        "address: not trusted: Asterisk node ast-named is known by the name 'pbx.central.example.test', and "
        "Kamailio's address table holds IP addresses: Kamailio does not trust it (its calls are challenged). "
        "Give the node its IP address as host."]
    with pytest.raises(SystemExit):
        call_command("check_estate", "--timeout", "0.2")
    assert "not trusted: Asterisk node ast-named is known by the name" in capsys.readouterr().out
    assert any("ast-named" in line for line in estate_check.repair(asterisk=[]).not_repaired)


def test_an_address_an_itsp_claims_is_never_a_trusted_peer(estate, actor):
    """A carrier trusted as the estate's own would skip the DDI map (and could call out): the ITSP wins."""
    trunk = trunk_actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host="127.0.0.20",
                                            ip_addresses="127.0.0.10/31")
    assert "asterisk:ast-central" not in {p[3] for p in peers()}  # 127.0.0.11 is inside 127.0.0.10/31
    [why] = projection.untrusted_nodes()
    assert why.startswith("Asterisk node ast-central (127.0.0.11) is inside the addresses of ITSP trunk itsp-carrier")
    trunk_actions.update_itsp_trunk(trunk, actor=actor, ip_addresses="127.0.0.20")
    assert "asterisk:ast-central" in {p[3] for p in peers()} and not projection.untrusted_nodes()
    trunk_actions.update_itsp_trunk(trunk, actor=actor, ip_addresses="127.0.0.11")
    assert "asterisk:ast-central" not in {p[3] for p in peers()}
    trunk_actions.delete_trunk(trunk, actor=actor)
    assert "asterisk:ast-central" in {p[3] for p in peers()}


def test_the_projection_check_covers_group_1_and_repair_restores_it(estate, actor):
    Address.objects.filter(grp=1, tag="asterisk:ast-branch1").delete()
    Address.objects.create(grp=1, ip_addr="127.0.0.99", mask=32, port=0, tag="by-hand")
    rows = {(d.where, d.row) for d in estate_check.check_projection()}
    assert rows == {("missing from table", "group=1 ip=127.0.0.12 mask=32 port=0 tag=asterisk:ast-branch1"),
                    ("extra in table", "group=1 ip=127.0.0.99 mask=32 port=0 tag=by-hand")}
    estate_check.repair(asterisk=[])
    assert not estate_check.check_projection()


def test_an_extension_maps_to_its_sites_sip_domain_in_dpid_5(estate, actor):
    site_actions.create_site(actor=actor, name="Branch 2", slug="branch2", sip_domain="branch2.example.test",
                             ranges=[(6000, 6999)])  # (no node yet: its users still register in their domain)
    rules = {(r.match_exp, r.repl_exp, r.attrs) for r in DialplanRule.objects.filter(dpid=5)}
    assert ("^6[0-9]{3}$", "branch2.example.test", "site=branch2") in rules
    assert {(repl, attrs) for _exp, repl, attrs in rules} == {
        ("voip.example.test", "site=central"), ("voip.example.test", "site=branch1"),
        ("branch2.example.test", "site=branch2")}
    assert not DialplanRule.objects.filter(dpid=4, attrs="site=branch2").exists()
