"""The write path for push jobs an operator touches: "retry now" and "retry all failed"."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone

from voipadmin import audit
from voipadmin.actors import Actor
from voipadmin.models import ChangeLogEntry

from .api import schedule_delivery
from .models import PushJob, PushState


def retry_now(job: PushJob, *, actor: Actor) -> PushJob:
    """Make a PENDING or FAILED job due now and nudge a worker after commit.

    A FAILED job goes back to PENDING with a fresh attempt count (so PUSH_MAX_ATTEMPTS
    applies anew). With live reload off it stays held like any other pending job.
    """
    with transaction.atomic():
        job = (PushJob.objects.select_for_update(of=("self",)).select_related("kamailio_node", "asterisk_node")
               .get(pk=job.pk))
        if job.state == PushState.SENT:
            raise ValidationError(f"Push job {job} was already sent.")
        if job.node is None:
            raise ValidationError(f"The node of push job {job} was deleted; there is nothing to send to.")
        before = audit.snapshot(job)
        changes = {"next_attempt_at": Now(), "updated": timezone.now()}  # database clock, as delivery uses
        if job.state == PushState.FAILED:
            changes.update(state=PushState.PENDING, attempts=0)
        PushJob.objects.filter(pk=job.pk).update(**changes)
        job.refresh_from_db()
        audit.record(actor=actor, obj=job, action=ChangeLogEntry.Action.UPDATE, before=before,
                     after=audit.snapshot(job), message="retry now")
        schedule_delivery({(job.node_kind, job.node_id)})
    return job


def retry_all_failed(*, actor: Actor) -> list[PushJob]:
    """``retry_now`` every FAILED job whose node still exists."""
    with transaction.atomic():
        failed = (PushJob.objects.filter(state=PushState.FAILED)
                  .exclude(kamailio_node__isnull=True, asterisk_node__isnull=True).order_by("id"))
        return [retry_now(job, actor=actor) for job in failed]
