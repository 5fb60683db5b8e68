"""What the portal shows of the media applications: the dashboard panel (rooms in use, calls in menus, the
application service's health), a node's page, ``poll_estate``'s output and /metrics; constant queries."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from media import overview
from media.models import ActiveRoom, AppServiceInstance, ConferenceRoom, IvrMenu, MenuCall
from sites import actions as site_actions
from voipadmin.actors import Actor

pytestmark = pytest.mark.django_db
ACTOR = Actor(label="tests", source="system")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=dt_timezone.utc)


def make_node(site, name: str, port: int, *, ari: bool = True, **fields):
    return site_actions.create_asterisk_node(
        actor=ACTOR, site=site, name=name, host="127.0.0.1", ami_port=port, sip_port=port + 1000,
        ami_username="admin", ami_secret="secret", roles="pbx",
        ari_url=f"http://127.0.0.1:{port + 2000}/ari" if ari else "", **fields)


@pytest.fixture
def media_estate(db):
    """Two sites; ast-c1/ast-c2 (central) and ast-b1 (branch1) with ARI, ast-c3 without; rooms and menu calls."""
    central = site_actions.create_site(actor=ACTOR, slug="central", name="Central", sip_domain="voip.example.test",
                                       ranges=[(1000, 3999)])
    branch = site_actions.create_site(actor=ACTOR, slug="branch1", name="Branch 1", sip_domain="voip.example.test",
                                      ranges=[(4000, 5999)])
    c1, c2 = make_node(central, "ast-c1", 15038), make_node(central, "ast-c2", 15039)
    b1, _ = make_node(branch, "ast-b1", 15040), make_node(central, "ast-c3", 15041, ari=False)
    make_node(central, "ast-off", 15042, enabled=False)
    sales = ConferenceRoom.objects.create(site=central, number="800", name="Sales")
    board = ConferenceRoom.objects.create(site=branch, number="800", name="Board", pin="1234")
    ActiveRoom.objects.create(room=sales, node=c1, bridge_id="b-sales", members=3, instance="svc-a", started=NOW)
    ActiveRoom.objects.create(room=board, node=b1, bridge_id="b-board", members=2, instance="svc-a", started=NOW)
    main = IvrMenu.objects.create(site=central, name="Main menu")
    night = IvrMenu.objects.create(site=central, name="Night")
    branch_menu = IvrMenu.objects.create(site=branch, name="Branch reception")
    for i, (node, menu) in enumerate([(c1, main), (c1, main), (c1, night), (c2, main), (b1, branch_menu)]):
        MenuCall.objects.create(channel_id=f"chan-{i}", node=node, menu=menu, caller=f"10{i:02d}", instance="svc-a",
                                started=NOW)
    return {"central": central, "branch": branch, "c1": c1, "c2": c2, "b1": b1}


def instance(name: str, heartbeat: datetime, nodes: list, **fields) -> AppServiceInstance:
    return AppServiceInstance.objects.create(name=name, hostname="media1.example.test", pid=4242, started=heartbeat,
                                             heartbeat=heartbeat, connected_nodes=nodes, **fields)


def test_an_instance_is_alive_within_three_heartbeats_and_nodes_it_does_not_hold_are_named(media_estate,
                                                                                         django_assert_num_queries):
    c1, b1 = media_estate["c1"], media_estate["b1"]
    instance("svc-a", NOW - timedelta(seconds=5.9), [c1.pk, "ast-b1", {"id": 999}, 999, None], last_event=NOW,
             calls_handled=41)
    instance("svc-b", NOW - timedelta(seconds=6.1), [media_estate["c2"].pk])  # missed two heartbeats: gone
    with django_assert_num_queries(2):
        health = overview.service_health(NOW)
    assert [n.name for n in health.ari_nodes] == ["ast-b1", "ast-c1", "ast-c2"]  # enabled, with ARI
    a, b = health.instances
    assert (a.alive, [n.name for n in a.connected], a.enabled, a.last_event_age) == (True, ["ast-b1", "ast-c1"],
                                                                                     3, 0.0)
    assert (b.alive, b.last_event_age) == (False, None)
    assert [n.name for n in health.uncovered] == ["ast-c2"]  # svc-b holds it, but svc-b is gone
    assert not health.none_alive and not health.ok
    assert health.findings() == ["no live media application service instance is connected to ast-c2 (ARI)"]


def test_with_no_instance_alive_the_warning_is_that_and_not_a_list_of_nodes(media_estate):
    instance("svc-a", NOW - timedelta(minutes=5), [media_estate["c1"].pk])
    health = overview.service_health(NOW)
    assert health.none_alive and len(health.uncovered) == 3
    assert health.findings()[0].startswith("no media application service instance is alive (heartbeat within 6 s)")


def test_an_estate_with_no_ari_node_needs_no_instance(db):
    health = overview.service_health(NOW)
    assert health.ok and health.findings() == [] and health.lines() == [
        "Media application service: 0 of 0 instance(s) alive, 0 node(s) with ARI"]


def test_poll_estate_prints_the_services_health(media_estate, settings):
    settings.MEDIA_APPS_HEARTBEAT_SECONDS = 3600  # the command reads the clock: a heartbeat "now" stays alive
    instance("svc-a", timezone.now(), [media_estate["c1"].pk, media_estate["b1"].pk], last_event=timezone.now(),
             calls_handled=7)
    out = StringIO()
    call_command("poll_estate", "--once", "--timeout", "0.2", stdout=out)
    text = out.getvalue()
    assert "Media application service: 1 of 1 instance(s) alive, 3 node(s) with ARI" in text
    line = next(line for line in text.splitlines() if "svc-a" in line)
    assert "alive" in line and "nodes 2/3" in line and "7 call(s) handled" in line and "media1.example.test" in line
    assert "warning: no live media application service instance is connected to ast-c2 (ARI)" in text


def test_the_dashboard_shows_rooms_menus_and_the_service_in_constant_queries(admin_client, media_estate, settings,
                                                                            django_assert_max_num_queries):
    settings.MEDIA_APPS_HEARTBEAT_SECONDS = 3600
    instance("svc-a", timezone.now(), [media_estate["c1"].pk], calls_handled=12)
    instance("svc-old", timezone.now() - timedelta(days=1), [])
    url = reverse("live:estate_fragment")
    with CaptureQueriesContext(connection) as first:
        html = admin_client.get(url).content.decode()
    assert 'data-instance="svc-a" data-alive="true"' in html and 'data-instance="svc-old" data-alive="false"' in html
    assert 'data-connected="1/3"' in html
    assert 'id="media-uncovered"' in html and 'data-uncovered="ast-c2"' in html and 'data-uncovered="ast-b1"' in html
    assert 'id="media-none-alive"' not in html
    assert 'data-room="central-800" data-members="3"' in html and 'data-room="branch1-800" data-members="2"' in html
    assert 'data-menu-node="ast-c1" data-calls="3"' in html and 'data-menu-node="ast-c2" data-calls="1"' in html
    assert "Main menu · Central: 2" in html and "Night · Central: 1" in html
    # more of everything costs no more queries
    extra = ConferenceRoom.objects.create(site=media_estate["central"], number="801", name="Support")
    ActiveRoom.objects.create(room=extra, node=media_estate["c2"], bridge_id="b2", members=1, started=NOW)
    MenuCall.objects.create(channel_id="chan-x", node=media_estate["b1"], menu=IvrMenu.objects.get(name="Night"),
                            started=NOW)
    instance("svc-c", timezone.now(), [media_estate["c2"].pk, media_estate["b1"].pk])
    with django_assert_max_num_queries(len(first)):
        html = admin_client.get(url).content.decode()
    assert 'id="media-uncovered"' not in html and 'data-room="central-801"' in html


def test_the_dashboard_warns_when_no_instance_is_alive_and_speaks_spanish(admin_client, media_estate):
    from tests.foundation.untranslated import data_words, texts, untranslated

    instance("svc-a", timezone.now() - timedelta(days=1), [media_estate["c1"].pk], last_event=NOW)
    html = admin_client.get(reverse("dashboard")).content.decode()
    assert 'id="media-none-alive"' in html and "run_media_apps" in html
    for url, panel in ((reverse("dashboard"), 'id="estate-media"'),
                       (reverse("live:asterisk_node", args=[media_estate["c1"].pk]), 'id="node-media"')):
        english, spanish = (admin_client.get(url, HTTP_ACCEPT_LANGUAGE=lang).content.decode().split(panel)[1]
                            .split("</table></div>\n  </div></div>")[0] for lang in ("en", "es"))
        assert "Aplicaciones de medios" in spanish or "Salas en uso" in spanish
        assert not untranslated(texts(english), texts(spanish), data_words()), url


def test_a_site_limited_account_sees_its_own_sites_rooms_and_menus_only(client, media_estate, django_user_model,
                                                                       settings):
    from accounts.models import AccountProfile

    settings.MEDIA_APPS_HEARTBEAT_SECONDS = 3600
    instance("svc-a", timezone.now(), [media_estate["c1"].pk])

    eve = django_user_model.objects.create_user(username="eve", password="correct horse battery")
    eve.groups.add(Group.objects.get(name="Administrator"))
    AccountProfile.objects.create(user=eve, site_limited=True).sites.set([media_estate["branch"]])
    client.force_login(eve)
    html = client.get(reverse("live:estate_fragment")).content.decode()
    assert 'data-room="branch1-800"' in html and 'data-room="central-800"' not in html
    assert 'data-menu-node="ast-b1"' in html and 'data-menu-node="ast-c1"' not in html
    assert "Main menu" not in html
    assert 'data-uncovered="ast-b1"' in html and 'data-uncovered="ast-c2"' not in html  # her nodes only
    assert 'data-connected="0/1"' in html  # the estate's instance stays in view, counted against her nodes
    # another site's node page is not hers; her node's page shows her rooms
    assert client.get(reverse("live:asterisk_node", args=[media_estate["c1"].pk])).status_code == 404
    page = client.get(reverse("live:asterisk_node", args=[media_estate["b1"].pk])).content.decode()
    assert 'data-room="branch1-800"' in page and 'data-channel="chan-4"' in page


def test_a_node_page_shows_the_rooms_it_hosts_and_its_calls_in_menus(admin_client, media_estate):
    page = admin_client.get(reverse("live:asterisk_node", args=[media_estate["c1"].pk])).content.decode()
    assert 'id="node-media"' in page and 'data-room="central-800"' in page and 'data-room="branch1-800"' not in page
    assert all(f'data-channel="chan-{i}"' in page for i in (0, 1, 2)) and 'data-channel="chan-3"' not in page
    idle = make_node(media_estate["central"], "ast-idle", 15050)
    assert 'id="node-media"' not in admin_client.get(reverse("live:asterisk_node", args=[idle.pk])).content.decode()


def test_metrics_carry_the_service_rooms_and_menus_in_constant_queries(client, media_estate, settings):
    settings.METRICS_TOKEN = token = "metrics-token-for-tests-0123456789"
    settings.MEDIA_APPS_HEARTBEAT_SECONDS = 3600
    instance("svc-a", timezone.now(), [media_estate["c1"].pk, media_estate["b1"].pk], calls_handled=5)

    def scrape():
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200
        families = text_string_to_metric_families(response.content.decode())
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}

    with CaptureQueriesContext(connection) as small:
        samples = scrape()

    def value(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("voipadmin_media_app_instances_alive") == 1
    assert value("voipadmin_media_app_instance_up", instance="svc-a") == 1
    assert value("voipadmin_media_app_connected_nodes", instance="svc-a") == 2
    assert value("voipadmin_media_app_calls_handled", instance="svc-a") == 5
    assert value("voipadmin_media_app_node_served", node="ast-c2") == 0
    assert value("voipadmin_media_app_node_served", node="ast-c1") == 1
    assert value("voipadmin_media_rooms_active", node="ast-c1", site="central") == 1
    assert value("voipadmin_media_room_members", node="ast-c1", site="central") == 3
    assert value("voipadmin_media_menu_calls", node="ast-c1", site="central", menu="Main menu") == 2
    assert value("voipadmin_media_menu_calls", node="ast-b1", site="branch1", menu="Branch reception") == 1
    instance("svc-b", timezone.now(), [media_estate["c2"].pk])
    MenuCall.objects.create(channel_id="chan-y", node=media_estate["c2"], menu=IvrMenu.objects.get(name="Night"),
                            started=NOW)
    with CaptureQueriesContext(connection) as big:
        samples = scrape()
    assert len(big) == len(small)
    assert value("voipadmin_media_app_instances_alive") == 2
