"""A service code's form shows only the target of the chosen kind of routing and the settings its kind uses, and
saves only those; an inbound number's form, only the user or the code; a dispatcher set's destinations are
picked from the Asterisk nodes."""
from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.urls import reverse

from services import actions
from services.forms import DispatcherSetForm, InboundNumberForm, ServiceCodeForm
from services.models import ServiceCode

pytestmark = pytest.mark.django_db


@pytest.fixture
def dset(estate, actor):
    return actions.create_dispatcher_set(actor=actor, setid=1, name="asterisks", algorithm=4,
                                         destinations=[{"node": estate["nodes"]["ast-central"]}])


def code_data(**overrides) -> dict:
    return {"code": "*125", "name": "Conference", "kind": "conference", "enabled": "on", "route_to": "set",
            "dispatcher_set": "", "node": "", "announcement": "", "parameter": "", "description": "", **overrides}


def show_when(html: str, name: str) -> str | None:
    tag = re.search(rf'<(?:select|input|textarea)[^>]*name="{name}"[^>]*>', html).group(0)
    found = re.search(r'data-show-when="([^"]*)"', tag)
    return found.group(1) if found else None


def test_each_target_and_setting_says_when_it_shows(estate):
    html = str(ServiceCodeForm())
    assert show_when(html, "dispatcher_set") == "route_to=set"
    assert show_when(html, "node") == "route_to=node"
    assert show_when(html, "announcement") == "kind=announcement"
    assert show_when(html, "parameter") == "kind=announcement|conference|double_dial|ivr"
    assert show_when(html, "code") is None and show_when(html, "route_to") is None


def test_a_code_served_by_a_set_forgets_the_node_picked_before_switching(estate, dset):
    node = estate["nodes"]["ast-media"]
    form = ServiceCodeForm(code_data(dispatcher_set=str(dset.pk), node=str(node.pk)))
    assert form.is_valid(), form.errors
    assert form.action_fields()["node"] is None and form.action_fields()["dispatcher_set"] == dset


def test_a_code_served_by_the_home_site_needs_and_keeps_no_target(estate, dset):
    form = ServiceCodeForm(code_data(kind="voicemail", route_to="home", dispatcher_set=str(dset.pk), node="999999",
                                     parameter="stale!!", announcement="ringback"))
    assert form.is_valid(), form.errors  # a stale, even invalid, hidden value is no error
    fields = form.action_fields()
    assert fields["dispatcher_set"] is None and fields["node"] is None
    assert fields["parameter"] == "" and fields["announcement"] == ""


def test_the_target_that_applies_is_still_required(estate):
    form = ServiceCodeForm(code_data(route_to="node", node=""))
    assert not form.is_valid() and "node" in form.errors
    form = ServiceCodeForm(code_data(kind="ivr", route_to="home", parameter=""))
    assert not form.is_valid() and "parameter" in form.errors


def test_editing_a_code_to_route_home_clears_its_set_in_the_database(admin_client, estate, dset, actor):
    code = actions.create_service_code(actor=actor, code="*125", name="Conference", kind="conference",
                                       route_to="set", dispatcher_set=dset, parameter="room1")
    response = admin_client.post(reverse("services:servicecode_edit", args=[code.pk]), code_data(
        kind="echo", route_to="home", dispatcher_set=str(dset.pk), parameter="room1"))
    assert response.status_code == 302, response.content.decode()[:2000]
    code = ServiceCode.objects.get(pk=code.pk)
    assert code.dispatcher_set is None and code.parameter == "" and code.kind == "echo"


def test_an_inbound_number_shows_and_keeps_only_its_target(estate):
    html = str(InboundNumberForm())
    assert show_when(html, "user") == "target=user" and show_when(html, "service_code") == "target=service"
    form = InboundNumberForm({"number": "+34911000200", "target": "service", "service_code": "", "user": "12345",
                              "enabled": "on"})
    assert not form.is_valid()
    assert "service_code" in form.errors and "user" not in form.errors


def test_dispatcher_destinations_are_picked_from_the_asterisk_nodes(admin_client, estate, dset):
    html = admin_client.get(reverse("services:dispatcherset_edit", args=[dset.pk])).content.decode()
    nodes = json.loads(unescape(re.search(r'data-nodes="([^"]*)"', html).group(1)))
    assert [n["name"] for n in nodes] == ["ast-branch1", "ast-central", "ast-media"]  # by site, then name
    assert any(n["label"].startswith("ast-central (Central, sip:127.0.0.11") for n in nodes)
    form = DispatcherSetForm(instance=dset)
    assert form.initial["destination_lines"].startswith("ast-central priority=0 weight=1")
