"""Celery tasks of the push app: thin wrappers around ``push.delivery``.

Tasks take IDs and re-read everything (Saleor style). A lost or duplicated ``deliver``
message is harmless: the outbox rows are the truth, the per-node lease makes a second
run a no-op, and ``sweep`` (beat, every PUSH_SWEEP_SECONDS) re-dispatches whatever is due.
A worker killed in the middle of ``deliver`` (acks late, reject on worker lost: the message
goes back to the queue) leaves the node's lease to expire; the first sweep after that has
another worker send what the dead one had not recorded (see push/delivery.py).

Retries are driven by the sweep, not by ETA tasks: a job that failed carries its own
``next_attempt_at`` (exponential backoff) and the next sweep after that time sends it.
ETA messages would sit unacknowledged in the worker (acks_late, prefetch 1) and a node
down for an hour would leave one per failed change; the sweep is one indexed query.
With the defaults (backoff from 2 s doubling, with jitter, up to PUSH_RETRY_MAX_SECONDS =
5 minutes; sweep every 5 s) a node that comes back has every pending change live within its
current backoff plus one sweep -- at once when an administrator resumes its queue or retries a
job. New changes join the node's backed-off job instead of each earning a try of its own.
"""
from __future__ import annotations

import logging

from celery import shared_task

from . import delivery

log = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=True)
def deliver(node_kind: str, node_id: int) -> dict:
    """Send the due jobs of one node (jobs that fail back off; the sweep retries them)."""
    return delivery.deliver_node(node_kind, node_id).as_dict()


@shared_task(ignore_result=True)
def sweep() -> int:
    """Re-dispatch every node that has a PENDING job whose next attempt is due."""
    return len(delivery.sweep(dispatch))


def dispatch(node_kind: str, node_id: int) -> None:
    """Queue ``deliver`` for a node; a broker outage is logged, not raised (the sweep re-sends)."""
    try:
        deliver.apply_async((node_kind, node_id))
    except Exception:  # noqa: BLE001 - kombu raises many types; the outbox keeps the job anyway
        if deliver.app.conf.task_always_eager:
            raise  # eager: that was the delivery itself failing, a bug worth seeing
        log.exception("push: could not queue delivery to %s node %s; the sweep will retry", node_kind, node_id)
