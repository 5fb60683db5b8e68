"""The write path for push jobs an operator touches: "retry now" and "retry all failed"."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone

from voipadmin import crud
from voipadmin.actors import Actor

from .api import schedule_delivery
from .models import PushJob, PushState


def retry_now(job: PushJob, *, actor: Actor) -> PushJob:
    """Make a PENDING or FAILED job due now and nudge a worker after commit.

    A FAILED job goes back to PENDING with a fresh attempt count (so PUSH_MAX_ATTEMPTS
    applies anew). With live reload off it stays held like any other pending job. Through
    ``voipadmin.crud``: the row is locked, so a delivery finishing meanwhile is seen.
    """

    def prepare(write: crud.Write) -> None:
        job = write.obj  # (the stored row: crud has brought it up to date under the lock)
        if job.state == PushState.SENT:
            raise ValidationError(f"Push job {job} was already sent.")
        if job.node is None:
            raise ValidationError(f"The node of push job {job} was deleted; there is nothing to send to.")
        if job.state == PushState.FAILED:
            job.state, job.attempts = PushState.PENDING, 0

    def due_now(job: PushJob) -> None:
        """The database clock, as delivery compares ``next_attempt_at`` with it."""
        PushJob.objects.filter(pk=job.pk).update(next_attempt_at=Now(), updated=timezone.now())
        job.refresh_from_db(fields=["next_attempt_at", "updated"])

    def deliver(write: crud.Write) -> None:
        schedule_delivery({(write.obj.node_kind, write.obj.node_id)})

    return crud.update(job, actor=actor, fields={}, message="retry now", prepare=prepare, related=due_now,
                       effects=[deliver])


def retry_all_failed(*, actor: Actor) -> list[PushJob]:
    """``retry_now`` every FAILED job whose node still exists."""
    with transaction.atomic():
        failed = (PushJob.objects.filter(state=PushState.FAILED)
                  .exclude(kamailio_node__isnull=True, asterisk_node__isnull=True).order_by("id"))
        return [retry_now(job, actor=actor) for job in failed]
