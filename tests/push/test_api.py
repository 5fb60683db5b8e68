"""push.api.request: the outbox row is written with the change, once per (node, command), sent after commit."""
from __future__ import annotations

import pytest
from django.db import transaction

from push import api, delivery, tasks
from push.api import ASTERISK, KAMAILIO
from push.models import PushJob, PushState

from .conftest import make_asterisk, make_kamailio

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def estate(site, other_site):
    return {
        "k1": make_kamailio("kam-1", "http://127.0.0.1:1/RPC"),
        "k2": make_kamailio("kam-2", "http://127.0.0.1:2/RPC"),
        "a1": make_asterisk(site, "pbx-central", 1),
        "a2": make_asterisk(other_site, "pbx-branch", 2),
        "off": make_asterisk(site, "pbx-off", 3, enabled=False),
    }


def test_ten_edits_in_one_transaction_queue_one_job_and_one_delivery_per_target(
        fast_push, estate, dispatched, django_capture_on_commit_callbacks, require_postgres):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            for i in range(10):
                api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason=f"edit {i}")
                api.request(ASTERISK, api.ASTERISK_DIALPLAN_RELOAD, reason=f"edit {i}")

    jobs = PushJob.objects.order_by("node_kind", "node_name")
    assert [(j.node_name, j.command, j.requests, j.state) for j in jobs] == [
        ("pbx-branch", "dialplan reload", 10, "pending"),
        ("pbx-central", "dialplan reload", 10, "pending"),
        ("kam-1", "dispatcher.reload", 10, "pending"),
        ("kam-2", "dispatcher.reload", 10, "pending"),
    ]
    assert jobs[0].reasons.splitlines() == [f"edit {i}" for i in range(10)]
    assert len(callbacks) == 1, "one on_commit callback per transaction, not one per call"
    assert sorted(dispatched) == sorted([("kamailio", estate["k1"].pk), ("kamailio", estate["k2"].pk),
                                         ("asterisk", estate["a1"].pk), ("asterisk", estate["a2"].pk)])


def test_a_rollback_leaves_no_job_and_sends_nothing(fast_push, estate, dispatched,
                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                api.request(KAMAILIO, api.DIALPLAN_RELOAD, reason="doomed")
                raise RuntimeError("validation failed later in the action")
    assert PushJob.objects.count() == 0
    assert callbacks == [] and dispatched == []


def test_a_rolled_back_savepoint_drops_only_its_own_jobs(fast_push, estate, dispatched,
                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            try:
                with transaction.atomic():
                    api.request(KAMAILIO, api.DIALPLAN_RELOAD, reason="rolled back")
                    raise ValueError
            except ValueError:
                pass
            api.request(ASTERISK, api.PJSIP_RELOAD, node_ids=[estate["a1"].pk], reason="kept")
    assert list(PushJob.objects.values_list("command", flat=True)) == [api.PJSIP_RELOAD]
    assert dispatched == [("asterisk", estate["a1"].pk)]


def test_later_transactions_join_the_job_the_node_already_owes(fast_push, estate, dispatched,
                                                                django_capture_on_commit_callbacks):
    for reason in ("first", "second", "second"):
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                api.request(KAMAILIO, api.UACREG_RELOAD, node_ids=[estate["k1"].pk], reason=reason)
                api.request(KAMAILIO, api.UACREG_RELOAD, node_ids=[estate["k1"].pk], reason=reason)
    jobs = PushJob.objects.order_by("id")
    assert [(j.requests, j.reasons) for j in jobs] == [(6, "first\nsecond")]
    assert dispatched == [("kamailio", estate["k1"].pk)] * 3


def test_asterisk_targets_follow_node_ids_and_site_ids_and_skip_disabled_nodes(
        fast_push, estate, site, dispatched):
    assert {j.node_name for j in api.request(ASTERISK, api.PJSIP_RELOAD, site_ids=[site.pk])} == {"pbx-central"}
    assert {j.node_name for j in api.request(ASTERISK, api.VOICEMAIL_RELOAD,
                                             node_ids=[estate["a2"].pk, estate["off"].pk])} == {"pbx-branch"}
    assert {j.node_name for j in api.request(ASTERISK, api.ASTERISK_DIALPLAN_RELOAD)} == {"pbx-central", "pbx-branch"}
    assert api.request(ASTERISK, api.PJSIP_RELOAD, node_ids=[]) == []
    assert {j.node_name for j in api.request(KAMAILIO, api.ADDRESS_RELOAD, site_ids=[site.pk])} == {"kam-1", "kam-2"}


@pytest.mark.parametrize("target, command", [
    (KAMAILIO, "core.shutdown"), (ASTERISK, "core restart now"), (ASTERISK, "dispatcher.reload"),
    ("freeswitch", "reloadxml"),
])
def test_an_unknown_target_or_command_is_a_programming_error(fast_push, estate, target, command):
    with pytest.raises(ValueError):
        api.request(target, command)
    assert PushJob.objects.count() == 0


def test_with_live_reload_off_jobs_are_held_and_the_sweep_sends_them_once_it_is_back_on(
        fast_push, estate, dispatched, django_capture_on_commit_callbacks):
    fast_push.LIVE_RELOAD = False
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        api.request(KAMAILIO, api.DISPATCHER_RELOAD, node_ids=[estate["k1"].pk], reason="while off")
    job = PushJob.objects.get()
    assert len(callbacks) == 1 and dispatched == [], "committed, but nobody is nudged"
    assert job.state == PushState.PENDING and delivery.held_reason(job) == "held: live reload off"
    assert tasks.sweep() == 0 and dispatched == []
    assert delivery.deliver_node("kamailio", estate["k1"].pk).skipped == "live reload off"

    fast_push.LIVE_RELOAD = True
    assert tasks.sweep() == 1
    assert dispatched == [("kamailio", estate["k1"].pk)]
    assert delivery.held_reason(job) == ""


def test_the_sweep_skips_jobs_still_backing_off_and_disabled_nodes(fast_push, estate, dispatched):
    from datetime import timedelta

    from django.db.models.functions import Now

    api.request(KAMAILIO, api.DISPATCHER_RELOAD)
    api.request(KAMAILIO, api.DIALPLAN_RELOAD)  # two due jobs on kam-1: still one nudge
    PushJob.objects.filter(kamailio_node=estate["k2"]).update(attempts=1,  # backoff runs on the DB clock
                                                              next_attempt_at=Now() + timedelta(minutes=1))
    api.request(ASTERISK, api.PJSIP_RELOAD, node_ids=[estate["a1"].pk])
    estate["a1"].enabled = False
    estate["a1"].save()
    tasks.sweep()
    assert dispatched == [("kamailio", estate["k1"].pk)]


def test_jobs_of_a_deleted_node_are_marked_failed_by_the_sweep(fast_push, estate, dispatched):
    api.request(ASTERISK, api.PJSIP_RELOAD, node_ids=[estate["a2"].pk])
    PushJob.objects.update(asterisk_node=None)  # what deleting the node does (on_delete=SET_NULL)
    tasks.sweep()
    job = PushJob.objects.get()
    assert (job.state, job.last_error, job.node_name) == ("failed", "node deleted", "pbx-branch")


def test_retry_node_makes_a_nodes_backed_off_jobs_due_now(fast_push, estate, dispatched,
                                                         django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.db import connection

    with django_capture_on_commit_callbacks(execute=True):
        api.request(KAMAILIO, api.DISPATCHER_RELOAD)
    dispatched.clear()
    with connection.cursor() as cursor:  # backoff runs on the database's clock
        cursor.execute("SELECT now()")
        later = cursor.fetchone()[0] + timedelta(minutes=5)
    PushJob.objects.update(next_attempt_at=later, attempts=3)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.retry_node(KAMAILIO, estate["k1"].pk) == 1
    assert dispatched == [("kamailio", estate["k1"].pk)]
    assert PushJob.objects.get(kamailio_node=estate["k1"]).next_attempt_at < later
    assert PushJob.objects.get(kamailio_node=estate["k2"]).next_attempt_at == later
