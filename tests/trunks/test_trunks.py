"""Trunks and outbound routes: validation, projections into Kamailio's tables, reload intents, pages."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from trunks import actions
from trunks.models import E1Trunk, ItspTrunk, OutboundRoute, Trunk
from voipadmin.kamailio.models import Address, DialplanRule, Dispatcher, UacReg
from voipadmin.models import ChangeLogEntry


@pytest.fixture
def itsp(estate, actor):
    return actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host="127.0.0.20",
                                     ip_addresses="127.0.0.20\n127.0.1.0/28", address_group=2)


@pytest.fixture
def e1(estate, actor):
    return actions.create_e1_trunk(actor=actor, name="e1-pstn", asterisk_node=estate["nodes"]["ast-central"],
                                   span=1, group=1, signalling="pri_cpe", switch_type="euroisdn", role="pstn")


@pytest.fixture
def kamailio_node(estate, actor):
    from sites import actions as site_actions

    return site_actions.create_kamailio_node(actor=actor, name="kamailio-1", sip_address="127.0.0.1:9",
                                             jsonrpc_url="http://127.0.0.1:9/RPC")


def _itsp_addresses():
    """The ITSPs' rows of ``address`` (groups >= 2; group 1 is the estate's own nodes, services projects it)."""
    return Address.objects.filter(grp__gte=2)


def _pending(command: str) -> int:
    from push.models import PushJob

    return PushJob.objects.filter(command=command).count()


def test_an_itsp_authenticated_by_ip_becomes_rows_of_kamailios_address_table(itsp):
    rows = sorted(_itsp_addresses().values_list("grp", "ip_addr", "mask", "port", "tag"))
    assert rows == [(2, "127.0.0.20", 32, 0, "itsp-carrier"), (2, "127.0.1.0", 28, 0, "itsp-carrier")]


def test_an_itsp_by_registration_becomes_a_uacreg_row_with_the_clear_password_kamailio_needs(estate, actor):
    trunk = actions.create_itsp_trunk(actor=actor, name="itsp-reg", host="sip.carrier.test", port=5080,
                                      transport="tcp", auth_mode="registration", username="34911000000",
                                      auth_password="s3cret-pass", realm="carrier.test", expires=600)
    reg = UacReg.objects.get()
    assert (reg.l_uuid, reg.r_username, reg.r_domain, reg.auth_username, reg.auth_password, reg.realm,
            reg.auth_proxy, reg.expires) == ("itsp-reg", "34911000000", "sip.carrier.test", "34911000000",
                                             "s3cret-pass", "carrier.test", "sip:sip.carrier.test:5080;transport=tcp",
                                             600)
    assert not _itsp_addresses().exists()
    entry = ChangeLogEntry.objects.get(object_id=str(trunk.pk), action="create")
    assert "s3cret-pass" not in str(entry.changes)
    # the portal's own copy is encrypted at rest
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT auth_password FROM trunks_itsptrunk")
        assert cursor.fetchone()[0] != "s3cret-pass"


def test_switching_an_itsp_to_ip_authentication_drops_its_registration(estate, actor):
    trunk = actions.create_itsp_trunk(actor=actor, name="itsp-reg", host="127.0.0.21", auth_mode="registration",
                                      username="u", auth_password="p")
    actions.update_itsp_trunk(trunk, actor=actor, auth_mode="ip", ip_addresses="127.0.0.21")
    assert not UacReg.objects.exists()
    assert _itsp_addresses().get().ip_addr == "127.0.0.21"


@pytest.mark.parametrize("fields, field", [
    ({"auth_mode": "registration", "username": "u"}, "auth_password"),
    ({"auth_mode": "registration", "auth_password": "p"}, "username"),
    ({"auth_mode": "ip", "ip_addresses": ""}, "ip_addresses"),
    ({"auth_mode": "ip", "ip_addresses": "not-an-ip"}, "ip_addresses"),
    ({"auth_mode": "ip", "ip_addresses": "127.0.0.20", "address_group": 1}, "address_group"),
    ({"auth_mode": "ip", "ip_addresses": "127.0.0.20", "caller_id_presentation": "trunk_number"},
     "caller_id_number"),
])
def test_it_refuses_an_itsp_that_cannot_authenticate(estate, actor, fields, field):
    with pytest.raises(ValidationError) as exc:
        actions.create_itsp_trunk(actor=actor, name="bad", host="127.0.0.20", **fields)
    assert field in exc.value.message_dict
    assert not Trunk.objects.exists() and not _itsp_addresses().exists() and not UacReg.objects.exists()


LONG_HOST = ".".join(["carrier"] * 9) + ".example.test"  # 84 characters: a valid name, too wide for uacreg


@pytest.mark.parametrize("fields, field", [
    ({"host": LONG_HOST}, "host"),
    ({"auth_password": "p" * 65}, "auth_password"),
    ({"proxy": "sip:" + "p" * 252}, "proxy"),
])
def test_it_refuses_a_registration_kamailios_uacreg_table_could_not_hold(estate, actor, fields, field):
    base = {"host": "127.0.0.20", "auth_mode": "registration", "username": "acct", "auth_password": "secret-pass"}
    with pytest.raises(ValidationError) as exc:
        actions.create_itsp_trunk(actor=actor, name="too-wide", **{**base, **fields})
    assert "Kamailio's uacreg table" in " ".join(exc.value.message_dict[field])
    assert not Trunk.objects.exists() and not UacReg.objects.exists()


def test_it_refuses_a_host_too_long_for_kamailios_dispatcher_table(estate, actor):
    host = ".".join(["carrier-gateway"] * 12) + ".test"  # 196 characters
    with pytest.raises(ValidationError) as exc:
        actions.create_itsp_trunk(actor=actor, name="too-wide", host=host, ip_addresses="127.0.0.20")
    assert "dispatcher table" in " ".join(exc.value.message_dict["host"])


def test_an_over_wide_registration_is_a_400_from_the_api_not_a_500(admin_client, estate, actor):
    trunk = actions.create_itsp_trunk(actor=actor, name="itsp", host="127.0.0.20", auth_mode="registration",
                                      username="acct", auth_password="secret-pass")
    response = admin_client.patch(reverse("api:itsptrunk-detail", args=[trunk.pk]), {"host": LONG_HOST},
                                  content_type="application/json")
    assert response.status_code == 400 and "uacreg" in str(response.json()["host"])
    assert UacReg.objects.get().r_domain == "127.0.0.20"


def test_it_refuses_an_e1_with_channels_outside_the_span(estate, actor):
    with pytest.raises(ValidationError) as exc:
        actions.create_e1_trunk(actor=actor, name="e1", asterisk_node=estate["nodes"]["ast-central"], span=1,
                                channels="1-32")
    assert "channels" in exc.value.message_dict


def test_a_route_is_a_dispatcher_set_of_its_trunks_itsp_first_e1_as_backup(itsp, e1, actor):
    route = actions.create_route(actor=actor, name="national", pattern="^[89][0-9]{8}$", prepend="+34",
                                 trunks=[itsp, e1])
    rows = list(Dispatcher.objects.filter(setid=route.setid).order_by("-priority")
                .values_list("destination", "priority", "attrs"))
    assert route.setid == 1000 + route.pk
    assert rows == [("sip:127.0.0.20:5060", 20, "trunk=itsp-carrier"),
                    ("sip:127.0.0.11:5060", 10, "trunk=e1-pstn;e1group=1")]
    rule = DialplanRule.objects.get(dpid=2)
    assert (rule.match_op, rule.match_exp, rule.subst_exp, rule.repl_exp, rule.attrs) == (
        1, "^[89][0-9]{8}$", "^(.*)$", "+34\\1", f"route={route.pk};setid={route.setid};alg=8")


def test_reordering_a_routes_trunks_swaps_their_priorities(itsp, e1, actor):
    route = actions.create_route(actor=actor, name="intl", pattern="^00[0-9]+$", strip=2, prepend="+",
                                 trunks=[itsp, e1])
    actions.update_route(route, actor=actor, trunks=["e1-pstn", "itsp-carrier"])
    first = Dispatcher.objects.filter(setid=route.setid).order_by("-priority").first()
    assert first.destination == "sip:127.0.0.11:5060"
    assert DialplanRule.objects.get(dpid=2).subst_exp == "^.{2}(.*)$"
    entry = ChangeLogEntry.objects.filter(object_id=str(route.pk), action="update").get()
    assert entry.changes["trunks"] == ["itsp-carrier, e1-pstn", "e1-pstn, itsp-carrier"]


def test_a_disabled_trunk_leaves_every_route(itsp, e1, actor):
    route = actions.create_route(actor=actor, name="national", pattern="^9[0-9]{8}$", trunks=[itsp, e1])
    actions.update_itsp_trunk(itsp, actor=actor, enabled=False)
    assert list(Dispatcher.objects.filter(setid=route.setid).values_list("destination", flat=True)) == [
        "sip:127.0.0.11:5060"]
    assert not _itsp_addresses().exists()


@pytest.mark.parametrize("pattern", ["[89][0-9]{8}$", "^(unclosed", ""])
def test_it_refuses_a_route_pattern_kamailio_could_not_use(itsp, actor, pattern):
    with pytest.raises(ValidationError) as exc:
        actions.create_route(actor=actor, name="bad", pattern=pattern, trunks=[itsp])
    assert "pattern" in exc.value.message_dict
    assert not DialplanRule.objects.filter(dpid=2).exists() and not Dispatcher.objects.exists()


def test_it_refuses_a_route_without_trunks_or_with_an_unknown_one_and_keeps_nothing(itsp, actor):
    with pytest.raises(ValidationError):
        actions.create_route(actor=actor, name="empty", pattern="^9", trunks=[])
    with pytest.raises(ValidationError, match="Unknown trunk"):
        actions.create_route(actor=actor, name="typo", pattern="^9", trunks=["itsp-carier"])
    assert not OutboundRoute.objects.exists() and not DialplanRule.objects.filter(dpid=2).exists()


def test_it_refuses_to_delete_a_trunk_a_route_uses(itsp, e1, actor):
    actions.create_route(actor=actor, name="national", pattern="^9[0-9]{8}$", trunks=[itsp, e1])
    with pytest.raises(ValidationError, match="national"):
        actions.delete_trunk(e1, actor=actor)
    assert E1Trunk.objects.filter(pk=e1.pk).exists()


def test_deleting_a_route_removes_its_set_and_rule(itsp, actor):
    route = actions.create_route(actor=actor, name="national", pattern="^9[0-9]{8}$", trunks=[itsp])
    actions.delete_route(route, actor=actor)
    assert not Dispatcher.objects.exists() and not DialplanRule.objects.filter(dpid=2).exists()


def test_changes_ask_kamailio_only_for_the_reloads_of_tables_that_changed(kamailio_node, estate, actor):
    from push.models import PushJob

    PushJob.objects.all().delete()  # (a new Kamailio node is a new trusted peer: its reload is not under test)
    actions.create_e1_trunk(actor=actor, name="e1-pstn", asterisk_node=estate["nodes"]["ast-central"], span=1)
    assert _pending("permissions.addressReload") == 0 and _pending("dispatcher.reload") == 0
    trunk = actions.create_itsp_trunk(actor=actor, name="itsp", host="127.0.0.20", ip_addresses="127.0.0.20")
    assert _pending("permissions.addressReload") == 1
    actions.create_route(actor=actor, name="national", pattern="^9[0-9]{8}$", trunks=[trunk])
    assert _pending("dispatcher.reload") == 1 and _pending("dialplan.reload") == 1
    assert _pending("uac.reg_reload") == 0


def test_a_trunk_on_an_asterisk_that_is_deleted_is_protected(e1, estate, actor):
    from django.db.models import ProtectedError

    from sites import actions as site_actions

    with pytest.raises(ProtectedError):
        site_actions.delete_asterisk_node(estate["nodes"]["ast-central"], actor=actor)


# --- pages ------------------------------------------------------------------------------------------------------


def test_the_trunks_nav_entry_lands_on_the_trunk_list_with_tabs(admin_client, itsp, e1):
    response = admin_client.get(reverse("trunks:index"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="sub-nav"' in body and "itsp-carrier" in body and "e1-pstn" in body
    assert reverse("trunks:outboundroute_list") in body
    assert reverse("trunks:index") in admin_client.get(reverse("dashboard")).content.decode()


@pytest.mark.parametrize("url_name", ["trunks:trunk_list", "trunks:e1trunk_list", "trunks:itsptrunk_list",
                                      "trunks:outboundroute_list"])
def test_list_pages_use_the_same_number_of_queries_for_one_or_many_rows(
        admin_client, estate, actor, django_assert_max_num_queries, url_name):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def make(i):
        itsp = actions.create_itsp_trunk(actor=actor, name=f"itsp{i}", host=f"127.0.0.{30 + i}",
                                         ip_addresses=f"127.0.0.{30 + i}")
        e1 = actions.create_e1_trunk(actor=actor, name=f"e1-{i}", asterisk_node=estate["nodes"]["ast-central"],
                                     span=i + 1)
        actions.create_route(actor=actor, name=f"route{i}", pattern=f"^{i}[0-9]+$", trunks=[itsp, e1])

    make(0)
    with CaptureQueriesContext(connection) as one:
        assert admin_client.get(reverse(url_name)).status_code == 200
    for i in range(1, 6):
        make(i)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = admin_client.get(reverse(url_name))
    assert "route5" in response.content.decode() or "itsp5" in response.content.decode() \
        or "e1-5" in response.content.decode()


def test_a_route_is_created_from_the_form_with_trunks_in_order(admin_client, itsp, e1):
    response = admin_client.post(reverse("trunks:outboundroute_add"), {
        "name": "mobile", "kind": "mobile", "enabled": "on", "pattern": "^[67][0-9]{8}$", "priority": "50",
        "strip": "0", "prepend": "+34", "trunk_order": "itsp-carrier\ne1-pstn", "description": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    route = OutboundRoute.objects.get(name="mobile")
    assert [link.trunk.name for link in route.route_trunks.all()] == ["itsp-carrier", "e1-pstn"]
    page = admin_client.get(route.get_absolute_url()).content.decode()
    assert "itsp-carrier → e1-pstn" in page


def test_the_route_form_names_an_unknown_trunk(admin_client, itsp):
    response = admin_client.post(reverse("trunks:outboundroute_add"), {
        "name": "mobile", "kind": "mobile", "pattern": "^[67][0-9]{8}$", "priority": "50", "strip": "0",
        "trunk_order": "nope"})
    assert response.status_code == 400
    assert "Unknown trunk(s): nope" in response.content.decode()


def test_the_itsp_pages_never_render_the_password(admin_client, estate, actor):
    trunk = actions.create_itsp_trunk(actor=actor, name="itsp-reg", host="127.0.0.21", auth_mode="registration",
                                      username="u1", auth_password="hunter2-secret")
    for url in (trunk.get_absolute_url(), reverse("trunks:itsptrunk_edit", args=[trunk.pk])):
        assert "hunter2-secret" not in admin_client.get(url).content.decode()
    # an empty password field on edit keeps the stored one
    response = admin_client.post(reverse("trunks:itsptrunk_edit", args=[trunk.pk]), {
        "name": "itsp-reg", "enabled": "on", "host": "127.0.0.22", "port": "5060", "transport": "udp",
        "auth_mode": "registration", "address_group": "2", "username": "u1", "auth_password": "",
        "expires": "3600", "caller_id_presentation": "allowed"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert UacReg.objects.get().auth_password == "hunter2-secret"
    assert UacReg.objects.get().r_domain == "127.0.0.22"


def test_the_helpdesk_cannot_see_trunks(helpdesk_client, itsp):
    assert helpdesk_client.get(reverse("trunks:index")).status_code == 403
    assert helpdesk_client.get(itsp.get_absolute_url()).status_code == 403


def test_a_trunk_link_leads_to_its_kind_page(admin_client, itsp, e1):
    assert admin_client.get(reverse("trunks:trunk_detail", args=[e1.pk]))["Location"] == e1.get_absolute_url()
    assert admin_client.get(e1.get_absolute_url()).status_code == 200
    assert ItspTrunk.objects.get().get_absolute_url() == reverse("trunks:itsptrunk_detail", args=[itsp.pk])


def test_an_e1_on_a_node_whose_uri_kamailio_could_not_hold_is_refused_and_so_is_such_a_host_change(
        e1, estate, actor):
    from sites import actions as site_actions

    host = ".".join(["asterisk-node-host"] * 10) + ".test"  # 194 characters
    node = site_actions.create_asterisk_node(actor=actor, name="ast-long", site=estate["central"], host=host)
    with pytest.raises(ValidationError) as exc:
        actions.create_e1_trunk(actor=actor, name="e1-long", asterisk_node=node, span=1)
    assert "Kamailio's dispatcher table" in " ".join(exc.value.message_dict["asterisk_node"])
    with pytest.raises(ValidationError) as exc:
        site_actions.update_asterisk_node(e1.asterisk_node, actor=actor, host=host)
    assert "E1 lines" in " ".join(exc.value.message_dict["host"])
    e1.asterisk_node.refresh_from_db()
    assert e1.asterisk_node.host == "127.0.0.11"
