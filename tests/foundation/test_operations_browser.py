"""In a real browser: an administrator reads one object's history from its page, and pauses, resumes and
cancels a node's push queue."""
from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.browser_fixtures import SHOTS, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_administrator_reads_a_users_history_by_name_from_its_page(browser, live_server, alice):
    from users import actions
    from users.models import SipUser
    from voipadmin.actors import Actor

    call_command("load_demo_estate")
    user = SipUser.objects.order_by("extension").first()
    actions.update_user(user, actor=Actor(user=alice, label="alice", source="ui"), name="Renamed in the test")
    page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/users/{user.pk}/")
    with page.expect_navigation():
        page.click("#object-history")
    assert f"object_type=users.sipuser&object_id={user.pk}" in page.url
    log = page.locator("main").inner_text()
    assert "Renamed in the test" in log and "alice" in log
    assert f"{user.extension} " in log  # the object by its name, not "#{pk}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "audit-object-history.png"), full_page=True)


def test_an_administrator_pauses_resumes_and_cancels_a_nodes_push_queue(browser, live_server, alice, settings):
    from push import api
    from push.models import PushJob, PushNodeState, PushState
    from sites.models import KamailioNode

    settings.LIVE_RELOAD = False  # (jobs stay pending: nothing is sent while the test looks at them)
    call_command("load_demo_estate")
    node = KamailioNode.objects.order_by("pk").first()
    api.request("kamailio", api.COMMANDS["kamailio"][0], node_ids=[node.pk])
    page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/push/nodes/kamailio/{node.pk}/")
    with page.expect_navigation():
        page.click("#pause-queue")
    assert page.locator("#queue-paused").is_visible()
    assert PushNodeState.objects.get(node_kind="kamailio", node_id=node.pk).paused
    with page.expect_navigation():
        page.click("#resume-queue")
    assert page.locator("#queue-paused").count() == 0
    page.on("dialog", lambda dialog: dialog.accept())  # "Cancel the N pending push job(s)…?"
    with page.expect_navigation():
        page.click("#cancel-queue")
    assert page.locator("#stale-warning").is_visible()
    assert not PushJob.objects.filter(kamailio_node=node, state=PushState.PENDING).exists()
    page.screenshot(path=str(SHOTS / "push-queue-cancelled.png"), full_page=True)
