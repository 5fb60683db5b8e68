"""Celery tasks of the users app: thin wrappers around ``users.importjobs``.

A big CSV import runs here rather than in the request (``importjobs.start`` decides by the number of lines):
the page polls the job's status for its progress bar. The task takes the job token and the actor's id and
re-reads everything; a lost message leaves the job "queued" until its files expire, and nothing is written.
"""
from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils import translation

from voipadmin.actors import Actor

from . import importjobs


@shared_task(ignore_result=True)
def run_import(token: str, *, dry_run: bool, user_id: int | None, label: str, source: str, filename: str,
               lines: int | None = None, language: str | None = None) -> str:
    """Check or import the job's sealed upload; returns the final state ("done" or "failed"). Its messages
    are in ``language``, the operator's who started it (a worker has no request to take it from)."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    actor = Actor(user=user, label=label, source=source)
    with translation.override(language):
        return importjobs.run(token, actor=actor, dry_run=dry_run, filename=filename, lines=lines)["state"]


@shared_task(ignore_result=True)
def purge_import_files() -> int:
    """Remove expired import files (uploads, generated secrets, error lists, statuses); Celery beat runs it."""
    return importjobs.purge()
