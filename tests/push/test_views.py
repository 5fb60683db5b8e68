"""Push job pages: list with filters (constant queries), detail, "retry now", "retry all failed", node include."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from push import api, tasks
from push.api import ASTERISK, KAMAILIO
from push.models import PushJob, PushState

from .conftest import make_asterisk, make_kamailio

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def no_dispatch(monkeypatch, fast_push):
    monkeypatch.setattr(tasks, "dispatch", lambda *a, **k: None)


def _jobs(site, n: int) -> None:
    for i in range(n):
        make_kamailio(f"kam-{i}", f"http://127.0.0.1:{1000 + i}/RPC")
        make_asterisk(site, f"pbx-{i}", 2000 + i)
    api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason="r")
    api.request(ASTERISK, api.PJSIP_RELOAD, reason="r")


def _count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_job_list_costs_the_same_queries_for_one_job_or_many(admin_client, site, no_dispatch,
                                                                  require_postgres):
    url = reverse("push:pushjob_list")
    make_kamailio("kam-solo", "http://127.0.0.1:999/RPC")
    api.request(KAMAILIO, api.DISPATCHER_RELOAD)
    one = _count_queries(admin_client, url)
    _jobs(site, 15)
    PushJob.objects.filter(node_kind="asterisk").update(state=PushState.FAILED, last_error="permanent: auth")
    many = _count_queries(admin_client, url)
    assert PushJob.objects.count() == 31
    assert many == one


def test_the_list_filters_by_state_kind_node_and_command(admin_client, site, no_dispatch):
    _jobs(site, 2)
    failed = PushJob.objects.filter(node_kind="asterisk").first()
    PushJob.objects.filter(pk=failed.pk).update(state=PushState.FAILED, last_error="permanent: login refused")
    url = reverse("push:pushjob_list")

    body = admin_client.get(url, {"state": "failed"}).content.decode()
    assert f"#{failed.pk}<" in body and "login refused" in body and body.count("<tr>") == 2
    body = admin_client.get(url, {"node_kind": "kamailio", "command": api.DISPATCHER_RELOAD}).content.decode()
    assert body.count("<tr>") == 3 and "pbx-" not in body.split("object-list")[1]
    node = failed.asterisk_node
    body = admin_client.get(url, {"asterisk_node": node.pk}).content.decode()
    assert body.count("<tr>") == 2 and node.name in body
    assert "Retry all failed (1)" in body


def test_jobs_held_by_the_live_reload_switch_say_so(admin_client, site, no_dispatch, fast_push):
    fast_push.LIVE_RELOAD = False
    _jobs(site, 1)
    body = admin_client.get(reverse("push:pushjob_list")).content.decode()
    assert "Pending (held: live reload off)" in body and 'id="push-held"' in body


def test_the_detail_page_shows_the_reasons_and_a_retry_button_to_those_who_may_use_it(
        admin_client, client, site, no_dispatch, django_user_model):
    from django.contrib.auth.models import Group

    make_kamailio("kam", "http://127.0.0.1:999/RPC")
    api.request(KAMAILIO, api.DIALPLAN_RELOAD, reason="route 0034 changed")
    job = PushJob.objects.get()
    body = admin_client.get(job.get_absolute_url()).content.decode()
    assert "route 0034 changed" in body and 'id="retry-now"' in body

    billing = django_user_model.objects.create_user("dora", password="correct horse battery")
    billing.groups.add(Group.objects.get(name="Billing"))
    client.force_login(billing)
    body = client.get(job.get_absolute_url()).content.decode()
    assert "route 0034 changed" in body and 'id="retry-now"' not in body
    assert client.post(reverse("push:pushjob_retry", args=[job.pk])).status_code == 403


def test_retry_now_is_a_post_only_action_that_requeues_a_failed_job(admin_client, bob, site, no_dispatch):
    from django.test import Client

    helpdesk_client = Client()
    helpdesk_client.force_login(bob)
    make_asterisk(site, "pbx", 2000)
    api.request(ASTERISK, api.VOICEMAIL_RELOAD)
    job = PushJob.objects.get()
    PushJob.objects.filter(pk=job.pk).update(state=PushState.FAILED, attempts=3, last_error="permanent: x")
    url = reverse("push:pushjob_retry", args=[job.pk])

    assert helpdesk_client.post(url).status_code == 403
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == job.get_absolute_url()
    job.refresh_from_db()
    assert (job.state, job.attempts) == (PushState.PENDING, 0)
    assert "queued to be sent now" in response.content.decode()

    PushJob.objects.filter(pk=job.pk).update(state=PushState.SENT)
    response = admin_client.post(url, follow=True)
    assert "already sent" in response.content.decode()


def test_retry_all_failed_requeues_every_failed_job(admin_client, site, no_dispatch):
    _jobs(site, 3)
    PushJob.objects.update(state=PushState.FAILED, last_error="permanent: x")
    response = admin_client.post(reverse("push:pushjob_retry_all_failed"), follow=True)
    assert "6 push job(s) queued" in response.content.decode()
    assert set(PushJob.objects.values_list("state", flat=True)) == {PushState.PENDING}


def test_a_node_page_can_include_its_push_jobs(rf, alice, bob, site, no_dispatch):
    node = make_asterisk(site, "pbx", 2000)
    api.request(ASTERISK, api.PJSIP_RELOAD, reason="x")
    template = Template("{% load push_tags %}{% node_push_jobs node %}")
    html = template.render(Context({"node": node, "user": alice}))
    assert 'id="node-push-jobs"' in html and api.PJSIP_RELOAD in html and f"asterisk_node={node.pk}" in html
    assert template.render(Context({"node": node, "user": bob})).strip() == ""


def test_push_pending_once_sends_due_jobs_from_the_command_line(site, ami_fakes, fast_push, capsys,
                                                                monkeypatch):
    monkeypatch.setattr(tasks, "dispatch", lambda *a, **k: None)
    fake = ami_fakes.start()
    make_asterisk(site, "pbx", fake.port)
    api.request(ASTERISK, api.ASTERISK_DIALPLAN_RELOAD)
    call_command("push_pending", "--once")
    out = capsys.readouterr().out
    assert "sent 1" in out and "0 pending, 0 failed." in out
    assert fake.commands == [api.ASTERISK_DIALPLAN_RELOAD]
