"""Dispatcher sets, service codes and DDIs: clash rules, Kamailio/Asterisk projections, reloads, pages."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from services import actions
from services.models import AsteriskExtension, DispatcherSet, ServiceCode
from services.projection import range_patterns
from voipadmin.kamailio.models import DialplanRule, Dispatcher

CONTRACT = Path("/work/shared/contracts/asterisk_realtime.json")


@pytest.fixture
def all_set(estate, actor):
    nodes = estate["nodes"]
    return actions.create_dispatcher_set(actor=actor, setid=1, name="asterisks", algorithm=4, destinations=[
        {"node": nodes["ast-central"], "priority": 10, "weight": 2},
        {"node": nodes["ast-branch1"], "attrs": "duid=branch1"}])


def _code(actor, code="*125", **fields):
    fields = {"name": "Conference", "kind": "conference", "route_to": "node", **fields}
    return actions.create_service_code(actor=actor, code=code, **fields)


# --- dispatcher sets --------------------------------------------------------------------------------------------


def test_a_dispatcher_set_becomes_kamailio_dispatcher_rows_with_priority_weight_and_attrs(all_set):
    rows = sorted(Dispatcher.objects.values_list("setid", "destination", "flags", "priority", "attrs"))
    assert rows == [(1, "sip:127.0.0.11:5060", 0, 10, "weight=2"),
                    (1, "sip:127.0.0.12:5060", 0, 0, "weight=1;duid=branch1")]


def test_adding_and_removing_a_node_keeps_the_other_destinations(all_set, estate, actor):
    actions.add_destination(all_set, actor=actor, node=estate["nodes"]["ast-media"], priority=5, weight=3)
    assert Dispatcher.objects.filter(setid=1).count() == 3
    assert Dispatcher.objects.get(destination="sip:127.0.0.11:5060").attrs == "weight=2"
    actions.remove_destination(all_set, actor=actor, node=estate["nodes"]["ast-central"])
    assert sorted(Dispatcher.objects.values_list("destination", flat=True)) == [
        "sip:127.0.0.12:5060", "sip:127.0.0.15:5060"]


@pytest.mark.parametrize("setid", [0, 1000])
def test_it_refuses_a_set_id_outside_the_range_services_owns(estate, actor, setid):
    with pytest.raises(ValidationError) as exc:
        actions.create_dispatcher_set(actor=actor, setid=setid, name="x")
    assert "setid" in exc.value.message_dict


def test_the_destination_lines_name_the_unknown_node_and_the_bad_setting(estate):
    with pytest.raises(ValidationError, match="Unknown Asterisk node"):
        actions.parse_destinations("ast-nope")
    with pytest.raises(ValidationError, match="unknown setting 'prio'"):
        actions.parse_destinations("ast-central prio=3")
    parsed = actions.parse_destinations("ast-central 10 2\nast-branch1 weight=5 attrs=duid=b1")
    assert [(d["node"].name, d.get("priority"), d.get("weight"), d.get("attrs")) for d in parsed] == [
        ("ast-central", 10, 2, None), ("ast-branch1", None, 5, "duid=b1")]


def test_it_refuses_to_delete_a_set_a_service_code_uses(all_set, actor):
    _code(actor, "*130", name="Echo", kind="echo", route_to="set", dispatcher_set=all_set)
    with pytest.raises(ValidationError, match=r"\*130"):
        actions.delete_dispatcher_set(all_set, actor=actor)


# --- service codes: clashes -------------------------------------------------------------------------------------


def test_it_refuses_a_code_equal_to_another(estate, actor):
    _code(actor, "*125", node=estate["nodes"]["ast-media"])
    with pytest.raises(ValidationError) as exc:
        _code(actor, "*125", node=estate["nodes"]["ast-media"])
    assert "already the code of Conference" in str(exc.value.message_dict["code"])


@pytest.mark.parametrize("code", ["*12", "*1250"])
def test_it_refuses_a_code_that_prefixes_or_extends_another(estate, actor, code):
    _code(actor, "*125", node=estate["nodes"]["ast-media"])
    with pytest.raises(ValidationError) as exc:
        _code(actor, code, name="Other", kind="echo", node=estate["nodes"]["ast-media"])
    assert "one is a prefix of the other" in " ".join(exc.value.message_dict["code"])
    assert ServiceCode.objects.count() == 1


@pytest.mark.parametrize("code, hit", [("2000", "2000"), ("20", "2000"), ("41", "4100"), ("100005", "1000")])
def test_it_refuses_a_code_colliding_with_an_extension_range(estate, actor, code, hit):
    with pytest.raises(ValidationError) as exc:
        _code(actor, code, node=estate["nodes"]["ast-media"])
    message = " ".join(exc.value.message_dict["code"])
    assert f"collides with extension {hit}" in message


def test_a_code_outside_every_range_and_prefix_is_accepted(estate, actor):
    assert _code(actor, "700", node=estate["nodes"]["ast-media"]).code == "700"


def test_a_user_cannot_take_an_extension_a_service_code_reserves(estate, actor):
    from sites.actions import update_site
    from users import actions as user_actions
    from users.validators import extension_available

    update_site(estate["central"], actor=actor, ranges=[(1000, 3999), (7000, 7999)])
    # the code came first (range added later): the user is refused
    ServiceCode.objects.create(code="7100", name="Legacy IVR", kind="ivr", route_to="node", parameter="ivr",
                               node=estate["nodes"]["ast-central"])
    with pytest.raises(ValidationError) as exc:
        extension_available(7100)
    assert "service code 7100" in str(exc.value)
    with pytest.raises(ValidationError):
        user_actions.create_user(actor=actor, extension=7100, name="Clash", site=estate["central"])
    extension_available(7101)


@pytest.mark.parametrize("code", ["12a", "**1", "", "*1234567890123456"])
def test_it_refuses_a_malformed_code(estate, actor, code):
    with pytest.raises(ValidationError):
        _code(actor, code, node=estate["nodes"]["ast-media"])


@pytest.mark.parametrize("fields, field", [
    ({"route_to": "set"}, "dispatcher_set"),
    ({"route_to": "node"}, "node"),
    ({"route_to": "home", "kind": "announcement"}, "announcement"),
    ({"route_to": "home", "kind": "ivr"}, "parameter"),
])
def test_a_code_needs_what_serves_it(estate, actor, fields, field):
    with pytest.raises(ValidationError) as exc:
        _code(actor, "*140", **fields)
    assert field in exc.value.message_dict


# --- service codes: projections ---------------------------------------------------------------------------------


def test_a_code_becomes_a_dialplan_rule_naming_its_set_and_algorithm(all_set, actor):
    _code(actor, "*125", route_to="set", dispatcher_set=all_set)
    rule = DialplanRule.objects.get(dpid=1)
    assert (rule.match_op, rule.match_exp, rule.match_len, rule.repl_exp, rule.attrs) == (
        0, "*125", 4, "*125", "svc=conference;setid=1;alg=4")


def test_codes_served_by_a_node_or_the_home_site_say_so_in_attrs(estate, actor):
    _code(actor, "*130", name="Echo", kind="echo", node=estate["nodes"]["ast-media"])
    _code(actor, "*123", name="Voicemail", kind="voicemail", route_to="home")
    attrs = dict(DialplanRule.objects.filter(dpid=1).values_list("match_exp", "attrs"))
    assert attrs == {"*130": "svc=echo;dst=sip:127.0.0.15:5060", "*123": "svc=voicemail;target=home"}
    home = sorted(DialplanRule.objects.filter(dpid=4).values_list("match_exp", "repl_exp", "attrs"))
    assert home == [("^[1-3][0-9]{3}$", "sip:127.0.0.11:5060", "site=central"),
                    ("^[4-5][0-9]{3}$", "sip:127.0.0.12:5060", "site=branch1")]


def test_voicemail_opens_the_callers_own_mailbox_in_every_site_context(estate, actor):
    _code(actor, "*123", name="Voicemail", kind="voicemail", route_to="home")
    rows = list(AsteriskExtension.objects.filter(exten="*123").values_list("context", "priority", "app", "appdata"))
    assert rows == [
        ("site-branch1", 1, "Answer", ""), ("site-branch1", 2, "VoiceMailMain", "${CALLERID(num)}@branch1"),
        ("site-branch1", 3, "Hangup", ""),
        ("site-central", 1, "Answer", ""), ("site-central", 2, "VoiceMailMain", "${CALLERID(num)}@central"),
        ("site-central", 3, "Hangup", "")]


@pytest.mark.parametrize("fields, app, appdata", [
    ({"kind": "echo"}, "Echo", ""),
    ({"kind": "conference", "parameter": "room1"}, "ConfBridge", "room1"),
    ({"kind": "ivr", "parameter": "ivr-main"}, "Goto", "ivr-main,s,1"),
    # the site's uploaded announcement through the node's static [va-announce], else the stock sound
    ({"kind": "announcement", "announcement": "user_unavailable"}, "Gosub",
     "va-announce,user_unavailable,1(vm-nobodyavail)"),
    ({"kind": "announcement", "announcement": "service_unavailable"}, "Gosub",
     "va-announce,service_unavailable,1(ss-noservice)"),
    ({"kind": "announcement", "announcement": "ringback"}, "Goto", "va-ringback,s,1"),
    ({"kind": "announcement", "announcement": "service_unavailable", "parameter": "tt-monkeys"}, "Playback",
     "tt-monkeys,noanswer"),
    ({"kind": "double_dial", "parameter": "PJSIP/1000&DAHDI/g2/1000"}, "Dial", "PJSIP/1000&DAHDI/g2/1000,30"),
])
def test_each_kind_of_code_renders_its_asterisk_application(estate, actor, fields, app, appdata):
    _code(actor, "*150", route_to="home", **fields)
    apps = set(AsteriskExtension.objects.filter(context="site-central", exten="*150").values_list("app", "appdata"))
    assert (app, appdata) in apps


def test_renaming_or_disabling_or_deleting_a_code_moves_its_rows(estate, actor):
    code = _code(actor, "*130", name="Echo", kind="echo", route_to="home")
    actions.update_service_code(code, actor=actor, code="*131")
    assert set(AsteriskExtension.objects.values_list("exten", flat=True)) == {"*131"}
    assert DialplanRule.objects.get(dpid=1).match_exp == "*131"
    actions.update_service_code(code, actor=actor, enabled=False)
    assert not AsteriskExtension.objects.exists() and not DialplanRule.objects.filter(dpid=1).exists()
    actions.update_service_code(code, actor=actor, enabled=True)
    actions.delete_service_code(code, actor=actor)
    assert not AsteriskExtension.objects.exists() and not DialplanRule.objects.filter(dpid=1).exists()


def test_a_digit_code_leaves_no_rows_behind_when_renamed(estate, actor):
    code = _code(actor, "700", name="Echo", kind="echo", route_to="home")
    actions.update_service_code(code, actor=actor, code="*700")
    assert set(AsteriskExtension.objects.values_list("exten", flat=True)) == {"*700"}


@pytest.mark.postgres
def test_the_extensions_table_has_the_contracts_exact_columns(require_postgres):
    from django.db import connection

    contract = json.loads(CONTRACT.read_text())["tables"]["extensions"]
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT column_name,
                   CASE WHEN data_type = 'character varying'
                        THEN 'character varying(' || character_maximum_length || ')' ELSE data_type END,
                   is_nullable = 'YES'
            FROM information_schema.columns WHERE table_name = 'extensions' ORDER BY ordinal_position""")
        columns = [(name, kind, nullable) for name, kind, nullable in cursor.fetchall()]
    assert columns == [(c["name"], c["type"], c["nullable"]) for c in contract["columns"]]


def test_changes_queue_one_reload_per_kind_for_kamailio_and_none_for_the_asterisks(estate, actor):
    from push.models import PushJob
    from sites.actions import create_kamailio_node

    create_kamailio_node(actor=actor, name="kamailio-1", sip_address="127.0.0.1:9",
                         jsonrpc_url="http://127.0.0.1:9/RPC")
    PushJob.objects.all().delete()  # (a new Kamailio node is asked to re-read every table: not under test)
    _code(actor, "*130", name="Echo", kind="echo", route_to="home")
    commands = sorted(PushJob.objects.values_list("node_name", "command"))
    assert ("kamailio-1", "dialplan.reload") in commands
    # the code's extensions rows are realtime: pbx_realtime reads them on the next call
    assert not [c for c in commands if c[0].startswith("ast-")]
    assert ("kamailio-1", "dispatcher.reload") not in commands


# --- inbound numbers --------------------------------------------------------------------------------------------


def test_a_ddi_rings_a_user_or_a_service_through_dialplan_dpid_3(estate, actor):
    from users import actions as user_actions

    user = user_actions.create_user(actor=actor, extension=1000, name="Reception", site=estate["central"])
    ivr = _code(actor, "*140", name="IVR", kind="ivr", parameter="ivr-main", node=estate["nodes"]["ast-central"])
    actions.create_inbound_number(actor=actor, number="+34 911 000 100", target="user", user=user)
    main = actions.create_inbound_number(actor=actor, number="+34911000000", target="service", service_code=ivr)
    rules = sorted(DialplanRule.objects.filter(dpid=3).values_list("match_exp", "repl_exp", "attrs"))
    assert rules == [("+34911000000", "*140", f"ddi={main.pk};target=service"),
                     ("+34911000100", "1000", rules[1][2])]
    with pytest.raises(ValidationError, match="still ring"):
        actions.delete_service_code(ivr, actor=actor)


def test_a_ddi_needs_its_target(estate, actor):
    with pytest.raises(ValidationError) as exc:
        actions.create_inbound_number(actor=actor, number="+34911000001", target="user")
    assert "user" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        actions.create_inbound_number(actor=actor, number="12", target="service")
    assert "number" in exc.value.message_dict


def test_range_patterns_match_exactly_the_range():
    import re

    for start, end in [(1000, 3999), (4000, 5999), (1234, 1399), (5, 123), (0, 9), (99, 101)]:
        patterns = [re.compile(p) for p in range_patterns(start, end)]
        for n in range(max(0, start - 150), end + 150):
            assert sum(bool(p.match(str(n))) for p in patterns) == (1 if start <= n <= end else 0), (start, end, n)


# --- pages ------------------------------------------------------------------------------------------------------


def test_the_services_nav_entry_lands_on_service_codes_with_tabs(admin_client, all_set, actor):
    _code(actor, "*125", route_to="set", dispatcher_set=all_set)
    body = admin_client.get(reverse("services:index")).content.decode()
    assert "*125" in body and 'id="sub-nav"' in body and reverse("services:dispatcherset_list") in body


@pytest.mark.parametrize("url_name", ["services:servicecode_list", "services:dispatcherset_list",
                                      "services:inboundnumber_list"])
def test_service_lists_use_the_same_number_of_queries_for_one_or_many_rows(
        admin_client, estate, actor, django_assert_max_num_queries, url_name):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from users import actions as user_actions

    def make(i):
        dset = actions.create_dispatcher_set(actor=actor, setid=10 + i, name=f"set{i}", destinations=[
            {"node": estate["nodes"]["ast-central"]}, {"node": estate["nodes"]["ast-branch1"]}])
        code = _code(actor, f"*19{i}", name=f"Code {i}", route_to="set", dispatcher_set=dset)
        user = user_actions.create_user(actor=actor, extension=1100 + i, name=f"U{i}", site=estate["central"])
        actions.create_inbound_number(actor=actor, number=f"+3491100010{i}", target="user", user=user)
        actions.create_inbound_number(actor=actor, number=f"+3491100020{i}", target="service", service_code=code)

    make(0)
    with CaptureQueriesContext(connection) as one:
        assert admin_client.get(reverse(url_name)).status_code == 200
    for i in range(1, 6):
        make(i)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert admin_client.get(reverse(url_name)).status_code == 200


def test_a_clashing_code_entered_in_the_form_gets_a_clear_error(admin_client, estate, actor):
    response = admin_client.post(reverse("services:servicecode_add"), {
        "code": "2000", "name": "Bad", "kind": "echo", "enabled": "on", "route_to": "home"})
    assert response.status_code == 400
    assert "collides with extension 2000 of site Central" in response.content.decode()
    assert not ServiceCode.objects.exists()


def test_the_dispatcher_set_form_takes_destination_lines(admin_client, estate):
    response = admin_client.post(reverse("services:dispatcherset_add"), {
        "setid": "2", "name": "media", "algorithm": "8", "description": "",
        "destination_lines": "ast-central priority=10\nast-media priority=5 weight=3"})
    assert response.status_code == 302, response.content.decode()[:3000]
    dset = DispatcherSet.objects.get(setid=2)
    page = admin_client.get(dset.get_absolute_url()).content.decode()
    assert "weight=3" in page and "sip:127.0.0.15:5060" in page
    edit = admin_client.get(reverse("services:dispatcherset_edit", args=[dset.pk])).content.decode()
    assert "ast-media priority=5 weight=3 flags=0" in edit


def test_the_code_detail_shows_its_asterisk_rows(admin_client, estate, actor):
    code = _code(actor, "*123", name="Voicemail", kind="voicemail", route_to="home")
    body = admin_client.get(code.get_absolute_url()).content.decode()
    assert "VoiceMailMain" in body and "svc=voicemail;target=home" in body


def test_billing_sees_codes_but_not_the_estate_check(client, django_user_model, all_set):
    from django.contrib.auth.models import Group

    carol = django_user_model.objects.create_user(username="carol", password="x")
    carol.groups.add(Group.objects.get(name="Billing"))
    client.force_login(carol)
    assert client.get(reverse("services:index")).status_code == 200
    assert client.get(reverse("services:estate_check")).status_code == 403
    assert client.post(reverse("services:estate_check")).status_code == 403


def test_the_helpdesk_cannot_see_services(helpdesk_client, estate):
    assert helpdesk_client.get(reverse("services:index")).status_code == 403


# --- following changes made in other apps ------------------------------------------------------------------------


def test_moving_an_asterisk_node_moves_its_dispatcher_rows_and_e1_destination(all_set, estate, actor):
    from sites import actions as site_actions
    from trunks import actions as trunk_actions

    node = estate["nodes"]["ast-central"]
    e1 = trunk_actions.create_e1_trunk(actor=actor, name="e1-pstn", asterisk_node=node, span=1)
    route = trunk_actions.create_route(actor=actor, name="national", pattern="^9[0-9]{8}$", trunks=[e1])
    site_actions.update_asterisk_node(node, actor=actor, host="127.0.0.21")
    assert "sip:127.0.0.21:5060" in set(Dispatcher.objects.filter(setid=1).values_list("destination", flat=True))
    assert Dispatcher.objects.get(setid=route.setid).destination == "sip:127.0.0.21:5060"
    assert DialplanRule.objects.get(dpid=4, attrs="site=central").repl_exp == "sip:127.0.0.21:5060"


def test_a_new_site_gets_the_codes_and_its_home_rules(estate, actor):
    from sites import actions as site_actions

    _code(actor, "*130", name="Echo", kind="echo", route_to="home")
    site = site_actions.create_site(actor=actor, name="Branch 2", slug="branch2", sip_domain="voip.example.test",
                                    ranges=[(6000, 7999)])
    site_actions.create_asterisk_node(actor=actor, name="ast-branch2", site=site, host="127.0.0.13", roles="pbx")
    assert AsteriskExtension.objects.filter(context="site-branch2", exten="*130").exists()
    assert DialplanRule.objects.filter(dpid=4, attrs="site=branch2", repl_exp="sip:127.0.0.13:5060").exists()


def test_a_user_whose_extension_changes_keeps_the_ddi_that_rings_them(estate, actor):
    from users import actions as user_actions

    user = user_actions.create_user(actor=actor, extension=1000, name="Reception", site=estate["central"])
    actions.create_inbound_number(actor=actor, number="+34911000100", target="user", user=user)
    user_actions.update_user(user, actor=actor, extension=1010)
    assert DialplanRule.objects.get(dpid=3).repl_exp == "1010"


# --- what Kamailio's columns can hold ---------------------------------------------------------------------------

LONG_HOST = ".".join(["asterisk-node-host"] * 10) + ".test"  # 194 characters: a valid name, too wide for Kamailio


def test_a_node_whose_uri_kamailios_dispatcher_table_cannot_hold_is_refused_in_a_set(estate, actor):
    from sites import actions as site_actions

    node = site_actions.create_asterisk_node(actor=actor, name="ast-long", site=estate["central"], host=LONG_HOST)
    with pytest.raises(ValidationError) as exc:
        actions.create_dispatcher_set(actor=actor, setid=7, name="long", destinations=[{"node": node}])
    assert "ast-long: Its SIP URI is 203 characters; Kamailio's dispatcher table takes at most 192" in " ".join(
        exc.value.message_dict["destinations"])
    assert not DispatcherSet.objects.exists() and not Dispatcher.objects.filter(setid=7).exists()


def test_a_code_whose_dialplan_attrs_would_be_cut_is_refused_not_truncated(estate, actor):
    from sites import actions as site_actions

    node = site_actions.create_asterisk_node(actor=actor, name="ast-mid", site=estate["central"],
                                             host="conference-media-01.central.example.test")
    with pytest.raises(ValidationError) as exc:
        _code(actor, "*125", node=node)
    assert "serve this code through a dispatcher set" in " ".join(exc.value.message_dict["node"])
    assert not ServiceCode.objects.exists() and not DialplanRule.objects.filter(dpid=1).exists()


def test_a_node_host_change_that_kamailio_could_not_hold_is_refused_and_changes_nothing(estate, all_set, actor):
    from sites import actions as site_actions

    media = estate["nodes"]["ast-media"]
    _code(actor, "*125", node=media)
    with pytest.raises(ValidationError) as exc:
        site_actions.update_asterisk_node(media, actor=actor, host="conference-media-01.central.example.test")
    assert "dialplan rule" in " ".join(exc.value.message_dict["host"])
    central = estate["nodes"]["ast-central"]
    with pytest.raises(ValidationError) as exc:
        site_actions.update_asterisk_node(central, actor=actor, host=LONG_HOST)
    assert "dispatcher table" in " ".join(exc.value.message_dict["host"])
    assert set(Dispatcher.objects.filter(setid=1).values_list("destination", flat=True)) == {
        "sip:127.0.0.11:5060", "sip:127.0.0.12:5060"}


def test_the_api_answers_a_400_for_a_node_kamailio_could_not_hold(admin_client, estate, actor):
    from sites import actions as site_actions

    node = site_actions.create_asterisk_node(actor=actor, name="ast-long", site=estate["central"], host=LONG_HOST)
    response = admin_client.post(reverse("api:dispatcherset-list"), {
        "setid": 7, "name": "long", "algorithm": 4, "destinations": [{"node": node.pk}]},
        content_type="application/json")
    assert response.status_code == 400 and "dispatcher table" in str(response.json())


def test_a_node_whose_uri_no_home_rule_could_hold_is_refused(estate, actor):
    from sites import actions as site_actions
    from sites.models import AsteriskNode

    host = ".".join(["asterisk-node-host"] * 13) + ".test"  # 251 characters, sip:…:5060 is 260
    with pytest.raises(ValidationError) as exc:
        site_actions.create_asterisk_node(actor=actor, name="ast-long", site=estate["central"], host=host,
                                          roles="voicemail")
    assert "Kamailio's dialplan table" in " ".join(exc.value.message_dict["host"])
    assert not AsteriskNode.objects.filter(name="ast-long").exists()


def test_a_site_cannot_take_a_range_that_swallows_a_digit_service_code(estate, actor):
    from sites.actions import update_site
    from sites.models import ExtensionRange

    _code(actor, "700", node=estate["nodes"]["ast-media"])
    with pytest.raises(ValidationError) as exc:
        update_site(estate["central"], actor=actor, ranges=[(1000, 3999), (7000, 7999)])
    assert "Range 7000-7999 would collide with service code 700 (Conference) at extension 7000" in " ".join(
        exc.value.messages)
    assert not ExtensionRange.objects.filter(start=7000).exists()
    update_site(estate["central"], actor=actor, ranges=[(1000, 3999), (8000, 8999)])  # elsewhere is fine
    assert ExtensionRange.objects.filter(start=8000).exists()
