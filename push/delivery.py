"""Sending the outbox: one node at a time, in order, rate-limited, retried until acknowledged.

The shape of one delivery run for a node (``deliver_node``):

1. take the node's lease (short transaction, ``select_for_update`` on its PushNodeState);
   if another worker holds it, stop: that worker re-checks for due jobs under the same
   row lock before it lets go (``_release_if_idle``), so a job committed meanwhile is
   never stranded;
2. loop: renew the lease and read the oldest due PENDING job plus every other PENDING
   job of the same command for that node (short transaction) -- one reload serves them
   all; wait out the node's rate limit; send the command with **no transaction open**
   (a node that hangs costs one node timeout, and never holds row locks that a user's
   save would wait on); record the outcome on exactly the jobs read (short transaction);
3. when no job is due, release the lease (atomically with that check).

A job committed while its command is on the wire was not read, so it stays PENDING and
gets the next reload: nothing is marked done that the node may not have seen. Transient
errors back off exponentially (``next_attempt_at``) and never give up unless
PUSH_MAX_ATTEMPTS says so; permanent ones mark the jobs FAILED (retryable from the UI).

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

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from sites.models import AsteriskNode, KamailioNode
from voipadmin.connectors.errors import NodeError

from . import conf, gateway
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
        if _due(kind, node_id).exists():
            return False
        state.leased_until, state.lease_token = None, ""
        state.save(update_fields=["leased_until", "lease_token"])
    return True


def _release(kind: str, node_id: int, token: str) -> None:
    PushNodeState.objects.filter(node_kind=kind, node_id=node_id, lease_token=token).update(
        leased_until=None, lease_token="")


def _claim_next(kind: str, node_id: int, token: str) -> tuple[list[PushJob], PushNodeState]:
    """The oldest due job and every other pending job of its command (one reload serves them all)."""
    with transaction.atomic():
        now = timezone.now()
        renewed = PushNodeState.objects.filter(node_kind=kind, node_id=node_id, lease_token=token).update(
            leased_until=now + timedelta(seconds=conf.lease_seconds(kind)))
        if not renewed:
            raise _LeaseLost
        state = PushNodeState.objects.get(node_kind=kind, node_id=node_id)
        first = _due(kind, node_id).order_by("id").first()
        if first is None:
            return [], state
        group = list(PushJob.objects.filter(state=PushState.PENDING, command=first.command,
                                            **node_filter(kind, node_id)).order_by("id"))
        return [first] + [job for job in group if job.pk != first.pk], state


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
            state=PushState.SENT, sent_at=now, attempts=F("attempts") + 1, updated=now)
        # A reload reloads everything: older failed jobs of the same command are now live too.
        PushJob.objects.filter(state=PushState.FAILED, command=first.command, id__lt=max(ids),
                               **node_filter(first.node_kind, first.node_id)).update(
            state=PushState.SENT, sent_at=now, updated=now)
    log.info("push %s to %s (jobs %s): %s", first.command, first.node_name, ids, detail)
    return ids


def _record_failure(jobs: list[PushJob], exc: NodeError, token: str) -> tuple[str, float | None]:
    """Back the jobs off (or give up): they shared the reload, they share its fate.

    The backoff follows the longest failure streak among them, so a node that stays down
    is tried less and less often even while new changes keep arriving (each of which
    still earns one immediate try).
    """
    now, first = timezone.now(), jobs[0]
    attempts = max(job.attempts for job in jobs) + 1
    limit = conf.max_attempts()
    give_up = exc.permanent or bool(limit and attempts >= limit)
    reason = ("permanent: " if exc.permanent else "") + (str(exc) or exc.reason)
    pending = PushJob.objects.filter(pk__in=[job.pk for job in jobs], state=PushState.PENDING)
    with transaction.atomic():
        _stamp_reload(first, token, now)
        if give_up:
            pending.update(state=PushState.FAILED, attempts=F("attempts") + 1, last_error=reason[:2000],
                           updated=now)
            delay = None
        else:
            delay = conf.backoff(attempts)
            pending.update(attempts=F("attempts") + 1, last_error=reason[:2000], updated=now,
                           next_attempt_at=Now() + timedelta(seconds=delay))
    log.warning("push %s to %s (%d job(s)) failed (%s): %s", first.command, first.node_name, len(jobs),
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


def due_nodes() -> list[tuple[str, int]]:
    """Enabled nodes with a PENDING job whose time has come (the sweep's work list)."""
    base = PushJob.objects.filter(DUE, state=PushState.PENDING).order_by()  # (no ordering: DISTINCT ids)
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


