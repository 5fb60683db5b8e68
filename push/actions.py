"""The write path for push jobs an operator touches: "retry now", "retry all failed", and a node's queue
(pause, resume, cancel its pending jobs, push everything now)."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy as _

from sites.models import AsteriskNode, KamailioNode
from voipadmin import audit, crud
from voipadmin.actors import Actor

from .api import request, schedule_delivery
from .delivery import node_filter
from .intents import COMMANDS
from .models import NodeKind, PushJob, PushNodeState, PushState


def retry_now(job: PushJob, *, actor: Actor) -> PushJob:
    """Make a PENDING, FAILED or CANCELLED job due now and nudge a worker after commit.

    A FAILED (or CANCELLED) job goes back to PENDING with a fresh attempt count (so
    PUSH_MAX_ATTEMPTS applies anew) -- unless its node already owes that command in another
    open job: then that job is made due now, and its reload covers this one too (a reload
    reloads everything). With live reload off it stays held like any other pending job.
    Through ``voipadmin.crud``: the row is locked, so a delivery finishing meanwhile is seen.
    """
    covering: list[int] = []

    def prepare(write: crud.Write) -> None:
        job = write.obj  # (the stored row: crud has brought it up to date under the lock)
        if job.state == PushState.SENT:
            raise ValidationError(gettext("Push job %(job)s was already sent.") % {"job": job})
        if job.node is None:
            raise ValidationError(gettext("The node of push job %(job)s was deleted; there is nothing to send to.")
                                  % {"job": job})
        if job.state in (PushState.FAILED, PushState.CANCELLED):
            open_jobs = PushJob.objects.filter(state=PushState.PENDING, in_flight=False, command=job.command,
                                               **node_filter(job.node_kind, job.node_id)).exclude(pk=job.pk)
            open_job = next(iter(crud.lock_many(open_jobs, open_jobs.values_list("pk", flat=True))), None)
            if open_job is not None:
                covering.append(open_job.pk)
                write.message = f"retry now: covered by the pending job #{open_job.pk}"
            else:
                job.state, job.attempts = PushState.PENDING, 0

    def due_now(job: PushJob) -> None:
        """The database clock, as delivery compares ``next_attempt_at`` with it."""
        PushJob.objects.filter(pk__in=[job.pk, *covering], state=PushState.PENDING).update(
            next_attempt_at=Now(), updated=timezone.now())
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


# -- a node's queue: pause, resume, cancel, push everything ---------------------------------------------------

STALE_WARNING = _("The node may now be stale: the changes those jobs covered are in the database but not in the "
                  "node's memory until it reloads. Use \"push everything now\" to re-sync it.")


def node_kind(node: KamailioNode | AsteriskNode) -> str:
    if isinstance(node, KamailioNode):
        return NodeKind.KAMAILIO
    if isinstance(node, AsteriskNode):
        return NodeKind.ASTERISK
    raise TypeError(f"not a node: {node!r}")


def node_queue(node: KamailioNode | AsteriskNode) -> PushNodeState:
    """The node's delivery bookkeeping row (created on first use, like delivery does)."""
    return PushNodeState.objects.get_or_create(node_kind=node_kind(node), node_id=node.pk)[0]


def pause_queue(node: KamailioNode | AsteriskNode, *, actor: Actor) -> PushNodeState:
    """Stop sending to the node: its jobs keep collecting changes and wait (e.g. during its maintenance).

    A reload already on the wire finishes; nothing after it is sent until ``resume_queue``.
    """
    return crud.update(node_queue(node), actor=actor, fields={"paused": True},
                       message=f"push queue of {node_kind(node)} node {node.name} paused")


def resume_queue(node: KamailioNode | AsteriskNode, *, actor: Actor) -> PushNodeState:
    """Send again: every pending job of the node is made due now and a worker is nudged after commit."""
    kind = node_kind(node)

    def due_now(_queue: PushNodeState) -> None:
        PushJob.objects.filter(state=PushState.PENDING, **node_filter(kind, node.pk)).update(
            next_attempt_at=Now(), updated=timezone.now())

    def deliver(_write: crud.Write) -> None:
        schedule_delivery({(kind, node.pk)})

    return crud.update(node_queue(node), actor=actor, fields={"paused": False}, related=due_now,
                       effects=[deliver], message=f"push queue of {kind} node {node.name} resumed")


def cancel_queue(node: KamailioNode | AsteriskNode, *, actor: Actor) -> list[PushJob]:
    """Mark every PENDING job of the node CANCELLED (each audited); returns them.

    For a node that will not come back soon, or whose reloads an operator does by hand. A reload
    already on the wire still reaches the node, but its jobs stay cancelled. The node may then be
    stale (``STALE_WARNING``): ``push_everything`` re-syncs it.
    """
    kind = node_kind(node)
    with transaction.atomic():
        pending = PushJob.objects.filter(state=PushState.PENDING, **node_filter(kind, node.pk))
        jobs = crud.lock_many(pending, pending.values_list("pk", flat=True))
        befores = [audit.snapshot(job) for job in jobs]
        for job in jobs:
            job.state = PushState.CANCELLED
        crud.bulk_update(jobs, actor=actor, befores=befores, fields=["state"],
                         message=f"cancelled from the push queue of {node.name} (the node may be stale until it "
                                 f"reloads {job_commands(jobs)})")
    return jobs


def job_commands(jobs: list[PushJob]) -> str:
    return ", ".join(sorted({job.command for job in jobs}))


def push_everything(node: KamailioNode | AsteriskNode, *, actor: Actor) -> list[PushJob]:
    """Queue every reload the node knows (a full re-sync of its memory with the database), sent after commit.

    Refused for a disabled node (nothing is sent to it); a paused queue keeps them until resumed.
    """
    kind = node_kind(node)
    if not node.enabled:
        raise ValidationError(gettext("%(node)s is disabled: nothing is pushed to it.") % {"node": node.name})

    with transaction.atomic():
        jobs = [job for command in COMMANDS[kind]
                for job in request(kind, command, node_ids=[node.pk], reason="full reload asked from the node's "
                                                                             "push page")]
        audit.record_operation(actor=actor, obj=node, message=f"push everything now: {', '.join(COMMANDS[kind])}",
                               details={"jobs": ", ".join(f"#{job.pk}" for job in jobs)})
    return jobs
