"""Sites and nodes through the web UI: create, edit, delete, filters, secrets, audit."""
import pytest
from django.core.management import call_command

from sites.models import AsteriskNode, KamailioNode, Site
from voipadmin.models import ChangeLogEntry


@pytest.fixture
def estate(db):
    call_command("load_demo_estate")


def test_an_administrator_creates_a_site_with_its_extension_ranges(admin_client):
    response = admin_client.post("/sites/add/", {
        "name": "Branch 4", "slug": "branch4", "kind": "delegation", "sip_domain": "voip.example.test",
        "address": "", "time_zone": "Europe/Madrid", "notes": "", "extension_ranges": "20000-20999, 21000"})
    site = Site.objects.get(slug="branch4")
    assert response.status_code == 302 and response["Location"] == site.get_absolute_url()
    assert [(r.start, r.end) for r in site.extension_ranges.all()] == [(20000, 20999), (21000, 21000)]
    entry = ChangeLogEntry.objects.get(object_id=str(site.pk), action="create")
    assert entry.actor == "alice" and entry.source == "ui"
    assert entry.changes["extension_ranges"] == [None, "20000-20999, 21000-21000"]


def test_overlapping_ranges_are_refused_with_a_clear_error(admin_client, estate):
    response = admin_client.post("/sites/add/", {
        "name": "Clash", "slug": "clash", "kind": "delegation", "sip_domain": "voip.example.test",
        "time_zone": "UTC", "extension_ranges": "3900-4100"})
    assert response.status_code == 400
    assert "overlaps 1000–3999 of site Central" in response.content.decode()
    assert not Site.objects.filter(slug="clash").exists()


def test_bad_input_gets_a_clear_error_and_changes_nothing(admin_client, estate):
    site = Site.objects.get(slug="branch2")
    response = admin_client.post(f"/sites/{site.pk}/edit/", {
        "name": "Branch 2", "slug": "branch2", "kind": "delegation", "sip_domain": "Not A Domain!",
        "time_zone": "Mars/Olympus", "extension_ranges": "7999-6000"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "lower-case DNS name" in body and "not a known time zone" in body and "ends before it starts" in body
    site.refresh_from_db()
    assert site.sip_domain == "voip.example.test"


def test_an_update_logs_field_level_before_and_after(admin_client, estate):
    site = Site.objects.get(slug="branch3")
    admin_client.post(f"/sites/{site.pk}/edit/", {
        "name": "Branch 3", "slug": "branch3", "kind": "delegation", "sip_domain": "voip.example.test",
        "address": "Calle Mayor 1", "time_zone": "Europe/Madrid", "notes": "", "extension_ranges": "8000-9999"})
    entry = ChangeLogEntry.objects.filter(object_id=str(site.pk), action="update").latest("time")
    assert entry.changes == {"address": ["Delegation 3", "Calle Mayor 1"]}


def test_node_secrets_are_never_rendered_and_blank_keeps_them(admin_client, estate):
    node = AsteriskNode.objects.get(name="ast-branch1")
    for url in (f"/nodes/asterisk/{node.pk}/", f"/nodes/asterisk/{node.pk}/edit/", "/nodes/asterisk/"):
        assert "demo-ami-secret" not in admin_client.get(url).content.decode()
    response = admin_client.post(f"/nodes/asterisk/{node.pk}/edit/", {
        "name": "ast-branch1", "site": node.site_id, "enabled": "on", "host": "127.0.0.12", "sip_port": 5060,
        "roles": ["pbx", "voicemail"], "ami_host": "", "ami_port": 5038, "ami_username": "voipadmin",
        "ami_secret": "", "ari_url": "http://127.0.0.12:8088/ari", "ari_username": "voipadmin",
        "ari_password": "new-ari-secret", "notes": "edited"})
    assert response.status_code == 302
    node.refresh_from_db()
    assert node.ami_secret == "demo-ami-secret" and node.ari_password == "new-ari-secret"
    entry = ChangeLogEntry.objects.filter(object_id=str(node.pk), action="update").latest("time")
    assert entry.changes["ari_password"] == ["********", "******** (changed)"]
    assert "ami_secret" not in entry.changes
    assert "new-ari-secret" not in str(entry.changes)


def test_a_site_with_nodes_cannot_be_deleted(admin_client, estate):
    site = Site.objects.get(slug="branch1")
    response = admin_client.post(f"/sites/{site.pk}/delete/", follow=True)
    assert "still has Asterisk nodes" in response.content.decode()
    assert Site.objects.filter(pk=site.pk).exists()


def test_deleting_a_kamailio_node_is_audited(admin_client, estate):
    node = KamailioNode.objects.get()
    assert admin_client.post(f"/nodes/kamailio/{node.pk}/delete/").status_code == 302
    assert ChangeLogEntry.objects.filter(object_id=str(node.pk), action="delete").exists()


def test_node_list_filters_by_site_role_and_search(admin_client, estate):
    central = Site.objects.get(slug="central")
    body = admin_client.get("/nodes/asterisk/", {"site": central.pk}).content.decode()
    assert "ast-central" in body and "ast-branch1" not in body
    body = admin_client.get("/nodes/asterisk/", {"role": "gateway"}).content.decode()
    assert "ast-central" in body and "ast-branch2" not in body
    body = admin_client.get("/nodes/asterisk/", {"q": "127.0.0.14"}).content.decode()
    assert "ast-branch3" in body and "ast-central" not in body


@pytest.mark.parametrize("url", ["/sites/", "/nodes/asterisk/", "/audit/"])
def test_list_pages_use_a_constant_number_of_queries(admin_client, estate, django_assert_max_num_queries, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    from sites import actions
    from voipadmin.actors import Actor
    # the demo holds every 4-digit number, and longer or shorter ones would clash by prefix: make room in Branch 3
    actions.update_site(Site.objects.get(slug="branch3"), actor=Actor.command("test"), ranges=[(8000, 8999)])
    for i in range(5, 25):
        site = actions.create_site(actor=Actor.command("test"), name=f"Extra {i}", slug=f"extra{i}",
                                   sip_domain="voip.example.test", ranges=[(9000 + i * 10, 9000 + i * 10 + 9)])
        actions.create_asterisk_node(actor=Actor.command("test"), name=f"ast-extra{i}", site=site,
                                     host=f"127.0.1.{i}")
    with django_assert_max_num_queries(len(few)):
        admin_client.get(url)


def test_the_audit_log_filters_by_type_and_actor(admin_client, estate):
    body = admin_client.get("/audit/", {"actor": "load_demo_estate", "action": "create"}).content.decode()
    assert "ast-central" in body
    body = admin_client.get("/audit/", {"actor": "nobody"}).content.decode()
    assert "No entries." in body


def test_a_far_off_time_in_a_filter_is_an_answer_not_a_crash(admin_client, estate):
    response = admin_client.get("/audit/", {"since": "2026-01-01T00:00:00+23:00"})
    assert response.status_code == 200
    for since in ("0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00+00:00"):  # (year 0 in UTC; the first day)
        response = admin_client.get("/audit/", {"since": since})
        assert response.status_code == 200 and "ast-central" in response.content.decode()  # every entry is later
    response = admin_client.get("/audit/", {"since": "9999-12-31T23:59:59-14:00"})  # year 10000 in UTC
    assert response.status_code == 200 and "No entries." in response.content.decode()


def test_a_site_with_users_keeps_its_sip_domain_and_the_ranges_its_users_need(admin_client, estate):
    site = Site.objects.get(slug="branch2")  # the demo has users 6001 and 6002 there
    response = admin_client.post(f"/sites/{site.pk}/edit/", {
        "name": "Branch 2", "slug": "branch2", "kind": "delegation", "sip_domain": "branch2.example.test",
        "time_zone": "Europe/Madrid", "extension_ranges": "7000-7999"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "hashed with that domain" in body and "6001, 6002 of Branch 2 would fall outside its ranges" in body
    site.refresh_from_db()
    assert site.sip_domain == "voip.example.test"
    assert [(r.start, r.end) for r in site.extension_ranges.all()] == [(6000, 7999)]


def test_a_site_slug_fits_the_asterisk_names_built_from_it(admin_client, estate):
    response = admin_client.post("/sites/add/", {
        "name": "Long", "slug": "a-very-long-site-slug-of-31-chars", "kind": "delegation",
        "sip_domain": "voip.example.test", "time_zone": "UTC", "extension_ranges": "30000-30099"})
    assert response.status_code == 400
    assert "at most 30 characters" in response.content.decode()
