"""The one write path of ops: a worker records the run of a beat-scheduled task."""
from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from .models import ScheduledTaskRun

log = logging.getLogger(__name__)


def record_task_run(*, task: str, started: datetime, finished: datetime, succeeded: bool, did_work: bool = True,
                    worker: str = "") -> None:
    """Upsert the task's row: one UPDATE, an INSERT the first time (two workers racing on the
    first run of a task: the loser's INSERT is ignored and its UPDATE lands). A run that succeeded
    without doing its work (``did_work=False``: a poll cycle skipped because another one holds the
    lock) does not count as the last success."""
    values = {"last_started": started, "last_finished": finished, "worker": worker[:255],
              "last_duration_seconds": max(0.0, (finished - started).total_seconds()),
              "last_succeeded": succeeded}
    if succeeded and did_work:
        values["last_success"] = finished
    with transaction.atomic():
        if ScheduledTaskRun.objects.filter(task=task).update(**values):
            return
        ScheduledTaskRun.objects.bulk_create([ScheduledTaskRun(task=task, **values)], ignore_conflicts=True)
        ScheduledTaskRun.objects.filter(task=task).update(**values)
