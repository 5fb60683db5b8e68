"""Celery signals that feed ``ScheduledTaskRun``: a worker notes each run of a beat-scheduled task.

Only tasks named in ``CELERY_BEAT_SCHEDULE`` are noted (a few runs a minute), not the per-change
``push.tasks.deliver``. Noting a run must never break the task: any error is logged and dropped,
inside a savepoint so an outer transaction (an eager task in a test) is left intact.
"""
from __future__ import annotations

import logging
import socket

from django.conf import settings
from django.utils import timezone

log = logging.getLogger(__name__)
_started: dict[str, object] = {}


def scheduled_task_names() -> set[str]:
    return {entry["task"] for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values() if "task" in entry}


def _on_prerun(sender=None, task_id=None, task=None, **_) -> None:
    """Note the start of a scheduled task run by a worker (an eager run in a test has no beat behind it)."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    if task.name in scheduled_task_names():
        _started[task_id] = timezone.now()


def _on_postrun(sender=None, task_id=None, task=None, state=None, retval=None, **_) -> None:
    """Record the run whose start ``_on_prerun`` noted, failed or not. A task that says it was
    ``skipped…`` (live.tasks.poll_estate while another cycle holds the poll lock) ran but did no work."""
    started = _started.pop(task_id, None)
    if started is None or task is None:
        return
    from .actions import record_task_run

    try:
        worker = getattr(task.request, "hostname", None) or socket.gethostname()
        skipped = isinstance(retval, str) and retval.startswith("skipped")
        record_task_run(task=task.name, started=started, finished=timezone.now(), succeeded=state == "SUCCESS",
                        did_work=not skipped, worker=worker or "")
    except Exception:  # noqa: BLE001 - bookkeeping only: the task itself already ran
        log.warning("ops: could not record the run of %s", task.name, exc_info=True)


def connect() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_on_prerun, weak=False, dispatch_uid="ops-scheduled-task-prerun")
    task_postrun.connect(_on_postrun, weak=False, dispatch_uid="ops-scheduled-task-postrun")
