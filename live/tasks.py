"""Beat tasks of the live estate: thin wrappers over live.actions."""
from __future__ import annotations

import logging

from celery import shared_task

from voipadmin.actors import Actor
from voipadmin.celery import advisory_lock

from . import actions

POLLER = Actor(label="live poller", source="system")
#: the advisory lock a poll cycle holds: whoever sent it (beat, a second beat, a backlog after an outage),
#: two live workers never poll the estate at once
POLL_LOCK = "live.poll_estate"

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def poll_estate() -> str:
    """One poll cycle, unless one is running already (then this one is skipped: the next is one interval
    away). It expires after one interval, so a backlog never piles up stale cycles either."""
    with advisory_lock(POLL_LOCK) as ours:
        if not ours:
            log.info("poll cycle skipped: another one is running")
            return "skipped: another poll cycle is running"
        summary = actions.poll_estate(actor=POLLER)
    return summary.lines()[0]


@shared_task(ignore_result=True)
def prune_history() -> int:
    return actions.prune_history(actor=POLLER)


@shared_task(ignore_result=True)
def turn_off_stale_lamps(node_id: int, started: str) -> int:
    """The lamps an Asterisk's previous instance left on, turned off (``started``: its new start, ISO 8601).
    The poll cycle does this itself when it sees a node restarted; this is for anyone else who knows."""
    from datetime import datetime

    return actions.turn_off_stale_lamps(node_id, started=datetime.fromisoformat(started), actor=POLLER)
