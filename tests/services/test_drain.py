"""Draining an Asterisk node (issue 14 item 3): no new calls, the calls it carries finish.

The drain is one field written by ``sites.actions.drain_node``; what Kamailio does with it comes from the
projection: the node's dispatcher rows carry the disabled flag (4), the service codes it serves alone go to
their fallback set, its site's home rules move to another node. The real Kamailio + Asterisk run is
tests/asterisk/test_drain.py.
"""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountProfile
from services import actions
from services.projection import DS_DISABLED_DST
from sites import actions as site_actions
from sites.models import AsteriskNode
from voipadmin.actors import Actor
from voipadmin.api.tokens import create_token
from voipadmin.kamailio.models import DialplanRule, Dispatcher
from voipadmin.models import ApiToken, ChangeLogEntry

MEDIA, CENTRAL, BRANCH = "sip:127.0.0.15:5060", "sip:127.0.0.11:5060", "sip:127.0.0.12:5060"


@pytest.fixture
def media_set(estate, actor):
    nodes = estate["nodes"]
    return actions.create_dispatcher_set(actor=actor, setid=1, name="media", algorithm=8, destinations=[
        {"node": nodes["ast-media"], "priority": 10, "flags": 2},
        {"node": nodes["ast-central"], "priority": 5}])


def _flags():
    return dict(Dispatcher.objects.values_list("destination", "flags"))


def _attrs(code):
    return DialplanRule.objects.get(dpid=1, match_exp=code).attrs


def test_a_drained_node_s_dispatcher_rows_are_disabled_on_top_of_their_own_flags(media_set, estate, actor):
    media = estate["nodes"]["ast-media"]
    assert _flags() == {MEDIA: 2, CENTRAL: 0}
    site_actions.drain_node(media, actor=actor)
    assert _flags() == {MEDIA: 2 | DS_DISABLED_DST, CENTRAL: 0}
    site_actions.return_node_to_service(AsteriskNode.objects.get(pk=media.pk), actor=actor)
    assert _flags() == {MEDIA: 2, CENTRAL: 0}


def test_draining_is_audited_and_asks_kamailio_to_reload_the_dispatcher(media_set, estate, actor):
    from push.models import PushJob

    site_actions.create_kamailio_node(actor=actor, name="kamailio-1", sip_address="127.0.0.1:9",
                                      jsonrpc_url="http://127.0.0.1:9/RPC")
    PushJob.objects.all().delete()
    media = estate["nodes"]["ast-media"]
    site_actions.drain_node(media, actor=actor)
    entry = ChangeLogEntry.objects.filter(object_id=str(media.pk)).order_by("-id").first()
    assert entry.message == "drained" and entry.changes == {"draining": [False, True]}
    assert ("kamailio-1", "dispatcher.reload") in set(PushJob.objects.values_list("node_name", "command"))
    count = ChangeLogEntry.objects.count()
    site_actions.drain_node(AsteriskNode.objects.get(pk=media.pk), actor=actor)  # idempotent: no new reload
    assert PushJob.objects.filter(command="dispatcher.reload").count() == 1
    assert ChangeLogEntry.objects.count() <= count + 1


def test_a_code_served_by_a_drained_node_goes_to_its_fallback_set(media_set, estate, actor):
    media = estate["nodes"]["ast-media"]
    actions.create_service_code(actor=actor, code="*125", name="Conference", kind="conference", route_to="node",
                                node=media)
    assert "dst=sip:127.0.0.15:5060" in _attrs("*125")
    site_actions.drain_node(media, actor=actor)
    assert _attrs("*125") == "svc=conference;setid=1;alg=8"
    site_actions.return_node_to_service(AsteriskNode.objects.get(pk=media.pk), actor=actor)
    assert "dst=sip:127.0.0.15:5060" in _attrs("*125")


def test_a_drained_node_is_no_longer_its_site_s_home_while_another_node_can_be(estate, actor):
    def home(pattern_site):
        return set(DialplanRule.objects.filter(dpid=4, attrs=f"site={pattern_site}")
                   .values_list("repl_exp", flat=True))

    assert home("central") == {CENTRAL}
    site_actions.drain_node(estate["nodes"]["ast-central"], actor=actor)
    assert home("central") == {MEDIA}
    site_actions.drain_node(estate["nodes"]["ast-branch1"], actor=actor)  # the only one: stays its home
    assert home("branch1") == {BRANCH}


def _call(node, linkedid):
    from live.models import ActiveCall

    for leg in ("a", "b"):
        ActiveCall.objects.create(node=node, site=node.site, channel=f"PJSIP/{linkedid}-{leg}", linkedid=linkedid,
                                  seen_at=timezone.now())


def test_the_node_pages_and_the_dashboard_show_draining_with_calls_then_idle(admin_client, estate, actor):
    media = estate["nodes"]["ast-media"]
    page = admin_client.get(media.get_absolute_url()).content.decode()
    assert 'id="node-drain"' in page and "in service" in page
    response = admin_client.post(reverse("sites:asterisknode_drain", args=[media.pk]), {"draining": "1"})
    assert response.status_code == 302 and AsteriskNode.objects.get(pk=media.pk).draining
    _call(media, "1.1")
    _call(media, "1.2")
    assert "draining (2 calls)" in admin_client.get(reverse("sites:asterisknode_list")).content.decode()
    assert "draining (2 calls)" in admin_client.get(media.get_absolute_url()).content.decode()
    html = admin_client.get(reverse("live:estate_fragment")).content.decode()
    assert 'data-drain="draining"' in html and "draining (2 calls)" in html
    from live.models import ActiveCall

    ActiveCall.objects.all().delete()
    html = admin_client.get(reverse("live:estate_fragment")).content.decode()
    assert 'data-drain="idle"' in html and "drained (idle)" in html
    assert "Return to service" in admin_client.get(media.get_absolute_url()).content.decode()
    admin_client.post(reverse("sites:asterisknode_drain", args=[media.pk]), {"draining": "0"})
    assert not AsteriskNode.objects.get(pk=media.pk).draining


def test_the_confirmation_page_explains_the_drain_in_spanish_too(admin_client, estate):
    url = reverse("sites:asterisknode_drain", args=[estate["nodes"]["ast-media"].pk])
    assert "finish normally" in admin_client.get(url).content.decode()
    spanish = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "¿Drenar ast-media?" in spanish and "terminan con normalidad" in spanish


def test_the_node_list_costs_the_same_queries_with_more_drained_nodes(admin_client, estate, actor,
                                                                      django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("sites:asterisknode_list")
    admin_client.get(url)
    with CaptureQueriesContext(connection) as small:
        admin_client.get(url)
    for i in range(5):
        node = site_actions.create_asterisk_node(actor=actor, name=f"ast-extra-{i}", site=estate["central"],
                                                 host=f"127.0.0.{30 + i}")
        site_actions.drain_node(node, actor=actor)
        _call(node, f"9.{i}")
    with django_assert_max_num_queries(len(small)):
        assert admin_client.get(url).status_code == 200


def test_helpdesk_cannot_drain_and_a_delegation_admin_only_its_own_sites_nodes(client, bob, estate,
                                                                               django_user_model):
    central, branch = estate["nodes"]["ast-central"], estate["nodes"]["ast-branch1"]
    client.force_login(bob)
    assert client.post(reverse("sites:asterisknode_drain", args=[central.pk]), {"draining": "1"}).status_code == 403
    eve = django_user_model.objects.create_user(username="eve", password="correct horse battery")
    eve.groups.add(Group.objects.get(name="Administrator"))
    AccountProfile.objects.create(user=eve, site_limited=True).sites.set([estate["branch1"]])
    client.force_login(eve)
    assert client.post(reverse("sites:asterisknode_drain", args=[central.pk]), {"draining": "1"}).status_code == 404
    assert client.post(reverse("sites:asterisknode_drain", args=[branch.pk]), {"draining": "1"}).status_code == 302
    assert not AsteriskNode.objects.get(pk=central.pk).draining and AsteriskNode.objects.get(pk=branch.pk).draining


def test_the_api_shows_the_state_and_drains_and_undrains(client, estate):
    key = create_token(actor=Actor.command("tests"), name="orchestrator", scope=ApiToken.Scope.WRITE)[1]
    read = create_token(actor=Actor.command("tests"), name="billing", scope=ApiToken.Scope.READ)[1]
    media = estate["nodes"]["ast-media"]
    url = f"/api/v1/nodes/asterisk/{media.pk}/"
    assert client.get(url, HTTP_AUTHORIZATION=f"Token {key}").json()["draining"] is False
    assert client.post(url + "drain/", HTTP_AUTHORIZATION=f"Token {read}").status_code == 403
    response = client.post(url + "drain/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and response.json()["draining"] is True
    assert AsteriskNode.objects.get(pk=media.pk).draining
    # a PATCH cannot set it: only the actions do (audited, projected)
    client.patch(url + "undrain/", HTTP_AUTHORIZATION=f"Token {key}")
    client.patch(url, {"draining": False}, content_type="application/json", HTTP_AUTHORIZATION=f"Token {key}")
    assert AsteriskNode.objects.get(pk=media.pk).draining
    response = client.post(url + "undrain/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and response.json()["draining"] is False


def test_an_e1_line_on_a_drained_node_is_disabled_in_its_routes_so_the_next_trunk_takes_the_calls(estate, actor):
    from trunks import actions as trunk_actions

    central = estate["nodes"]["ast-central"]
    e1 = trunk_actions.create_e1_trunk(actor=actor, name="e1-pstn", asterisk_node=central, span=1)
    route = trunk_actions.create_route(actor=actor, name="pstn", pattern="^0", trunks=[e1])

    def route_flags():
        return list(Dispatcher.objects.filter(setid=route.setid).values_list("flags", flat=True))

    assert route_flags() == [0]
    site_actions.drain_node(central, actor=actor)
    assert route_flags() == [DS_DISABLED_DST]
    site_actions.return_node_to_service(AsteriskNode.objects.get(pk=central.pk), actor=actor)
    assert route_flags() == [0]
