"""Read side of the live estate: what the dashboard and node pages show.

Every function here runs a fixed number of queries whatever the size of the estate
(the dashboard refreshes every few seconds for every open browser).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext

from media.overview import media_overview
from sites.models import AsteriskNode, KamailioNode, Site
from voipadmin import scope
from voipadmin.kamailio.models import Subscriber

from . import presence
from .choices import DestinationHealth, Health, TrunkHealth
from .models import ActiveCall, CallSample, DestinationState, NodeState, Registration, TrunkState


def stale_after() -> float:
    """Data older than three poll intervals is stale: the poller missed two cycles in a row."""
    return 3 * settings.POLL_INTERVAL_SECONDS


@dataclass
class NodeView:
    node: Any
    kind: str
    live: NodeState | None
    age: float | None  # seconds since the node last answered
    polled_age: float | None  # seconds since we last asked
    channels: int = 0
    calls: int = 0
    destinations: list[DestinationState] = field(default_factory=list)  # as a Kamailio's dispatcher holds it
    presence_silent: bool = False  # an enabled Asterisk carrying a call with no live presence publication

    @property
    def drain(self) -> str:
        """"draining (N calls)" / "drained (idle)" for a drained Asterisk (sites.actions.drain_node), else ""."""
        return self.node.drain_label(self.calls) if self.kind == "asterisk" else ""

    @property
    def dispatcher_down(self) -> bool:
        """A Kamailio skips this node in some set (it stopped answering OPTIONS, or an INVITE)."""
        return any(d.state == DestinationHealth.INACTIVE for d in self.destinations)

    @property
    def state(self) -> str:
        if not self.node.enabled:
            return "disabled"
        return self.live.state if self.live else Health.UNKNOWN

    @property
    def watchers(self) -> int | None:
        return self.live.watchers if self.live else None

    @property
    def publications(self) -> int | None:
        return self.live.publications if self.live else None

    @property
    def stale(self) -> bool:
        """Nothing fresh from this node: never seen, or last seen too long ago."""
        return self.node.enabled and (self.age is None or self.age > stale_after())

    @property
    def reason(self) -> str:
        return self.live.reason if self.live else "not polled yet"


@dataclass
class SiteView:
    site: Site
    nodes: list[NodeView] = field(default_factory=list)
    calls: int = 0
    users: int = 0
    registered: int = 0
    trunks: list[TrunkState] = field(default_factory=list)

    @property
    def state(self) -> str:
        states = {n.state for n in self.nodes if n.state != "disabled"}
        for s in (Health.DOWN, Health.DEGRADED, Health.UNKNOWN):
            if s in states:
                return Health.DEGRADED if s == Health.DOWN and Health.UP in states else s
        return Health.UP if states else Health.UNKNOWN


def _age(now: datetime, when: datetime | None) -> float | None:
    return None if when is None else max((now - when).total_seconds(), 0.0)


def _site_of(extension: str, ranges: list[tuple[int, int, int]]) -> int | None:
    if not (extension.isascii() and extension.isdigit()):  # subscriber names need not be ours, e.g. "²"
        return None
    number = int(extension)
    for start, end, site_id in ranges:
        if start <= number <= end:
            return site_id
    return None


def set_labels() -> dict[int, str]:
    """Dispatcher set id → what it is: a portal set's name, or the PSTN route a set 1000+ belongs to."""
    from services.models import DispatcherSet
    from trunks.models import ROUTE_SETID_BASE, OutboundRoute

    labels = {setid: name for setid, name in DispatcherSet.objects.values_list("setid", "name")}
    routes = OutboundRoute.objects.values_list("pk", "name")
    labels.update({ROUTE_SETID_BASE + pk: gettext("route %(route)s") % {"route": name} for pk, name in routes})
    return labels


def destination_states(**filters: Any) -> list[DestinationState]:
    """Dispatcher destinations as the Kamailios hold them, each with ``set_label``; three queries."""
    labels = set_labels()
    rows = list(DestinationState.objects.filter(**filters).select_related("kamailio_node", "asterisk_node")
                .order_by("setid", "-priority", "uri", "kamailio_node__name"))
    for row in rows:
        row.set_label = labels.get(row.setid, "")
    return rows


def estate_overview(now: datetime | None = None, user: Any = None) -> dict[str, Any]:
    """Sites with their nodes, calls, users and trunks; the Kamailio nodes; dispatcher destinations; estate totals.

    For a site-limited ``user`` (voipadmin.scope) the sites, their nodes, trunks, users and totals are its own;
    the estate's Kamailios and dispatcher destinations, which serve every site, stay in view."""
    now = now or timezone.now()
    mine = (lambda qs: scope.restrict(qs, user)) if user is not None else (lambda qs: qs)
    destinations = destination_states()
    by_asterisk: dict[int, list[DestinationState]] = {}
    for d in destinations:
        if d.asterisk_node_id:
            by_asterisk.setdefault(d.asterisk_node_id, []).append(d)
    sites = list(mine(Site.objects.prefetch_related("extension_ranges")).order_by("kind", "name"))
    by_site = {s.pk: SiteView(site=s) for s in sites}
    traffic = {row["node_id"]: row for row in ActiveCall.objects.values("node_id")
               .annotate(channels=Count("id"), calls=Count("linkedid", distinct=True))}
    for node in mine(AsteriskNode.objects.select_related("live_state")).order_by("name"):
        live = getattr(node, "live_state", None)
        t = traffic.get(node.pk, {})
        view = NodeView(node=node, kind="asterisk", live=live, age=_age(now, live.last_seen if live else None),
                        polled_age=_age(now, live.last_polled if live else None),
                        channels=t.get("channels", 0), calls=t.get("calls", 0),
                        destinations=by_asterisk.get(node.pk, []))
        by_site[node.site_id].nodes.append(view)
        by_site[node.site_id].calls += view.calls
    kamailios = []
    for node in KamailioNode.objects.select_related("live_state").order_by("name"):
        live = getattr(node, "live_state", None)
        kamailios.append(NodeView(node=node, kind="kamailio", live=live,
                                  age=_age(now, live.last_seen if live else None),
                                  polled_age=_age(now, live.last_polled if live else None)))
    itsp = []
    for trunk in mine(TrunkState.objects.order_by("kind", "name")):
        if trunk.site_id in by_site:
            by_site[trunk.site_id].trunks.append(trunk)
        else:
            itsp.append(trunk)
    # Users: Kamailio's subscriber table is what phones authenticate against, so it is
    # the estate's list of users; a site owns the extensions of its ranges.
    ranges = [(r.start, r.end, s.pk) for s in sites for r in s.extension_ranges.all()]
    users = {u: _site_of(u, ranges) for u in Subscriber.objects.values_list("username", flat=True).distinct()}
    registered = set(Registration.objects.filter(Q(expires__isnull=True) | Q(expires__gt=now))
                     .values_list("user", flat=True).distinct())
    for user, site_id in users.items():
        if site_id in by_site:
            by_site[site_id].users += 1
            by_site[site_id].registered += user in registered
    site_views = list(by_site.values())
    # Presence (recorded by the poller from Kamailio's tables): an Asterisk that carries a call but has no
    # live publication leaves that call's lamps dark (live.presence.busy_asterisks says why "carries a call").
    silent, busy = [], presence.busy_asterisks()
    for n in (n for s in site_views for n in s.nodes):
        n.presence_silent = n.node.enabled and n.publications == 0 and n.node.pk in busy
        if n.presence_silent:
            silent.append(n)
    presence_counted = [k for k in kamailios if k.node.enabled and k.publications is not None]
    all_nodes = [n for s in site_views for n in s.nodes] + kamailios
    all_trunks = [t for s in site_views for t in s.trunks] + itsp
    enabled = [n for n in all_nodes if n.node.enabled]
    polled = [n.polled_age for n in enabled if n.polled_age is not None]
    totals = {
        "sites": len(site_views),
        "nodes": len(enabled),
        "nodes_up": sum(1 for n in enabled if n.state == Health.UP),
        "nodes_degraded": sum(1 for n in enabled if n.state == Health.DEGRADED),
        "nodes_down": sum(1 for n in enabled if n.state == Health.DOWN),
        "calls": sum(s.calls for s in site_views),
        "channels": sum(n.channels for n in all_nodes),
        "users": sum(s.users for s in site_views),
        "registered": sum(s.registered for s in site_views),
        "trunks": len(all_trunks),
        "trunks_up": sum(1 for t in all_trunks if t.state == TrunkHealth.UP),
        "stale_nodes": sum(1 for n in enabled if n.stale),
        "last_poll_age": min(polled) if polled else None,
        "destinations": len(destinations),
        "destinations_active": sum(1 for d in destinations if d.state == DestinationHealth.ACTIVE),
        "destinations_down": sum(1 for d in destinations if d.state == DestinationHealth.INACTIVE),
        # one shared database: every Kamailio serves the same publications; watchers are each Kamailio's own
        "publications": presence_counted[0].publications if presence_counted else None,
        "watchers": sum(k.watchers or 0 for k in presence_counted) if presence_counted else None,
    }
    return {"sites": site_views, "kamailios": kamailios, "itsp_trunks": itsp, "totals": totals,
            "presence_silent": silent, "presence_shared": len(presence_counted) > 1,
            "destinations": destinations, "stale_after": stale_after(), "now": now,
            "media": media_overview(now, user),  # rooms, calls in menus, the application service's health
            "topology": topology(site_views, kamailios, itsp)}


# -- topology picture (inline SVG, laid out here, drawn by templates/live/topology.svg.html) ---------

BOX_W, BOX_H, GAP, ROW = 150, 44, 20, 90


def topology(sites: list[SiteView], kamailios: list[NodeView], itsp: list[TrunkState]) -> dict[str, Any]:
    """Boxes and links for Kamailio → sites → Asterisk nodes → trunks, coloured by state."""
    columns = []  # one column group per site: width in boxes = max(1, nodes, e1 trunks)
    for s in sites:
        columns.append(max(1, len(s.nodes), max((len(n_trunks(s, n)) for n in s.nodes), default=0)))
    total = max(sum(columns), len(kamailios) + len(itsp), 1)
    width = total * (BOX_W + GAP) + GAP
    boxes, links = [], []

    def box(x: float, y: float, label: str, sub: str, state: str, href: str = "") -> dict[str, Any]:
        b = {"x": x, "y": y, "w": BOX_W, "h": BOX_H, "cx": x + BOX_W / 2, "label": label[:22], "sub": sub[:26],
             "state": state, "href": href, "tx": x + 8, "ty1": y + 18, "ty2": y + 35}
        boxes.append(b)
        return b

    def link(a: dict[str, Any], b: dict[str, Any], state: str) -> None:
        links.append({"x1": a["cx"], "y1": a["y"] + BOX_H, "x2": b["cx"], "y2": b["y"], "state": state})

    top = []
    row_items = len(kamailios) + len(itsp)
    x = (width - row_items * (BOX_W + GAP) + GAP) / 2
    for k in kamailios:
        top.append(box(x, 10, k.node.name, f"Kamailio · {_word(k.state)}", k.state, _live_url("kamailio", k.node.pk)))
        x += BOX_W + GAP
    for t in itsp:
        b = box(x, 10, t.name, f"ITSP · {t.get_state_display()}", t.state)
        if top:
            links.append({"x1": top[0]["x"] + BOX_W, "y1": 10 + BOX_H / 2, "x2": b["x"], "y2": 10 + BOX_H / 2,
                          "state": t.state})
        x += BOX_W + GAP
    x = GAP
    for s, span in zip(sites, columns):
        group = span * (BOX_W + GAP) - GAP
        sb = box(x + (group - BOX_W) / 2, 10 + ROW, s.site.name,
                 gettext("%(calls)s call(s) · %(registered)s/%(users)s reg")
                 % {"calls": s.calls, "registered": s.registered, "users": s.users},
                 s.state, s.site.get_absolute_url())
        for kb in top[: len(kamailios)]:
            link(kb, sb, kb["state"])
        nx = x + (group - len(s.nodes) * (BOX_W + GAP) + GAP) / 2
        for n in s.nodes:
            nb = box(nx, 10 + 2 * ROW, n.node.name,
                     gettext("%(state)s · %(channels)s ch") % {"state": _word(n.state), "channels": n.channels},
                     n.state, _live_url("asterisk", n.node.pk))
            link(sb, nb, n.state)
            tx = nx
            for t in n_trunks(s, n):
                tb = box(tx, 10 + 3 * ROW, f"E1 {t.name}", t.get_state_display(), t.state)
                link(nb, tb, t.state)
                tx += BOX_W + GAP
            nx += BOX_W + GAP
        x += group + GAP
    rows = 4 if any(b["y"] >= 10 + 3 * ROW for b in boxes) else 3
    return {"width": width, "height": 10 + (rows - 1) * ROW + BOX_H + 10, "boxes": boxes, "links": links}


def _word(state: str) -> str:
    """A state as the page words it (``up``, ``caído`` ...): the template filter's words."""
    from .templatetags.live import health

    return health(state)


def n_trunks(site: SiteView, node: NodeView) -> list[TrunkState]:

    return [t for t in site.trunks if t.asterisk_node_id == node.node.pk]


def _live_url(kind: str, pk: int) -> str:
    from django.urls import reverse

    return reverse(f"live:{kind}_node", args=[pk])


# -- chart history ---------------------------------------------------------------------------------


def call_history(hours: int = 24, bucket_minutes: int = 5, now: datetime | None = None,
                 user: Any = None) -> dict[str, Any]:
    """Peak concurrent calls per site in ``bucket_minutes`` buckets over the last ``hours`` (``user``'s sites)."""
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    start = now - timedelta(hours=hours)
    start = start - timedelta(minutes=start.minute % bucket_minutes)
    buckets = []
    t = start
    while t <= now:
        buckets.append(t)
        t += timedelta(minutes=bucket_minutes)
    index = {b: i for i, b in enumerate(buckets)}
    sites = Site.objects.order_by("kind", "name")
    sites = list((scope.restrict(sites, user) if user is not None else sites).values_list("pk", "name"))
    series = {pk: [None] * len(buckets) for pk, _ in sites}
    rows = (CallSample.objects.filter(minute__gte=start)
            .values("site_id", "minute", "calls"))
    for row in rows:
        minute = row["minute"]
        b = minute - timedelta(minutes=minute.minute % bucket_minutes)
        i = index.get(b.replace(second=0, microsecond=0))
        if i is None or row["site_id"] not in series:
            continue
        current = series[row["site_id"]][i]
        series[row["site_id"]][i] = max(current or 0, row["calls"])
    tz = timezone.get_current_timezone()
    return {
        "labels": [timezone.localtime(b, tz).strftime("%H:%M") for b in buckets],
        "datasets": [{"label": name, "data": series[pk]} for pk, name in sites],
        "bucket_minutes": bucket_minutes,
    }
