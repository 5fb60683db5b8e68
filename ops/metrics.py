"""/metrics in Prometheus' text format: the estate as the database knows it, and the portal's API traffic.

Two kinds of series:

* **Read from the shared database at scrape time** (``EstateCollector``): node up/down and state,
  calls in progress per site, registrations per node, push jobs and the age of the oldest pending
  one per node, the last poll cycle's duration, the beat-scheduled tasks' last runs, the
  /healthz checks, and the media application service (instances alive by heartbeat, the ARI nodes
  each holds, rooms in use, callers in rooms, calls in menus: media.overview). Any portal host
  answers the same; a fixed number of queries whatever the estate's size.
* **Counted in the portal processes** (``API_REQUESTS``, by ``ops.middleware``): every gunicorn
  worker counts its own requests. prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``,
  set by deploy/gunicorn.conf.py) keeps each worker's counts in a file there and sums them at
  scrape time, so one scrape sees the whole host whichever worker answers it. Without that variable
  (runserver, tests) the one process counts alone. Several portal hosts are several scrape targets,
  summed in Prometheus, as counters usually are.
"""
from __future__ import annotations

import os

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from live.choices import Health, NodeKind
from live.models import ActiveCall, Registration
from media.overview import metric_samples as media_samples
from push.models import PushJob, PushState
from sites.models import AsteriskNode, KamailioNode, Site

from . import health

# Not registered in the default registry: the view builds the registry it renders (see render()).
API_REQUESTS = Counter("voipadmin_api_requests", "REST API requests answered, by method, view and status.",
                       ["method", "view", "status"], registry=None)

NODE_STATES = [choice.value for choice in Health]


def _nodes() -> list[dict]:
    """Every enabled node with its last polled state (two queries)."""
    nodes = []
    for kind, model in ((NodeKind.ASTERISK, AsteriskNode), (NodeKind.KAMAILIO, KamailioNode)):
        related = ["live_state", "site"] if model is AsteriskNode else ["live_state"]
        for node in model.objects.filter(enabled=True).select_related(*related).order_by("name"):
            state = getattr(node, "live_state", None)
            nodes.append({"kind": kind.value, "node": node.name, "id": node.pk,
                          "site": node.site.slug if model is AsteriskNode else "",
                          "state": state.state if state else Health.UNKNOWN.value,
                          "latency": state.latency_ms / 1000 if state and state.latency_ms is not None else None,
                          "last_polled": state.last_polled if state else None})
    return nodes


class EstateCollector:
    """Gauges read from the database on each scrape (prometheus_client's custom collector protocol)."""

    def collect(self):
        now = timezone.now()
        nodes = _nodes()
        yield from self._node_metrics(nodes)
        yield self._calls_per_site()
        yield self._registrations({(n["kind"], n["id"]): n for n in nodes})
        yield from self._push_metrics(nodes)
        yield from self._scheduled_tasks()
        yield from self._health(now)
        yield from self._media()

    @staticmethod
    def _node_metrics(nodes: list[dict]):
        up = GaugeMetricFamily("voipadmin_node_up", "1 when the node answered its last poll (up or degraded), "
                               "else 0 (down, or never polled).", labels=["kind", "node", "site"])
        state = GaugeMetricFamily("voipadmin_node_state", "The node's state at its last poll (1 for the current "
                                  "state).", labels=["kind", "node", "site", "state"])
        latency = GaugeMetricFamily("voipadmin_node_poll_latency_seconds", "Round trip of the node's ping at the "
                                    "last poll.", labels=["kind", "node", "site"])
        polled = GaugeMetricFamily("voipadmin_node_last_poll_timestamp_seconds", "When the node was last polled "
                                   "(Unix time).", labels=["kind", "node", "site"])
        for n in nodes:
            labels = [n["kind"], n["node"], n["site"]]
            up.add_metric(labels, 1 if n["state"] in (Health.UP, Health.DEGRADED) else 0)
            for value in NODE_STATES:
                state.add_metric([*labels, value], 1 if n["state"] == value else 0)
            if n["latency"] is not None:
                latency.add_metric(labels, n["latency"])
            if n["last_polled"] is not None:
                polled.add_metric(labels, n["last_polled"].timestamp())
        return [up, state, latency, polled]

    @staticmethod
    def _calls_per_site() -> GaugeMetricFamily:
        calls = GaugeMetricFamily("voipadmin_calls_active", "Calls in progress per site at the last poll (channels "
                                  "sharing a linkedid are one call).", labels=["site"])
        counts = dict(ActiveCall.objects.order_by().values("site_id").annotate(n=Count("linkedid", distinct=True))
                      .values_list("site_id", "n"))
        for pk, slug in Site.objects.order_by("slug").values_list("pk", "slug"):
            calls.add_metric([slug], counts.get(pk, 0))
        return calls

    @staticmethod
    def _registrations(nodes: dict) -> GaugeMetricFamily:
        regs = GaugeMetricFamily("voipadmin_registrations", "Contacts registered at the last poll, per node "
                                 "(Kamailio's location, an Asterisk's PJSIP contacts).", labels=["kind", "node"])
        counts: dict = {}
        for row in (Registration.objects.order_by().values("kamailio_node_id", "asterisk_node_id")
                    .annotate(n=Count("id"))):
            if row["kamailio_node_id"]:
                counts[(NodeKind.KAMAILIO.value, row["kamailio_node_id"])] = row["n"]
            else:
                counts[(NodeKind.ASTERISK.value, row["asterisk_node_id"])] = row["n"]
        for key, node in sorted(nodes.items(), key=lambda item: (item[0][0], item[1]["node"])):
            regs.add_metric([node["kind"], node["node"]], counts.get(key, 0))
        return regs

    @staticmethod
    def _push_metrics(nodes: list[dict]):
        jobs = GaugeMetricFamily("voipadmin_push_jobs", "Push jobs per node and state (pending: owed to the node; "
                                 "failed: refused for good, waiting for an operator).",
                                 labels=["kind", "node", "state"])
        age = GaugeMetricFamily("voipadmin_push_oldest_pending_age_seconds", "Age of the node's oldest pending push "
                                "job (0 when none is pending).", labels=["kind", "node"])
        now = timezone.now()
        names = {(n["kind"], n["id"]): n["node"] for n in nodes}
        counts = {(kind[0], name, state): 0 for kind, name in names.items()
                  for state in (PushState.PENDING.value, PushState.FAILED.value)}
        oldest = {(kind[0], name): 0.0 for kind, name in names.items()}
        rows = (PushJob.objects.order_by().filter(state__in=[PushState.PENDING, PushState.FAILED])
                .values("node_kind", "kamailio_node_id", "asterisk_node_id", "node_name", "state")
                .annotate(n=Count("id"), oldest=Min("created")))
        for row in rows:
            node_id = row["kamailio_node_id"] or row["asterisk_node_id"]
            # a disabled or deleted node keeps the name its jobs recorded
            node = (row["node_kind"], names.get((row["node_kind"], node_id), row["node_name"]))
            counts[(*node, row["state"])] = counts.get((*node, row["state"]), 0) + row["n"]
            if row["state"] == PushState.PENDING:
                oldest[node] = max(oldest.get(node, 0.0), (now - row["oldest"]).total_seconds())
        for (kind, name, state), n in sorted(counts.items()):
            jobs.add_metric([kind, name, state], n)
        for (kind, name), seconds in sorted(oldest.items()):
            age.add_metric([kind, name], seconds)
        return [jobs, age]

    @staticmethod
    def _scheduled_tasks():
        last = GaugeMetricFamily("voipadmin_scheduled_task_last_success_timestamp_seconds", "When the beat-scheduled "
                                 "task last completed successfully (Unix time).", labels=["task"])
        duration = GaugeMetricFamily("voipadmin_scheduled_task_last_duration_seconds", "How long the task's last "
                                     "run took.", labels=["task"])
        failed = GaugeMetricFamily("voipadmin_scheduled_task_last_run_failed", "1 when the task's last run raised.",
                                   labels=["task"])
        poll = GaugeMetricFamily("voipadmin_poll_duration_seconds", "How long the last poll cycle took (every node "
                                 "at once, each under its own timeout).")
        for name, run in sorted(health.scheduled_runs().items()):
            if run.last_success:
                last.add_metric([name], run.last_success.timestamp())
            duration.add_metric([name], run.last_duration_seconds)
            failed.add_metric([name], 0 if run.last_succeeded else 1)
            if name == health.POLL_TASK:
                poll.add_metric([], run.last_duration_seconds)
        return [last, duration, failed, poll]

    @staticmethod
    def _health(now):
        ok = GaugeMetricFamily("voipadmin_health_check_ok", "1 when the /healthz check passes.", labels=["check"])
        age = GaugeMetricFamily("voipadmin_health_check_age_seconds", "The age a /healthz check measured "
                                "(beat, poll, push).", labels=["check"])
        for check in health.run_checks():
            ok.add_metric([check.name], 1 if check.ok else 0)
            if check.age_seconds is not None:
                age.add_metric([check.name], check.age_seconds)
        return [ok, age]


    #: media.overview.metric_samples key → (name, help, labels)
    MEDIA_GAUGES = {
        "instances_alive": ("voipadmin_media_app_instances_alive", "Application service instances (run_media_apps) "
                            "whose heartbeat is recent.", []),
        "instance_up": ("voipadmin_media_app_instance_up", "1 when the instance's heartbeat is recent.", ["instance"]),
        "connected_nodes": ("voipadmin_media_app_connected_nodes", "Enabled ARI nodes the instance holds a "
                            "WebSocket to.", ["instance"]),
        "heartbeat_age": ("voipadmin_media_app_heartbeat_age_seconds", "Age of the instance's last heartbeat.",
                          ["instance"]),
        "calls_handled": ("voipadmin_media_app_calls_handled", "Calls the instance has handled since it started.",
                          ["instance"]),
        "node_served": ("voipadmin_media_app_node_served", "1 when a live instance is connected to this enabled ARI "
                        "node, else 0 (its rooms and menus answer \"service unavailable\").", ["node"]),
        "rooms": ("voipadmin_media_rooms_active", "Conference rooms in use, per home node and site.", ["node", "site"]),
        "members": ("voipadmin_media_room_members", "Callers in conference rooms, per home node and site.",
                    ["node", "site"]),
        "menu_calls": ("voipadmin_media_menu_calls", "Calls held in IVR menus, per node and menu.",
                       ["node", "site", "menu"]),
    }

    @classmethod
    def _media(cls):
        for key, samples in media_samples().items():
            name, text, labels = cls.MEDIA_GAUGES[key]
            gauge = GaugeMetricFamily(name, text, labels=labels)
            for values, value in samples:
                gauge.add_metric(list(values), value)
            yield gauge


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def render() -> bytes:
    """The exposition text: the processes' counters (summed over workers when multi-process) + the estate."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(API_REQUESTS)
    registry.register(EstateCollector())
    return generate_latest(registry)
