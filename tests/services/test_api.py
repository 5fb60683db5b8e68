"""The REST API of trunks and services goes through the same actions (projections, audit, pushes)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from voipadmin.kamailio.models import Dispatcher, UacReg


@pytest.fixture
def trunks(estate, actor):
    from trunks import actions

    itsp = actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host="127.0.0.20", ip_addresses="127.0.0.20")
    e1 = actions.create_e1_trunk(actor=actor, name="e1-pstn", asterisk_node=estate["nodes"]["ast-central"], span=1)
    return itsp, e1


def test_a_route_is_created_through_the_api_with_its_trunks_in_order(admin_client, trunks):
    response = admin_client.post(reverse("api:outboundroute-list"), {
        "name": "national", "kind": "national", "pattern": "^[89][0-9]{8}$", "prepend": "+34",
        "trunks": ["itsp-carrier", "e1-pstn"]}, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["trunks"] == ["itsp-carrier", "e1-pstn"]
    setid = 1000 + response.json()["id"]
    assert Dispatcher.objects.filter(setid=setid).count() == 2


def test_the_api_names_an_unknown_trunk_and_a_clashing_code(admin_client, estate):
    response = admin_client.post(reverse("api:outboundroute-list"), {
        "name": "x", "pattern": "^9", "trunks": ["nope"]}, content_type="application/json")
    assert response.status_code == 400 and "Unknown trunk(s): nope" in str(response.json())
    response = admin_client.post(reverse("api:servicecode-list"), {
        "code": "1500", "name": "Bad", "kind": "echo", "route_to": "home"}, content_type="application/json")
    assert response.status_code == 400
    assert "collides with extension 1500" in str(response.json()["code"])


def test_the_api_never_answers_the_itsp_password_and_a_patch_keeps_it(admin_client, estate):
    response = admin_client.post(reverse("api:itsptrunk-list"), {
        "name": "itsp-reg", "host": "127.0.0.21", "auth_mode": "registration", "username": "u1",
        "auth_password": "hunter2-secret"}, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert "hunter2-secret" not in response.content.decode() and response.json()["auth_password_set"] is True
    url = reverse("api:itsptrunk-detail", args=[response.json()["id"]])
    response = admin_client.patch(url, {"expires": 600, "auth_password": ""}, content_type="application/json")
    assert response.status_code == 200, response.json()
    assert (UacReg.objects.get().auth_password, UacReg.objects.get().expires) == ("hunter2-secret", 600)


def test_a_dispatcher_set_takes_its_destinations_nested(admin_client, estate):
    nodes = estate["nodes"]
    response = admin_client.post(reverse("api:dispatcherset-list"), {
        "setid": 3, "name": "media", "algorithm": 9, "destinations": [
            {"node": nodes["ast-media"].pk, "priority": 10, "weight": 3},
            {"node": nodes["ast-central"].pk}]}, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert sorted(Dispatcher.objects.filter(setid=3).values_list("destination", "attrs")) == [
        ("sip:127.0.0.11:5060", "weight=1"), ("sip:127.0.0.15:5060", "weight=3")]
    url = reverse("api:dispatcherset-detail", args=[response.json()["id"]])
    assert admin_client.patch(url, {"name": "media2"}, content_type="application/json").status_code == 200
    assert Dispatcher.objects.filter(setid=3).count() == 2


def test_the_helpdesk_gets_no_trunks_or_codes_from_the_api(helpdesk_client, trunks):
    assert helpdesk_client.get(reverse("api:itsptrunk-list")).status_code == 403
    assert helpdesk_client.get(reverse("api:servicecode-list")).status_code == 403


@pytest.mark.parametrize("name", ["api:outboundroute-list", "api:dispatcherset-list", "api:itsptrunk-list"])
def test_api_lists_use_the_same_number_of_queries_for_one_or_many_rows(admin_client, estate, actor, name,
                                                                       django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from services import actions as service_actions
    from trunks import actions

    def make(i):
        itsp = actions.create_itsp_trunk(actor=actor, name=f"itsp{i}", host=f"127.0.0.{40 + i}",
                                         ip_addresses=f"127.0.0.{40 + i}")
        actions.create_route(actor=actor, name=f"r{i}", pattern=f"^{i}", trunks=[itsp])
        service_actions.create_dispatcher_set(actor=actor, setid=20 + i, name=f"s{i}", destinations=[
            {"node": estate["nodes"]["ast-central"]}, {"node": estate["nodes"]["ast-media"]}])

    make(0)
    with CaptureQueriesContext(connection) as one:
        assert admin_client.get(reverse(name)).status_code == 200
    for i in range(1, 5):
        make(i)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(admin_client.get(reverse(name)).json()["results"]) == 5


@pytest.mark.parametrize("code, reason", [
    ("*125", "*125 is already the code of Conference"),
    ("*12", "*12 clashes with service code *125 (Conference): one is a prefix of the other"),
    ("*1250", "*1250 clashes with service code *125 (Conference): one is a prefix of the other"),
    ("40", "40 collides with extension 4000 of site Branch 1"),
    ("1000", "1000 collides with extension 1000 of site Central"),
])
def test_the_api_refuses_every_kind_of_clashing_code_with_a_400_naming_the_clash(admin_client, estate, actor,
                                                                                 code, reason):
    from services import actions
    from services.models import ServiceCode

    actions.create_service_code(actor=actor, code="*125", name="Conference", kind="conference", route_to="node",
                                node=estate["nodes"]["ast-media"])
    response = admin_client.post(reverse("api:servicecode-list"), {
        "code": code, "name": "Other", "kind": "echo", "route_to": "home"}, content_type="application/json")
    assert response.status_code == 400, response.content
    assert any(reason in message for message in response.json()["code"]), response.json()
    assert ServiceCode.objects.count() == 1


def test_renaming_a_code_through_the_api_onto_a_clash_is_a_400_and_keeps_the_old_code(admin_client, estate, actor):
    from services import actions

    actions.create_service_code(actor=actor, code="*125", name="Conference", kind="conference", route_to="node",
                                node=estate["nodes"]["ast-media"])
    echo = actions.create_service_code(actor=actor, code="*130", name="Echo", kind="echo", route_to="home")
    response = admin_client.patch(reverse("api:servicecode-detail", args=[echo.pk]), {"code": "*1251"},
                                  content_type="application/json")
    assert response.status_code == 400 and "prefix of the other" in str(response.json()["code"])
    echo.refresh_from_db()
    assert echo.code == "*130"


def test_a_code_taken_by_a_users_extension_is_refused_through_the_api(admin_client, estate, actor):
    from sites.actions import update_site
    from users import actions as user_actions

    update_site(estate["central"], actor=actor, ranges=[(1000, 3999), (700, 799)])
    user_actions.create_user(actor=actor, extension=710, name="Short", site=estate["central"])
    response = admin_client.post(reverse("api:servicecode-list"), {
        "code": "7100", "name": "IVR", "kind": "echo", "route_to": "home"}, content_type="application/json")
    assert response.status_code == 400
    assert "7100 collides with extension 710" in str(response.json()["code"])


@pytest.mark.parametrize("code", ["12a", "**1", "", "*1234567890123456"])
def test_the_api_refuses_a_malformed_code_with_a_400(admin_client, estate, code):
    response = admin_client.post(reverse("api:servicecode-list"), {
        "code": code, "name": "Bad", "kind": "echo", "route_to": "home"}, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"], response.content


def test_a_dispatcher_set_is_written_only_from_json_never_half_read_from_a_form(admin_client, estate):
    """A form or multipart body would lose a malformed ``destinations[N]`` part and create a set without it."""
    from services.models import DispatcherSet

    response = admin_client.post(reverse("api:dispatcherset-list"), {  # (multipart, the test client's default)
        "setid": 77, "name": "form", "algorithm": 4, "destinations[0]node": "nope"})
    assert response.status_code == 415, response.content
    assert not DispatcherSet.objects.filter(setid=77).exists()
