"""Read side of the media applications: rooms in use, calls in menus, and the application service's health.

What the dashboard, the node pages, ``poll_estate`` and /metrics show. The application service
(``run_media_apps``) writes AppServiceInstance / ActiveRoom / MenuCall; this module only reads them, each
function in a fixed number of queries whatever the estate's size (the dashboard refreshes every few seconds).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from sites.models import AsteriskNode
from voipadmin import scope

from .models import ActiveRoom, AppServiceInstance, MenuCall


def heartbeat_seconds() -> float:
    """How often a running instance writes its heartbeat (the contract's ~2 s)."""
    return float(getattr(settings, "MEDIA_APPS_HEARTBEAT_SECONDS", 2.0))


def alive_after() -> float:
    """An instance whose heartbeat is older than three periods has missed two in a row: it is not alive."""
    return 3 * heartbeat_seconds()


def _age(now: datetime, when: datetime | None) -> float | None:
    return None if when is None else max((now - when).total_seconds(), 0.0)


def _restricted(queryset, user: Any):
    return scope.restrict(queryset, user) if user is not None else queryset


def connected_node_keys(value: Any) -> tuple[set[int], set[str]]:
    """``AppServiceInstance.connected_nodes`` as (node pks, node names): the runner lists node names; a pk is
    understood too. Anything else in the JSON is ignored rather than breaking the dashboard."""
    items = value if isinstance(value, list) else []
    return ({i for i in items if isinstance(i, int) and not isinstance(i, bool)},
            {i for i in items if isinstance(i, str)})


@dataclass
class InstanceView:
    instance: AppServiceInstance
    alive: bool
    heartbeat_age: float
    last_event_age: float | None
    connected: list[AsteriskNode]  # the enabled ARI nodes (in the reader's view) it holds a WebSocket to
    enabled: int  # how many enabled ARI nodes there are (in the reader's view)

    @property
    def name(self) -> str:
        return self.instance.name


@dataclass
class ServiceHealth:
    instances: list[InstanceView] = field(default_factory=list)
    ari_nodes: list[AsteriskNode] = field(default_factory=list)  # enabled nodes with ARI configured
    uncovered: list[AsteriskNode] = field(default_factory=list)  # ... that no live instance is connected to
    alive_after: float = 0.0

    @property
    def alive(self) -> list[InstanceView]:
        return [i for i in self.instances if i.alive]

    @property
    def none_alive(self) -> bool:
        """Only worth a warning when there is something to serve: an enabled node with ARI."""
        return bool(self.ari_nodes) and not self.alive

    @property
    def ok(self) -> bool:
        return not self.none_alive and not self.uncovered

    def findings(self) -> list[str]:
        """What an operator must act on, one sentence each (command output, in English like the rest of it)."""
        if self.none_alive:
            return [f"no media application service instance is alive (heartbeat within {self.alive_after:g} s): "
                    "rooms and menus answer \"service unavailable\"; start manage.py run_media_apps"]
        if self.uncovered:
            return [f"no live media application service instance is connected to "
                    f"{', '.join(n.name for n in self.uncovered)} (ARI)"]
        return []

    def lines(self) -> list[str]:
        """The same health as plain text lines (``poll_estate``)."""
        out = [f"Media application service: {len(self.alive)} of {len(self.instances)} instance(s) alive, "
               f"{len(self.ari_nodes)} node(s) with ARI"]
        for i in self.instances:
            event = f"{i.last_event_age:.1f}s ago" if i.last_event_age is not None else "never"
            out.append(f"  {i.name:24} {'alive' if i.alive else 'gone':6} {i.instance.hostname or '—'}  "
                       f"nodes {len(i.connected)}/{i.enabled}  heartbeat {i.heartbeat_age:.1f}s ago  "
                       f"last event {event}  {i.instance.calls_handled} call(s) handled")
        return out + [f"  warning: {finding}" for finding in self.findings()]


def service_health(now: datetime | None = None, user: Any = None) -> ServiceHealth:
    """Every instance that has reported, whether it is alive, and which enabled ARI nodes it holds; two queries.

    Instances serve the whole estate (like the Kamailios) and stay in view of a site-limited ``user``; the
    nodes counted are that user's own."""
    now = now or timezone.now()
    limit = alive_after()
    nodes = list(_restricted(AsteriskNode.objects.filter(enabled=True).exclude(ari_url=""), user)
                 .only("pk", "name", "site_id").order_by("name"))
    views = []
    covered: set[int] = set()
    for instance in AppServiceInstance.objects.order_by("name"):
        pks, names = connected_node_keys(instance.connected_nodes)
        connected = [n for n in nodes if n.pk in pks or n.name in names]
        heartbeat_age = _age(now, instance.heartbeat) or 0.0
        alive = heartbeat_age <= limit
        if alive:
            covered.update(n.pk for n in connected)
        views.append(InstanceView(instance=instance, alive=alive, heartbeat_age=heartbeat_age,
                                  last_event_age=_age(now, instance.last_event), connected=connected,
                                  enabled=len(nodes)))
    return ServiceHealth(instances=views, ari_nodes=nodes, uncovered=[n for n in nodes if n.pk not in covered],
                         alive_after=limit)


def active_rooms(user: Any = None, node: Any = None) -> list[ActiveRoom]:
    """Rooms in use with their site and home node (``node``: only those whose bridge it holds); one query."""
    rows = ActiveRoom.objects.select_related("room__site", "node").order_by("room__site__name", "room__number")
    if node is not None:
        rows = rows.filter(node=node)
    return list(_restricted(rows, user))


@dataclass
class NodeMenus:
    node: Any  # {"id", "name"}: enough to link and label
    calls: int = 0
    menus: list[dict[str, Any]] = field(default_factory=list)  # {"id", "name", "site", "calls"}


def menu_calls_by_node(user: Any = None, node: Any = None) -> list[NodeMenus]:
    """Calls held in menus right now, per node and per menu; one query."""
    rows = MenuCall.objects.all() if node is None else MenuCall.objects.filter(node=node)
    rows = (_restricted(rows, user).order_by()
            .values("node_id", "node__name", "menu_id", "menu__name", "menu__site__name")
            .annotate(calls=Count("id")).order_by("node__name", "menu__site__name", "menu__name"))
    by_node: dict[int, NodeMenus] = {}
    for row in rows:
        entry = by_node.setdefault(row["node_id"], NodeMenus(node={"id": row["node_id"], "name": row["node__name"]}))
        entry.calls += row["calls"]
        entry.menus.append({"id": row["menu_id"], "name": row["menu__name"], "site": row["menu__site__name"],
                            "calls": row["calls"]})
    return list(by_node.values())


def menu_calls(user: Any = None, node: Any = None, limit: int = 200) -> list[MenuCall]:
    """The calls in menus one by one (a node's page); one query."""
    rows = MenuCall.objects.select_related("menu__site", "node").order_by("started", "channel_id")
    if node is not None:
        rows = rows.filter(node=node)
    return list(_restricted(rows, user)[:limit])


def media_overview(now: datetime | None = None, user: Any = None) -> dict[str, Any]:
    """The dashboard's media panel: rooms, calls in menus per node, the service's health; four queries."""
    rooms = active_rooms(user)
    by_node = menu_calls_by_node(user)
    return {"rooms": rooms, "members": sum(r.members for r in rooms), "menus": by_node,
            "menu_calls": sum(n.calls for n in by_node), "health": service_health(now, user)}


def metric_samples() -> dict[str, list[tuple[tuple[str, ...], float]]]:
    """/metrics samples, (labels, value) per gauge; four queries, estate-wide."""
    health = service_health()
    rooms = list(ActiveRoom.objects.order_by().values("node__name", "room__site__slug")
                 .annotate(rooms=Count("id"), members=Sum("members")).order_by("node__name", "room__site__slug"))
    menus = (MenuCall.objects.order_by().values("node__name", "menu__site__slug", "menu__name")
             .annotate(calls=Count("id")).order_by("node__name", "menu__site__slug", "menu__name"))
    uncovered = {n.pk for n in health.uncovered}
    return {
        "instances_alive": [((), len(health.alive))],
        "instance_up": [((i.name,), 1 if i.alive else 0) for i in health.instances],
        "connected_nodes": [((i.name,), len(i.connected)) for i in health.instances],
        "heartbeat_age": [((i.name,), i.heartbeat_age) for i in health.instances],
        "calls_handled": [((i.name,), i.instance.calls_handled) for i in health.instances],
        "node_served": [((n.name,), 0 if n.pk in uncovered else 1) for n in health.ari_nodes],
        "rooms": [((r["node__name"], r["room__site__slug"]), r["rooms"]) for r in rooms],
        "members": [((r["node__name"], r["room__site__slug"]), r["members"] or 0) for r in rooms],
        "menu_calls": [((m["node__name"], m["menu__site__slug"], m["menu__name"]), m["calls"]) for m in menus],
    }
