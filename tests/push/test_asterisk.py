"""Pushing to Asterisk over AMI, against the protocol-faithful AMI fake (TCP, banner, Login, ActionID)."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction
from django.db.models.functions import Now

from push import actions, api, delivery, gateway, tasks
from push.api import ASTERISK
from push.models import PushJob, PushState
from voipadmin.models import ChangeLogEntry

from .conftest import make_asterisk

pytestmark = [pytest.mark.postgres]

ALL = [api.PJSIP_RELOAD, api.ASTERISK_DIALPLAN_RELOAD, api.VOICEMAIL_RELOAD]


def commit(capture, fn, *args, **kwargs):
    """Run ``fn`` in a transaction and fire its on_commit callbacks (eager Celery delivers right away)."""
    with capture(execute=True):
        with transaction.atomic():
            return fn(*args, **kwargs)


def test_each_change_sends_exactly_the_reload_actions_it_needs_once(
        eager, site, other_site, ami_fakes, django_capture_on_commit_callbacks, require_postgres):
    central, branch = ami_fakes.start(), ami_fakes.start()
    make_asterisk(site, "pbx-central", central.port)
    make_asterisk(other_site, "pbx-branch", branch.port)

    def new_user_on_central():
        api.request(ASTERISK, api.PJSIP_RELOAD, site_ids=[site.pk], reason="user 1001 created")
        api.request(ASTERISK, api.VOICEMAIL_RELOAD, site_ids=[site.pk], reason="mailbox 1001 created")

    commit(django_capture_on_commit_callbacks, new_user_on_central)

    assert central.commands == [api.PJSIP_RELOAD, api.VOICEMAIL_RELOAD]
    assert branch.commands == [] and branch.connections == 0
    assert central.action_names.count("Login") == 2  # one short AMI session per reload
    assert set(PushJob.objects.values_list("state", flat=True)) == {PushState.SENT}

    commit(django_capture_on_commit_callbacks, api.request, ASTERISK, api.ASTERISK_DIALPLAN_RELOAD,
           site_ids=[other_site.pk], reason="route changed")
    assert branch.commands == [api.ASTERISK_DIALPLAN_RELOAD]
    assert central.commands == [api.PJSIP_RELOAD, api.VOICEMAIL_RELOAD]


def test_ten_edits_in_one_transaction_reach_each_asterisk_as_one_reload_per_command(
        eager, site, other_site, ami_fakes, django_capture_on_commit_callbacks):
    fakes = [ami_fakes.start(), ami_fakes.start()]
    make_asterisk(site, "pbx-a", fakes[0].port)
    make_asterisk(other_site, "pbx-b", fakes[1].port)

    def ten_edits():
        for i in range(10):
            api.request(ASTERISK, api.PJSIP_RELOAD, reason=f"endpoint {1000 + i} changed")
            api.request(ASTERISK, api.ASTERISK_DIALPLAN_RELOAD, reason=f"extension {1000 + i} changed")

    commit(django_capture_on_commit_callbacks, ten_edits)

    for fake in fakes:
        assert fake.commands == [api.PJSIP_RELOAD, api.ASTERISK_DIALPLAN_RELOAD]
    assert set(PushJob.objects.values_list("requests", "attempts", "state")) == {(10, 1, "sent")}
    assert PushJob.objects.count() == 4


def test_a_refused_port_backs_off_and_the_push_goes_through_once_the_node_is_back(
        eager, site, ami_fakes, free_port, django_capture_on_commit_callbacks):
    make_asterisk(site, "pbx-down", free_port)
    commit(django_capture_on_commit_callbacks, api.request, ASTERISK, api.ASTERISK_DIALPLAN_RELOAD, reason="x")

    job = PushJob.objects.get()
    assert (job.state, job.attempts) == (PushState.PENDING, 1)
    assert "connection refused" in job.last_error
    assert PushJob.objects.filter(pk=job.pk, next_attempt_at__gt=Now()).exists()  # backoff runs on the DB clock
    assert tasks.sweep() == 0, "not due yet: backing off"

    time.sleep(0.06)
    tasks.sweep()  # due again, still down: second attempt, longer backoff
    job.refresh_from_db()
    assert (job.state, job.attempts) == (PushState.PENDING, 2)

    fake = ami_fakes.start(port=free_port)  # the node comes back on its port
    deadline = time.monotonic() + 2
    while PushJob.objects.filter(state=PushState.PENDING).exists() and time.monotonic() < deadline:
        tasks.sweep()
        time.sleep(0.02)
    job.refresh_from_db()
    assert (job.state, job.attempts) == (PushState.SENT, 3)
    assert fake.commands == [api.ASTERISK_DIALPLAN_RELOAD]
    assert "connection refused" in job.last_error, "the job keeps what went wrong before it got through"


def test_a_refused_login_fails_the_job_and_retry_now_sends_it_once_fixed(
        eager, site, ami_fakes, actor, django_capture_on_commit_callbacks):
    fake = ami_fakes.start(secret="right")
    node = make_asterisk(site, "pbx-auth", fake.port, secret="wrong")
    commit(django_capture_on_commit_callbacks, api.request, ASTERISK, api.PJSIP_RELOAD)

    job = PushJob.objects.get()
    assert (job.state, job.attempts) == (PushState.FAILED, 1)
    assert "authentication failed" in job.last_error and job.last_error.startswith("permanent")
    assert fake.commands == []
    assert tasks.sweep() == 0, "failed jobs wait for an operator"

    node.ami_secret = "right"
    node.save()
    with django_capture_on_commit_callbacks(execute=True):
        target = actions.retry_now(job, actor=actor)
    assert target.pk == job.pk
    job.refresh_from_db()
    assert (job.state, job.attempts) == (PushState.SENT, 1)  # retry now starts a fresh count
    assert fake.commands == [api.PJSIP_RELOAD]
    entry = ChangeLogEntry.objects.get(object_id=str(job.pk), message="retry now")
    assert entry.actor == "alice" and entry.changes["state"] == ["failed", "pending"]


def test_an_asterisk_that_says_the_module_is_missing_fails_the_job(
        eager, site, ami_fakes, django_capture_on_commit_callbacks):
    fake = ami_fakes.start(command_outputs={api.PJSIP_RELOAD: ["No such module 'res_pjsip.so'"]})
    make_asterisk(site, "pbx-nopjsip", fake.port)
    commit(django_capture_on_commit_callbacks, api.request, ASTERISK, api.PJSIP_RELOAD)
    job = PushJob.objects.get()
    assert job.state == PushState.FAILED and "No such module" in job.last_error


@pytest.mark.parametrize("answer, state", [
    # main/cli.c handle_reload(): every outcome answers "Response: Success"; only the words differ
    ("A module reload request is already in progress; please be patient", PushState.PENDING),
    ("Asterisk cannot reload a module yet; request queued", PushState.PENDING),
    ("The module 'res_pjsip.so' reported a reload failure", PushState.FAILED),
    ("The module 'res_pjsip.so' does not support reloads", PushState.FAILED),
])
def test_a_module_reload_that_did_not_happen_is_not_sent_busy_is_retried_and_a_refusal_fails(
        eager, site, ami_fakes, django_capture_on_commit_callbacks, answer, state):
    fake = ami_fakes.start(command_outputs={api.PJSIP_RELOAD: [answer]})
    make_asterisk(site, "pbx-busy", fake.port)
    commit(django_capture_on_commit_callbacks, api.request, ASTERISK, api.PJSIP_RELOAD)
    job = PushJob.objects.get()
    assert (job.state, job.attempts) == (state, 1)
    assert answer in job.last_error and job.last_error.startswith("permanent") == (state == PushState.FAILED)


def test_the_real_asterisks_words_for_each_reload_are_a_success(eager, site, ami_fakes,
                                                                django_capture_on_commit_callbacks):
    """As Asterisk 22.10.1 answered them (tests/asterisk/test_push_real.py sees them on a real node)."""
    fake = ami_fakes.start(command_outputs={
        api.PJSIP_RELOAD: ["Module 'res_pjsip.so' reloaded successfully."],
        api.ASTERISK_DIALPLAN_RELOAD: ["Dialplan reloaded."],
        api.VOICEMAIL_RELOAD: ["Reloading voicemail configuration..."]})
    make_asterisk(site, "pbx", fake.port)

    def all_three():
        for command in ALL:
            api.request(ASTERISK, command)

    commit(django_capture_on_commit_callbacks, all_three)
    assert set(PushJob.objects.values_list("state", flat=True)) == {PushState.SENT}
    assert fake.commands == ALL


def test_one_reload_serves_every_pending_job_of_its_command_and_retry_all_failed_requeues(
        fast_push, site, ami_fakes, actor, monkeypatch, django_capture_on_commit_callbacks):
    fake = ami_fakes.start(secret="right")
    node = make_asterisk(site, "pbx", fake.port, secret="wrong")
    monkeypatch.setattr(tasks, "dispatch", lambda *a, **k: None)  # explicit deliveries below
    with django_capture_on_commit_callbacks(execute=True):  # (each block stands for one transaction)
        api.request(ASTERISK, api.PJSIP_RELOAD, reason="old")
    delivery.deliver_node("asterisk", node.pk)
    old = PushJob.objects.get()
    assert old.state == PushState.FAILED
    for i in range(3):  # three more transactions
        with django_capture_on_commit_callbacks(execute=True):
            api.request(ASTERISK, api.PJSIP_RELOAD, reason=f"new {i}")
    node.ami_secret = "right"
    node.save()

    assert PushJob.objects.filter(state=PushState.PENDING).get().requests == 3, "three changes, one open job"
    assert [j.pk for j in actions.retry_all_failed(actor=actor)] == [old.pk]  # (covered by the open job)
    outcome = delivery.deliver_node("asterisk", node.pk)

    assert fake.commands == [api.PJSIP_RELOAD], "four changes, one reload"
    assert outcome.reloads == 1 and len(outcome.sent) == 1
    assert set(PushJob.objects.values_list("state", flat=True)) == {PushState.SENT}


def test_sending_a_command_also_settles_older_failed_jobs_of_that_command(
        fast_push, site, ami_fakes, monkeypatch):
    fake = ami_fakes.start(secret="right")
    node = make_asterisk(site, "pbx", fake.port, secret="wrong")
    monkeypatch.setattr(tasks, "dispatch", lambda *a, **k: None)
    api.request(ASTERISK, api.VOICEMAIL_RELOAD)
    delivery.deliver_node("asterisk", node.pk)
    node.ami_secret = "right"
    node.save()
    api.request(ASTERISK, api.VOICEMAIL_RELOAD)
    delivery.deliver_node("asterisk", node.pk)
    assert fake.commands == [api.VOICEMAIL_RELOAD]
    assert list(PushJob.objects.order_by("id").values_list("state", flat=True)) == ["sent", "sent"]


def test_reloads_to_one_asterisk_are_spaced_by_the_rate_limit(
        eager, fast_push, site, ami_fakes, django_capture_on_commit_callbacks):
    fast_push.PUSH_MIN_INTERVAL_SECONDS = {"asterisk": 0.3, "kamailio": 0.0}
    fake = ami_fakes.start()
    make_asterisk(site, "pbx", fake.port)

    def burst():
        for command in ALL:
            api.request(ASTERISK, command)

    commit(django_capture_on_commit_callbacks, burst)
    assert fake.commands == ALL
    times = [a.at for a in fake.actions_named("Command")]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(gap >= 0.28 for gap in gaps), gaps


@pytest.mark.django_db(transaction=True)
def test_pushes_to_one_node_never_overlap_and_nothing_is_sent_twice(
        eager, site, ami_fakes, monkeypatch):
    fake = ami_fakes.start(reply_delay=0.05)
    node = make_asterisk(site, "pbx", fake.port)
    inflight, peak, lock = [0], [0], threading.Lock()
    real_send = gateway.send
    late: dict = {}

    def counting_send(kind, node_, command, **kw):
        with lock:
            inflight[0] += 1
            peak[0] = max(peak[0], inflight[0])
        try:
            if command == api.PJSIP_RELOAD and "thread" not in late:
                # Meanwhile another change commits and its worker tries the same node.
                def other_worker():
                    late["jobs"] = api.request(ASTERISK, api.VOICEMAIL_RELOAD, reason="late change")
                    late["outcome"] = delivery.deliver_node("asterisk", node.pk)
                    connections.close_all()

                late["thread"] = threading.Thread(target=other_worker)
                late["thread"].start()
                late["thread"].join()
            return real_send(kind, node_, command, **kw)
        finally:
            with lock:
                inflight[0] -= 1

    monkeypatch.setattr(gateway, "send", counting_send)
    eager.conf.task_always_eager = False  # we drive the deliveries ourselves here
    monkeypatch.setattr(tasks, "dispatch", lambda *a, **k: None)
    api.request(ASTERISK, api.PJSIP_RELOAD)
    api.request(ASTERISK, api.ASTERISK_DIALPLAN_RELOAD)

    results = []

    def worker():
        results.append(delivery.deliver_node("asterisk", node.pk))
        connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert peak[0] == 1, "two reloads were on the wire to the same node at once"
    assert late["outcome"].busy, "the late change's worker found the node busy and left it to the running one"
    assert sorted(fake.commands) == sorted(ALL), fake.commands
    assert not PushJob.objects.exclude(state=PushState.SENT).exists()
    assert sum(len(r.sent) for r in results) == 3


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_while_its_reload_is_on_the_wire_gets_the_next_reload(
        eager, site, ami_fakes, monkeypatch):
    fake = ami_fakes.start()
    node = make_asterisk(site, "pbx", fake.port)
    real_send = gateway.send
    calls = []

    def send_and_meanwhile_change(kind, node_, command, **kw):
        calls.append(command)
        if len(calls) == 1:
            t = threading.Thread(target=lambda: (api.request(ASTERISK, command, reason="second change"),
                                                 connections.close_all()))
            t.start()
            t.join()
        return real_send(kind, node_, command, **kw)

    monkeypatch.setattr(gateway, "send", send_and_meanwhile_change)
    api.request(ASTERISK, api.ASTERISK_DIALPLAN_RELOAD, reason="first change")  # commits; eager delivery

    assert fake.commands == [api.ASTERISK_DIALPLAN_RELOAD, api.ASTERISK_DIALPLAN_RELOAD]
    jobs = PushJob.objects.filter(asterisk_node=node).order_by("id")
    assert [(j.reasons, j.state, j.attempts) for j in jobs] == [
        ("first change", "sent", 1), ("second change", "sent", 1)]
    assert jobs[0].sent_at < jobs[1].sent_at
