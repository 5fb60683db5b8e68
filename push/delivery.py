"""Sending the outbox: one node at a time, in order, rate-limited, retried until acknowledged.

The shape of one delivery run for a node (``deliver_node``):

1. take the node's lease (short transaction, ``select_for_update`` on its PushNodeState);
   if another worker holds it, stop: that worker re-checks for due jobs under the same
   row lock before it lets go (``_release_if_idle``), so a job committed meanwhile is
   never stranded;
2. loop: renew the lease and claim the oldest due PENDING job plus every other PENDING
   job of the same command for that node, marking them ``in_flight`` (short transaction) --
   one reload serves them all; wait out the node's rate limit; send the command with **no
   transaction open** (a node that hangs costs one node timeout, and never holds row locks
   that a user's save would wait on); record the outcome on exactly the jobs claimed (short
   transaction);
3. when no job is due (or the node's queue is paused), release the lease (atomically with
   that check).

A change committed while its command is on the wire cannot join a claimed job: it opens the
next one, which gets the next reload -- nothing is marked done that the node may not have
seen. Transient errors back off exponentially with jitter up to a ceiling
(``conf.backoff``, stored in ``next_attempt_at``) and never give up unless
PUSH_MAX_ATTEMPTS says so; the failed jobs and any job opened meanwhile are folded back into
one, which later changes join without earning a try of their own. Permanent errors mark the
jobs FAILED (retryable from the UI). A paused node (``PushNodeState.paused``) is skipped
until an administrator resumes it (push/actions.py).

**Several workers, and workers that die.** Any number of push workers may run: the lease makes
one of them the node's sender at a time, and jobs go out oldest first. The row lock behind the
lease is a plain ``FOR UPDATE`` held for the milliseconds of taking or letting go of the lease,
not ``SKIP LOCKED``: a run that skipped a node whose holder is just letting go could strand a job
committed in between until the next sweep. A worker killed mid-send (``kill -9``, the OOM
killer, a host lost) leaves its jobs PENDING and its lease to expire (``conf.lease_seconds``);
the first sweep after that finds them due and another worker sends them. Delivery is therefore
*at least once* on the wire -- the dead worker's reload may have reached the node -- which is
harmless because a reload makes the node re-read its whole table as it is now (idempotent, never
stale). What happens exactly once is *completion*: a job goes PENDING -> SENT once, and only
after a reload that started after the job was committed (tests/production/test_workers.py).
"""
from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from sites.models import AsteriskNode, KamailioNode
from voipadmin.connectors.errors import NodeError

from . import conf, gateway
from .api import merge_reasons
from .models import NodeKind, PushJob, PushNodeState, PushState

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one delivery run did; ``retry_in`` is when the earliest backed-off job is due."""

    reloads: int = 0  # commands put on the wire
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    busy: bool = False
    skipped: str = ""
    retry_in: float | None = None

    def as_dict(self) -> dict:
        return {"reloads": self.reloads, "sent": self.sent, "failed": self.failed, "retrying": self.retrying, "busy": self.busy,
                "skipped": self.skipped, "retry_in": self.retry_in}


class _LeaseLost(Exception):
    """Our lease expired and another worker took the node: stop without touching it."""


def node_filter(kind: str, node_id: int) -> dict:
    return {"kamailio_node_id": node_id} if kind == NodeKind.KAMAILIO else {"asterisk_node_id": node_id}


def _load_node(kind: str, node_id: int):
    model = KamailioNode if kind == NodeKind.KAMAILIO else AsteriskNode
    return model.objects.filter(pk=node_id).first()


#: A PENDING job is due when it was never tried, or its backoff has run out. "Never tried"
#: needs no clock; backoff times are set and compared with the database's clock (``Now()``),
#: so a web host and a worker host whose clocks differ by a few ms never miss a nudge.
DUE = Q(attempts=0) | Q(next_attempt_at__lte=Now())


def _due(kind: str, node_id: int):
    return PushJob.objects.filter(DUE, state=PushState.PENDING, **node_filter(kind, node_id))


# -- the lease -----------------------------------------------------------------------------


def lease_token() -> str:
    """A new delivery run's token: unique, and it names the holder (``host:pid:random``, at most 32 characters)
    so an operator looking at a held node -- or a test that kills the holder -- knows which process it is."""
    return f"{socket.gethostname()[:12]}:{os.getpid()}:{uuid.uuid4().hex[:10]}"[:32]


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
        if not state.paused and _due(kind, node_id).exists():
            return False
        state.leased_until, state.lease_token = None, ""
        state.save(update_fields=["leased_until", "lease_token"])
    return True


def _release(kind: str, node_id: int, token: str) -> None:
    PushNodeState.objects.filter(node_kind=kind, node_id=node_id, lease_token=token).update(
        leased_until=None, lease_token="")


def _claim_next(kind: str, node_id: int, token: str) -> tuple[list[PushJob], PushNodeState]:
    """The oldest due job and every other pending job of its command, marked in flight.

    Marking them in flight closes the open job: a change committed from now on opens the next
    one (the reload about to go out may not cover it). The UPDATE waits for transactions still
    joining the open job, so what is claimed was all committed before the send. Jobs already in
    flight here were left by a dead worker (we hold the lease now): they are claimed again.
    """
    with transaction.atomic():
        now = timezone.now()
        renewed = PushNodeState.objects.filter(node_kind=kind, node_id=node_id, lease_token=token).update(
            leased_until=now + timedelta(seconds=conf.lease_seconds(kind)))
        if not renewed:
            raise _LeaseLost
        state = PushNodeState.objects.get(node_kind=kind, node_id=node_id)
        if state.paused:
            return [], state
        first = _due(kind, node_id).order_by("id").first()
        if first is None:
            return [], state
        group = PushJob.objects.filter(state=PushState.PENDING, command=first.command, **node_filter(kind, node_id))
        group.update(in_flight=True)
        jobs = list(group.order_by("id"))
        return [first] + [job for job in jobs if job.pk != first.pk], state


def _wait_rate_limit(kind: str, state: PushNodeState) -> None:
    interval = conf.min_interval(kind)
    if interval <= 0 or state.last_reload_at is None:
        return
    wait = (state.last_reload_at + timedelta(seconds=interval) - timezone.now()).total_seconds()
    if wait > 0:
        time.sleep(min(wait, interval))


# -- recording outcomes --------------------------------------------------------------------


def _record_success(jobs: list[PushJob], detail: str, token: str) -> list[int]:
    """Mark SENT the jobs that were committed before the command went out (and only those)."""
    now, first = timezone.now(), jobs[0]
    ids = [job.pk for job in jobs]
    with transaction.atomic():
        _stamp_reload(first, token, now)
        PushJob.objects.filter(pk__in=ids, state=PushState.PENDING).update(
            state=PushState.SENT, sent_at=now, attempts=F("attempts") + 1, updated=now, in_flight=False)
        PushJob.objects.filter(pk__in=ids, in_flight=True).update(in_flight=False)  # (cancelled meanwhile)
        # A reload reloads everything: older failed jobs of the same command are now live too.
        PushJob.objects.filter(state=PushState.FAILED, command=first.command, id__lt=max(ids),
                               **node_filter(first.node_kind, first.node_id)).update(
            state=PushState.SENT, sent_at=now, updated=now)
    log.info("push %s to %s (jobs %s): %s", first.command, first.node_name, ids, detail)
    return ids


def _record_failure(jobs: list[PushJob], exc: NodeError, token: str) -> tuple[str, float | None]:
    """Back the jobs off (or give up): they shared the reload, they share its fate.

    They are folded into one job again (the oldest), together with the open job changes opened
    while the reload was on the wire: a node that stays down owes one row per command. The
    backoff follows the longest failure streak among them, and changes that join the job wait
    for it, so a node that stays down is tried less and less often (up to the ceiling) however
    many changes arrive.
    """
    now, first = timezone.now(), jobs[0]
    attempts = max(job.attempts for job in jobs) + 1
    limit = conf.max_attempts()
    give_up = exc.permanent or bool(limit and attempts >= limit)
    reason = ("permanent: " if exc.permanent else "") + (str(exc) or exc.reason)
    with transaction.atomic():
        _stamp_reload(first, token, now)
        mine = list(PushJob.objects.select_for_update().filter(
            pk__in=[job.pk for job in jobs], state=PushState.PENDING).order_by("id"))
        if not mine:  # (all cancelled while on the wire)
            PushJob.objects.filter(pk__in=[job.pk for job in jobs]).update(in_flight=False)
            return PushState.CANCELLED, None
        if give_up:
            PushJob.objects.filter(pk__in=[job.pk for job in mine]).update(
                state=PushState.FAILED, attempts=F("attempts") + 1, last_error=reason[:2000], updated=now,
                in_flight=False)
            delay = None
        else:
            delay = conf.backoff(attempts)
            _fold_back(first, mine, attempts=attempts, error=reason[:2000], delay=delay, now=now)
    log.warning("push %s to %s (%d job(s)) failed (%s): %s", first.command, first.node_name, len(jobs),
                "given up" if give_up else f"retry in {delay:g}s", reason)
    return (PushState.FAILED if give_up else PushState.PENDING), delay


def _fold_back(first: PushJob, mine: list[PushJob], *, attempts: int, error: str, delay: float, now) -> None:
    """Make the oldest of ``mine`` the node's open job again, backed off, with every other job of the command
    that is not on the wire folded into it (theirs: ``requests``, reasons, latest request time)."""
    keep = mine[0]
    for _ in range(5):
        try:
            with transaction.atomic():
                opened = list(PushJob.objects.select_for_update().filter(
                    state=PushState.PENDING, in_flight=False, command=first.command,
                    **node_filter(first.node_kind, first.node_id)))
                folded = mine[1:] + opened
                reasons = keep.reasons
                for job in folded:
                    reasons = merge_reasons(reasons, job.reasons)
                requested = [j.last_requested_at for j in (keep, *folded) if j.last_requested_at]
                if folded:
                    PushJob.objects.filter(pk__in=[job.pk for job in folded]).delete()
                PushJob.objects.filter(pk=keep.pk).update(
                    attempts=attempts, last_error=error, updated=now, in_flight=False, reasons=reasons,
                    next_attempt_at=Now() + timedelta(seconds=delay),
                    requests=keep.requests + sum(job.requests for job in folded),
                    last_requested_at=max(requested) if requested else None)
            return
        except IntegrityError:
            # a change opened the next job and committed while we folded: fold that one in too
            continue
    raise RuntimeError(f"push: could not fold the jobs of {first.command} on {first.node_name}")  # pragma: no cover


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
    if PushNodeState.objects.filter(node_kind=kind, node_id=node_id, paused=True).exists():
        out.skipped = "queue paused"
        return out
    token = lease_token()
    if not _acquire(kind, node_id, token):
        out.busy = True
        return out
    holding = True
    try:
        while True:
            jobs, state = _claim_next(kind, node_id, token)
            if not jobs:
                if _release_if_idle(kind, node_id, token):
                    holding = False
                    break
                continue
            _wait_rate_limit(kind, state)
            out.reloads += 1
            try:
                detail = gateway.send(kind, node, jobs[0].command)
            except NodeError as exc:
                new_state, delay = _record_failure(jobs, exc, token)
                ids = [job.pk for job in jobs]
                if new_state == PushState.FAILED:
                    out.failed.extend(ids)
                else:
                    out.retrying.extend(ids)
                    out.retry_in = delay if out.retry_in is None else min(out.retry_in, delay)
            else:
                out.sent.extend(_record_success(jobs, detail, token))
    except _LeaseLost:
        holding = False
        log.warning("push: lease on %s node %s expired mid-run; another worker took over", kind, node_id)
    finally:
        if holding:
            _release(kind, node_id, token)
    return out


def paused_queues():
    """The paused queue of a job's node (for ``Exists``: a job of a paused node waits)."""
    return PushNodeState.objects.filter(node_kind=OuterRef("node_kind"), paused=True, node_id=Coalesce(
        OuterRef("kamailio_node_id"), OuterRef("asterisk_node_id")))


def with_queue_state(queryset):
    """Jobs annotated with ``queue_paused`` (what ``held_reason`` reads), so list pages stay one query."""
    return queryset.annotate(queue_paused=Exists(paused_queues()))


def due_nodes() -> list[tuple[str, int]]:
    """Enabled nodes with a PENDING job whose time has come and whose queue is not paused (the sweep's work list)."""
    base = (PushJob.objects.filter(DUE, state=PushState.PENDING).order_by()  # (no ordering: DISTINCT ids)
            .exclude(Exists(paused_queues())))
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
    paused = getattr(job, "queue_paused", None)  # (annotated by list pages: no query per row)
    if paused is None:
        paused = PushNodeState.objects.filter(node_kind=job.node_kind, node_id=job.node_id, paused=True).exists()
    if paused:
        return "held: queue paused"
    if job.in_flight:
        return "sending"
    return ""


