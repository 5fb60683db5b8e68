"""The checks behind /healthz: is this portal, and the machinery behind it, doing its job?

Five checks, each cheap (three queries and one broker connection in all, whatever the estate's
size) and each with its threshold from settings:

* ``database``: ``SELECT CURRENT_TIMESTAMP`` answers; its answer is the clock the ages below are
  measured with (push delivery writes with the database's clock too).
* ``broker``: a connection to the Celery broker opens within ``HEALTH_BROKER_TIMEOUT_SECONDS``.
* ``beat``: some beat-scheduled task (the push sweep every few seconds, the poll cycle, ...) ran
  within ``HEALTH_BEAT_MAX_AGE_SECONDS``: beat fires and workers take its tasks.
* ``poll``: the last poll cycle that completed is at most ``HEALTH_POLL_MAX_AGE_SECONDS`` old.
* ``push``: no change owed to an enabled node has been due for longer than
  ``HEALTH_PUSH_MAX_AGE_SECONDS`` (a job backing off after a failure is not due until its next
  attempt, and every failed attempt moves that on; a job stays overdue only when no worker takes
  it). Held jobs (live reload off) are fine by design.

The checks read sites/live/push rows; they never write.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone as dt_timezone

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, Min, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from push.delivery import paused_queues
from push.models import PushJob, PushState

from .models import ScheduledTaskRun

POLL_TASK = "live.tasks.poll_estate"
CHECKS = ("database", "broker", "beat", "poll", "push")


@dataclass
class Check:
    """One check's verdict; ``age_seconds``/``threshold_seconds`` for the checks that measure an age."""

    name: str
    ok: bool
    detail: str
    age_seconds: float | None = None
    threshold_seconds: float | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("name")
        if data["age_seconds"] is not None:
            data["age_seconds"] = round(data["age_seconds"], 3)
        return {k: v for k, v in data.items() if v is not None}


def _threshold(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip().rstrip(":")


def check_database() -> tuple[Check, datetime | None]:
    """The database answers; returns its clock too (None when it does not answer)."""
    try:
        with connection.cursor() as cursor:
            # PostgreSQL's CURRENT_TIMESTAMP is the transaction's start (stale inside a long one); its
            # clock_timestamp() is the clock now. SQLite's CURRENT_TIMESTAMP is already the clock now.
            cursor.execute("SELECT clock_timestamp()" if connection.vendor == "postgresql"
                           else "SELECT CURRENT_TIMESTAMP")
            (value,) = cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure to answer is "down", whatever the driver raised
        return Check("database", False, _first_line(exc)), None
    if isinstance(value, str):  # SQLite: 'YYYY-MM-DD HH:MM:SS' in UTC
        value = parse_datetime(value.replace(" ", "T") + "+00:00")
    if not isinstance(value, datetime):
        value = timezone.now()
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt_timezone.utc)
    return Check("database", True, f"{connection.vendor} answers"), value


def check_broker() -> Check:
    """A fresh connection to the broker opens in time (a pooled one could hide a broker gone away)."""
    from voipadmin.celery import app

    timeout = _threshold("HEALTH_BROKER_TIMEOUT_SECONDS", 1.0)
    conn = app.connection_for_read(settings.CELERY_BROKER_URL, connect_timeout=timeout)
    try:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        transport = conn.transport_cls
    except Exception as exc:  # noqa: BLE001 - kombu and its transports raise many types
        return Check("broker", False, f"{_first_line(exc)} (timeout {timeout:g}s)")
    finally:
        conn.release()
    return Check("broker", True, f"{transport} broker answers")


def scheduled_runs() -> dict[str, ScheduledTaskRun]:
    return {run.task: run for run in ScheduledTaskRun.objects.all()}


def check_beat(runs: dict[str, ScheduledTaskRun], now: datetime) -> Check:
    """The newest run of any beat-scheduled task is recent enough."""
    limit = _threshold("HEALTH_BEAT_MAX_AGE_SECONDS", 60)
    if not runs:
        return Check("beat", False, "no beat-scheduled task has run yet (are celery beat and the workers running?)",
                     threshold_seconds=limit)
    newest = max(runs.values(), key=lambda run: run.last_started)
    age = max(0.0, (now - newest.last_started).total_seconds())
    ok = age <= limit
    detail = f"{newest.task} started {age:.0f}s ago" + ("" if ok else f" (more than {limit:g}s)")
    return Check("beat", ok, detail, age, limit)


def check_poll(runs: dict[str, ScheduledTaskRun], now: datetime) -> Check:
    """The last completed poll cycle is recent enough."""
    limit = _threshold("HEALTH_POLL_MAX_AGE_SECONDS", 60)
    run = runs.get(POLL_TASK)
    if run is None or run.last_success is None:
        return Check("poll", False, "no poll cycle has completed yet", threshold_seconds=limit)
    age = max(0.0, (now - run.last_success).total_seconds())
    ok = age <= limit
    detail = (f"last cycle completed {age:.0f}s ago in {run.last_duration_seconds:.2f}s"
              + ("" if run.last_succeeded else "; the latest one failed") + ("" if ok else f" (more than {limit:g}s)"))
    return Check("poll", ok, detail, age, limit)


def check_push(now: datetime) -> Check:
    """No push owed to an enabled node is overdue (one aggregate query)."""
    limit = _threshold("HEALTH_PUSH_MAX_AGE_SECONDS", 120)
    if not getattr(settings, "LIVE_RELOAD", True):
        return Check("push", True, "live reload is off: changes are held, by design", threshold_seconds=limit)
    due = (PushJob.objects.filter(state=PushState.PENDING)
           .filter(Q(kamailio_node__enabled=True) | Q(asterisk_node__enabled=True))
           .exclude(Exists(paused_queues()))  # (held by an administrator, by design)
           .aggregate(pending=Count("id"), oldest_due=Min("next_attempt_at")))
    if not due["pending"]:
        return Check("push", True, "nothing pending", 0.0, limit)
    age = max(0.0, (now - due["oldest_due"]).total_seconds())
    ok = age <= limit
    detail = (f"{due['pending']} job(s) pending; the oldest due {age:.0f}s ago"
              + ("" if ok else f" (more than {limit:g}s: are the push workers running?)"))
    return Check("push", ok, detail, age, limit)


def run_checks(names: tuple[str, ...] = CHECKS) -> list[Check]:
    """Run the named checks (all by default), in a fixed order; the database ones wait for the database."""
    results: list[Check] = []
    database, now = check_database()
    if "database" in names:
        results.append(database)
    if "broker" in names:
        results.append(check_broker())
    wanted = [n for n in ("beat", "poll", "push") if n in names]
    if not wanted:
        return results
    if now is None:
        return results + [Check(n, False, "not checked: the database does not answer") for n in wanted]
    try:
        runs = scheduled_runs() if {"beat", "poll"} & set(wanted) else {}
    except Exception as exc:  # noqa: BLE001 - the database went away between two queries
        return results + [Check(n, False, _first_line(exc)) for n in wanted]
    checks = {"beat": lambda: check_beat(runs, now), "poll": lambda: check_poll(runs, now),
              "push": lambda: check_push(now)}
    for name in wanted:
        try:
            results.append(checks[name]())
        except Exception as exc:  # noqa: BLE001 - a failing check is a 503 naming it, never a 500
            results.append(Check(name, False, _first_line(exc)))
    return results
