"""Public entry point other apps call to ask for a reload of the live estate.

    push.api.request(KAMAILIO, "dispatcher.reload", reason="dispatcher set 'all' changed")
    push.api.request(ASTERISK, "dialplan reload", site_ids=[site.pk])

Called inside an action's transaction: the intent is written to the outbox in the same
transaction -- joining the node's open job for that command, or opening it -- and sent
after commit. Ten edits (in one transaction or in ten) therefore give one job, and one
reload, per target; a rollback takes its share with it, so nothing is sent for it.
"""
from __future__ import annotations

from typing import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from sites.models import AsteriskNode, KamailioNode

from . import conf, intents
from .intents import (  # noqa: F401  (re-exported for callers)
    ADDRESS_RELOAD,
    ASTERISK,
    ASTERISK_DIALPLAN_RELOAD,
    COMMANDS,
    DIALPLAN_RELOAD,
    DISPATCHER_RELOAD,
    KAMAILIO,
    PJSIP_RELOAD,
    UACREG_RELOAD,
    VOICEMAIL_RELOAD,
)
from .models import NodeKind, PushJob, PushState

MAX_REASONS_CHARS = 4000


def request(target: str, command: str, *, node_ids: Iterable[int] | None = None,
            site_ids: Iterable[int] | None = None, reason: str = "") -> list[PushJob]:
    """Queue ``command`` for the enabled nodes of ``target``; return the pending jobs.

    KAMAILIO: every enabled Kamailio node, or only ``node_ids`` (``site_ids`` is ignored:
    Kamailio serves the whole estate). ASTERISK: the enabled Asterisk nodes in ``node_ids``
    or belonging to ``site_ids`` (either matches), or all of them when both are None.
    An unknown target or command raises ValueError (a bug in the caller, not user input).
    """
    intents.validate(target, command)
    nodes = _target_nodes(target, node_ids, site_ids)
    # Inside the caller's transaction no savepoint is needed (two queries per call: the
    # nodes, then one INSERT or UPDATE per node); outside one, this call is the transaction.
    in_transaction = transaction.get_connection().in_atomic_block
    with transaction.atomic(savepoint=not in_transaction):
        return [add_job(target, node, command, reason) for node in nodes]


def _target_nodes(target: str, node_ids: Iterable[int] | None, site_ids: Iterable[int] | None) -> list:
    if target == KAMAILIO:
        qs = KamailioNode.objects.filter(enabled=True)
        if node_ids is not None:
            qs = qs.filter(pk__in=list(node_ids))
        return list(qs.only("pk", "name").order_by("pk"))
    qs = AsteriskNode.objects.filter(enabled=True)
    if node_ids is not None or site_ids is not None:
        qs = qs.filter(Q(pk__in=list(node_ids or [])) | Q(site_id__in=list(site_ids or [])))
    return list(qs.only("pk", "name").order_by("pk"))  # (no credentials decrypted on the write path)


def _node_filter(kind: str, node_id: int) -> dict:
    return {"kamailio_node_id": node_id} if kind == NodeKind.KAMAILIO else {"asterisk_node_id": node_id}


def merge_reasons(current: str, reason: str) -> str:
    """``current`` with the lines of ``reason`` it does not have yet, newest kept when too long."""
    lines = current.splitlines()
    for line in (reason or "").splitlines():
        if line and line not in lines:
            lines.append(line)
    text = "\n".join(lines)
    if len(text) > MAX_REASONS_CHARS:  # keep the newest reasons; the count stays exact in ``requests``
        text = "…\n" + text[-MAX_REASONS_CHARS:].split("\n", 1)[-1]
    return text


def add_job(kind: str, node, command: str, reason: str = "") -> PushJob:
    """Record that this transaction needs ``command`` on ``node``, joining the job the node already owes.

    The node's *open* job for the command (PENDING, not in flight: at most one, by constraint)
    is locked and joined (``requests`` + 1, reason appended, ``last_requested_at``); without
    one, a job is inserted. All of it happens in the caller's transaction, so a rollback takes
    the change's share back with it.

    Races: two transactions joining the same open job queue on its row lock (held until each
    commits; actions' transactions are short). Two inserting the first open job at once: the
    second waits on the unique index, gets an ``IntegrityError`` when the first commits, and
    joins the row that won (inside a savepoint, so the caller's transaction goes on). A worker
    claiming the job (``in_flight``) waits for the joiners' commits, so every change it claims
    was committed before the reload went out; a change after the claim opens the next job.
    """
    reason = (reason or "").strip().replace("\n", " ")[:500]
    outbox = _outbox()
    key = (kind, node.pk, command)
    now = timezone.now()
    open_jobs = PushJob.objects.filter(state=PushState.PENDING, in_flight=False, command=command,
                                       **_node_filter(kind, node.pk))
    for _ in range(5):
        known = outbox.jobs.get(key)
        # This transaction already holds the open job's lock: no need to look it up again.
        job = (open_jobs.filter(pk=known).select_for_update().first() if known is not None
               else open_jobs.select_for_update().order_by("id").first())
        if job is not None:
            job.reasons = merge_reasons(job.reasons, reason)
            job.requests += 1
            job.last_requested_at = now
            PushJob.objects.filter(pk=job.pk).update(reasons=job.reasons, requests=F("requests") + 1,
                                                     last_requested_at=now, updated=now)
            break
        try:
            with transaction.atomic():
                job = PushJob.objects.create(node_kind=kind, node_name=node.name[:100], command=command,
                                             reasons=reason, next_attempt_at=now, last_requested_at=now,
                                             **{_node_attr(kind): node})
            break
        except IntegrityError:
            outbox.jobs.pop(key, None)  # another transaction opened it first: join theirs
    else:  # pragma: no cover - would need the open job to vanish five times in a row
        raise RuntimeError(f"push: could not queue {command} for {node}")
    outbox.jobs[key] = job.pk
    outbox.nodes.add((kind, node.pk))
    return job


def _node_attr(kind: str) -> str:
    return "kamailio_node" if kind == NodeKind.KAMAILIO else "asterisk_node"


class _Outbox:
    """This transaction's push bookkeeping, kept as its one on_commit callback.

    It lives in Django's own ``run_on_commit`` list, so it disappears with a rollback
    (outer, or of the savepoint it was registered in) exactly like the rows it covers.
    On commit it nudges one worker per touched node -- unless LIVE_RELOAD is off, in
    which case the jobs stay pending ("held") until the sweep finds them with live
    reload back on.
    """

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, int, str], int] = {}  # (kind, node id, command) -> open job id
        self.nodes: set[tuple[str, int]] = set()
        self.fired = False  # (test helpers run callbacks without committing; never reuse a fired one)

    def __call__(self) -> None:
        from .tasks import dispatch

        self.fired = True
        if not conf.live_reload():
            return
        for kind, node_id in sorted(self.nodes):
            dispatch(kind, node_id)


def _outbox() -> _Outbox:
    connection = transaction.get_connection()
    for _sids, func, _robust in connection.run_on_commit:
        if isinstance(func, _Outbox) and not func.fired:
            return func
    outbox = _Outbox()
    # robust: the change is committed whatever happens here; a broker outage must not
    # turn a saved change into an error page. The sweep re-sends from the outbox.
    transaction.on_commit(outbox, robust=True)
    return outbox


def schedule_delivery(nodes: set[tuple[str, int]]) -> None:
    """Nudge a worker for ``nodes`` after this transaction commits (once per transaction)."""
    _outbox().nodes.update(nodes)


def retry_node(target: str, node_id: int) -> int:
    """Make every pending job of a node due now and nudge a worker after commit.

    For whoever learns first that a node is back (e.g. the live poller seeing it answer
    again): its backed-off jobs go out at once instead of at their next retry time.
    """
    with transaction.atomic():
        count = PushJob.objects.filter(state=PushState.PENDING, **_node_filter(target, node_id)).update(
            next_attempt_at=Now())
        if count:
            schedule_delivery({(target, node_id)})
    return count
