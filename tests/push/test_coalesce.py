"""A node owes one open job per command: changes join it, in their own transactions, race-safe."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone as dt_timezone

import pytest
from django.db import IntegrityError, connection, transaction

from push import api, delivery, gateway
from push.api import ASTERISK, KAMAILIO
from push.models import PushJob, PushState
from voipadmin.connectors.errors import NodeError

from .conftest import make_asterisk, make_kamailio

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def kam(db, free_port):
    return make_kamailio("kam-down", f"http://127.0.0.1:{free_port}/RPC")


def _request(node, reason: str, command: str = api.DISPATCHER_RELOAD):
    with transaction.atomic():
        return api.request(KAMAILIO, command, node_ids=[node.pk], reason=reason)


def test_changes_in_separate_transactions_join_the_nodes_open_job(fast_push, kam, dispatched,
                                                                   django_capture_on_commit_callbacks):
    for i in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            _request(kam, f"destination {i} added")

    job = PushJob.objects.get()
    assert (job.state, job.requests, job.in_flight) == (PushState.PENDING, 5, False)
    assert job.reasons.splitlines() == [f"destination {i} added" for i in range(5)]
    assert job.last_requested_at is not None and job.last_requested_at >= job.created
    assert dispatched == [("kamailio", kam.pk)] * 5, "each commit still nudges a worker"


def test_jobs_stay_apart_per_node_and_per_command(fast_push, kam, site, dispatched):
    other = make_kamailio("kam-other", "http://127.0.0.1:9/RPC")
    pbx = make_asterisk(site, "pbx", 9)
    for _ in range(2):
        api.request(KAMAILIO, api.DISPATCHER_RELOAD)
        api.request(KAMAILIO, api.DIALPLAN_RELOAD, node_ids=[kam.pk])
        api.request(ASTERISK, api.PJSIP_RELOAD)
    rows = sorted(PushJob.objects.values_list("node_name", "command", "requests"))
    assert rows == [("kam-down", api.DIALPLAN_RELOAD, 2), ("kam-down", api.DISPATCHER_RELOAD, 2),
                    ("kam-other", api.DISPATCHER_RELOAD, 2), ("pbx", api.PJSIP_RELOAD, 2)]
    assert other and pbx


def test_the_database_refuses_a_second_open_job_for_the_same_node_and_command(fast_push, kam, dispatched):
    job = _request(kam, "first")[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        PushJob.objects.create(node_kind="kamailio", kamailio_node=kam, node_name=kam.name, command=job.command,
                               next_attempt_at=datetime(2026, 1, 1, tzinfo=dt_timezone.utc))
    PushJob.objects.filter(pk=job.pk).update(in_flight=True)  # on the wire: no longer the open job
    assert _request(kam, "second")[0].pk != job.pk


def test_a_change_made_while_the_reload_is_on_the_wire_opens_the_next_job_and_a_failure_folds_them(
        fast_push, kam, dispatched, monkeypatch):
    _request(kam, "before the send")
    seen: list[list[tuple]] = []

    def send_while_a_change_commits(kind, node, command, **kw):
        _request(kam, "during the send")  # the claimed job is in flight: this one opens the next
        seen.append(sorted(PushJob.objects.values_list("reasons", "in_flight")))
        raise NodeError("connection refused", node=node.name)

    monkeypatch.setattr(gateway, "send", send_while_a_change_commits)
    outcome = delivery.deliver_node("kamailio", kam.pk)

    assert seen == [[("before the send", True), ("during the send", False)]]
    job = PushJob.objects.get()  # folded back into the job that failed
    assert outcome.reloads == 1 and outcome.retrying == [job.pk]
    assert (job.requests, job.attempts, job.in_flight, job.state) == (2, 1, False, PushState.PENDING)
    assert job.reasons.splitlines() == ["before the send", "during the send"]


def test_a_change_made_while_the_reload_is_on_the_wire_is_not_marked_sent_by_it(
        fast_push, kam, dispatched, monkeypatch):
    first = _request(kam, "before the send")[0]

    def send_while_a_change_commits(kind, node, command, **kw):
        if not PushJob.objects.filter(reasons="during the send").exists():
            _request(kam, "during the send")
        return "ok"

    monkeypatch.setattr(gateway, "send", send_while_a_change_commits)
    outcome = delivery.deliver_node("kamailio", kam.pk)

    later = PushJob.objects.exclude(pk=first.pk).get()
    assert outcome.reloads == 2, "the change made during the first reload got a reload of its own"
    assert outcome.sent == [first.pk, later.pk]
    assert set(PushJob.objects.values_list("state", "in_flight")) == {(PushState.SENT, False)}


def test_a_node_down_for_100_changes_owes_one_row(fast_push, kam, dispatched, monkeypatch):
    fast_push.PUSH_RETRY_BASE_SECONDS = fast_push.PUSH_RETRY_MAX_SECONDS = 60  # (only the first try is due)
    monkeypatch.setattr(gateway, "send", lambda *a, **k: (_ for _ in ()).throw(NodeError("connection refused")))
    for i in range(100):
        _request(kam, f"change {i}")
        if i % 10 == 0:
            delivery.deliver_node("kamailio", kam.pk)  # a worker trying now and then
    job = PushJob.objects.get()
    assert job.requests == 100 and job.attempts == 1, "joined changes wait for the backoff"


# -- two writers at once, on PostgreSQL ------------------------------------------------------------------------


def _in_thread(fn, errors: list) -> threading.Thread:
    def run():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_transactions_opening_the_first_job_at_once_end_with_one_row(require_postgres, fast_push,
                                                                         dispatched, free_port):
    kam = make_kamailio("kam-race", f"http://127.0.0.1:{free_port}/RPC")
    inserted, errors = threading.Event(), []

    def first():
        with transaction.atomic():
            api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason="first writer")
            inserted.set()
            time.sleep(0.3)  # the second writer is now waiting on the unique index

    def second():
        inserted.wait(5)
        with transaction.atomic():
            api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason="second writer")

    threads = [_in_thread(first, errors), _in_thread(second, errors)]
    for thread in threads:
        thread.join(10)
    assert errors == []
    job = PushJob.objects.get(kamailio_node=kam)
    assert job.requests == 2 and sorted(job.reasons.splitlines()) == ["first writer", "second writer"]


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_lose_no_change_and_share_one_row(require_postgres, fast_push, dispatched,
                                                                   free_port):
    kam = make_kamailio("kam-race", f"http://127.0.0.1:{free_port}/RPC")
    start, errors = threading.Barrier(8), []

    def writer(n: int):
        def run():
            start.wait(5)
            for i in range(10):
                with transaction.atomic():
                    api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason=f"writer {n} change {i}")
        return run

    threads = [_in_thread(writer(n), errors) for n in range(8)]
    for thread in threads:
        thread.join(30)
    assert errors == []
    job = PushJob.objects.get(kamailio_node=kam)
    assert job.requests == 80 and len(job.reasons.splitlines()) == 80


@pytest.mark.django_db(transaction=True)
def test_a_worker_claiming_the_job_waits_for_a_change_still_joining_it(require_postgres, fast_push, dispatched,
                                                                       free_port, monkeypatch):
    kam = make_kamailio("kam-race", f"http://127.0.0.1:{free_port}/RPC")
    api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason="committed")
    joined, errors, claimed = threading.Event(), [], []
    monkeypatch.setattr(gateway, "send", lambda kind, node, command, **kw: claimed.append(
        list(PushJob.objects.values_list("requests", flat=True))) or "ok")

    def joiner():
        with transaction.atomic():
            api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason="joining")
            joined.set()
            time.sleep(0.3)  # the worker's claim waits for this commit

    thread = _in_thread(joiner, errors)
    joined.wait(5)
    outcome = delivery.deliver_node("kamailio", kam.pk)
    thread.join(10)
    assert errors == [] and claimed == [[2]], "the reload covers the change that was joining"
    assert outcome.reloads == 1 and PushJob.objects.get().state == PushState.SENT


@pytest.mark.django_db(transaction=True)
def test_the_migration_folds_the_pending_jobs_a_database_already_holds(require_postgres, free_port):
    """Before 0003 a node owed one row per change; the migration leaves one per (node, command), losing none."""
    from django.db.migrations.executor import MigrationExecutor

    kam = make_kamailio("kam-old", f"http://127.0.0.1:{free_port}/RPC")
    executor = MigrationExecutor(connection)
    executor.migrate([("push", "0002_one_job_per_transaction")])
    old = executor.loader.project_state([("push", "0002_one_job_per_transaction")]).apps.get_model("push", "PushJob")
    when = datetime(2026, 11, 1, 12, 0, tzinfo=dt_timezone.utc)
    for i in range(3):
        old.objects.create(node_kind="kamailio", kamailio_node_id=kam.pk, node_name=kam.name,
                           command=api.DISPATCHER_RELOAD, reasons=f"change {i}", attempts=i, next_attempt_at=when)
    old.objects.create(node_kind="kamailio", kamailio_node_id=kam.pk, node_name=kam.name, command=api.DIALPLAN_RELOAD,
                       next_attempt_at=when)
    old.objects.create(node_kind="kamailio", kamailio_node_id=kam.pk, node_name=kam.name,
                       command=api.DISPATCHER_RELOAD, state="sent", next_attempt_at=when)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    pending = PushJob.objects.filter(state=PushState.PENDING, command=api.DISPATCHER_RELOAD).get()
    assert (pending.requests, pending.attempts) == (3, 2)
    assert pending.reasons.splitlines() == ["change 0", "change 1", "change 2"]
    assert PushJob.objects.count() == 3, "the other command's job and the sent one are untouched"
