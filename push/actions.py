"""The write path for push jobs an operator touches: "retry now" and "retry all failed"."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from voipadmin import audit
from voipadmin.actors import Actor
from voipadmin.models import ChangeLogEntry

from .api import schedule_delivery, upsert_pending
from .models import PushJob, PushState


def retry_now(job: PushJob, *, actor: Actor) -> PushJob:
    """Make a PENDING or FAILED job due now and nudge a worker after commit.

    A FAILED job whose (node, command) already has a newer PENDING job is folded into
    that one (there is at most one pending per pair): sending it covers the failed one.
    Returns the job that will be sent.
    """
    with transaction.atomic():
        job = (PushJob.objects.select_for_update(of=("self",)).select_related("kamailio_node", "asterisk_node")
               .get(pk=job.pk))
        if job.state == PushState.SENT:
            raise ValidationError(f"Push job {job} was already sent.")
        node = job.node
        if node is None:
            raise ValidationError(f"The node of push job {job} was deleted; there is nothing to send to.")
        before = audit.snapshot(job)
        if job.state == PushState.PENDING:
            PushJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now(), updated=timezone.now())
            target = job
        else:
            now = timezone.now()
            try:
                with transaction.atomic():
                    PushJob.objects.filter(pk=job.pk).update(state=PushState.PENDING, attempts=0,
                                                             next_attempt_at=now, updated=now)
                target = job
            except IntegrityError:  # a newer pending job has the same (node, command): fold into it
                target = upsert_pending(job.node_kind, node, job.command, f"retry of failed job #{job.pk}",
                                        count=0)
        target.refresh_from_db()
        job.refresh_from_db()
        audit.record(actor=actor, obj=job, action=ChangeLogEntry.Action.UPDATE, before=before,
                     after=audit.snapshot(job), message="retry now"
                     + (f" (folded into pending job #{target.pk})" if target.pk != job.pk else ""))
        schedule_delivery({(target.node_kind, node.pk)})
    return target


def retry_all_failed(*, actor: Actor) -> list[PushJob]:
    """``retry_now`` every FAILED job whose node still exists; returns the jobs that will be sent."""
    targets: dict[int, PushJob] = {}
    with transaction.atomic():
        failed = (PushJob.objects.filter(state=PushState.FAILED)
                  .exclude(kamailio_node__isnull=True, asterisk_node__isnull=True).order_by("id"))
        for job in failed:
            target = retry_now(job, actor=actor)
            targets[target.pk] = target
    return list(targets.values())
