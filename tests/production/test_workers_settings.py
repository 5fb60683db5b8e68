"""The Celery settings per broker, and the locks that make a second beat and a second poll harmless (in process).

The same behaviour with real processes on both brokers: test_workers.py. (Advisory locks belong to database
sessions, not transactions: each lock here is taken on a connection of its own, committed data or not.)
"""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from voipadmin.celery import BeatLock, LeaderScheduler, advisory_lock, app
from voipadmin.settings import celery_transport_options

pytestmark = [pytest.mark.postgres]


@pytest.mark.parametrize(("url", "options"), [
    ("redis://127.0.0.1:6379/0", {"visibility_timeout": 600}),
    ("rediss://:pw@redis.example.test:6380/0", {"visibility_timeout": 600}),
    ("amqp://guest:guest@127.0.0.1:5672//", {"confirm_publish": True}),
    ("pyamqp://voipadmin:pw@rabbit.example.test:5672/estate", {"confirm_publish": True}),
])
def test_each_broker_gets_the_options_its_redelivery_needs(url, options):
    assert celery_transport_options(url) == options


def test_tasks_are_acknowledged_late_and_given_back_when_their_worker_dies():
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_connection_retry_on_startup
    assert conf.beat_scheduler == "voipadmin.celery:LeaderScheduler"
    assert {route["queue"] for route in conf.task_routes.values()} == {"push", "live"}


def test_a_second_beat_stands_by_until_the_first_lets_go(require_postgres):
    first, second = BeatLock(), BeatLock()
    try:
        assert first.held() and first.held(), "the leader keeps it"
        assert not second.held(), "a second beat stands by"
        first.close()  # the leader's session ends (its process died) ...
        deadline = time.monotonic() + 5  # ... and PostgreSQL releases the lock once the backend has gone
        while not second.held() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.held(), "the standby takes over"
        assert not first.held()
    finally:
        first.close()
        second.close()


def test_the_leader_scheduler_sends_nothing_while_standing_by(require_postgres, tmp_path, monkeypatch):
    sent = []
    monkeypatch.setattr("celery.beat.Scheduler.apply_entry", lambda self, entry, producer=None: sent.append(entry))
    leader = LeaderScheduler(app=app, schedule_filename=str(tmp_path / "leader"), lazy=True)
    standby = LeaderScheduler(app=app, schedule_filename=str(tmp_path / "standby"), lazy=True)
    try:
        entry = SimpleNamespace(name="live-poll-estate")
        leader.apply_entry(entry)
        standby.apply_entry(entry)
        assert sent == [entry]
    finally:
        leader.lock.close()
        standby.lock.close()


def test_a_poll_cycle_lock_is_not_taken_twice_at_once(require_postgres):
    from django.db import connection

    seen = []

    def other_worker() -> None:
        with advisory_lock("live.poll_estate") as ours:
            seen.append(ours)
        connection.close()

    with advisory_lock("live.poll_estate") as ours:
        assert ours
        thread = threading.Thread(target=other_worker)  # its own database connection, like another worker
        thread.start()
        thread.join()
    assert seen == [False]
    with advisory_lock("live.poll_estate") as ours:
        assert ours, "let go at the end of the block"
