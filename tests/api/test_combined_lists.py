"""``/api/v1/nodes/`` and ``/api/v1/trunks/``: the issue's ``nodes`` and ``trunks``, both kinds in one list."""
from __future__ import annotations

import inspect
import json

from .conftest import auth


def test_nodes_lists_both_kinds_with_their_kind_and_no_secret(client, estate, read_key):
    response = client.get("/api/v1/nodes/", **auth(read_key))
    assert response.status_code == 200
    body = response.json()
    rows = {(r["kind"], r["name"]): r for r in body["results"]}
    assert set(rows) == {("asterisk", "pbx-branch1"), ("kamailio", "kamailio")} and body["count"] == 2
    pbx, kam = rows["asterisk", "pbx-branch1"], rows["kamailio", "kamailio"]
    assert (pbx["site"], pbx["address"], pbx["url"]) == (
        estate["site"].pk, "127.0.0.1", f"/api/v1/nodes/asterisk/{estate['node'].pk}/")
    assert (kam["site"], kam["address"], kam["url"]) == (
        None, "127.0.0.1:5060", f"/api/v1/nodes/kamailio/{estate['kamailio'].pk}/")
    text = response.content.decode()
    assert "secret-value" not in text and "password" not in text and "ami_" not in text
    assert client.get(pbx["url"], **auth(read_key)).status_code == 200


def test_nodes_filter_by_kind_and_search_and_refuse_an_unknown_kind(client, estate, read_key):
    only = client.get("/api/v1/nodes/", {"kind": "kamailio"}, **auth(read_key)).json()["results"]
    assert [(r["kind"], r["name"]) for r in only] == [("kamailio", "kamailio")]
    found = client.get("/api/v1/nodes/", {"q": "pbx"}, **auth(read_key)).json()["results"]
    assert [r["name"] for r in found] == ["pbx-branch1"]
    bad = client.get("/api/v1/nodes/", {"kind": "freeswitch"}, **auth(read_key))
    assert bad.status_code == 400 and "kind" in bad.json()
    off = client.get("/api/v1/nodes/", {"enabled": "false"}, **auth(read_key)).json()
    assert off["count"] == 0


def test_nodes_is_read_only_and_closed_to_the_helpdesk(client, estate, write_key, bob):
    post = client.post("/api/v1/nodes/", json.dumps({"name": "x"}), content_type="application/json",
                       **auth(write_key))
    assert post.status_code == 405
    client.force_login(bob)
    assert client.get("/api/v1/nodes/").status_code == 403


def test_trunks_lists_both_kinds_pointing_at_their_own_endpoints(client, estate, read_key):
    body = client.get("/api/v1/trunks/", **auth(read_key)).json()
    rows = {r["name"]: r for r in body["results"]}
    assert {name: (r["kind"], r["url"]) for name, r in rows.items()} == {
        "e1-pstn": ("e1", f"/api/v1/trunks/e1/{estate['e1'].pk}/"),
        "itsp1": ("itsp", f"/api/v1/trunks/itsp/{estate['trunk'].pk}/")}
    assert "trunk-secret-value" not in json.dumps(body)
    only = client.get("/api/v1/trunks/", {"kind": "itsp"}, **auth(read_key)).json()["results"]
    assert [r["name"] for r in only] == ["itsp1"]
    detail = client.get(f"/api/v1/trunks/{estate['e1'].pk}/", **auth(read_key))
    assert detail.status_code == 200 and detail.json()["kind"] == "e1"
    assert client.get("/api/v1/trunks/e1/", **auth(read_key)).json()["count"] == 1, "kind endpoints still answer"


def test_trunks_is_read_only(client, estate, write_key):
    post = client.post("/api/v1/trunks/", json.dumps({"name": "x"}), content_type="application/json",
                       **auth(write_key))
    assert post.status_code == 405
    delete = client.delete(f"/api/v1/trunks/{estate['e1'].pk}/", **auth(write_key))
    assert delete.status_code == 405


def test_every_api_resource_filters_with_the_filterset_of_a_ui_list_page():
    """Issue 6, item 5: one FilterSet per resource, shared by the API and the UI list page."""
    import voipadmin.urls  # noqa: F401  (every app's views imported)
    from django.views.generic import View

    from voipadmin.api_urls import router
    from voipadmin.filtersets import ChangeLogFilterSet

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ui = {view.filterset_class for view in subclasses(View) if getattr(view, "filterset_class", None)
          and not hasattr(view, "serializer_class")}
    # The audit log page builds its filterset inline rather than through ObjectListView.
    from voipadmin.views import ChangeLogListView

    assert "ChangeLogFilterSet(self.request.GET" in inspect.getsource(ChangeLogListView)
    ui.add(ChangeLogFilterSet)
    missing = [prefix for prefix, viewset, _ in router.registry if viewset.filterset_class not in ui]
    assert not missing, f"API resources whose filters no UI page shares: {missing}"
