"""End to end on the real Kamailio the suite starts: portal change → commit → push → Kamailio's memory."""
from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.urls import reverse

from services import actions
from trunks import actions as trunk_actions

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio]


def _wait_for(predicate, timeout: float = 2.0, interval: float = 0.02):
    """Poll until predicate() is truthy; returns (value, seconds waited)."""
    start = time.monotonic()
    while True:
        value = predicate()
        elapsed = time.monotonic() - start
        if value or elapsed > timeout:
            return value, elapsed
        time.sleep(interval)


def _dispatcher_uris(kamailio, setid: int) -> set[str]:
    listing = kamailio.rpc("dispatcher.list") if _has_sets(kamailio) else {}
    uris = set()
    for record in listing.get("RECORDS") or []:
        if record["SET"]["ID"] == setid:
            uris |= {t["DEST"]["URI"] for t in record["SET"]["TARGETS"]}
    return uris


def _has_sets(kamailio) -> bool:
    from tests.kamailio.harness import KamailioRPCError

    try:
        kamailio.rpc("dispatcher.list")
        return True
    except KamailioRPCError:  # "No Destination Sets"
        return False


def test_a_node_added_to_a_dispatcher_set_in_the_portal_shows_in_dispatcher_list_within_2_seconds(
        live_kamailio, eager_push, admin_client, estate, actor):
    nodes = estate["nodes"]
    dset = actions.create_dispatcher_set(actor=actor, setid=1, name="asterisks", algorithm=4,
                                         destinations=[{"node": nodes["ast-central"]}])
    assert _wait_for(lambda: _dispatcher_uris(live_kamailio, 1))[0] == {"sip:127.0.0.11:5060"}

    start = time.monotonic()
    response = admin_client.post(reverse("services:dispatcherset_edit", args=[dset.pk]), {
        "setid": "1", "name": "asterisks", "algorithm": "4", "description": "",
        "destination_lines": "ast-central\nast-branch1 priority=5 weight=2"})
    assert response.status_code == 302, response.content.decode()[:2000]
    uris, _ = _wait_for(lambda: "sip:127.0.0.12:5060" in _dispatcher_uris(live_kamailio, 1) and
                        _dispatcher_uris(live_kamailio, 1))
    elapsed = time.monotonic() - start
    assert uris == {"sip:127.0.0.11:5060", "sip:127.0.0.12:5060"}
    assert elapsed < 2.0, f"took {elapsed:.2f}s"


def test_an_itsp_ip_shows_in_permissions_address_dump(live_kamailio, eager_push, estate, actor):
    trunk_actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host="127.0.0.20",
                                    ip_addresses="127.0.0.20\n127.0.1.0/28", address_group=3)

    def dumped():
        hosts = {(e["group"], e["item"]["ip"], e["item"]["tag"]) for e in live_kamailio.rpc("permissions.addressDump")}
        nets = {(e["group"], e["item"]["ip"], e["item"]["mask"]) for e in live_kamailio.rpc("permissions.subnetDump")}
        return (3, "127.0.0.20", "itsp-carrier") in hosts and (3, "127.0.1.0", 28) in nets

    assert _wait_for(dumped)[0]


def test_an_itsp_by_registration_shows_in_uac_reg_dump_without_its_password_on_the_page(
        live_kamailio, eager_push, admin_client, estate, actor):
    trunk = trunk_actions.create_itsp_trunk(actor=actor, name="itsp-reg", host="127.0.0.21", port=5099,
                                            auth_mode="registration", username="34911000000",
                                            auth_password="reg-secret", realm="carrier.test", expires=600)

    def registered():
        from push import tasks
        from tests.kamailio.harness import KamailioRPCError

        tasks.sweep()  # eager mode does not wait out a retry: the sweep re-sends the refused reload
        try:
            return [r for r in live_kamailio.rpc("uac.reg_dump") or [] if r["l_uuid"] == "itsp-reg"]
        except KamailioRPCError:
            return []

    rows, _ = _wait_for(registered, timeout=8.0, interval=0.25)  # uac.reg_reload is refused within reg_gc_interval (2 s here)
    assert rows, live_kamailio.log_tail()
    assert (rows[0]["r_username"], rows[0]["auth_proxy"], rows[0]["expires"]) == (
        "34911000000", "sip:127.0.0.21:5099", 600)
    assert "reg-secret" not in admin_client.get(trunk.get_absolute_url()).content.decode()


def test_a_service_codes_dialplan_rule_translates_a_dialled_star125(live_kamailio, eager_push, estate, actor):
    nodes = estate["nodes"]
    media = actions.create_dispatcher_set(actor=actor, setid=2, name="media", algorithm=8, destinations=[
        {"node": nodes["ast-media"], "priority": 10}, {"node": nodes["ast-central"], "priority": 5}])
    actions.create_service_code(actor=actor, code="*125", name="Conference rooms", kind="conference",
                                route_to="set", dispatcher_set=media, parameter="estate")
    actions.create_service_code(actor=actor, code="*123", name="Voicemail", kind="voicemail", route_to="home")

    def translated():
        try:
            return live_kamailio.rpc("dialplan.translate", 1, "*125")
        except Exception:
            return None

    result, _ = _wait_for(translated)
    assert result == {"Output": "*125", "Attributes": "svc=conference;setid=2;alg=8"}
    # a code served by the caller's home node names the set that stands in for it (services.projection)
    assert live_kamailio.rpc("dialplan.translate", 1, "*123")["Attributes"] == "svc=voicemail;target=home;fb=2;fa=8"
    # the caller's home site for voicemail: a branch1 extension goes to branch1's Asterisk
    assert live_kamailio.rpc("dialplan.translate", 4, "4321") == {"Output": "sip:127.0.0.12:5060",
                                                                   "Attributes": "site=branch1"}
    assert _dispatcher_uris(live_kamailio, 2) == {"sip:127.0.0.15:5060", "sip:127.0.0.11:5060"}


def test_a_pstn_route_rewrites_the_number_and_names_its_trunk_set(live_kamailio, eager_push, estate, actor):
    itsp = trunk_actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host="127.0.0.20",
                                           ip_addresses="127.0.0.20")
    e1 = trunk_actions.create_e1_trunk(actor=actor, name="e1-pstn", asterisk_node=estate["nodes"]["ast-central"],
                                       span=1)
    route = trunk_actions.create_route(actor=actor, name="international", pattern="^00[1-9][0-9]{4,}$", strip=2,
                                       prepend="+", trunks=[itsp, e1])

    def translated():
        try:
            return live_kamailio.rpc("dialplan.translate", 2, "0049301234567")
        except Exception:
            return None

    result, _ = _wait_for(translated)
    assert result == {"Output": "+49301234567", "Attributes": f"route={route.pk};setid={route.setid};alg=8"}
    listing = live_kamailio.rpc("dispatcher.list")
    targets = [t["DEST"] for r in listing["RECORDS"] if r["SET"]["ID"] == route.setid for t in r["SET"]["TARGETS"]]
    assert [(t["URI"], t["PRIORITY"]) for t in targets] == [("sip:127.0.0.20:5060", 20), ("sip:127.0.0.11:5060", 10)]


def test_check_estate_reports_every_difference_and_repair_brings_kamailio_back(
        live_kamailio, eager_push, estate, actor, settings, capsys):
    from voipadmin.kamailio.models import Dispatcher

    settings.LIVE_RELOAD = False  # changes saved, nothing pushed: Kamailio's memory falls behind
    nodes = estate["nodes"]
    dset = actions.create_dispatcher_set(actor=actor, setid=1, name="asterisks", destinations=[
        {"node": nodes["ast-central"]}, {"node": nodes["ast-branch1"]}])
    actions.create_service_code(actor=actor, code="*130", name="Echo", kind="echo", route_to="set",
                                dispatcher_set=dset)
    trunk_actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host="127.0.0.20", ip_addresses="127.0.0.20")
    Dispatcher.objects.filter(destination="sip:127.0.0.12:5060").delete()  # someone edits Kamailio's table by hand

    with pytest.raises(SystemExit) as exit_info:
        call_command("check_estate")
    out = capsys.readouterr().out
    assert exit_info.value.code == 1
    assert "dispatcher: missing from table: set=1 uri=sip:127.0.0.12:5060" in out
    assert "only in database: set=1 uri=sip:127.0.0.11:5060" in out
    assert "only in database: group=2 ip=127.0.0.20 mask=32 port=0 tag=itsp-carrier" in out
    assert "only in database: dpid=1 pr=10 match_op=0 match=*130" in out
    assert "[uacreg]" not in out

    settings.LIVE_RELOAD = True
    call_command("check_estate", "--repair")
    capsys.readouterr()

    def in_sync():
        try:
            call_command("check_estate")
            return True
        except SystemExit:
            return False

    assert _wait_for(in_sync)[0], capsys.readouterr().out
    assert "Estate in sync." in capsys.readouterr().out
    assert _dispatcher_uris(live_kamailio, 1) == {"sip:127.0.0.11:5060", "sip:127.0.0.12:5060"}


def test_the_estate_check_page_shows_differences_and_repairs(live_kamailio, eager_push, admin_client, estate,
                                                              actor, settings):
    settings.LIVE_RELOAD = False
    actions.create_service_code(actor=actor, code="*130", name="Echo", kind="echo", route_to="home")
    body = admin_client.get(reverse("services:estate_check")).content.decode()
    assert "only in database" in body and "match=*130" in body and "alert-danger" in body
    settings.LIVE_RELOAD = True
    response = admin_client.post(reverse("services:estate_check"))
    assert response.status_code == 302
    ok, _ = _wait_for(lambda: "Estate in sync." in admin_client.get(reverse("services:estate_check")).content.decode())
    assert ok


def test_an_unreachable_kamailio_is_reported_not_raised(estate, actor, capsys, db):
    from sites.actions import create_kamailio_node
    from tests.kamailio.harness import free_port

    create_kamailio_node(actor=actor, name="kamailio-down", sip_address="127.0.0.1:9",
                         jsonrpc_url=f"http://127.0.0.1:{free_port(udp=False)}/RPC")
    with pytest.raises(SystemExit):
        call_command("check_estate", "--timeout", "0.5")
    assert "kamailio-down: unreachable (connection refused)" in capsys.readouterr().out
