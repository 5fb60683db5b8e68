"""An administrator can pause a node's push queue, resume it, cancel its pending jobs and push everything
again -- from the node's push page, through push/actions.py, audited, and nobody else can."""
from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from push import actions, api, delivery
from push.api import ASTERISK, KAMAILIO
from push.models import PushJob, PushNodeState, PushState
from voipadmin.models import ChangeLogEntry

from .conftest import make_asterisk, make_kamailio

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def kam(db, free_port):
    return make_kamailio("kam-1", f"http://127.0.0.1:{free_port}/RPC")


def _queue_url(name: str, node, kind: str = "kamailio") -> str:
    return reverse(f"push:node_queue{name}", args=[kind, node.pk])


def _owes(node, *commands: str) -> None:
    for command in commands:
        api.request(KAMAILIO, command, node_ids=[node.pk], reason=f"{command} needed")


# -- actions -----------------------------------------------------------------------------------------------------


def test_a_paused_queue_sends_nothing_and_its_jobs_keep_collecting_changes(fast_push, kam, dispatched, actor,
                                                                          monkeypatch):
    actions.pause_queue(kam, actor=actor)
    _owes(kam, api.DISPATCHER_RELOAD, api.DISPATCHER_RELOAD)
    monkeypatch.setattr("push.gateway.send", lambda *a, **k: pytest.fail("nothing is sent to a paused node"))

    assert delivery.deliver_node("kamailio", kam.pk).skipped == "queue paused"
    assert delivery.due_nodes() == []
    job = PushJob.objects.get()
    assert (job.state, job.requests) == (PushState.PENDING, 2)
    assert delivery.held_reason(job) == "held: queue paused"


def test_resuming_sends_the_waiting_jobs_at_once(fast_push, kam, dispatched, actor, monkeypatch,
                                                 django_capture_on_commit_callbacks):
    sent: list[str] = []
    monkeypatch.setattr("push.gateway.send", lambda kind, node, command, **k: sent.append(command) or "ok")
    actions.pause_queue(kam, actor=actor)
    with django_capture_on_commit_callbacks(execute=True):  # (each block stands for one transaction)
        _owes(kam, api.DISPATCHER_RELOAD)
    assert dispatched == [("kamailio", kam.pk)]  # the commit's nudge: the worker finds the queue paused
    PushJob.objects.update(attempts=3)  # backed off before the pause: resuming does not wait for it
    with django_capture_on_commit_callbacks(execute=True):
        actions.resume_queue(kam, actor=actor)
    assert dispatched == [("kamailio", kam.pk)] * 2
    assert delivery.due_nodes() == [("kamailio", kam.pk)]
    delivery.deliver_node("kamailio", kam.pk)
    assert sent == [api.DISPATCHER_RELOAD] and PushJob.objects.get().state == PushState.SENT


def test_cancelling_marks_every_pending_job_cancelled_and_audits_each(fast_push, kam, site, dispatched, actor):
    pbx = make_asterisk(site, "pbx", 9)
    _owes(kam, api.DISPATCHER_RELOAD, api.DIALPLAN_RELOAD)
    api.request(ASTERISK, api.PJSIP_RELOAD, node_ids=[pbx.pk])
    sent = PushJob.objects.create(node_kind="kamailio", kamailio_node=kam, node_name="kam-1",
                                  command=api.UACREG_RELOAD, state=PushState.SENT,
                                  next_attempt_at=datetime(2026, 1, 1, tzinfo=dt_timezone.utc))

    cancelled = actions.cancel_queue(kam, actor=actor)

    assert sorted(j.command for j in cancelled) == [api.DIALPLAN_RELOAD, api.DISPATCHER_RELOAD]
    assert set(PushJob.objects.filter(kamailio_node=kam).exclude(pk=sent.pk).values_list("state", flat=True)) == {
        PushState.CANCELLED}
    assert PushJob.objects.get(asterisk_node=pbx).state == PushState.PENDING, "other nodes are untouched"
    assert PushJob.objects.get(pk=sent.pk).state == PushState.SENT
    log = ChangeLogEntry.objects.filter(object_id__in=[str(j.pk) for j in cancelled], actor="alice")
    assert log.count() == 2
    assert all(e.changes["state"] == ["pending", "cancelled"] and "may be stale" in e.message for e in log)
    assert delivery.due_nodes() == [("asterisk", pbx.pk)]


def test_a_cancelled_job_is_never_revived_by_the_reload_that_was_on_the_wire(fast_push, kam, dispatched, actor,
                                                                             monkeypatch):
    _owes(kam, api.DISPATCHER_RELOAD)

    def cancel_during_send(kind, node, command, **kw):
        actions.cancel_queue(kam, actor=actor)
        return "ok"

    monkeypatch.setattr("push.gateway.send", cancel_during_send)
    delivery.deliver_node("kamailio", kam.pk)
    job = PushJob.objects.get()
    assert (job.state, job.in_flight) == (PushState.CANCELLED, False)


def test_push_everything_queues_every_reload_the_node_knows_and_is_audited(fast_push, kam, dispatched, actor):
    jobs = actions.push_everything(kam, actor=actor)
    assert sorted(j.command for j in jobs) == sorted(api.COMMANDS[KAMAILIO])
    entry = ChangeLogEntry.objects.get(action="other", object_repr=str(kam))
    assert entry.message.startswith("push everything now") and entry.actor == "alice"


def test_push_everything_refuses_a_disabled_node(fast_push, dispatched, actor):
    off = make_kamailio("kam-off", "http://127.0.0.1:9/RPC", enabled=False)
    with pytest.raises(ValidationError, match="disabled"):
        actions.push_everything(off, actor=actor)


def test_pause_and_resume_are_audited_on_the_nodes_queue(fast_push, kam, actor):
    actions.pause_queue(kam, actor=actor)
    actions.resume_queue(kam, actor=actor)
    queue = PushNodeState.objects.get(node_kind="kamailio", node_id=kam.pk)
    entries = ChangeLogEntry.objects.filter(object_id=str(queue.pk)).order_by("id")
    assert [(e.changes.get("paused"), e.message) for e in entries] == [
        ([False, True], "push queue of kamailio node kam-1 paused"),
        ([True, False], "push queue of kamailio node kam-1 resumed")]


# -- the node's push page --------------------------------------------------------------------------------------


def test_the_node_page_links_to_its_push_queue(admin_client, kam):
    body = admin_client.get(kam.get_absolute_url()).content.decode()
    assert _queue_url("", kam) in body


def test_an_administrator_pauses_resumes_and_cancels_from_the_push_page(fast_push, admin_client, kam, dispatched):
    _owes(kam, api.DISPATCHER_RELOAD, api.DISPATCHER_RELOAD)
    body = admin_client.get(_queue_url("", kam)).content.decode()
    assert 'id="pause-queue"' in body and 'id="cancel-queue"' in body and 'id="push-everything"' in body

    assert admin_client.post(_queue_url("_pause", kam)).status_code == 302
    body = admin_client.get(_queue_url("", kam)).content.decode()
    assert 'id="queue-paused"' in body and "held: queue paused" in body and 'id="resume-queue"' in body

    assert admin_client.post(_queue_url("_resume", kam)).status_code == 302
    assert not PushNodeState.objects.get(node_id=kam.pk).paused

    response = admin_client.post(_queue_url("_cancel", kam), follow=True)
    body = response.content.decode()
    assert 'id="stale-warning"' in body and "may now be stale" in body and 'id="push-everything"' in body
    assert PushJob.objects.get().state == PushState.CANCELLED

    admin_client.post(_queue_url("_push_everything", kam))
    assert PushJob.objects.filter(state=PushState.PENDING).count() == len(api.COMMANDS[KAMAILIO])


def test_the_push_page_of_an_asterisk_works_too(fast_push, admin_client, site, dispatched):
    pbx = make_asterisk(site, "pbx", 9)
    api.request(ASTERISK, api.PJSIP_RELOAD, node_ids=[pbx.pk])
    body = admin_client.get(_queue_url("", pbx, "asterisk")).content.decode()
    assert api.PJSIP_RELOAD in body and "Push queue of pbx" in body
    assert admin_client.get(f"/push/nodes/freeswitch/{pbx.pk}/").status_code == 404  # (no such kind: not an address)


@pytest.mark.parametrize("who", ["helpdesk_client", "charlie"])
def test_nobody_but_an_administrator_may_touch_a_nodes_queue(fast_push, request, client, kam, dispatched, who):
    if who == "charlie":
        client.force_login(request.getfixturevalue("charlie"))
        user_client = client
    else:
        user_client = request.getfixturevalue(who)
    _owes(kam, api.DISPATCHER_RELOAD)
    for name in ("_pause", "_resume", "_cancel", "_push_everything"):
        assert user_client.post(_queue_url(name, kam)).status_code == 403
    assert user_client.get(_queue_url("", kam)).status_code == 403
    assert PushJob.objects.get().state == PushState.PENDING and not PushNodeState.objects.filter(paused=True)


def test_a_visitor_who_may_only_look_sees_the_queue_without_its_buttons(fast_push, client, kam, dispatched,
                                                                        django_user_model):
    from django.contrib.auth.models import Group

    billing = django_user_model.objects.create_user("dora", password="x")
    billing.groups.add(Group.objects.get(name="Billing"))
    client.force_login(billing)
    _owes(kam, api.DISPATCHER_RELOAD)
    body = client.get(_queue_url("", kam)).content.decode()
    assert api.DISPATCHER_RELOAD in body and 'id="pause-queue"' not in body
    assert client.post(_queue_url("_cancel", kam)).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(client, kam):
    response = client.post(_queue_url("_pause", kam))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_push_page_and_the_job_list_take_a_constant_number_of_queries(fast_push, admin_client, kam, site,
                                                                         dispatched, django_assert_max_num_queries):
    for i in range(3):
        make_asterisk(site, f"pbx-{i}", 9)
    api.request(ASTERISK, api.PJSIP_RELOAD)
    _owes(kam, *api.COMMANDS[KAMAILIO])
    with django_assert_max_num_queries(12):
        assert admin_client.get(_queue_url("", kam)).status_code == 200
    with django_assert_max_num_queries(14):
        assert admin_client.get(reverse("push:pushjob_list")).status_code == 200
