"""The one thing ops records: when each Celery beat task last ran, and how long it took.

Celery beat keeps its schedule in a file on its own host and tells nobody when it fires; the
portals (on other hosts) answer /healthz from the shared database. So a worker that finishes a
beat-scheduled task (the poll cycle, the push sweep, ...) writes one row per task name here
(``ops.actions.record_task_run``): its age says whether beat and the workers are alive, its
duration is the poll cycle's duration /metrics shows.
"""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ScheduledTaskRun(models.Model):
    """The last run of one beat-scheduled task (one row per task name, rewritten every run)."""

    task = models.CharField(_("task"),
                            max_length=200, unique=True, help_text="Celery task name, e.g. live.tasks.poll_estate.")
    last_started = models.DateTimeField(_("last started"), help_text="When the last run started (the worker's clock).")
    last_finished = models.DateTimeField(_("last finished"))
    last_duration_seconds = models.FloatField(_("last duration seconds"))
    last_succeeded = models.BooleanField(_("last succeeded"))
    last_success = models.DateTimeField(_("last success"),
                                        null=True, blank=True, help_text="When the last successful run finished.")
    worker = models.CharField(_("worker"), max_length=255, blank=True, help_text="The worker that ran it (hostname).")

    class Meta:
        ordering = ["task"]
        verbose_name = _("scheduled task run")
        verbose_name_plural = _("scheduled task runs")

    def __str__(self) -> str:
        return f"{self.task} at {self.last_started:%Y-%m-%d %H:%M:%S}"
