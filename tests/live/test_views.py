"""Dashboard, fragments, node pages and the "test connection" action."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from live import actions
from live.models import CallSample, NodeState
from tests.fakes.ami import closed_port, running_ami_fake
from tests.fakes.kamailio_rpc import running_kamailio_fake

from .conftest import ACTOR

pytestmark = pytest.mark.django_db


@pytest.fixture
def polled_estate(make_site, make_asterisk, make_kamailio):
    central = make_site("central", 1000, 3999)
    branch = make_site("branch1", 4000, 5999)
    with running_ami_fake(channels=4) as fake, running_kamailio_fake(
            contacts=[("1001@voip.example.test", "sip:1001@127.0.0.1:5098")],
            uac_regs=[{"l_uuid": "itsp-main", "flags": 20, "r_username": "x", "r_domain": "itsp.test"}]) as kam:
        make_asterisk(central, fake)
        make_asterisk(branch, None, port=closed_port())
        make_kamailio(kam.url)
        actions.poll_estate(actor=ACTOR, timeout=0.5)
    return central, branch


def test_the_dashboard_shows_each_site_its_nodes_calls_and_trunks(admin_client, polled_estate):
    response = admin_client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'hx-get="/live/fragments/estate/"' in html and 'hx-trigger="every 5s"' in html
    assert 'id="topology"' in html and "<svg" in html and 'id="calls-chart"' in html
    assert 'data-node="asterisk-' in html and 'data-state="up"' in html and 'data-state="down"' in html
    assert "connection refused" in html
    assert "ITSP itsp-main" in html
    overview = response.context["totals"]
    assert overview["calls"] == 2 and overview["channels"] == 4
    assert overview["nodes"] == 3 and overview["nodes_up"] == 2 and overview["nodes_down"] == 1
    assert overview["trunks"] == overview["trunks_up"] == 1


def test_registered_and_total_users_come_from_kamailio(admin_client, polled_estate):
    from voipadmin.kamailio.models import Subscriber

    for user in ("1001", "1002", "4001"):
        Subscriber.objects.create(username=user, domain="voip.example.test")
    sites = {s.site.slug: s for s in admin_client.get(reverse("dashboard")).context["sites"]}
    assert (sites["central"].registered, sites["central"].users) == (1, 2)
    assert (sites["branch1"].registered, sites["branch1"].users) == (0, 1)


def test_the_dashboard_and_its_fragment_cost_constant_queries(admin_client, make_site, make_asterisk,
                                                               polled_estate, django_assert_max_num_queries):
    url = reverse("live:estate_fragment")
    admin_client.get(url)  # warm up session and permission caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert admin_client.get(url).status_code == 200
    for i in range(2, 8):
        site = make_site(f"branch{i}", 6000 + i * 100, 6000 + i * 100 + 99)  # (beside the others: no prefix clash)
        for j in range(3):
            node = make_asterisk(site, None, name=f"ast-{i}-{j}", port=closed_port())
            NodeState.objects.create(kind="asterisk", asterisk_node=node, state="up", last_seen=timezone.now())
    with django_assert_max_num_queries(len(small)):
        assert admin_client.get(url).status_code == 200
    with django_assert_max_num_queries(len(small) + 6):  # the full page adds session/user/nav queries only
        assert admin_client.get(reverse("dashboard")).status_code == 200


def test_stale_data_is_marked_with_its_age(admin_client, polled_estate):
    NodeState.objects.update(last_seen=timezone.now() - timedelta(minutes=10),
                             last_polled=timezone.now() - timedelta(minutes=10))
    html = admin_client.get(reverse("live:estate_fragment")).content.decode()
    assert "Stale data" in html and "the last poll ran 10 min ago" in html
    assert "last seen 10 min ago" in html and 'data-stale="true"' in html


def test_helpdesk_and_anonymous_users_do_not_see_the_dashboard(client, helpdesk_client):
    assert helpdesk_client.get(reverse("dashboard")).status_code == 403
    assert helpdesk_client.get(reverse("live:estate_fragment")).status_code == 403
    helpdesk_client.logout()
    assert client.get(reverse("dashboard")).status_code == 302


def test_the_chart_gets_24_hours_of_calls_per_site(admin_client, make_site):
    site = make_site()
    now = timezone.now().replace(second=0, microsecond=0)
    CallSample.objects.create(site=site, minute=now - timedelta(hours=2), calls=7)
    CallSample.objects.create(site=site, minute=now - timedelta(hours=30), calls=99)
    data = admin_client.get(reverse("live:call_history")).json()
    assert [d["label"] for d in data["datasets"]] == [site.name]
    values = [v for v in data["datasets"][0]["data"] if v is not None]
    assert values == [7] and len(data["labels"]) >= 24 * 12


def test_an_admin_tests_a_node_connection_and_sees_the_result(admin_client, make_site, make_asterisk):
    with running_ami_fake(channels=2) as fake:
        node = make_asterisk(make_site(), fake)
        response = admin_client.post(reverse("live:asterisk_node_test", args=[node.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and 'data-state="up"' in html and "2 channels" in html
    assert NodeState.objects.get(asterisk_node=node).state == "up"


def test_testing_a_dead_node_reports_why_within_the_short_timeout(admin_client, make_site, make_asterisk):
    node = make_asterisk(make_site(), None, port=closed_port())
    response = admin_client.post(reverse("live:asterisk_node_test", args=[node.pk]), follow=True)
    assert "Test connection: ast-central: down — connection refused" in response.content.decode()


def test_only_admins_may_test_a_connection(helpdesk_client, make_site, make_asterisk, django_user_model):
    from django.contrib.auth.models import Group

    node = make_asterisk(make_site(), None, port=closed_port())
    url = reverse("live:asterisk_node_test", args=[node.pk])
    assert helpdesk_client.post(url).status_code == 403
    billing = django_user_model.objects.create_user("dora", password="correct horse battery")
    billing.groups.add(Group.objects.get(name="Billing"))
    helpdesk_client.force_login(billing)
    assert helpdesk_client.get(reverse("live:asterisk_node", args=[node.pk])).status_code == 200
    assert helpdesk_client.post(url).status_code == 403
    assert not NodeState.objects.exists()


def test_node_pages_show_calls_and_registrations(admin_client, polled_estate):
    from sites.models import AsteriskNode, KamailioNode

    node = AsteriskNode.objects.get(name="ast-central")
    html = admin_client.get(reverse("live:asterisk_node", args=[node.pk])).content.decode()
    assert "Channels (4)" in html and "Local/600@test-00000000;1" in html and 'id="test-connection"' in html
    kam = KamailioNode.objects.get()
    html = admin_client.get(reverse("live:kamailio_node_fragment", args=[kam.pk])).content.decode()
    assert "sip:1001@127.0.0.1:5098" in html


def test_call_and_registration_lists_cost_constant_queries(admin_client, polled_estate, make_asterisk,
                                                           django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from live.models import ActiveCall, Registration
    from sites.models import KamailioNode

    central, branch = polled_estate
    few = {}
    for name in ("live:activecall_list", "live:registration_list"):
        admin_client.get(reverse(name))
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse(name)).status_code == 200
        few[name] = len(captured)
    # many rows, spread over several sites and nodes of both kinds
    now, kam = timezone.now(), KamailioNode.objects.get()
    nodes = [make_asterisk(site, None, name=f"extra-{site.slug}-{i}", port=closed_port())
             for site in (central, branch) for i in range(3)]
    ActiveCall.objects.bulk_create(ActiveCall(node=n, site=n.site, channel=f"PJSIP/{i}-{k:08x}", seen_at=now)
                                   for k, n in enumerate(nodes) for i in range(8))
    Registration.objects.bulk_create(
        [Registration(asterisk_node=n, user=str(1100 + k), contact="sip:x@127.0.0.1", seen_at=now)
         for k, n in enumerate(nodes * 4)]
        + [Registration(kamailio_node=kam, user=str(1200 + k), contact="sip:y@127.0.0.1", seen_at=now)
           for k in range(24)])
    for name, count in few.items():
        with django_assert_max_num_queries(count):
            response = admin_client.get(reverse(name) + "?per_page=100")
        assert response.status_code == 200 and response.content.decode().count("<tr>") >= 48


def test_the_test_connection_asks_the_node_panel_to_refresh(admin_client, make_site, make_asterisk):
    node = make_asterisk(make_site(), None, port=closed_port())
    response = admin_client.post(reverse("live:asterisk_node_test", args=[node.pk]), HTTP_HX_REQUEST="true")
    assert response["HX-Trigger"] == "live-refresh" and 'data-state="down"' in response.content.decode()


def test_the_node_card_for_sites_pages_shows_the_live_state(rf, alice, make_site, make_asterisk):
    from django.template import Context, Template

    node = make_asterisk(make_site(), None, port=closed_port())
    NodeState.objects.create(kind="asterisk", asterisk_node=node, state="down", reason="connection refused")
    request = rf.get("/")
    request.user = alice
    html = Template("{% load live %}{% live_node_card node %}").render(Context({"node": node, "request": request}))
    assert 'data-state="down"' in html and "connection refused" in html and "Test connection" in html


def test_the_beat_runs_the_poll_every_interval_and_prunes_hourly(settings, make_site, make_asterisk):
    from live import tasks

    assert settings.CELERY_BEAT_SCHEDULE["live-poll-estate"]["task"] == "live.tasks.poll_estate"
    assert settings.CELERY_BEAT_SCHEDULE["live-poll-estate"]["schedule"] == settings.POLL_INTERVAL_SECONDS
    assert settings.CELERY_BEAT_SCHEDULE["live-prune-history"]["task"] == "live.tasks.prune_history"
    with running_ami_fake(channels=2) as fake:
        make_asterisk(make_site(), fake)
        assert "1 up" in tasks.poll_estate.apply().get()
    assert tasks.prune_history.apply().get() == 0


def test_helpdesk_gets_extension_state_badges_for_a_page_of_users(helpdesk_client, make_site, make_kamailio,
                                                                  django_assert_max_num_queries):
    from live.models import Registration

    kam = make_kamailio("http://127.0.0.1:9/RPC")
    Registration.objects.create(kamailio_node=kam, user="1001", contact="sip:1001@127.0.0.1",
                                seen_at=timezone.now())
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    base = reverse("live:extension_state_badges")
    with CaptureQueriesContext(connection) as one:
        helpdesk_client.get(base + "?ext=1001")
    url = base + "?" + "&".join(f"ext={e}" for e in range(1000, 1050))
    with django_assert_max_num_queries(len(one)):
        response = helpdesk_client.get(url + "&ext=bad")
    html = response.content.decode()
    assert response.status_code == 200 and html.count('hx-swap-oob="innerHTML"') == 50
    assert '<span id="ext-state-1001" hx-swap-oob="innerHTML"><span class="badge text-bg-primary' in html


def test_the_call_and_registration_lists_show_every_recorded_field(admin_client, make_site, make_asterisk,
                                                                   make_kamailio):
    """Calls: channel, caller, callee, state, duration, site, trunk. Registrations: user, contact, user agent,
    source address, NAT, expiry — read from AMI/JSON-RPC by a real poll, shown in the lists."""
    from tests.fakes.ami import CHANNEL_TEMPLATE, _replace

    site = make_site("central", 1000, 3999)
    trunk_leg = _replace(CHANNEL_TEMPLATE, Channel="PJSIP/itsp-main-0000001a", CallerIDNum="1002",
                         CallerIDName="Luis", ConnectedLineNum="34910000000", Exten="34910000000",
                         ChannelStateDesc="Ringing", Duration="01:02:03", Uniqueid="1795391178.9",
                         Linkedid="1795391178.9")
    with running_ami_fake(channels=[trunk_leg], contacts=["1001"]) as fake, running_kamailio_fake(
            contacts=[("4001@voip.example.test", "sip:4001@127.0.0.7:5062")]) as kam:
        make_asterisk(site, fake)
        make_kamailio(kam.url)
        actions.poll_estate(actor=ACTOR, timeout=0.5)

    calls = admin_client.get(reverse("live:activecall_list")).content.decode()
    row = calls[calls.index("PJSIP/itsp-main-0000001a"):]
    row = row[:row.index("</tr>")]
    cells = [c.strip() for c in re.findall(r"<td>(?:<a [^>]*>)?(.*?)(?:</a>)?</td>", row)]
    # (after the channel itself) Site, Node, Caller, Callee, State, Duration, Trunk, Seen
    assert cells[0:7] == ["Central", "ast-central", "1002 Luis", "34910000000", "Ringing", "1:02:03", "itsp-main"]

    regs = admin_client.get(reverse("live:registration_list")).content.decode()
    assert "sip:1001@127.0.0.1:5098" in regs and "127.0.0.1:5098" in regs  # Asterisk contact and its source
    assert "sip:4001@127.0.0.7:5062" in regs and "kamailio SIP Router - RPC Server" in regs  # user agent
    assert regs.count('title="no"') >= 2  # NAT column: neither contact is behind NAT
    from live.models import Registration

    kam_reg = Registration.objects.get(user="4001")
    assert (kam_reg.source, kam_reg.nat, kam_reg.expires is not None) == ("127.0.0.7", False, True)
    ast_reg = Registration.objects.get(user="1001")
    assert ast_reg.source == "127.0.0.1:5098" and ast_reg.expires.timestamp() == 1795391430
    from django.utils.formats import date_format
    from django.utils.timezone import localtime

    assert date_format(localtime(ast_reg.expires), "DATETIME_FORMAT") in regs  # expiry shown


def test_a_kamailio_node_page_tests_its_connection_and_marks_stale_data(admin_client, make_kamailio):
    with running_kamailio_fake(contacts=[("1001@voip.example.test", "sip:1001@127.0.0.1:5098")]) as kam:
        node = make_kamailio(kam.url)
        page = admin_client.get(reverse("live:kamailio_node", args=[node.pk])).content.decode()
        assert 'id="test-connection"' in page
        response = admin_client.post(reverse("live:kamailio_node_test", args=[node.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'data-state="up"' in response.content.decode()
    assert NodeState.objects.get(kamailio_node=node).state == "up"
    fresh = admin_client.get(reverse("live:kamailio_node_fragment", args=[node.pk])).content.decode()
    assert ">stale<" not in fresh and "sip:1001@127.0.0.1:5098" in fresh
    NodeState.objects.update(last_seen=timezone.now() - timedelta(minutes=10))
    stale = admin_client.get(reverse("live:kamailio_node_fragment", args=[node.pk])).content.decode()
    assert ">stale<" in stale and "10 min ago" in stale


def test_odd_user_parts_reported_by_a_node_do_not_break_the_dashboard(admin_client, polled_estate):
    from live.models import Registration
    from sites.models import KamailioNode

    from voipadmin.kamailio.models import Subscriber

    kam = KamailioNode.objects.get()
    for odd in ("²", "١٠٠١", "alice", ""):  # e.g. subscribers added with kamctl, outside the portal
        Subscriber.objects.create(username=odd, domain="voip.example.test")
        Registration.objects.create(kamailio_node=kam, user=odd, contact="sip:x@127.0.0.1", seen_at=timezone.now())
    response = admin_client.get(reverse("dashboard"))
    assert response.status_code == 200
    sites = {s.site.slug: s for s in response.context["sites"]}
    assert sites["central"].registered <= 1  # only the real 1001 can count for a site
