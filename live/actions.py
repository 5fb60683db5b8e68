"""The one write path of live data: a poll cycle's results go in here and nowhere else.

Live rows are a cache of what the nodes said, so a cycle *replaces* a node's rows
(delete + bulk insert in one transaction: a COPY on PostgreSQL) instead of diffing
them: a few queries per batch of nodes, whatever the number of channels.  Nodes
are written in batches as they answer, so a hung node delays nobody else's data.  Nothing here is audited —
looking at the estate changes nothing — but every entry point still takes
``actor=`` so logs can say who asked.

Call control (hang up, click-to-call, listen in: ``live.callcontrol``) is the exception: it changes what
happens on the estate, so every attempt, done or refused, is in the audit log on the user it concerns.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Iterable

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from push import api as push_api
from sites.choices import NodeRole
from sites.models import AsteriskNode, ExtensionRange, KamailioNode, Site
from users.models import SipUser
from voipadmin import audit
from voipadmin.actors import Actor
from voipadmin.connectors.errors import NodeError
from voipadmin.connectors.kamailio import AsyncKamailioRpc
from voipadmin.fields import misconfiguration

from . import callcontrol, poller, presence
from .callcontrol import Sentence
from .choices import Health, NodeKind
from .models import (ActiveCall, Bridge, CallSample, DestinationState, DeviceState, ExtensionState, NodeState,
                     PresenceState, Registration, TrunkState)
from .poller import AsteriskTarget, KamailioTarget, NodeResult
from .presence import PresenceSnapshot

log = logging.getLogger(__name__)
BATCH = 2000


def node_timeout() -> float:
    return float(getattr(settings, "LIVE_NODE_TIMEOUT_SECONDS", 1.0))


def history_days() -> int:
    return int(getattr(settings, "LIVE_HISTORY_DAYS", 3))


@dataclass
class CycleSummary:
    results: list[NodeResult]
    seconds: float = 0.0
    calls_by_site: dict[int, int] = field(default_factory=dict)
    presence: PresenceSnapshot | None = None  # Kamailio's presence tables, read at the end of a full cycle
    silent_asterisks: list[str] = field(default_factory=list)  # enabled Asterisks in a call with no publication
    lamps_turned_off: int = 0  # stale lamps of restarted Asterisks turned off (turn_off_stale_lamps)

    def count(self, state: str) -> int:
        return sum(1 for r in self.results if r.state == state)

    @property
    def channels(self) -> int:
        return sum(len(r.calls) for r in self.results)

    @property
    def registrations(self) -> int:
        return sum(len(r.registrations) for r in self.results if r.kind == NodeKind.KAMAILIO)

    def lines(self) -> list[str]:
        out = [f"{len(self.results)} node(s) polled in {self.seconds:.3f}s: {self.count(Health.UP)} up, "
               f"{self.count(Health.DEGRADED)} degraded, {self.count(Health.DOWN)} down; "
               f"{self.channels} channel(s), {self.registrations} Kamailio registration(s)"]
        for r in sorted(self.results, key=lambda r: (r.kind, r.name)):
            latency = f"{r.latency_ms:.1f} ms" if r.latency_ms is not None else "—"
            extra = f"{len(r.calls)} channel(s), {len(r.registrations)} registration(s), {len(r.trunks)} trunk(s)"
            extra += f", ARI {r.ari}" if r.ari else ""
            out.append(f"  {r.kind:8} {r.name:24} {r.state:8} {latency:>10}  {extra}"
                       + (f"  [{r.reason}]" if r.reason else ""))
        if self.lamps_turned_off:
            out.append(f"  {self.lamps_turned_off} lamp(s) a restarted Asterisk left on turned off")
        if self.presence is not None:
            out.append("  " + self.presence.line())
            for name in self.silent_asterisks:
                out.append(f"  warning: Asterisk {name} publishes no presence: it carries a call, Kamailio holds no "
                           "live publication from its address")
        return out


# -- targets ------------------------------------------------------------------------------------------


def asterisk_target(node: AsteriskNode) -> AsteriskTarget:
    return AsteriskTarget(node_id=node.pk, name=node.name, site_id=node.site_id, host=node.effective_ami_host,
                          port=node.ami_port, username=node.ami_username, secret=node.ami_secret or "",
                          gateway=NodeRole.GATEWAY in node.role_list, ari_url=node.ari_url,
                          ari_username=node.ari_username, ari_password=node.ari_password or "",
                          misconfigured=misconfiguration(node))


def kamailio_target(node: KamailioNode) -> KamailioTarget:
    return KamailioTarget(node_id=node.pk, name=node.name, url=node.jsonrpc_url, username=node.jsonrpc_username,
                          password=node.jsonrpc_password or "", misconfigured=misconfiguration(node))


def estate_targets() -> list[AsteriskTarget | KamailioTarget]:
    """Every enabled node (disabled nodes are neither polled nor pushed to)."""
    return ([asterisk_target(n) for n in AsteriskNode.objects.filter(enabled=True)]
            + [kamailio_target(n) for n in KamailioNode.objects.filter(enabled=True)])


# -- entry points -------------------------------------------------------------------------------------


def poll_estate(*, actor: Actor, timeout: float | None = None) -> CycleSummary:
    """Poll every enabled node concurrently and record the cycle (the beat task and ``poll_estate``)."""
    return run_cycle(estate_targets(), actor=actor, timeout=timeout)


def run_cycle(targets: Iterable[AsteriskTarget | KamailioTarget], *, actor: Actor, timeout: float | None = None,
              full_cycle: bool = True) -> CycleSummary:
    """Poll ``targets`` concurrently, recording nodes in batches as they answer.

    Quick nodes are written while a slow or hung one is still running out its
    timeout.  A ``full_cycle`` then forgets nodes that were not polled (disabled or
    deleted since) and samples the call history.
    """
    started = time.perf_counter()
    results: list[NodeResult] = []
    batches: list[CycleSummary] = []
    for batch in poller.poll_in_batches(targets, timeout or node_timeout()):
        batches.append(record_poll_cycle(batch, actor=actor, full_cycle=False))
        results += batch
    summary = CycleSummary(results=results)
    summary.lamps_turned_off = sum(b.lamps_turned_off for b in batches)
    if full_cycle:
        now = _clock()
        summary.calls_by_site = _finish_cycle(results, now)
        summary.presence, summary.silent_asterisks = record_presence(now=now)
    summary.seconds = time.perf_counter() - started
    return summary


def test_node_connection(node: AsteriskNode | KamailioNode, *, actor: Actor,
                         timeout: float | None = None) -> NodeResult:
    """Poll one node now (the node page's "test connection") and record what it said.

    The very poll the beat task runs (AMI and ARI for an Asterisk), so what the button
    says and what the dashboard shows next can never disagree.
    """
    target = asterisk_target(node) if isinstance(node, AsteriskNode) else kamailio_target(node)
    summary = run_cycle([target], actor=actor, timeout=timeout, full_cycle=False)
    result = summary.results[0]
    log.info("%s tested %s: %s %s", actor.label, node, result.state, result.reason)
    return result


def record_poll_cycle(results: Iterable[NodeResult], *, actor: Actor, full_cycle: bool = True,
                      now: datetime | None = None) -> CycleSummary:
    """Write poll results (a whole cycle, or one batch of it) in one transaction.

    Per node: upsert its NodeState; replace its calls, registrations, device and
    extension states, trunks and (Kamailio) dispatcher destinations with what it said (a ``down`` node's rows are
    dropped: we no longer know them, and the dashboard shows the node down with its
    reason and last-seen age instead).  ``full_cycle``: these are all the cycle's
    results, so also forget nodes that were not polled and sample the call history.
    """
    results = list(results)
    now = now or datetime.now(dt_timezone.utc)
    with transaction.atomic():
        results = _still_existing(results)
        ast = [r for r in results if r.kind == NodeKind.ASTERISK]
        kam = [r for r in results if r.kind == NodeKind.KAMAILIO]
        ast_ids = [r.node_id for r in ast]
        kam_ids = [r.node_id for r in kam]
        restarted = _upsert_node_states(ast, kam, now)
        _replace_destinations(kam, now)
        scopes = [(ActiveCall, {"node_id__in": ast_ids}), (DeviceState, {"node_id__in": ast_ids}),
                  (ExtensionState, {"node_id__in": ast_ids}), (Bridge, {"node_id__in": ast_ids}),
                  (Registration, {"asterisk_node_id__in": ast_ids}),
                  (Registration, {"kamailio_node_id__in": kam_ids}),
                  (TrunkState, {"asterisk_node_id__in": ast_ids}),
                  (TrunkState, {"kamailio_node_id__in": kam_ids})]
        for model, lookup in scopes:
            model.objects.filter(**lookup).delete()
        calls, registrations, devices, extens, trunk_rows, bridges = [], [], [], [], [], []
        for r in results:
            if not r.answered:
                continue
            if r.kind == NodeKind.ASTERISK:
                calls += [{"node_id": r.node_id, "site_id": r.site_id, "seen_at": now, **c} for c in r.calls]
                registrations += [{"asterisk_node_id": r.node_id, "kamailio_node_id": None, "seen_at": now, **g}
                                  for g in r.registrations]
                devices += [{"node_id": r.node_id, **d} for d in r.device_states]
                extens += [{"node_id": r.node_id, **e} for e in r.extension_states]
                bridges += [{"node_id": r.node_id, **b} for b in r.bridges]
                trunk_rows += [{"asterisk_node_id": r.node_id, "kamailio_node_id": None, "site_id": r.site_id,
                                "seen_at": now, **t} for t in r.trunks]
            else:
                registrations += [{"kamailio_node_id": r.node_id, "asterisk_node_id": None, "seen_at": now, **g}
                                  for g in r.registrations]
                trunk_rows += [{"kamailio_node_id": r.node_id, "asterisk_node_id": None, "site_id": None,
                                "seen_at": now, **t} for t in r.trunks]
        for model, rows in ((ActiveCall, calls), (Registration, registrations), (DeviceState, devices),
                            (ExtensionState, extens), (TrunkState, trunk_rows), (Bridge, bridges)):
            _bulk_insert(model, rows)
        summary = CycleSummary(results=results)
    for node_id, started in restarted.items():
        summary.lamps_turned_off += turn_off_stale_lamps(node_id, started=started, actor=actor, now=now)
    if full_cycle:
        summary.calls_by_site = _finish_cycle(results, now)
        summary.presence, summary.silent_asterisks = record_presence(now=now)
    return summary


def _clock() -> datetime:
    """The cycle's "now" (a function, so a test can pin the clock the presence tables are read against)."""
    return datetime.now(dt_timezone.utc)


def record_presence(*, now: datetime | None = None) -> tuple[PresenceSnapshot | None, list[str]]:
    """Read Kamailio's presence tables (``live.presence``) and record them: each extension's merged state
    (``PresenceState``, what the users list and a user's page show merged with the rest), and the counts on
    the nodes' states: a Kamailio's watchers and publications, an Asterisk's publications (``None`` when
    Kamailio does not record who published). Returns the snapshot (``None`` if the tables could not be read:
    presence never stops a poll cycle) and the names of enabled Asterisks that stopped publishing: no live
    publication while they carry a call (``presence.busy_asterisks``). Seven queries, one transaction,
    whatever the number of publications.
    """
    now = now or _clock()
    try:
        snap = presence.read_presence(int(now.timestamp()))
    except DatabaseError as exc:  # (read-only, outside any transaction: nothing to roll back)
        log.warning("presence tables not read: %s", exc)
        return None, []
    with transaction.atomic():
        PresenceState.objects.all().delete()
        _bulk_insert(PresenceState, [{"extension": ext[:64], "state": state, "seen_at": now,
                                      "publications": snap.publications_of[ext]}
                                     for ext, state in sorted(snap.states.items())])
        states = list(NodeState.objects.select_related("asterisk_node", "kamailio_node").order_by("pk"))
        kamailios = [s for s in states if s.kind == NodeKind.KAMAILIO and s.kamailio_node.enabled]
        published = snap.published_by([(s.asterisk_node_id, s.asterisk_node.host, s.asterisk_node.sip_port)
                                       for s in states if s.kind == NodeKind.ASTERISK],
                                      kamailios=[s.kamailio_node.sip_address for s in states
                                                 if s.kind == NodeKind.KAMAILIO])
        for s in states:
            if s.kind == NodeKind.KAMAILIO:
                # One Kamailio holds every subscription; several are told apart by the socket that took it.
                s.watchers = snap.watchers if len(kamailios) == 1 else sum(
                    n for key, n in snap.watchers_on.items()
                    if key == presence.split_hostport(s.kamailio_node.sip_address))
                s.publications = snap.publications  # one shared database: every Kamailio serves them all
            else:
                s.watchers = None
                s.publications = published[s.asterisk_node_id]
        if states:
            NodeState.objects.bulk_update(states, ["watchers", "publications"], batch_size=BATCH)
        busy = presence.busy_asterisks()
    silent = sorted(s.asterisk_node.name for s in states if s.kind == NodeKind.ASTERISK
                    and s.asterisk_node.enabled and s.publications == 0 and s.asterisk_node_id in busy)
    return snap, silent


#: how long the idle document that replaces a restarted node's stale publication lives: long enough for every
#: watcher's NOTIFY, short enough that presence forgets it soon after (the node publishes anew on its next call)
STALE_LAMP_EXPIRES_SECONDS = 5


def turn_off_stale_lamps(node_id: int, *, started: datetime, actor: Actor, now: datetime | None = None) -> int:
    """Turn off at once the lamps an Asterisk's previous instance left on (it was killed or crashed mid-call).

    The new instance starts with every extension idle and publishes only changes, with new ETags: without
    this, Kamailio keeps the dead instance's publications (lamp on) until they expire (up to
    ASTERISK_PUBLISH_EXPIRES_SECONDS + presence's clean period). For each live publication from the node's
    address received before ``started`` that still lights a lamp, a Kamailio is asked over JSON-RPC
    (pua_rpc ``pua.publish``) to update that very publication (``SIP-If-Match`` its ETag) with an idle
    document for STALE_LAMP_EXPIRES_SECONDS: kamailio.cfg's route[PRESENCE] takes Kamailio's own PUBLISH and
    presence NOTIFYs every watcher "idle" at once. The Kamailio the publication was sent to (the body's
    entity names it) is asked first, then the others. Returns how many lamps went off; never raises (a
    failure is logged and leaves the lamp to its expiry, as before).
    """
    now = now or datetime.now(dt_timezone.utc)
    try:
        node = AsteriskNode.objects.filter(pk=node_id).only("name", "host", "sip_port").first()
        if node is None:
            return 0
        stale = presence.stale_publications(node.host, node.sip_port, started=int(started.timestamp()),
                                            now=int(now.timestamp()))
        if not stale:
            log.info("%s: Asterisk %s restarted at %s: no lamp of its previous instance left on", actor.label,
                     node.name, started.isoformat(timespec="seconds"))
            return 0
        nodes = list(KamailioNode.objects.filter(enabled=True).order_by("name"))
        addresses = {k.pk: presence.split_hostport(k.sip_address) for k in nodes}
        done = asyncio.run(_publish_idle(stale, [kamailio_target(k) for k in nodes], addresses,
                                         max(node_timeout(), 2.0)))
    except Exception as exc:  # the poll cycle goes on whatever happens here
        log.warning("%s: stale lamps of restarted Asterisk %s not turned off: %s", actor.label, node_id, exc)
        return 0
    failed = [f"{p.uri}: {why}" for p, why in done if why]
    off = len(done) - len(failed)
    log.info("%s: Asterisk %s restarted at %s: %d stale lamp(s) of its previous instance turned off%s",
             actor.label, node.name, started.isoformat(timespec="seconds"), off,
             f"; not turned off (left to expire): {'; '.join(failed)}" if failed else "")
    return off


async def _publish_idle(stale, kamailios, addresses, timeout) -> list[tuple]:
    """``[(publication, "" or why it failed)]``: every publication at once, each through its Kamailio first."""
    async def one(pub):
        entity = presence.split_hostport(pub.entity)
        order = sorted((k for k in kamailios if not k.misconfigured),
                       key=lambda k: addresses.get(k.node_id) != entity)
        why = "no enabled Kamailio"
        for k in order:
            try:
                async with AsyncKamailioRpc(k.url, username=k.username or None, password=k.password or None,
                                            timeout=timeout) as rpc:
                    answer = await rpc.pua_publish(pub.uri, STALE_LAMP_EXPIRES_SECONDS, presence.DIALOG_EVENT,
                                                   "application/dialog-info+xml", presence.idle_document(pub.uri),
                                                   series=f"stale-{pub.etag}",  # (one pua series each)
                                                   extra_headers=f"SIP-If-Match: {pub.etag}\r\n")
            except NodeError as exc:
                why = f"{k.name}: {exc.reason}"
                continue
            if isinstance(answer, dict) and answer.get("SIP-ETag"):
                return pub, ""
            why = f"{k.name}: {answer}"  # (412: that Kamailio does not hold the ETag)
        return pub, why

    return list(await asyncio.gather(*(one(p) for p in stale)))


def _still_existing(results: list[NodeResult]) -> list[NodeResult]:
    """Results of nodes deleted while they were being polled are dropped, not written."""
    ast = {r.node_id for r in results if r.kind == NodeKind.ASTERISK}
    kam = {r.node_id for r in results if r.kind == NodeKind.KAMAILIO}
    ast &= set(AsteriskNode.objects.filter(pk__in=ast).values_list("pk", flat=True)) if ast else set()
    kam &= set(KamailioNode.objects.filter(pk__in=kam).values_list("pk", flat=True)) if kam else set()
    return [r for r in results if r.node_id in (ast if r.kind == NodeKind.ASTERISK else kam)]


def _bulk_insert(model, rows: list[dict]) -> None:
    """Insert plain rows (all with the same keys, named like the columns).

    PostgreSQL gets one COPY: thousands of channels per cycle cost milliseconds and no
    model instances.  Other databases (the embedded SQLite) get ``bulk_create``.
    """
    if not rows:
        return
    columns = list(rows[0])
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        return
    model.objects.bulk_create([model(**row) for row in rows], batch_size=BATCH)


def _finish_cycle(results: list[NodeResult], now: datetime) -> dict[int, int]:
    """End of a full cycle: forget nodes that were not polled, sample calls per site."""
    ast_ids = [r.node_id for r in results if r.kind == NodeKind.ASTERISK]
    kam_ids = [r.node_id for r in results if r.kind == NodeKind.KAMAILIO]
    with transaction.atomic():
        for model, field_name, ids in ((ActiveCall, "node_id", ast_ids), (DeviceState, "node_id", ast_ids),
                                       (ExtensionState, "node_id", ast_ids), (Bridge, "node_id", ast_ids),
                                       (TrunkState, "asterisk_node_id", ast_ids),
                                       (TrunkState, "kamailio_node_id", kam_ids),
                                       (DestinationState, "kamailio_node_id", kam_ids)):
            model.objects.exclude(**{f"{field_name}__in": ids}).exclude(**{f"{field_name}__isnull": True}).delete()
        Registration.objects.exclude(asterisk_node_id__in=ast_ids).exclude(asterisk_node_id__isnull=True).delete()
        Registration.objects.exclude(kamailio_node_id__in=kam_ids).exclude(kamailio_node_id__isnull=True).delete()
        return _record_call_samples(now)


def _replace_destinations(kam: list[NodeResult], now: datetime) -> None:
    """Each polled Kamailio's dispatcher destinations, as it holds them; ``since`` carries over while a
    destination keeps its state, so the dashboard can say "inactive for 3 min". Four queries at most."""
    if not kam:
        return
    ids = [r.node_id for r in kam]
    previous = {(d["kamailio_node_id"], d["setid"], d["uri"]): (d["state"], d["since"])
                for d in DestinationState.objects.filter(kamailio_node_id__in=ids)
                .values("kamailio_node_id", "setid", "uri", "state", "since")}
    DestinationState.objects.filter(kamailio_node_id__in=ids).delete()
    rows = [(r.node_id, d) for r in kam if r.answered for d in (r.destinations or [])]
    if not rows:
        return
    nodes = {n.sip_uri: n.pk for n in AsteriskNode.objects.only("host", "sip_port")}
    fresh, seen = [], set()
    for node_id, d in rows:
        key = (node_id, d["setid"], d["uri"])
        if key in seen:  # (a URI listed twice in one set, e.g. added by hand over RPC: one row)
            continue
        seen.add(key)
        state, since = previous.get(key, (None, None))
        fresh.append({"kamailio_node_id": node_id, "asterisk_node_id": nodes.get(d["uri"]), "seen_at": now,
                      "since": since if state == d["state"] else now, **d})
    _bulk_insert(DestinationState, fresh)


def _upsert_node_states(ast: list[NodeResult], kam: list[NodeResult], now: datetime) -> None:
    """One read and at most two writes for all the cycle's nodes."""
    # Locking the nodes' state rows serialises two writers of the same node (a beat cycle
    # and a "test connection"), so their delete + insert cannot interleave into duplicates.
    rows = (NodeState.objects.filter(asterisk_node_id__in=[r.node_id for r in ast])
            | NodeState.objects.filter(kamailio_node_id__in=[r.node_id for r in kam]))
    existing = {(s.kind, s.asterisk_node_id or s.kamailio_node_id): s
                for s in rows.order_by("pk").select_for_update()}
    to_create, to_update, back, restarted = [], [], [], {}
    for r in (*ast, *kam):
        state = existing.get((r.kind, r.node_id))
        if state is not None and state.state == Health.DOWN and r.answered:
            back.append((r.kind, r.node_id))
        if state is not None and r.kind == NodeKind.ASTERISK and r.answered:
            started = restarted_since(state, r, now)
            if started is not None:
                restarted[r.node_id] = started
        if state is None:
            state = NodeState(kind=r.kind, asterisk_node_id=r.node_id if r.kind == NodeKind.ASTERISK else None,
                              kamailio_node_id=r.node_id if r.kind == NodeKind.KAMAILIO else None)
            to_create.append(state)
        else:
            to_update.append(state)
        if state.state != r.state or state.state_since is None:
            state.state_since = now
        state.state, state.reason, state.last_polled = r.state, r.reason, now
        state.latency_ms = r.latency_ms
        if r.answered:  # a down node keeps its last known version/uptime/ARI state, shown with their age
            state.last_seen = now
            state.uptime_seconds, state.version = r.uptime_seconds, r.version
            state.ari_state, state.ari_latency_ms = r.ari, r.ari_latency_ms
    if to_create:
        NodeState.objects.bulk_create(to_create)
    if to_update:
        NodeState.objects.bulk_update(to_update, ["state", "reason", "latency_ms", "uptime_seconds", "version",
                                                  "last_seen", "last_polled", "state_since", "ari_state",
                                                  "ari_latency_ms"], batch_size=BATCH)
    for kind, node_id in back:  # its backed-off reloads go out now, not at their next retry (up to minutes away)
        push_api.retry_node(kind, node_id)
    return restarted


#: how much later a node's start time may look from one poll to the next without being a restart (uptime is in
#: whole seconds and is read some milliseconds after the cycle's clock)
RESTART_SLACK_SECONDS = 2


def restarted_since(state: NodeState, result: NodeResult, now: datetime) -> datetime | None:
    """When the Asterisk started, if it is another instance than the one last seen (its start time moved
    on, or it is back from down and its earlier start is not known); else ``None``. A node back from a
    network outage with the same start time is the same instance: its publications are still its own."""
    if result.uptime_seconds is None:
        return None
    started = now - timedelta(seconds=result.uptime_seconds)
    if state.uptime_seconds is None or state.last_seen is None:
        return started if state.state == Health.DOWN else None
    before = state.last_seen - timedelta(seconds=state.uptime_seconds)
    return started if (started - before).total_seconds() > RESTART_SLACK_SECONDS else None


def _record_call_samples(now: datetime) -> dict[int, int]:
    """Keep the peak of concurrent calls per site for this minute (a call = one ``linkedid``)."""
    minute = now.replace(second=0, microsecond=0)
    calls = {s: 0 for s in Site.objects.values_list("pk", flat=True)}
    for row in ActiveCall.objects.values("site_id").annotate(n=Count("linkedid", distinct=True)):
        calls[row["site_id"]] = row["n"]
    peaks = dict(CallSample.objects.filter(minute=minute).values_list("site_id", "calls"))
    samples = [CallSample(site_id=s, minute=minute, calls=max(n, peaks.get(s, 0))) for s, n in calls.items()]
    if samples:
        CallSample.objects.bulk_create(samples, update_conflicts=True, unique_fields=["site", "minute"],
                                       update_fields=["calls"])
    return calls


def prune_history(*, actor: Actor, days: int | None = None, now: datetime | None = None) -> int:
    """Drop call samples older than ``LIVE_HISTORY_DAYS`` before ``now`` (default: the clock); returns how
    many went. ``now`` is a parameter, like ``record_poll_cycle``'s, so callers can pin the clock."""
    deleted, _ = CallSample.objects.older_than(days or history_days(), now=now).delete()
    if deleted:
        log.info("%s pruned %d call sample(s)", actor.label, deleted)
    return deleted


# -- call control (the user page) ---------------------------------------------------------------------


def serving_node(extension: int | str, *, role: str = NodeRole.PBX) -> AsteriskNode:
    """The enabled Asterisk of the site that owns ``extension``, one with ``role`` first (then by name)."""
    try:
        number = int(extension)
    except (TypeError, ValueError):
        raise callcontrol.CallControlError(Sentence(_("%(extension)s is not an extension (digits only)."),
                                                    extension=repr(extension))) from None
    block = ExtensionRange.objects.filter(start__lte=number, end__gte=number).select_related("site").first()
    if block is None:
        raise callcontrol.CallControlError(Sentence(_("No site owns extension %(extension)s."), extension=number))
    nodes = sorted(AsteriskNode.objects.filter(site=block.site, enabled=True),
                   key=lambda n: (role not in n.role_list, n.name))
    if not nodes:
        raise callcontrol.CallControlError(Sentence(_("Site %(site)s has no enabled Asterisk node."),
                                                    site=str(block.site)))
    return nodes[0]


def _operate(user: SipUser, *, actor: Actor, what: str, details: dict, run) -> str:
    """Run one call-control operation and log it on ``user`` whatever happened; re-raise a refusal."""
    try:
        done = run()
    except callcontrol.CallControlError as exc:
        audit.record_operation(actor=actor, obj=user, message=f"{what} failed: {exc.message}",
                               details={**details, "outcome": "failed"})
        log.info("%s: %s on %s failed: %s", actor.label, what, user, exc.message)
        raise
    audit.record_operation(actor=actor, obj=user, message=f"{what}: {done}", details={**details, "outcome": "done"})
    log.info("%s: %s on %s: %s", actor.label, what, user, done)
    return done


def hangup_call(user: SipUser, *, node: AsteriskNode, channel: str, actor: Actor) -> str:
    """Hang up a call of ``user``: the channel on the node that carries it (the node checks it is still
    there and the user's). Raises ``CallControlError``."""
    def run() -> str:
        callcontrol.hangup(node, channel=channel, extension=str(user.extension))
        return Sentence(_("hung up %(channel)s on %(node)s"), channel=channel, node=node.name)

    done = _operate(user, actor=actor, what="Hang-up", details={"node": node.name, "channel": channel}, run=run)
    # poll that node now, so the user's page stops listing the call at once (not at the next beat cycle)
    run_cycle([asterisk_target(node)], actor=actor, full_cycle=False)
    return done


def originate_call(user: SipUser, *, from_extension: str, actor: Actor) -> str:
    """Click-to-call: the node serving ``from_extension`` rings it, then connects it to ``user``."""
    details = {"from": str(from_extension), "to": str(user.extension)}

    def run() -> str:
        caller = SipUser.objects.filter(extension=int(from_extension)).first() \
            if str(from_extension).isdigit() else None
        if caller is None or not caller.enabled:
            raise callcontrol.CallControlError(not_a_user(from_extension))
        if caller.pk == user.pk:
            raise callcontrol.CallControlError(
                Sentence(_("Pick another extension: a user cannot be rung to call itself.")))
        node = serving_node(caller.extension)
        details["node"] = node.name
        callcontrol.originate(node, from_extension=str(caller.extension), to_extension=str(user.extension),
                              to_name=user.name)
        return Sentence(_("%(node)s rings %(caller)s, then connects it to %(user)s"), node=node.name,
                        caller=caller.extension, user=user.extension)

    return _operate(user, actor=actor, what="Click-to-call", details=details, run=run)


def listen_in(user: SipUser, *, node: AsteriskNode, channel: str, listener_extension: str, actor: Actor) -> str:
    """Listen in on a call of ``user`` (ChanSpy, quiet, no whisper) from ``listener_extension``, which
    the node carrying the call rings."""
    details = {"node": node.name, "channel": channel, "listener": str(listener_extension)}

    def run() -> str:
        if not str(listener_extension).isdigit() or not SipUser.objects.filter(
                extension=int(listener_extension), enabled=True).exists():
            raise callcontrol.CallControlError(not_a_user(listener_extension))
        if str(listener_extension) == str(user.extension):
            raise callcontrol.CallControlError(
                Sentence(_("Pick another extension to listen from than the user's own.")))
        callcontrol.listen_in(node, channel=channel, extension=str(user.extension),
                              listener_extension=str(listener_extension))
        return Sentence(_("%(node)s rings %(listener)s to listen to %(channel)s"), node=node.name,
                        listener=listener_extension, channel=channel)

    return _operate(user, actor=actor, what="Listen-in", details=details, run=run)


def not_a_user(extension: str) -> Sentence:
    if not extension:
        return Sentence(_("That is not an enabled user of the estate."))
    return Sentence(_("%(extension)s is not an enabled user of the estate."), extension=extension)

