"""Beat tasks of the live estate: thin wrappers over live.actions."""
from __future__ import annotations

from celery import shared_task

from voipadmin.actors import Actor

from . import actions

POLLER = Actor(label="live poller", source="system")


@shared_task(ignore_result=True)
def poll_estate() -> str:
    """One poll cycle; expires after one interval so a backlog never piles up stale cycles."""
    summary = actions.poll_estate(actor=POLLER)
    return summary.lines()[0]


@shared_task(ignore_result=True)
def prune_history() -> int:
    return actions.prune_history(actor=POLLER)
