"""The trace against the suite's real Kamailio 5.6: what the portal computes is what Kamailio answers
(``dialplan.translate``, ``dispatcher.list``) once it has loaded the tables; a change saved but not pushed is
flagged; a stopped Kamailio is reported as unreachable, never a 500."""
from __future__ import annotations

import pytest
from django.urls import reverse

from services import actions, trace
from tests.services.test_trace import services  # noqa: F401 - the fixture: set 1, codes, users, a route, DDIs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio]


@pytest.fixture
def loaded(live_kamailio, settings, services):  # noqa: F811
    """The estate saved with pushes off, then Kamailio told to load its tables (as a push would)."""
    settings.LIVE_RELOAD = False
    live_kamailio.rpc("dispatcher.reload")
    live_kamailio.rpc("dialplan.reload")
    return services


def live(result: trace.Trace) -> trace.NodeVerdict:
    [verdict] = trace.check_live(result, trace.ask_kamailio(result))
    return verdict


@pytest.mark.parametrize("number, stage", [("*130", "services"), ("*125", "services"), ("4321", "to_asterisk"),
                                           ("0049301234567", "pstn")])
def test_the_trace_agrees_with_the_live_kamailio(loaded, live_kamailio, number, stage):
    result = trace.trace_call(number, user=loaded["users"][1001])
    assert result.steps[-1].stage == stage and result.steps[-1].matched

    verdict = live(result)
    assert (verdict.node, verdict.status) == ("kamailio-test", "agrees"), [f.text for f in verdict.findings]
    # every lookup Kamailio runs on the way was asked: the stages that did not match said "no rule" too
    assert len([f for f in verdict.findings if f.text.startswith("dialplan ")]) == len(result.lookups)
    if result.steps[-1].setid is not None:
        assert any(f.ok and f.text.startswith(f"dispatcher set {result.steps[-1].setid} as the portal computes")
                   for f in verdict.findings)


def test_a_carriers_ddi_agrees_with_the_live_kamailio(loaded, live_kamailio):
    result = trace.trace_call("+34911000000", trunk=loaded["itsp"])
    assert live(result).status == "agrees"


def test_a_dispatcher_set_changed_without_a_push_is_flagged_until_kamailio_reloads(loaded, live_kamailio, actor):
    nodes = loaded["nodes"]
    actions.update_dispatcher_set(loaded["set"], actor=actor, destinations=[
        {"node": nodes["ast-central"], "priority": 10}, {"node": nodes["ast-media"], "priority": 5}])

    result = trace.trace_call("*130", user=loaded["users"][1001])
    assert [h.name for h in result.steps[-1].hops] == ["ast-central", "ast-media"]
    verdict = live(result)
    assert verdict.status == "differs"
    texts = sorted(f.text for f in verdict.differences)
    assert texts == [
        "dispatcher set 1: only in Kamailio: set=1 uri=sip:127.0.0.12:5060 priority=0 attrs=weight=1",
        "dispatcher set 1: only in the portal: set=1 uri=sip:127.0.0.15:5060 priority=5 attrs=weight=1",
    ]

    live_kamailio.rpc("dispatcher.reload")
    assert live(result).status == "agrees"


def test_a_code_deleted_without_a_push_is_flagged_as_a_rule_kamailio_still_has(loaded, live_kamailio, actor):
    actions.delete_service_code(loaded["codes"]["*130"], actor=actor)

    result = trace.trace_call("*130", user=loaded["users"][1001])
    assert result.matched_nothing
    verdict = live(result)
    assert verdict.status == "differs"
    assert any(f.text.startswith("dialplan 1 *130: Kamailio answers *130 [svc=echo;setid=1;alg=4], the portal "
                                 "computes no rule") for f in verdict.differences)


def test_a_stopped_kamailio_is_reported_unreachable_on_the_page(loaded, live_kamailio, admin_client):
    live_kamailio.stop()
    response = admin_client.get(reverse("services:trace"), {"caller": f"user:{loaded['users'][1001].pk}",
                                                            "number": "*130"})
    assert response.status_code == 200
    [verdict] = response.context["verdicts"]
    assert (verdict.status, verdict.reason) == ("unreachable", "connection refused")
    page = response.content.decode()
    assert 'data-status="unreachable"' in page
    assert 'data-stage="services" data-matched="yes"' in page  # the portal's path is still shown
