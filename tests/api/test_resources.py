"""Sites and nodes over the API: PATCH semantics, secrets, the audit log, ordering, query counts."""
from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sites import actions
from sites.models import AsteriskNode, Site
from voipadmin.api_urls import router
from voipadmin.models import ChangeLogEntry

from .conftest import SYSTEM, auth


def _json(client, method, url, key, body=None):
    return client.generic(method, url, json.dumps(body or {}), content_type="application/json", **auth(key))


def test_patch_changes_only_the_fields_sent_and_keeps_the_object(client, estate, write_key):
    site = estate["site"]
    response = _json(client, "PATCH", f"/api/v1/sites/{site.pk}/", write_key, {"notes": "moved to floor 2"})
    assert response.status_code == 200, response.content
    fresh = Site.objects.get(pk=site.pk)  # same row: updated in place, never deleted and re-created
    assert fresh.notes == "moved to floor 2"
    assert (fresh.name, fresh.slug, fresh.sip_domain) == ("Branch One", "branch1", "branch1.example.test")
    assert actions.format_ranges(fresh) == "2000-2999"
    assert response.json()["extension_ranges"] == "2000-2999"


def test_patch_of_a_node_keeps_its_secrets_when_they_are_not_sent(client, estate, write_key):
    node = estate["node"]
    response = _json(client, "PATCH", f"/api/v1/nodes/asterisk/{node.pk}/", write_key, {"sip_port": 5070})
    assert response.status_code == 200, response.content
    fresh = AsteriskNode.objects.get(pk=node.pk)
    assert fresh.sip_port == 5070
    assert fresh.ami_secret == "ami-secret-value-1" and fresh.ari_password == "ari-secret-value-2"


def test_writes_are_audited_as_the_token_from_the_api(client, estate, write_key):
    site = estate["site"]
    _json(client, "PATCH", f"/api/v1/sites/{site.pk}/", write_key, {"address": "Main street 1"})
    entry = ChangeLogEntry.objects.filter(object_id=str(site.pk), action="update").first()
    assert entry.actor == "token:integration" and entry.source == "api"
    assert entry.changes["address"] == ["", "Main street 1"]


def test_create_and_delete_go_through_the_actions(client, write_key, db):
    response = _json(client, "POST", "/api/v1/sites/", write_key,
                     {"name": "Branch Two", "slug": "branch2", "sip_domain": "branch2.example.test",
                      "extension_ranges": "3000-3099, 3200"})
    assert response.status_code == 201, response.content
    site = Site.objects.get(slug="branch2")
    assert actions.format_ranges(site) == "3000-3099, 3200-3200"
    assert ChangeLogEntry.objects.filter(object_id=str(site.pk), action="create", source="api").exists()
    assert _json(client, "DELETE", f"/api/v1/sites/{site.pk}/", write_key).status_code == 204
    assert not Site.objects.filter(pk=site.pk).exists()


def test_an_action_refusal_is_a_400_or_409_with_the_reason_not_a_500(client, estate, write_key):
    """A write the estate refuses is a 400 naming the reason; a DELETE refused because something still depends
    on the object (a site's nodes) is a 409 with the reason, like a foreign key that protects it."""
    response = _json(client, "POST", "/api/v1/sites/", write_key,
                     {"name": "Overlap", "slug": "overlap", "sip_domain": "o.example.test",
                      "extension_ranges": "2500-2600"})
    assert response.status_code == 400
    assert "overlaps" in response.content.decode()
    response = _json(client, "DELETE", f"/api/v1/sites/{estate['site'].pk}/", write_key)
    assert response.status_code == 409 and "Asterisk nodes" in response.json()["detail"]


def test_node_secrets_never_appear_in_any_answer(client, estate, write_key, read_key):
    bodies = [client.get(url, **auth(read_key)).content.decode() for url in (
        "/api/v1/nodes/asterisk/", f"/api/v1/nodes/asterisk/{estate['node'].pk}/",
        "/api/v1/nodes/kamailio/", f"/api/v1/nodes/kamailio/{estate['kamailio'].pk}/", "/api/v1/audit-log/")]
    created = _json(client, "POST", "/api/v1/nodes/kamailio/", write_key,
                    {"name": "kam2", "sip_address": "127.0.0.1:5062", "jsonrpc_url": "http://127.0.0.1:1/RPC",
                     "jsonrpc_password": "brand-new-secret-4"})
    assert created.status_code == 201, created.content
    bodies.append(created.content.decode())
    for body in bodies:
        for secret in ("ami-secret-value-1", "ari-secret-value-2", "rpc-secret-value-3", "brand-new-secret-4"):
            assert secret not in body
    node = client.get(f"/api/v1/nodes/asterisk/{estate['node'].pk}/", **auth(read_key)).json()
    assert node["ami_secret_set"] is True and "ami_secret" not in node


@pytest.mark.parametrize("ordering", ["password", "name;DROP TABLE sites_site", "ami_secret", "-notes,name",
                                      "site__ami_secret"])
def test_ordering_outside_the_allow_list_is_a_400(client, estate, read_key, ordering):
    url = "/api/v1/nodes/asterisk/" if "secret" in ordering else "/api/v1/sites/"
    response = client.get(url, {"ordering": ordering}, **auth(read_key))
    assert response.status_code == 400
    assert "ordering" in response.json()


def test_ordering_by_an_allowed_field_works(client, estate, read_key):
    actions.create_site(actor=SYSTEM, name="Aardvark", slug="aardvark", sip_domain="a.example.test")
    names = [s["name"] for s in client.get("/api/v1/sites/", {"ordering": "-name"}, **auth(read_key)).json()["results"]]
    assert names == ["Branch One", "Aardvark"]


def test_filters_are_the_ui_filtersets(client, estate, read_key):
    actions.create_site(actor=SYSTEM, name="Central", slug="central", kind="central", sip_domain="c.example.test")
    results = client.get("/api/v1/sites/", {"kind": "central"}, **auth(read_key)).json()["results"]
    assert [s["slug"] for s in results] == ["central"]
    assert client.get("/api/v1/sites/", {"kind": "bogus"}, **auth(read_key)).status_code == 400


LISTS = [f"/api/v1/{prefix}/" for prefix, _viewset, _basename in router.registry] + ["/api/v1/nodes/"]


def _more_objects(n: int) -> None:
    """n more of every kind of object, each with its related rows, made through the actions."""
    from cdrs.models import Cdr
    from services import actions as service_actions
    from trunks import actions as trunk_actions
    from users import actions as user_actions

    for i in range(n):
        site = actions.create_site(actor=SYSTEM, name=f"Site {i}", slug=f"site{i}", sip_domain=f"s{i}.example.test",
                                   ranges=[(10000 + i * 10, 10000 + i * 10 + 5)])
        node = actions.create_asterisk_node(actor=SYSTEM, name=f"pbx{i}", site=site, host="127.0.0.1")
        actions.create_kamailio_node(actor=SYSTEM, name=f"kam{i}", sip_address="127.0.0.1:5060",
                                     jsonrpc_url="http://127.0.0.1:1/RPC")
        Cdr.objects.create(src="2001", dst=f"60000000{i}", dcontext=f"site-site{i}",
                           start=Cdr.objects.first().start, billsec=i)
        user_actions.create_user(actor=SYSTEM, extension=10000 + i * 10, name=f"User {i}", site=site)
        e1 = trunk_actions.create_e1_trunk(actor=SYSTEM, name=f"e1-{i}", asterisk_node=node, span=1)
        itsp = trunk_actions.create_itsp_trunk(actor=SYSTEM, name=f"itsp-{i}", host="127.0.0.1",
                                               ip_addresses="127.0.0.1")
        trunk_actions.create_route(actor=SYSTEM, name=f"route{i}", pattern=f"^{i}[0-9]+$", trunks=[itsp, e1])
        service_actions.create_dispatcher_set(actor=SYSTEM, setid=100 + i, name=f"set{i}")
        _more_media(i, site)


def _more_media(i: int, site) -> None:
    from media import actions as media_actions
    from media.models import Announcement

    sound = Announcement.objects.create(name=f"sound{i}", audio=b"RIFF", sha256=f"{i:064x}")
    media_actions.set_site_announcement(actor=SYSTEM, site=site, purpose="ringback", announcement=sound)
    profile = media_actions.create_conference_profile(actor=SYSTEM, name=f"profile{i}", join_announcement=sound)
    room = media_actions.create_conference_room(actor=SYSTEM, site=site, number="800", name="Room", profile=profile)
    agi = media_actions.create_agi_application(actor=SYSTEM, name=f"agi{i}", app_id="x", site=site,
                                               servers=[{"host": "127.0.0.1", "port": 4000 + i}])
    media_actions.create_ivr_menu(actor=SYSTEM, site=site, name="Menu", prompt=sound, options=[
        {"key": "1", "action": "room", "room": room}, {"key": "2", "action": "agi", "agi": agi}])


@pytest.mark.parametrize("url", LISTS)
def test_list_pages_make_the_same_number_of_queries_for_one_row_or_many(client, estate, write_key, url):
    client.get(url, **auth(write_key))  # the token's first use of the minute writes last_used_at
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, **auth(write_key)).status_code == 200
    rows_before = len(client.get(url, **auth(write_key)).json()["results"])
    _more_objects(6)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url, **auth(write_key))
    assert response.status_code == 200
    if url not in ("/api/v1/service-codes/", "/api/v1/inbound-numbers/", "/api/v1/push-jobs/"):
        assert rows_before >= 1 and len(response.json()["results"]) > rows_before
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_put_updates_in_place_and_keeps_what_it_may_omit(client, estate, write_key):
    site = estate["site"]
    body = {"name": "Branch One", "slug": "branch1", "kind": "delegation", "sip_domain": "branch1.example.test",
            "address": "Harbour road 2", "time_zone": "Europe/Madrid", "notes": ""}
    response = _json(client, "PUT", f"/api/v1/sites/{site.pk}/", write_key, body)
    assert response.status_code == 200, response.content
    fresh = Site.objects.get(pk=site.pk)
    assert fresh.created == site.created and fresh.time_zone == "Europe/Madrid"
    assert actions.format_ranges(fresh) == "2000-2999"  # not sent, so not touched
    assert estate["node"].site_id == site.pk
