"""Celery tasks of the push app: thin wrappers around ``push.delivery``.

Tasks take IDs and re-read everything (Saleor style). A lost or duplicated ``deliver``
message is harmless: the outbox rows are the truth, the per-node lease makes a second
run a no-op, and ``sweep`` (beat, every PUSH_SWEEP_SECONDS) re-dispatches whatever is due.
"""
from __future__ import annotations

import logging

from celery import shared_task

from . import delivery

log = logging.getLogger(__name__)

#: Added to a retry's countdown: a timer that fires a few ms early would find the jobs not
#: yet due (their time is set by the database clock) and the retry would be wasted.
RETRY_SLACK_SECONDS = 0.25


@shared_task(ignore_result=True, acks_late=True)
def deliver(node_kind: str, node_id: int) -> dict:
    """Send the due jobs of one node; schedule our own retry for the earliest backed-off job.

    Not in eager mode: there ``countdown`` is ignored and the retry would run at once,
    recursively; eager callers (tests, ``push_pending``) rely on the sweep instead.
    """
    outcome = delivery.deliver_node(node_kind, node_id)
    if outcome.retry_in is not None and not deliver.app.conf.task_always_eager:
        dispatch(node_kind, node_id, countdown=outcome.retry_in + RETRY_SLACK_SECONDS)
    return outcome.as_dict()


@shared_task(ignore_result=True)
def sweep() -> int:
    """Re-dispatch every node that has a PENDING job whose next attempt is due."""
    return len(delivery.sweep(dispatch))


def dispatch(node_kind: str, node_id: int, *, countdown: float | None = None) -> None:
    """Queue ``deliver`` for a node; a broker outage is logged, not raised (the sweep re-sends)."""
    try:
        deliver.apply_async((node_kind, node_id), countdown=countdown)
    except Exception:  # noqa: BLE001 - kombu raises many types; the outbox keeps the job anyway
        if deliver.app.conf.task_always_eager:
            raise  # eager: that was the delivery itself failing, a bug worth seeing
        log.exception("push: could not queue delivery to %s node %s; the sweep will retry", node_kind, node_id)
