"""What happens when X dials Y: the path computed from the portal's objects, in kamailio.cfg's order, and the
live check's verdicts from RPC answers (no Kamailio here: answers are built by hand or come from the fake)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from services import actions, trace
from services.trace import NodeAnswers, RpcFailure
from sites import actions as site_actions
from trunks import actions as trunk_actions
from users import actions as user_actions

pytestmark = pytest.mark.django_db


@pytest.fixture
def services(estate, actor):
    """Set 1 (the estate's Asterisks, round robin), *130 on it, *125 on ast-media, *123 at home; users 1001
    (central) and 4321 (branch1); the international route (ITSP first, the E1 as backup); two DDIs."""
    nodes = estate["nodes"]
    asterisks = actions.create_dispatcher_set(actor=actor, setid=1, name="asterisks", algorithm=4, destinations=[
        {"node": nodes["ast-central"], "priority": 10}, {"node": nodes["ast-branch1"], "priority": 0}])
    codes = {
        "*130": actions.create_service_code(actor=actor, code="*130", name="Echo test", kind="echo",
                                            route_to="set", dispatcher_set=asterisks),
        "*125": actions.create_service_code(actor=actor, code="*125", name="Conference rooms", kind="conference",
                                            route_to="node", node=nodes["ast-media"], parameter="estate"),
        "*123": actions.create_service_code(actor=actor, code="*123", name="Voicemail", kind="voicemail",
                                            route_to="home"),
        "*140": actions.create_service_code(actor=actor, code="*140", name="Auto-attendant", kind="ivr",
                                            route_to="node", node=nodes["ast-central"], parameter="ivr-main"),
    }
    users = {ext: user_actions.create_user(actor=actor, extension=ext, name=f"User {ext}", site=estate[site])
             for ext, site in ((1001, "central"), (4321, "branch1"))}
    itsp = trunk_actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host="127.0.0.20",
                                           ip_addresses="127.0.0.20")
    e1 = trunk_actions.create_e1_trunk(actor=actor, name="e1-pstn", asterisk_node=nodes["ast-central"], span=1)
    route = trunk_actions.create_route(actor=actor, name="international", pattern="^00[1-9][0-9]{4,}$", strip=2,
                                       prepend="+", priority=70, trunks=[itsp, e1])
    actions.create_inbound_number(actor=actor, number="+34911000100", target="user", user=users[4321])
    actions.create_inbound_number(actor=actor, number="+34911000000", target="service", service_code=codes["*140"])
    return {"set": asterisks, "codes": codes, "users": users, "itsp": itsp, "e1": e1, "route": route,
            "nodes": nodes}


def stages(result: trace.Trace) -> list[tuple[str, bool]]:
    return [(step.stage, step.matched) for step in result.steps]


def hops(step: trace.Step) -> list[str]:
    return [hop.name for hop in step.hops]


# --- each kind of path ------------------------------------------------------------------------------------------


def test_a_service_code_served_by_a_set_goes_to_its_nodes_and_says_what_round_robin_means(services):
    result = trace.trace_call("*130", user=services["users"][1001])

    assert stages(result) == [("caller", True), ("services", True)]
    step = result.steps[-1]
    assert step.title == "Service code *130 Echo test (Echo test)"
    assert (step.setid, step.algorithm, hops(step)) == (1, 4, ["ast-central", "ast-branch1"])
    assert "round robin" in step.algorithm_note and "next node" in step.algorithm_note
    assert step.lookups[0].expected == {"Output": "*130", "Attributes": "svc=echo;setid=1;alg=4"}
    assert any("Playback(demo-echotest)" in d for d in step.details)
    assert result.outcome == "*130 Echo test on ast-central, ast-branch1 (round robin)."


def test_a_code_on_one_node_names_that_node_first_then_its_fallback_set(services):
    result = trace.trace_call("*125", user=services["users"][1001])

    step = result.steps[-1]
    assert hops(step) == ["ast-media", "ast-central", "ast-branch1"]
    assert step.hops[0].note == "the code's own node"
    assert step.setid == 1 and step.algorithm == 8  # the fallback set, first by priority
    assert any("fallback set 1" in d for d in step.details)
    assert any("Answer → ConfBridge(estate) → Hangup" in d for d in step.details)
    assert result.outcome == ("*125 Conference rooms on ast-media; while it is down, set 1: "
                              "ast-central then ast-branch1.")


def test_voicemail_at_home_goes_to_the_callers_own_sites_asterisk(services):
    result = trace.trace_call("*123", user=services["users"][4321])

    caller, step = result.steps
    assert caller.lookups[0].expected == {"Output": "sip:127.0.0.12:5060", "Attributes": "site=branch1"}
    assert hops(step)[0] == "ast-branch1"
    assert any("VoiceMailMain(${CALLERID(num)}@branch1)" in d for d in step.details)


def test_an_extension_goes_through_every_earlier_stage_then_to_its_sites_asterisk(services):
    result = trace.trace_call("4321", user=services["users"][1001])

    assert stages(result) == [("caller", True), ("services", False), ("location", False), ("pstn", False),
                              ("to_asterisk", True)]
    step = result.steps[-1]
    assert step.title == "Extension 4321 of site branch1"
    assert hops(step) == ["ast-branch1"] and step.details == ["User 4321 User 4321"]
    assert not result.matched_nothing
    assert result.outcome == "Extension 4321: to ast-branch1 (site branch1)."


def test_an_extension_nobody_has_is_flagged(services):
    step = trace.trace_call("4999", user=services["users"][1001]).steps[-1]
    assert step.matched and step.flags == ["No user has extension 4999: the Asterisk will not find it."]


def test_a_pstn_number_takes_its_routes_trunks_itsp_first_e1_as_backup(services):
    result = trace.trace_call("0049301234567", user=services["users"][1001])

    assert stages(result)[-1] == ("pstn", True)
    step = result.steps[-1]
    assert step.lookups[0].expected == {"Output": "+49301234567",
                                        "Attributes": f"route={services['route'].pk};setid="
                                                      f"{services['route'].setid};alg=8"}
    assert hops(step) == ["itsp-carrier", "e1-pstn"]
    assert [h.uri for h in step.hops] == ["sip:127.0.0.20:5060", "sip:127.0.0.11:5060"]
    assert "ITSP" in step.hops[0].note and "E1 line" in step.hops[1].note
    assert step.algorithm == 8 and "highest-priority" in step.algorithm_note
    assert result.outcome == "Out to the PSTN as +49301234567 by route international: itsp-carrier then e1-pstn."


def test_a_carriers_call_to_a_ddi_rings_its_user_and_never_goes_back_out(services):
    result = trace.trace_call("+34911000100", trunk=services["itsp"])

    assert stages(result) == [("caller", True), ("inbound", True), ("services", False), ("location", False),
                              ("pstn", False), ("to_asterisk", True)]
    assert "address group 2" in result.steps[0].why
    assert result.steps[1].title == "DDI +34911000100 → 4321"
    assert result.steps[4].title == "PSTN routes: skipped"
    assert hops(result.steps[-1]) == ["ast-branch1"]


def test_a_ddi_mapped_to_an_ivr_code_goes_to_the_codes_node(services):
    result = trace.trace_call("+34911000000", trunk=services["e1"])

    assert stages(result) == [("caller", True), ("inbound", True), ("services", True)]
    assert "X-VA-Inbound: e1-pstn" in result.steps[0].why
    assert hops(result.steps[-1])[0] == "ast-central"
    assert any("Goto(ivr-main,s,1)" in d for d in result.steps[-1].details)


def test_an_unknown_ddi_is_a_404_and_says_it_matches_nothing(services):
    result = trace.trace_call("+34911999999", trunk=services["itsp"])

    assert stages(result) == [("caller", True), ("inbound", False)]
    assert result.matched_nothing
    assert result.outcome == "404 Unknown Number: +34911999999 is not an inbound number of the estate."


def test_a_number_that_matches_nothing_says_so_and_goes_to_set_1(services):
    result = trace.trace_call("777", user=services["users"][1001])

    assert result.matched_nothing
    step = result.steps[-1]
    assert (step.stage, step.matched, step.setid, step.algorithm) == ("to_asterisk", False, 1, 4)
    assert result.outcome == ("777 matches no service code, extension or PSTN route: to the estate's Asterisks, "
                              "ast-central, ast-branch1 (round robin).")


def test_a_number_that_matches_nothing_without_set_1_is_a_404(estate, actor):
    user = user_actions.create_user(actor=actor, extension=1001, name="Ana", site=estate["central"])
    result = trace.trace_call("777", user=user)
    assert result.matched_nothing and result.outcome.endswith("404 Not Found.")
    assert result.steps[-1].flags == ["Set 1 has no destination: Kamailio answers 404 Not Found."]


def test_a_disabled_user_is_refused_before_any_routing(services, actor):
    user = user_actions.update_user(services["users"][1001], actor=actor, enabled=False)
    result = trace.trace_call("*130", user=user)
    assert stages(result) == [("caller", True)]
    assert result.outcome.startswith("Refused")


def test_a_ddi_dialled_from_a_phone_is_not_rewritten_and_the_trace_says_why(services):
    result = trace.trace_call("+34911000100", user=services["users"][1001])
    assert result.steps[-1].stage == "to_asterisk"
    assert any("only a carrier's call is rewritten" in d for d in result.steps[-1].details)


def test_a_trunk_by_registration_is_flagged_and_a_disabled_trunk_refused(services, actor):
    registered = trunk_actions.create_itsp_trunk(actor=actor, name="itsp-reg", host="127.0.0.21",
                                                 auth_mode="registration", username="34911000000",
                                                 auth_password="reg-secret")
    result = trace.trace_call("+34911000100", trunk=registered)
    assert any("challenged like a phone's" in flag for flag in result.steps[0].flags)
    assert result.steps[-1].stage == "to_asterisk"

    trunk_actions.update_itsp_trunk(services["itsp"], actor=actor, enabled=False)
    services["itsp"].refresh_from_db()
    result = trace.trace_call("+34911000100", trunk=services["itsp"])
    assert stages(result) == [("caller", True)] and result.outcome == "Refused: the trunk is disabled."


# --- order of precedence ----------------------------------------------------------------------------------------


def test_a_service_code_wins_over_a_pstn_route_for_the_same_number(services, actor):
    trunk_actions.create_route(actor=actor, name="star-codes-out", pattern="^[*]1[0-9]+$", priority=10,
                               trunks=[services["e1"]])

    result = trace.trace_call("*130", user=services["users"][1001])
    assert stages(result) == [("caller", True), ("services", True)]


def test_a_pstn_route_shadows_an_unregistered_extension(services, actor):
    trunk_actions.create_route(actor=actor, name="too-wide", pattern="^4[0-9]{3}$", priority=90,
                               trunks=[services["itsp"]])

    result = trace.trace_call("4321", user=services["users"][1001])
    assert stages(result)[-1] == ("pstn", True)
    assert result.steps[-1].title == "PSTN route too-wide: 4321 → 4321"


def test_the_lower_route_priority_wins_and_a_tie_is_flagged(services, actor):
    trunk_actions.create_route(actor=actor, name="germany", pattern="^0049[0-9]+$", priority=20, strip=4,
                               prepend="+49", trunks=[services["e1"]])
    step = trace.trace_call("0049301234567", user=services["users"][1001]).steps[-1]
    assert step.title.startswith("PSTN route germany") and hops(step) == ["e1-pstn"] and not step.flags

    trunk_actions.create_route(actor=actor, name="berlin", pattern="^004930[0-9]+$", priority=20,
                               trunks=[services["itsp"]])
    step = trace.trace_call("0049301234567", user=services["users"][1001]).steps[-1]
    assert any("same priority 20" in flag for flag in step.flags)


def test_a_registered_extension_rings_the_phone_first(services):
    from voipadmin.kamailio.models import Location

    Location.objects.create(ruid="r1", username="4321", domain="voip.example.test",
                            contact="sip:4321@127.0.0.1:5062")
    result = trace.trace_call("4321", user=services["users"][1001])

    location = result.steps[2]
    assert (location.stage, location.matched, location.details) == ("location", True, ["sip:4321@127.0.0.1:5062"])
    assert result.outcome == "Extension 4321: rings the registered phone; otherwise to ast-branch1 (site branch1)."


# --- the live check from RPC answers ----------------------------------------------------------------------------


def _answers(result: trace.Trace, node: str = "kamailio-1") -> NodeAnswers:
    """Answers exactly as the portal expects them."""
    listing = {"NRSETS": 1, "RECORDS": [{"SET": {"ID": setid, "TARGETS": [
        {"DEST": {"URI": row[3], "FLAGS": "AP", "PRIORITY": row[5], "ATTRS": {"BODY": row[7]}}} for row in rows]}}
        for setid, rows in result.expected_sets.items()]}
    return NodeAnswers(node, translations={(lk.dpid, lk.number): lk.expected for lk in result.lookups},
                       dispatcher=listing)


def test_answers_as_computed_agree(services):
    result = trace.trace_call("*125", user=services["users"][1001])
    [verdict] = trace.check_live(result, [_answers(result)])
    assert verdict.status == "agrees" and not verdict.differences
    assert all(f.ok for f in verdict.findings)


def test_a_rule_missing_in_kamailio_and_another_set_are_flagged(services):
    result = trace.trace_call("*130", user=services["users"][1001])
    answers = _answers(result)
    answers.translations[(1, "*130")] = None
    answers.dispatcher["RECORDS"][0]["SET"]["TARGETS"].pop()
    [verdict] = trace.check_live(result, [answers])

    assert verdict.status == "differs"
    texts = [f.text for f in verdict.differences]
    assert any("Kamailio answers no rule" in t and "rule missing in Kamailio" in t for t in texts), texts
    assert any(t.startswith("dispatcher set 1: only in the portal: set=1 uri=sip:127.0.0.12:5060") for t in texts)


def test_an_inactive_destination_is_a_warning(services):
    result = trace.trace_call("*130", user=services["users"][1001])
    answers = _answers(result)
    answers.dispatcher["RECORDS"][0]["SET"]["TARGETS"][0]["DEST"]["FLAGS"] = "IP"
    [verdict] = trace.check_live(result, [answers])
    warnings = [f.text for f in verdict.findings if f.level == "warning"]
    assert warnings == ["dispatcher set 1: sip:127.0.0.11:5060 is inactive (skipped until it answers a keepalive) "
                        "(FLAGS IP)"]


def test_unreachable_and_method_errors_are_told_apart(services):
    result = trace.trace_call("*130", user=services["users"][1001])
    down = NodeAnswers("kamailio-down", failure=RpcFailure(trace.UNREACHABLE, "connection refused"))
    old = _answers(result, "kamailio-old")
    old.translations = {key: RpcFailure(trace.METHOD_NOT_FOUND, "unknown method dialplan.translate")
                        for key in old.translations}
    verdicts = trace.check_live(result, [down, old, _answers(result, "kamailio-ok")])
    assert [(v.node, v.status) for v in verdicts] == [("kamailio-down", "unreachable"),
                                                      ("kamailio-old", "method not found"),
                                                      ("kamailio-ok", "agrees")]
    assert verdicts[1].reason == "unknown method dialplan.translate"


# --- the page ---------------------------------------------------------------------------------------------------


def test_the_page_shows_the_path_and_an_unreachable_kamailio_without_a_500(services, admin_client, actor):
    from tests.kamailio.harness import free_port

    site_actions.create_kamailio_node(actor=actor, name="kamailio-gone", sip_address="127.0.0.1:5060",
                                      jsonrpc_url=f"http://127.0.0.1:{free_port(udp=False)}/RPC")
    user = services["users"][1001]
    response = admin_client.get(reverse("services:trace"), {"caller": f"user:{user.pk}", "number": "*130"})

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-stage="services" data-matched="yes"' in page
    assert 'data-status="unreachable"' in page and "connection refused" in page
    assert response.context["trace"].outcome in page


def test_a_kamailio_without_the_rpc_method_is_reported_as_method_not_found(services, admin_client, actor):
    from tests.fakes.kamailio_rpc import KamailioFake, running_kamailio_fake

    original = KamailioFake.dispatch

    def without_translate(self, method, params):
        if method == "dialplan.translate":
            return 500, "Method Not Found", None
        return original(self, method, params)

    with running_kamailio_fake(dispatcher=[(1, "sip:127.0.0.11:5060")]) as fake:
        fake.dispatch = without_translate.__get__(fake)
        site_actions.create_kamailio_node(actor=actor, name="kamailio-old", sip_address="127.0.0.1:5060",
                                          jsonrpc_url=fake.url)
        response = admin_client.get(reverse("services:trace"), {"caller": "1001", "number": "*130"})

    assert response.status_code == 200
    [verdict] = response.context["verdicts"]
    assert (verdict.status, verdict.reason) == ("method not found", "unknown method dialplan.translate")
    assert 'data-status="method not found"' in response.content.decode()


@pytest.mark.parametrize("number, error", [
    ("abc", "Enter digits, optionally after a leading *, # or +"),
    ("", "This field is required."),
    ("1" * 33, "A number has at most 32 characters (this one has 33)."),
    ("12a4", "Enter digits"),
])
def test_a_bad_number_is_a_form_error(services, admin_client, number, error):
    user = services["users"][1001]
    response = admin_client.get(reverse("services:trace"), {"caller": f"user:{user.pk}", "number": number})
    assert response.status_code == 200
    assert "trace" not in response.context
    assert error in " ".join(response.context["form"].errors["number"])


@pytest.mark.parametrize("caller", ["", "user:999999", "trunk:x", "nobody", "9999"])
def test_an_unknown_caller_is_a_form_error(services, admin_client, caller):
    response = admin_client.get(reverse("services:trace"), {"caller": caller, "number": "*130"})
    assert response.status_code == 200 and "caller" in response.context["form"].errors


def test_the_form_lists_users_and_trunks_and_the_page_is_linked(services, admin_client):
    page = admin_client.get(reverse("services:trace")).content.decode()
    assert f'value="user:{services["users"][1001].pk}"' in page
    assert f'value="trunk:{services["itsp"].pk}"' in page
    assert 'id="trace-from-user"' in admin_client.get(
        reverse("users:sipuser_detail", args=[services["users"][1001].pk])).content.decode()  # (and a Services tab)
    assert reverse("services:trace") in admin_client.get(reverse("services:servicecode_list")).content.decode()


def test_the_helpdesk_may_not_trace(helpdesk_client):
    assert helpdesk_client.get(reverse("services:trace")).status_code == 403
    assert reverse("services:trace") not in helpdesk_client.get(reverse("users:sipuser_list")).content.decode()


def test_a_users_page_links_to_the_trace_with_the_user_picked_and_no_error_yet(admin_client):
    from users.models import SipUser

    from django.core.management import call_command

    call_command("load_demo_estate")
    user = SipUser.objects.order_by("extension").first()
    page = admin_client.get(f"/users/{user.pk}/").content.decode()
    assert f"/services/trace/?caller=user:{user.pk}" in page
    form = admin_client.get("/services/trace/", {"caller": f"user:{user.pk}"}).context["form"]
    assert not form.is_bound and form.initial["caller"] == f"user:{user.pk}"


def test_with_more_users_than_a_list_can_hold_the_caller_is_typed_by_extension(services, admin_client, monkeypatch):
    from services.views import TraceForm

    monkeypatch.setattr(TraceForm, "PICK_LIMIT", 1)
    response = admin_client.get(reverse("services:trace"), {"caller": "1001", "number": "*130"})
    page = response.content.decode()
    assert '<input type="text" name="caller"' in page and 'list="trace-callers"' in page
    assert '<datalist id="trace-callers">' in page and "<select" not in page.split('id="trace-form"')[1].split("</form>")[0]
    assert response.context["trace"].steps, "a typed extension still traces"
