"""Routing by load (issue 14 item 3): the dispatcher algorithms 10 (call load) and 11 (relative weight).

What Kamailio needs per destination is written by the projection (services.projection.destination_attrs);
the real Kamailio + two Asterisks run is tests/asterisk/test_call_load.py.
"""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from services import actions
from services.choices import ALGORITHM_HELP, DispatcherAlgorithm
from services.models import DispatcherSet
from services.projection import dispatcher_rows
from sites import actions as site_actions

pytestmark = pytest.mark.django_db


def _attrs(setid: int) -> dict[str, str]:
    return {row["description"]: row["attrs"] for row in dispatcher_rows() if row["setid"] == setid}


def _set(estate, actor, algorithm, **media):
    nodes = estate["nodes"]
    return actions.create_dispatcher_set(actor=actor, setid=1, name="media", algorithm=algorithm, destinations=[
        {"node": nodes["ast-media"], "weight": 3, **media}, {"node": nodes["ast-central"]}])


def test_the_load_algorithms_are_offered_with_kamailio_s_numbers_and_explained():
    assert (DispatcherAlgorithm.CALL_LOAD, DispatcherAlgorithm.RELATIVE_WEIGHT) == (10, 11)
    assert {10, 11} <= set(ALGORITHM_HELP)
    with translation.override("es"):
        assert str(DispatcherAlgorithm.CALL_LOAD.label) != "Least loaded (call load distribution)"
        assert "Kamailio" in str(ALGORITHM_HELP[DispatcherAlgorithm.CALL_LOAD])


def test_call_load_destinations_get_their_node_as_duid_and_their_max_calls(estate, actor):
    _set(estate, actor, DispatcherAlgorithm.CALL_LOAD, max_calls=40)
    assert _attrs(1) == {"ast-media": "weight=3;duid=ast-media;maxload=40",
                         "ast-central": "weight=1;duid=ast-central;maxload=0"}  # empty: no limit


def test_a_node_name_that_cannot_be_an_attrs_value_gets_its_id_as_duid(estate, actor):
    odd = site_actions.create_asterisk_node(actor=actor, name="media node 2", site=estate["central"],
                                            host="127.0.0.16")
    actions.create_dispatcher_set(actor=actor, setid=2, name="odd", algorithm=10, destinations=[{"node": odd}])
    assert _attrs(2) == {"media node 2": f"weight=1;duid=node{odd.pk};maxload=0"}


def test_relative_weight_destinations_get_their_weight_as_rweight_and_others_nothing_more(estate, actor):
    dset = _set(estate, actor, DispatcherAlgorithm.RELATIVE_WEIGHT)
    assert _attrs(1) == {"ast-media": "weight=3;rweight=3", "ast-central": "weight=1;rweight=1"}
    actions.update_dispatcher_set(dset, actor=actor, algorithm=DispatcherAlgorithm.ROUND_ROBIN)
    assert _attrs(1) == {"ast-media": "weight=3", "ast-central": "weight=1"}


def test_max_calls_is_refused_outside_call_load_and_load_attrs_are_the_portal_s(estate, actor):
    with pytest.raises(ValidationError) as refused:
        _set(estate, actor, DispatcherAlgorithm.ROUND_ROBIN, max_calls=10)
    assert "ast-media: Maximum calls is used only by the least-loaded algorithm" in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        _set(estate, actor, DispatcherAlgorithm.CALL_LOAD, attrs="duid=x")
    assert "duid is written by the portal" in str(refused.value)
    with pytest.raises(ValidationError):
        _set(estate, actor, DispatcherAlgorithm.CALL_LOAD, max_calls=0)
    assert not DispatcherSet.objects.exists()
    _set(estate, actor, DispatcherAlgorithm.ROUND_ROBIN, attrs="duid=x")  # other algorithms: the admin's own


def test_the_form_and_the_api_take_max_calls(admin_client, estate):
    response = admin_client.post(reverse("services:dispatcherset_add"), {
        "setid": "2", "name": "media", "algorithm": "10", "description": "",
        "destination_lines": "ast-central max_calls=25\nast-media"})
    assert response.status_code == 302, response.content.decode()[:3000]
    dset = DispatcherSet.objects.get(setid=2)
    edit = admin_client.get(reverse("services:dispatcherset_edit", args=[dset.pk])).content.decode()
    assert "ast-central priority=0 weight=1 flags=0 max_calls=25" in edit
    assert _attrs(2)["ast-central"] == "weight=1;duid=ast-central;maxload=25"

    nodes = estate["nodes"]
    response = admin_client.post(reverse("api:dispatcherset-list"), {
        "setid": 3, "name": "media3", "algorithm": 4, "destinations": [
            {"node": nodes["ast-media"].pk, "max_calls": 5}]}, content_type="application/json")
    assert response.status_code == 400 and "least-loaded" in str(response.json()), response.json()
    response = admin_client.post(reverse("api:dispatcherset-list"), {
        "setid": 3, "name": "media3", "algorithm": 10, "destinations": [
            {"node": nodes["ast-media"].pk, "max_calls": 5}]}, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["destinations"][0]["max_calls"] == 5
    assert _attrs(3) == {"ast-media": "weight=1;duid=ast-media;maxload=5"}
