"""The audit log names objects, not ids: each entry's object (linked while it exists), the foreign keys of a change
("site: Central → Branch 1"), and objects deleted since by their last name; it is filtered by object type, one
object (an object page's "History" link), actor, action and period, in a constant number of queries."""
from __future__ import annotations

import datetime
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sites import actions
from sites.models import AsteriskNode
from voipadmin.actors import Actor
from voipadmin.models import ChangeLogEntry

ALICE = Actor.command("alice-script")
CAROL = Actor.command("carol-script")
T0 = datetime.datetime(2026, 5, 4, 9, 0, tzinfo=datetime.timezone.utc)  # fixed times: never the clock


@pytest.fixture
def moves(db):
    """Node ast-1 created at Central, moved to Branch 1, then to Old branch, then back to Central; Old branch is
    then deleted. Entries get fixed times an hour apart, in that order."""
    central = actions.create_site(actor=ALICE, name="Central", slug="central", kind="central",
                                  sip_domain="voip.example.test", ranges=[(1000, 1999)])
    branch = actions.create_site(actor=ALICE, name="Branch 1", slug="branch1", kind="delegation",
                                 sip_domain="voip.example.test", ranges=[(2000, 2999)])
    old = actions.create_site(actor=ALICE, name="Old branch", slug="oldbranch", kind="delegation",
                              sip_domain="voip.example.test", ranges=[(3000, 3999)])
    node = actions.create_asterisk_node(actor=ALICE, name="ast-1", site=central, host="127.0.0.21")
    node = actions.update_asterisk_node(node, actor=CAROL, site=branch)
    node = actions.update_asterisk_node(node, actor=CAROL, site=old)
    node = actions.update_asterisk_node(node, actor=ALICE, site=central)
    actions.delete_site(old, actor=ALICE)
    for i, entry in enumerate(ChangeLogEntry.objects.order_by("id")):
        ChangeLogEntry.objects.filter(pk=entry.pk).update(time=T0 + datetime.timedelta(hours=i))
    return {"central": central, "branch": branch, "old": old, "node": node}


def node_entries(node: AsteriskNode, action: str = "update") -> list[ChangeLogEntry]:
    return list(ChangeLogEntry.objects.filter(object_id=str(node.pk), content_type__model="asterisknode",
                                              action=action).order_by("time"))


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html)))


def test_each_entry_names_its_object_and_links_to_it_while_it_exists(admin_client, moves):
    body = admin_client.get("/audit/").content.decode()
    node = moves["node"]
    assert f'<a href="/nodes/asterisk/{node.pk}/" class="va-audit-object">ast-1</a>' in body
    assert '<span class="va-audit-object">Old branch</span> <span class="badge' in body  # deleted: no link


def test_a_foreign_key_in_a_change_is_shown_by_name(admin_client, moves):
    first_move = node_entries(moves["node"])[0]
    assert first_move.changes["site"] == [moves["central"].pk, moves["branch"].pk]  # stored as ids
    body = admin_client.get(f"/audit/{first_move.pk}/").content.decode()
    central, branch = moves["central"], moves["branch"]
    assert (f'<tr><th>site</th><td><a href="/sites/{central.pk}/">Central</a></td>'
            f'<td><a href="/sites/{branch.pk}/">Branch 1</a></td></tr>') in body
    listing = text(admin_client.get("/audit/", {"action": "update"}).content.decode())
    assert "site: Central → Branch 1" in listing and "site: Branch 1 → Old branch (deleted)" in listing
    history = text(admin_client.get(f"/nodes/asterisk/{moves['node'].pk}/").content.decode())  # the node's own page
    assert "site: Central → Branch 1" in history and "site: Old branch (deleted) → Central" in history
    assert f"site: {central.pk} →" not in history


def test_a_deleted_object_is_still_shown_by_its_last_name(admin_client, moves):
    deleted = ChangeLogEntry.objects.get(action="delete", object_repr="Old branch")
    body = admin_client.get(f"/audit/{deleted.pk}/").content.decode()
    assert "Old branch" in body and f'href="/sites/{moves["old"].pk}/"' not in body
    back = node_entries(moves["node"])[-1]
    body = admin_client.get(f"/audit/{back.pk}/").content.decode()
    assert '<td><span class="text-muted">Old branch (deleted)</span></td>' in body


def test_the_log_is_filtered_to_one_object_by_its_history_link(admin_client, moves):
    node = moves["node"]
    detail = admin_client.get(f"/nodes/asterisk/{node.pk}/").content.decode()
    href = unescape(re.search(r'id="object-history" href="([^"]+)"', detail).group(1))
    assert href == f"/audit/?object_type=sites.asterisknode&object_id={node.pk}"
    response = admin_client.get(href)
    entries = list(response.context["page_obj"])
    assert [e.action for e in entries] == ["update", "update", "update", "create"]
    assert {e.object_repr for e in entries} == {"ast-1"}
    assert "ast-1" in text(re.search(r'<h1.*?</h1>', response.content.decode(), re.S).group(0))


def test_the_log_is_filtered_by_type_actor_action_and_period(admin_client, moves):
    def shown(**params) -> list[tuple[str, str]]:
        response = admin_client.get("/audit/", params)
        assert response.status_code == 200
        return [(e.action, e.object_repr) for e in response.context["page_obj"]]

    assert shown(object_type="sites.site") == [("delete", "Old branch"), ("create", "Old branch"),
                                               ("create", "Branch 1"), ("create", "Central")]
    assert shown(object_type="sites.asterisknode", actor="carol") == [("update", "ast-1"), ("update", "ast-1")]
    assert shown(action="delete") == [("delete", "Old branch")]
    assert shown(since="2026-05-04T12:00", until="2026-05-04T13:00") == [("update", "ast-1"), ("create", "ast-1")]
    assert shown(object_type="users.sipuser") == [] and shown(object_type="no.such") == shown()  # ignored, not a 500
    api = admin_client.get("/api/v1/audit-log/", {"object_type": "sites.asterisknode",
                                                  "object_id": str(moves["node"].pk)}).json()
    assert [r["action"] for r in api["results"]] == ["update", "update", "update", "create"]
    from django.contrib.contenttypes.models import ContentType  # the API's first filter, by numeric id, still works

    node_type = ContentType.objects.get_by_natural_key("sites", "asterisknode").pk
    old = admin_client.get("/api/v1/audit-log/", {"content_type": node_type, "object_id": str(moves["node"].pk)})
    assert [r["action"] for r in old.json()["results"]] == ["update", "update", "update", "create"]


def test_the_log_reads_a_page_in_the_same_number_of_queries_however_many_entries(admin_client, moves):
    with CaptureQueriesContext(connection) as few:
        admin_client.get("/audit/")
    for i in range(6):
        site = actions.create_site(actor=ALICE, name=f"Extra {i}", slug=f"extra{i}", kind="delegation",
                                   sip_domain="voip.example.test", ranges=[(4000 + i * 10, 4009 + i * 10)])
        node = actions.create_asterisk_node(actor=ALICE, name=f"ast-extra{i}", site=site, host=f"127.0.0.{30 + i}")
        actions.update_asterisk_node(node, actor=ALICE, site=moves["central"])
        actions.delete_site(site, actor=ALICE)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get("/audit/")
    assert len(response.context["page_obj"]) > 30
    assert len(many) == len(few), [q["sql"][:150] for q in many.captured_queries]


def test_the_helpdesk_reads_no_audit_log_and_sees_no_history_link(helpdesk_client, moves):
    from users import actions as user_actions

    user = user_actions.create_user(actor=ALICE, extension=1001, name="Ann Example", site=moves["central"])
    entry = ChangeLogEntry.objects.first()
    assert helpdesk_client.get("/audit/").status_code == 403
    assert helpdesk_client.get(f"/audit/{entry.pk}/").status_code == 403
    assert helpdesk_client.get("/api/v1/audit-log/").status_code == 403
    page = helpdesk_client.get(f"/users/{user.pk}/")
    assert page.status_code == 200 and 'id="object-history"' not in page.content.decode()


def test_an_administrator_sees_the_history_link_on_a_users_page(admin_client, moves):
    from users import actions as user_actions

    user = user_actions.create_user(actor=ALICE, extension=1001, name="Ann Example", site=moves["central"])
    body = admin_client.get(f"/users/{user.pk}/").content.decode()
    assert f'href="/audit/?object_type=users.sipuser&amp;object_id={user.pk}"' in body
