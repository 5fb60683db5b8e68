"""Public entry point other apps call to ask for a reload of the live estate.

    push.api.request(KAMAILIO, "dispatcher.reload", reason="dispatcher set 'all' changed")
    push.api.request(ASTERISK, "dialplan reload", site_ids=[site.pk])

Called inside an action's transaction: the intent is written to the outbox (a PENDING
``PushJob`` per node and command) in the same transaction, deduplicated per (node,
command), and sent after commit. Ten edits in one transaction therefore give one job,
and one reload, per target; a rollback takes the rows with it, so nothing is sent.
Pending jobs of several transactions for the same (node, command) share one reload.
"""
from __future__ import annotations

from typing import Iterable

from django.db import transaction
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


def _merge_reasons(current: str, reason: str) -> str:
    lines = current.splitlines()
    if reason and reason not in lines:
        lines.append(reason)
    text = "\n".join(lines)
    if len(text) > MAX_REASONS_CHARS:  # keep the newest reasons; the count stays exact in ``requests``
        text = "…\n" + text[-MAX_REASONS_CHARS:].split("\n", 1)[-1]
    return text


def add_job(kind: str, node, command: str, reason: str = "") -> PushJob:
    """Record that this transaction needs ``command`` on ``node``: one row per (node, command) per transaction.

    The first request of a transaction inserts a PENDING row; later ones in the same
    transaction fold into it (``requests`` + 1, reason appended). Only rows this
    transaction itself inserted are ever updated here, so concurrent transactions never
    wait on each other's locks (no lock-order deadlocks between two saves), and a row
    a worker can see is always complete. Coalescing *across* transactions happens at
    delivery: one reload serves every pending job of the same (node, command).
    """
    reason = (reason or "").strip().replace("\n", " ")[:500]
    outbox = _outbox()
    key = (kind, node.pk, command)
    known = outbox.jobs.get(key)
    if known is not None:
        job_id, reasons, requests = known
        reasons = _merge_reasons(reasons, reason)
        now = timezone.now()
        # (0 rows: the row was inserted in a savepoint that rolled back; insert it again below.
        # A reason added in a savepoint that rolled back stays listed: harmless over-reporting.)
        if PushJob.objects.filter(pk=job_id, state=PushState.PENDING).update(
                reasons=reasons, requests=F("requests") + 1, updated=now):
            outbox.jobs[key] = (job_id, reasons, requests + 1)
            outbox.nodes.add((kind, node.pk))
            return PushJob(pk=job_id, node_kind=kind, node_name=node.name[:100], command=command,
                           reasons=reasons, requests=requests + 1, updated=now,
                           **{_node_attr(kind): node})
    job = PushJob.objects.create(node_kind=kind, node_name=node.name[:100], command=command, reasons=reason,
                                 next_attempt_at=timezone.now(), **{_node_attr(kind): node})
    outbox.jobs[key] = (job.pk, job.reasons, job.requests)
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
        self.jobs: dict[tuple[str, int, str], tuple[int, str, int]] = {}  # key -> (id, reasons, requests)
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
