"""The ITSP form shows the fields of the chosen authentication (by IP or by registration) and saves only those;
a route's trunks are picked from the trunks, in order."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from trunks import actions
from trunks.forms import ItspTrunkForm, OutboundRouteForm
from trunks.models import ItspTrunk, OutboundRoute
from voipadmin.kamailio.models import Address, UacReg

pytestmark = pytest.mark.django_db

REGISTRATION_FIELDS = ("username", "auth_username", "auth_password", "realm", "proxy", "expires")


def itsp_data(**overrides) -> dict:
    data = {"name": "itsp-x", "enabled": "on", "host": "127.0.0.30", "port": "5060", "transport": "udp",
            "auth_mode": "ip", "ip_addresses": "127.0.0.30", "address_group": "2", "username": "", "auth_username": "",
            "auth_password": "", "realm": "", "proxy": "", "expires": "3600", "caller_id_presentation": "allowed",
            "caller_id_number": "", "description": ""}
    return {**data, **overrides}


def test_each_mode_field_says_when_it_shows(estate):
    html = str(ItspTrunkForm())
    for name in ("ip_addresses", "address_group"):
        assert re.search(rf'name="{name}"[^>]*data-show-when="auth_mode=ip"|data-show-when="auth_mode=ip"[^>]*'
                         rf'name="{name}"', html), name
    for name in REGISTRATION_FIELDS:
        assert re.search(rf'data-show-when="auth_mode=registration"[^>]*name="{name}"|name="{name}"[^>]*'
                         rf'data-show-when="auth_mode=registration"', html), name
    assert 'name="host"' in html and not re.search(r'data-show-when="[^"]*"[^>]*name="host"', html)


def test_an_ip_trunk_ignores_and_clears_the_registration_fields_typed_before_switching(estate):
    form = ItspTrunkForm(itsp_data(username="stale-user", auth_password="stale-secret", realm="x.test",
                                   proxy="not a uri at all", expires="5"))
    assert form.is_valid(), form.errors
    fields = form.action_fields()
    assert fields["username"] == "" and fields["auth_password"] == "" and fields["realm"] == ""
    assert fields["proxy"] == "" and fields["expires"] == 3600  # an invalid hidden value is no error either


def test_a_registered_trunk_ignores_and_clears_the_ip_fields(estate):
    form = ItspTrunkForm(itsp_data(auth_mode="registration", username="acct", auth_password="s3cret-pass",
                                   ip_addresses="999.1.1.1", address_group="1"))
    assert form.is_valid(), form.errors
    fields = form.action_fields()
    assert fields["ip_addresses"] == "" and fields["address_group"] == 2


def test_the_fields_that_apply_are_still_checked(estate):
    form = ItspTrunkForm(itsp_data(ip_addresses=""))
    assert not form.is_valid() and "ip_addresses" in form.errors
    form = ItspTrunkForm(itsp_data(auth_mode="registration", username="", auth_password=""))
    assert not form.is_valid() and {"username", "auth_password"} <= set(form.errors)


def test_switching_a_registered_trunk_to_ip_forgets_its_account(admin_client, estate, actor):
    trunk = actions.create_itsp_trunk(actor=actor, name="itsp-x", host="127.0.0.30", auth_mode="registration",
                                      username="acct", auth_password="s3cret-pass", realm="carrier.test")
    assert UacReg.objects.count() == 1
    response = admin_client.post(reverse("trunks:itsptrunk_edit", args=[trunk.pk]),
                                 itsp_data(username="acct", realm="carrier.test"))
    assert response.status_code == 302, response.content.decode()[:2000]
    trunk = ItspTrunk.objects.get(pk=trunk.pk)
    assert trunk.auth_mode == "ip" and trunk.username == "" and trunk.realm == "" and trunk.auth_password == ""
    assert UacReg.objects.count() == 0 and Address.objects.filter(ip_addr="127.0.0.30").exists()


def test_switching_an_ip_trunk_to_registration_forgets_its_addresses(admin_client, estate, actor):
    trunk = actions.create_itsp_trunk(actor=actor, name="itsp-x", host="127.0.0.30", ip_addresses="127.0.0.30",
                                      address_group=7)
    response = admin_client.post(reverse("trunks:itsptrunk_edit", args=[trunk.pk]), itsp_data(
        auth_mode="registration", username="acct", auth_password="s3cret-pass", address_group="7"))
    assert response.status_code == 302, response.content.decode()[:2000]
    trunk = ItspTrunk.objects.get(pk=trunk.pk)
    assert trunk.ip_addresses == "" and trunk.address_group == 2 and trunk.username == "acct"
    assert not Address.objects.filter(ip_addr="127.0.0.30").exists() and UacReg.objects.count() == 1


# --- a route's trunks, picked in order --------------------------------------------------------------------------


@pytest.fixture
def trunks(estate, actor):
    return {
        "itsp": actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host="127.0.0.20",
                                          ip_addresses="127.0.0.20"),
        "e1": actions.create_e1_trunk(actor=actor, name="e1-pstn", asterisk_node=estate["nodes"]["ast-central"],
                                      span=1, group=1, signalling="pri_cpe", switch_type="euroisdn", role="pstn"),
    }


def route_data(trunk_ids, **overrides) -> dict:
    return {"name": "mobile", "kind": "mobile", "enabled": "on", "pattern": "^[67][0-9]{8}$", "priority": "50",
            "strip": "0", "prepend": "", "description": "", "trunks": [str(i) for i in trunk_ids], **overrides}


def test_the_route_form_offers_every_trunk_and_shows_the_current_order(admin_client, trunks, actor):
    route = actions.create_route(actor=actor, name="mobile", pattern="^6", trunks=[trunks["e1"], trunks["itsp"]])
    html = admin_client.get(reverse("trunks:outboundroute_edit", args=[route.pk])).content.decode()
    picker = html[html.index('id="id_trunks"'):html.index('id="id_trunks_add"')]
    selected = re.findall(r'<option value="(\d+)" selected>', picker)
    assert selected == [str(trunks["e1"].pk), str(trunks["itsp"].pk)]
    assert "va-up" in picker and "va-down" in picker and 'draggable="true"' in picker
    add = html[html.index('id="id_trunks_add"'):]
    assert "itsp-carrier (ITSP (SIP))" in add and "e1-pstn (E1)" in add


def test_the_posted_order_of_ids_is_the_route_order(admin_client, trunks):
    response = admin_client.post(reverse("trunks:outboundroute_add"),
                                 route_data([trunks["e1"].pk, "", trunks["itsp"].pk, ""]))
    assert response.status_code == 302, response.content.decode()[:2000]
    route = OutboundRoute.objects.get(name="mobile")
    assert [link.trunk.name for link in route.route_trunks.all()] == ["e1-pstn", "itsp-carrier"]
    response = admin_client.post(reverse("trunks:outboundroute_edit", args=[route.pk]),
                                 route_data([trunks["itsp"].pk, trunks["e1"].pk]))
    assert response.status_code == 302
    assert [link.trunk.name for link in route.route_trunks.all()] == ["itsp-carrier", "e1-pstn"]


@pytest.mark.parametrize("picked, error", [([], "A route needs at least one trunk."),
                                           (["x"], "Pick trunks from the list."),
                                           (["²"], "Pick trunks from the list."),
                                           (["999999"], "no longer exists"),
                                           ("twice", "listed twice: itsp-carrier")])
def test_a_bad_pick_is_a_form_error_that_loses_nothing(admin_client, trunks, picked, error):
    if picked == "twice":
        picked = [trunks["itsp"].pk, trunks["itsp"].pk]
    response = admin_client.post(reverse("trunks:outboundroute_add"), route_data(picked))
    assert response.status_code == 400
    assert error in response.content.decode()
    assert 'value="^[67][0-9]{8}$"' in response.content.decode() and not OutboundRoute.objects.exists()


def test_the_form_reads_the_same_ids_without_a_browser(trunks):
    form = OutboundRouteForm(route_data([trunks["itsp"].pk, trunks["e1"].pk]))
    assert form.is_valid(), form.errors
    assert [t.name for t in form.action_fields()["trunks"]] == ["itsp-carrier", "e1-pstn"]
