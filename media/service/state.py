"""The application service's own rows: which nodes it serves, its heartbeat, the calls it holds in menus.

Runtime state, not portal objects: no audit log (the poller's results in live/ are the same kind of thing).
Plain sync functions, run in a worker thread by the asyncio service (``asyncio.to_thread`` / ``ctx.db``).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db import close_old_connections
from django.utils import timezone

from media.models import AppServiceInstance, MenuCall
from sites.models import AsteriskNode

from .calls import NodeInfo


#: seconds after its last heartbeat during which a dead instance's calls are looked for (and taken over)
TAKE_OVER_WINDOW = 600


def enabled_nodes() -> list[NodeInfo]:
    """Every enabled Asterisk with ARI configured (a node without ARI cannot run applications)."""
    close_old_connections()
    nodes = (AsteriskNode.objects.filter(enabled=True).exclude(ari_url="").exclude(ari_username="")
             .select_related("site").order_by("name"))
    return [NodeInfo(pk=n.pk, name=n.name, site=n.site.slug, sip_uri=n.sip_uri, ari_url=n.ari_url,
                     username=n.ari_username, password=n.ari_password) for n in nodes]


def heartbeat(name: str, *, hostname: str, pid: int, started: datetime, connected: list[str],
              last_event: datetime | None, calls_handled: int, stale_after: float) -> tuple[list[str], int]:
    """Record this instance's beat; the names of the instances whose beat is older than ``stale_after`` s, and
    how many others are alive (one query: every instance's last beat)."""
    close_old_connections()
    now = timezone.now()
    AppServiceInstance.objects.update_or_create(name=name, defaults={
        "hostname": hostname, "pid": pid, "started": started, "heartbeat": now,
        "connected_nodes": connected, "last_event": last_event, "calls_handled": calls_handled})
    # (a caller does not wait minutes in silence: older ones have nothing left to take over)
    dead, alive = [], 0
    for other, beat in AppServiceInstance.objects.exclude(name=name).values_list("name", "heartbeat"):
        age = (now - beat).total_seconds()
        if age < stale_after:
            alive += 1
        elif age < TAKE_OVER_WINDOW:
            dead.append(other)
    return dead, alive


def forget_instance(name: str) -> None:
    """A clean stop: the instance and the menu calls it recorded go (a killed one leaves a stale heartbeat)."""
    close_old_connections()
    MenuCall.objects.filter(instance=name).delete()
    AppServiceInstance.objects.filter(name=name).delete()


def give_up(name: str, stale_after: float) -> None:
    """A stopping instance that still holds calls: its beat is made stale now, so the others take them over."""
    close_old_connections()
    AppServiceInstance.objects.filter(name=name).update(heartbeat=timezone.now() - timedelta(seconds=stale_after + 1))


def forget_menu_calls(instance: str) -> None:
    """The menu calls a dead instance recorded (those taken over are recorded again by their new instance)."""
    MenuCall.objects.filter(instance=instance).delete()


def enter_menu(channel_id: str, node_pk: int, menu_pk: int, caller: str, instance: str) -> None:
    """The call is in ``menu`` now (one row per call, moved from menu to menu)."""
    values = {"node_id": node_pk, "menu_id": menu_pk, "caller": caller[:80], "instance": instance}
    MenuCall.objects.update_or_create(channel_id=channel_id, defaults=values,
                                      create_defaults={**values, "started": timezone.now()})


def leave_menu(channel_id: str) -> None:
    MenuCall.objects.filter(channel_id=channel_id).delete()
