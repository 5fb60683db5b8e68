"""Sending the outbox: one node at a time, in order, rate-limited, retried until acknowledged.

The shape of one delivery run for a node (``deliver_node``):

1. take the node's lease (short transaction, ``select_for_update`` on its PushNodeState);
   if another worker holds it, stop: that worker re-checks for due jobs under the same
   row lock before it lets go (``_release_if_idle``), so a job committed meanwhile is
   never stranded;
2. loop: renew the lease and read the oldest due PENDING job (short transaction), wait
   out the node's rate limit, send the command with **no transaction open** (a node
   that hangs costs one node timeout, and never holds row locks that a user's save
   would wait on), then record the outcome (short transaction);
3. when no job is due, release the lease (atomically with that check).

Recording success is conditional on the job's ``revision``: a change that committed
while the command was on the wire bumped it, so the job stays PENDING and is sent again
rather than being marked done with that change not live. Transient errors back off
exponentially (``next_attempt_at``) and never give up unless PUSH_MAX_ATTEMPTS says so;
permanent ones mark the job FAILED (retryable from the UI).
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sites.models import AsteriskNode, KamailioNode
from voipadmin.connectors.errors import NodeError

from . import conf, gateway
from .models import NodeKind, PushJob, PushNodeState, PushState

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one delivery run did; ``retry_in`` is when the earliest backed-off job is due."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    busy: bool = False
    skipped: str = ""
    retry_in: float | None = None

    def as_dict(self) -> dict:
        return {"sent": self.sent, "failed": self.failed, "retrying": self.retrying, "busy": self.busy,
                "skipped": self.skipped, "retry_in": self.retry_in}


class _LeaseLost(Exception):
    """Our lease expired and another worker took the node: stop without touching it."""


def node_filter(kind: str, node_id: int) -> dict:
    return {"kamailio_node_id": node_id} if kind == NodeKind.KAMAILIO else {"asterisk_node_id": node_id}


def _load_node(kind: str, node_id: int):
    model = KamailioNode if kind == NodeKind.KAMAILIO else AsteriskNode
    return model.objects.filter(pk=node_id).first()


def _due(kind: str, node_id: int, now):
    return PushJob.objects.filter(state=PushState.PENDING, next_attempt_at__lte=now, **node_filter(kind, node_id))


# -- the lease -----------------------------------------------------------------------------


def _locked_state(kind: str, node_id: int) -> PushNodeState:
    PushNodeState.objects.get_or_create(node_kind=kind, node_id=node_id)
    return PushNodeState.objects.select_for_update().get(node_kind=kind, node_id=node_id)


def _acquire(kind: str, node_id: int, token: str) -> bool:
    with transaction.atomic():
        state = _locked_state(kind, node_id)
        now = timezone.now()
        if state.leased_until and state.leased_until > now and state.lease_token != token:
            return False
        state.leased_until = now + timedelta(seconds=conf.lease_seconds(kind))
        state.lease_token = token
        state.save(update_fields=["leased_until", "lease_token"])
    return True


def _release_if_idle(kind: str, node_id: int, token: str) -> bool:
    """Let go of the node unless a job became due meanwhile (checked under the lease row lock)."""
    with transaction.atomic():
        state = _locked_state(kind, node_id)
        if state.lease_token != token:
            raise _LeaseLost
        if _due(kind, node_id, timezone.now()).exists():
            return False
        state.leased_until, state.lease_token = None, ""
        state.save(update_fields=["leased_until", "lease_token"])
    return True


def _release(kind: str, node_id: int, token: str) -> None:
    PushNodeState.objects.filter(node_kind=kind, node_id=node_id, lease_token=token).update(
        leased_until=None, lease_token="")


def _claim_next(kind: str, node_id: int, token: str) -> tuple[PushJob | None, PushNodeState]:
    with transaction.atomic():
        now = timezone.now()
        renewed = PushNodeState.objects.filter(node_kind=kind, node_id=node_id, lease_token=token).update(
            leased_until=now + timedelta(seconds=conf.lease_seconds(kind)))
        if not renewed:
            raise _LeaseLost
        state = PushNodeState.objects.get(node_kind=kind, node_id=node_id)
        return _due(kind, node_id, now).order_by("id").first(), state


def _wait_rate_limit(kind: str, state: PushNodeState) -> None:
    interval = conf.min_interval(kind)
    if interval <= 0 or state.last_reload_at is None:
        return
    wait = (state.last_reload_at + timedelta(seconds=interval) - timezone.now()).total_seconds()
    if wait > 0:
        time.sleep(min(wait, interval))


# -- recording outcomes --------------------------------------------------------------------


def _record_success(job: PushJob, detail: str, token: str) -> bool:
    """Mark the job SENT if no newer change joined it while the command was on the wire."""
    now = timezone.now()
    with transaction.atomic():
        _stamp_reload(job, token, now)
        done = PushJob.objects.filter(pk=job.pk, state=PushState.PENDING, revision=job.revision).update(
            state=PushState.SENT, sent_at=now, attempts=F("attempts") + 1, updated=now)
        if not done:  # bumped meanwhile: that change may have missed this reload, send again
            PushJob.objects.filter(pk=job.pk).update(attempts=F("attempts") + 1, updated=now)
            return False
        # A reload reloads everything: older failed jobs of the same command are now live too.
        PushJob.objects.filter(state=PushState.FAILED, command=job.command, id__lt=job.pk,
                               **node_filter(job.node_kind, job.node_id)).update(
            state=PushState.SENT, sent_at=now, updated=now)
    log.info("push #%s %s to %s: %s", job.pk, job.command, job.node_name, detail)
    return True


def _record_failure(job: PushJob, exc: NodeError, token: str) -> tuple[str, float | None]:
    now = timezone.now()
    attempts = job.attempts + 1
    limit = conf.max_attempts()
    give_up = exc.permanent or (limit and attempts >= limit)
    reason = ("permanent: " if exc.permanent else "") + (str(exc) or exc.reason)
    with transaction.atomic():
        _stamp_reload(job, token, now)
        if give_up:
            PushJob.objects.filter(pk=job.pk, state=PushState.PENDING).update(
                state=PushState.FAILED, attempts=F("attempts") + 1, last_error=reason[:2000], updated=now)
            delay = None
        else:
            delay = conf.backoff(attempts)
            PushJob.objects.filter(pk=job.pk, state=PushState.PENDING).update(
                attempts=F("attempts") + 1, last_error=reason[:2000], updated=now,
                next_attempt_at=now + timedelta(seconds=delay))
    log.warning("push #%s %s to %s failed (%s): %s", job.pk, job.command, job.node_name,
                "given up" if give_up else f"retry in {delay:g}s", reason)
    return (PushState.FAILED if give_up else PushState.PENDING), delay


def _stamp_reload(job: PushJob, token: str, now) -> None:
    PushNodeState.objects.filter(node_kind=job.node_kind, node_id=job.node_id, lease_token=token).update(
        last_reload_at=now)


# -- entry points --------------------------------------------------------------------------


def deliver_node(kind: str, node_id: int) -> Outcome:
    """Send every due PENDING job of one node, oldest first, never concurrently with another run."""
    out = Outcome()
    if not conf.live_reload():
        out.skipped = "live reload off"
        return out
    node = _load_node(kind, node_id)
    if node is None or not node.enabled:
        out.skipped = "node deleted" if node is None else "node disabled"
        return out
    token = uuid.uuid4().hex
    if not _acquire(kind, node_id, token):
        out.busy = True
        return out
    holding = True
    try:
        while True:
            job, state = _claim_next(kind, node_id, token)
            if job is None:
                if _release_if_idle(kind, node_id, token):
                    holding = False
                    break
                continue
            _wait_rate_limit(kind, state)
            try:
                detail = gateway.send(kind, node, job.command)
            except NodeError as exc:
                new_state, delay = _record_failure(job, exc, token)
                if new_state == PushState.FAILED:
                    out.failed.append(job.pk)
                else:
                    out.retrying.append(job.pk)
                    out.retry_in = delay if out.retry_in is None else min(out.retry_in, delay)
            else:
                if _record_success(job, detail, token):
                    out.sent.append(job.pk)
    except _LeaseLost:
        holding = False
        log.warning("push: lease on %s node %s expired mid-run; another worker took over", kind, node_id)
    finally:
        if holding:
            _release(kind, node_id, token)
    return out


def due_nodes(now=None) -> list[tuple[str, int]]:
    """Enabled nodes with a PENDING job whose time has come (the sweep's work list)."""
    now = now or timezone.now()
    base = PushJob.objects.filter(state=PushState.PENDING, next_attempt_at__lte=now)
    kamailio = base.filter(kamailio_node__enabled=True).values_list("kamailio_node_id", flat=True).distinct()
    asterisk = base.filter(asterisk_node__enabled=True).values_list("asterisk_node_id", flat=True).distinct()
    return ([(NodeKind.KAMAILIO.value, pk) for pk in sorted(kamailio)]
            + [(NodeKind.ASTERISK.value, pk) for pk in sorted(asterisk)])


def fail_orphans() -> int:
    """PENDING jobs whose node was deleted can never be sent: say so instead of leaving them waiting."""
    return PushJob.objects.filter(state=PushState.PENDING, kamailio_node__isnull=True,
                                  asterisk_node__isnull=True).update(
        state=PushState.FAILED, last_error="node deleted", updated=timezone.now())


def sweep(dispatch: Callable[[str, int], object]) -> list[tuple[str, int]]:
    """Nudge every node with due PENDING jobs (held while LIVE_RELOAD is off)."""
    if not conf.live_reload():
        return []
    fail_orphans()
    nodes = due_nodes()
    for kind, node_id in nodes:
        dispatch(kind, node_id)
    return nodes


def held_reason(job: PushJob) -> str:
    """Why a PENDING job is not moving, for the UI ("" when it is simply queued)."""
    if job.state != PushState.PENDING:
        return ""
    if not conf.live_reload():
        return "held: live reload off"
    node = job.node
    if node is None:
        return "node deleted"
    if not node.enabled:
        return "held: node disabled"
    return ""


