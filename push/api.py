"""Public entry point other apps call to ask for a reload of the live estate.

    push.api.request(KAMAILIO, "dispatcher.reload", reason="dispatcher set 'all' changed")
    push.api.request(ASTERISK, "dialplan reload", site_ids=[site.pk])

Called inside an action's transaction: the intent is written to the outbox (a PENDING
``PushJob`` per node and command) in the same transaction, deduplicated per (node,
command), and sent after commit. Ten edits in one transaction therefore give one job,
and one reload, per target; a rollback takes the rows with it, so nothing is sent.
"""
from __future__ import annotations

from typing import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F, Q
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
    jobs = []
    with transaction.atomic():
        for node in nodes:
            jobs.append(upsert_pending(target, node, command, reason))
        if jobs:
            schedule_delivery({(target, node.pk) for node in nodes})
    return jobs


def _target_nodes(target: str, node_ids: Iterable[int] | None, site_ids: Iterable[int] | None) -> list:
    if target == KAMAILIO:
        qs = KamailioNode.objects.filter(enabled=True)
        if node_ids is not None:
            qs = qs.filter(pk__in=list(node_ids))
        return list(qs.order_by("pk"))
    qs = AsteriskNode.objects.filter(enabled=True)
    if node_ids is not None or site_ids is not None:
        qs = qs.filter(Q(pk__in=list(node_ids or [])) | Q(site_id__in=list(site_ids or [])))
    return list(qs.order_by("pk"))


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


def upsert_pending(kind: str, node, command: str, reason: str = "", *, count: int = 1) -> PushJob:
    """Insert a PENDING job for (node, command) or fold this request into the existing one.

    Folding bumps ``revision`` (see PushJob), adds the reason and makes the job due now:
    a new change is worth an immediate try even while an older one is backing off.
    Two transactions racing to insert the same pair meet on the partial unique index;
    the loser (after the winner commits) folds into the winner's row instead.
    """
    reason = (reason or "").strip().replace("\n", " ")[:500]
    now = timezone.now()
    flt = {**_node_filter(kind, node.pk), "command": command, "state": PushState.PENDING}
    for _ in range(3):
        job = PushJob.objects.select_for_update().filter(**flt).first()
        if job is not None:
            job.reasons = _merge_reasons(job.reasons, reason)
            PushJob.objects.filter(pk=job.pk).update(
                reasons=job.reasons, requests=F("requests") + count, revision=F("revision") + 1,
                next_attempt_at=now, updated=now)
            job.refresh_from_db()
            return job
        try:
            with transaction.atomic():
                return PushJob.objects.create(
                    node_kind=kind, node_name=node.name[:100], command=command, reasons=reason,
                    requests=count, next_attempt_at=now, **_node_filter(kind, node.pk))
        except IntegrityError:
            continue  # someone else's pending row committed meanwhile: fold into it
    raise RuntimeError(f"could not queue {command!r} for {node}")  # pragma: no cover


class _Flush:
    """The one on_commit callback of a transaction: nudges a worker per touched node.

    Kept in Django's own ``run_on_commit`` list, so it disappears with a rollback
    (outer or of the savepoint it was registered in) exactly like the rows it covers.
    """

    def __init__(self) -> None:
        self.nodes: set[tuple[str, int]] = set()
        self.fired = False  # (test helpers run callbacks without committing; never reuse a fired one)

    def __call__(self) -> None:
        from .tasks import dispatch

        self.fired = True
        for kind, node_id in sorted(self.nodes):
            dispatch(kind, node_id)


def schedule_delivery(nodes: set[tuple[str, int]]) -> None:
    """Arrange for ``nodes`` to be nudged after commit, once per transaction.

    With LIVE_RELOAD off nothing is scheduled: the jobs stay pending ("held") and the
    sweep sends them once live reload is on again.
    """
    if not conf.live_reload() or not nodes:
        return
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        for _sids, func, _robust in connection.run_on_commit:
            if isinstance(func, _Flush) and not func.fired:
                func.nodes |= nodes
                return
    flush = _Flush()
    flush.nodes |= nodes
    # robust: the change is committed whatever happens here; a broker outage must not
    # turn a saved change into an error page. The sweep re-sends from the outbox.
    transaction.on_commit(flush, robust=True)
