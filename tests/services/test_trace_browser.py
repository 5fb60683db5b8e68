"""In a real browser: Alice picks a user and a number on the trace page and reads the path the call takes."""
from __future__ import annotations


import pytest
from django.core.management import call_command

from tests.browser_fixtures import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_administrator_traces_a_conference_call_and_a_pstn_call(browser, live_server, alice):
    from users.models import SipUser

    from sites import actions as site_actions
    from sites.models import KamailioNode
    from tests.kamailio.harness import free_port
    from voipadmin.actors import Actor

    call_command("load_demo_estate")
    for node in KamailioNode.objects.all():  # a loopback port nobody listens on: the live check says so
        site_actions.update_kamailio_node(node, actor=Actor(user=alice, label="alice", source="ui"),
                                          jsonrpc_url=f"http://127.0.0.1:{free_port(udp=False)}/RPC")
    caller = SipUser.objects.order_by("extension").first()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")

    page.click("#main-nav a:has-text('Services')")
    page.click("text=Trace a call")
    page.select_option("#id_caller", f"user:{caller.pk}")
    page.fill("#id_number", "*125")
    page.click("#trace-submit")
    page.wait_for_load_state("networkidle")

    steps = page.locator("#trace-path .trace-step")
    assert steps.count() == 2
    assert steps.nth(0).get_attribute("data-stage") == "caller"
    service = steps.nth(1)
    assert service.get_attribute("data-stage") == "services" and service.get_attribute("data-matched") == "yes"
    assert "Service code *125 Conference rooms" in service.inner_text()
    assert service.locator(".step-hops li").first.inner_text().startswith("ast-central")
    assert "*125 Conference rooms on ast-central" in page.locator("#trace-outcome").inner_text()
    # the Kamailio node does not answer: said so, with the portal's path still shown
    assert page.locator("#trace-live .live-node").first.get_attribute("data-status") == "unreachable"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "services-trace.png"), full_page=True)

    page.fill("#id_number", "600123456")
    page.click("#trace-submit")
    page.wait_for_load_state("networkidle")
    last = page.locator("#trace-path .trace-step").last
    assert last.get_attribute("data-stage") == "pstn"
    assert [h.split()[0] for h in last.locator(".step-hops li").all_inner_texts()] == ["itsp-carrier", "e1-pstn"]
    assert "+34600123456" in page.locator("#trace-outcome").inner_text()

    page.fill("#id_number", "12ab")
    page.click("#trace-submit")
    page.wait_for_load_state("networkidle")
    assert "Enter digits" in page.locator(".invalid-feedback").inner_text()
    assert page.locator("#trace-path").count() == 0
    page.close()
