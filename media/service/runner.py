"""The application service's event loop: one :class:`NodeLink` per enabled Asterisk, claims, handlers, heartbeat.

Sharing and fail-over (see media/service/__init__.py for the whole story): every instance registers its own
ARI application ``voipadmin.<instance>`` on every node. ``[va-app]`` runs StasisBroadcast, which offers the
call to every ``voipadmin.*`` application at once (a CallBroadcast event); each instance that is accepting
calls claims it (``POST /events/claim``) and the first claim wins (the others get 409), so the instances share
the calls by who answers first, with no lease or coordinator. An instance that dies simply stops claiming.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import random
import socket
import time
from datetime import datetime
from typing import Any, Callable

from django.utils import timezone

from voipadmin.connectors.errors import NodeError

from . import state
from .ari import AriError, AriRest, SocketRest, events
from .calls import ADOPT, CallContext, NodeInfo, run_call

log = logging.getLogger("media.service")

#: the ARI application name prefix [va-app]'s StasisBroadcast offers calls to (its app_filter)
APP_PREFIX = "voipadmin."
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 10.0
#: an instance waits this long per call it holds before it claims another, so the least busy instance wins the
#: race: the calls spread by load, not by which process happens to be quicker
CLAIM_DELAY_PER_CALL, CLAIM_DELAY_CAP = 0.002, 0.05
#: threads for ctx.db, each keeping its own database connection (the command makes them persistent): a few
#: suffice (one short query per call), and a shared PostgreSQL has few connections to spare
DB_THREADS = 8
#: an instance whose heartbeat is this many intervals old is dead: the live ones take over its calls
STALE_BEATS = 3
#: modules a handler lives in; each registers its kinds on import (a helper's module may not exist yet)
HANDLER_MODULES = ("media.service.codes", "media.service.menus", "media.service.rooms", "media.service.agi",
                   "media.service.announce")


def autodiscover() -> list[str]:
    import importlib

    loaded = []
    for name in HANDLER_MODULES:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return loaded


def default_instance_name() -> str:
    return f"{socket.gethostname().split('.')[0]}-{os.getpid()}"


def _channel_of(event: dict[str, Any]) -> str:
    """The channel an event is about (a playback's target channel too)."""
    channel = event.get("channel")
    if isinstance(channel, dict):
        return channel.get("id", "")
    playback = event.get("playback")
    if isinstance(playback, dict):
        target = playback.get("target_uri", "")
        if target.startswith("channel:"):
            return target[len("channel:"):]
    return ""


class NodeLink:
    """One node: its event socket (reconnected with backoff), its REST client, the calls this instance runs there."""

    def __init__(self, service: "Service", node: NodeInfo) -> None:
        self.service = service
        self.node = node
        self.rest = SocketRest(AriRest(node.ari_url, node.username, node.password))
        self.calls: dict[str, CallContext] = {}
        #: [when its CallBroadcast came, when our claim was answered] by channel, until its StasisStart
        self.broadcasts: dict[str, list] = {}
        self.connected = False
        self.last_error = ""
        #: callables given every event of this node that no call took (bridges of rooms, for instance)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"node {node.name}")

    async def run(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            try:
                async for event in events(self.node.ari_url, self.node.username, self.node.password,
                                          self.service.app, on_open=self._opened):
                    delay = BACKOFF_FIRST
                    try:
                        started = self.handle(event)
                    except Exception:  # noqa: BLE001 - an odd event must not cost the node its link
                        log.exception("%s: event %s", self.node.name, event.get("type"))
                        continue
                    if started:
                        await asyncio.sleep(0)  # a new call's first step (its first action) before the next event
            except NodeError as exc:
                if exc.reason != self.last_error:
                    log.warning("%s: %s (reconnecting)", self.node.name, exc.reason)
                self.last_error = exc.reason
            finally:
                self.rest.detach()
            if self.connected:
                self.connected = False
                self.service.changed = True
            # jitter: the instances of an estate do not all knock at a restarted node in the same millisecond
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_CAP)

    def _opened(self, socket) -> None:
        self.rest.attach(socket)
        self.connected, self.last_error = True, ""
        self.service.changed = True
        log.info("%s: connected as %s", self.node.name, self.service.app)
        # calls this instance's name still holds from a previous life (a restart under the same name)
        asyncio.get_running_loop().create_task(self.adopt(self.service.app))

    async def adopt(self, app: str) -> int:
        """Take over the channels ``app`` holds on this node: our own name's (from before a restart) directly,
        a dead instance's by moving them into our application (``POST /channels/{id}/move``; when two instances
        try, one move wins). Each gets the ``adopt`` handler. Returns how many were taken."""
        try:
            held = (await self.rest.get(f"/applications/{app}") or {}).get("channel_ids", [])
        except AriError as exc:
            if exc.status != 404:
                log.warning("%s: cannot list the channels of %s: %s", self.node.name, app, exc.reason)
            return 0
        taken = 0
        for channel_id in held:
            if channel_id in self.calls:
                continue
            try:
                if app == self.service.app:
                    channel = await self.rest.get(f"/channels/{channel_id}")
                    self.start_call({"channel": channel, "args": [ADOPT]}, time.perf_counter())
                else:  # our StasisStart follows, with the args given here
                    await self.rest.post(f"/channels/{channel_id}/move", app=self.service.app, appArgs=ADOPT)
                taken += 1
            except AriError as exc:
                log.debug("%s: %s not taken from %s: %s", self.node.name, channel_id, app, exc.reason)
        if taken:
            log.warning("%s: took over %d call(s) of %s", self.node.name, taken, app)
        return taken

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
            pass
        await self.rest.aclose()

    # -- events ----------------------------------------------------------------------------------------------------

    def handle(self, event: dict[str, Any]) -> bool:
        """Route one event; True when it started a call."""
        received = time.perf_counter()
        self.service.last_event = timezone.now()
        kind = event.get("type")
        if kind == "RESTResponse":
            self.rest.resolve(event)
            return False
        if kind == "CallBroadcast":
            if self.service.accepting:
                asyncio.get_running_loop().create_task(self.claim(event, received))
            return False
        if kind == "StasisStart":
            self.start_call(event, received)
            return True
        channel_id = _channel_of(event)
        ctx = self.calls.get(channel_id) if channel_id else None
        if ctx is not None:
            ctx.deliver(event)
            if kind in ("StasisEnd", "ChannelDestroyed"):
                self.calls.pop(channel_id, None)
            return False
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001
                log.exception("%s: node listener failed on %s", self.node.name, kind)
        return False

    async def claim(self, event: dict[str, Any], received: float) -> None:
        channel_id = (event.get("channel") or {}).get("id", "")
        timing = self.broadcasts[channel_id] = [received, None]
        # (alone, nobody to share with: no wait; the claims in flight do not count: a burst would make all wait)
        load = self.service.calls_in_progress() if self.service.peers else 0
        try:
            if load:
                await asyncio.sleep(min(load * CLAIM_DELAY_PER_CALL, CLAIM_DELAY_CAP))
            await self.rest.post("/events/claim", channelId=channel_id, application=self.service.app)
            timing[1] = time.perf_counter()  # (StasisStart may have come first: the call holds this list)
        except AriError as exc:
            self.broadcasts.pop(channel_id, None)
            if exc.status in (404, 409):  # another instance won, or the caller is gone
                log.debug("%s: claim of %s lost (%s)", self.node.name, channel_id, exc.status)
            else:
                log.warning("%s: claim of %s failed: %s", self.node.name, channel_id, exc.reason)

    def start_call(self, event: dict[str, Any], received: float) -> None:
        channel = event.get("channel") or {}
        ctx = CallContext(node=self.node, channel=channel, args=event.get("args") or [], instance=self.service.name,
                          rest=self.rest, received=received, on_first_action=self.service.first_action,
                          link=self)
        ctx.broadcast = self.broadcasts.pop(ctx.channel_id, None) or [None, None]
        self.calls[ctx.channel_id] = ctx
        self.service.calls_handled += 1
        asyncio.get_running_loop().create_task(self._run(ctx), name=f"call {ctx.channel_id}")

    async def _run(self, ctx: CallContext) -> None:
        try:
            await run_call(ctx)
        finally:
            # the channel may stay in Stasis after its handler (a room member); it is forgotten at StasisEnd
            if ctx.hung_up.is_set():
                self.calls.pop(ctx.channel_id, None)


class Service:
    """``await Service("web1").run()`` until :meth:`stop` (SIGTERM): stop claiming, let calls finish, close."""

    def __init__(self, name: str | None = None, *, refresh: float = 3.0, heartbeat: float = 2.0,
                 grace: float = 20.0, latency_log: str | None = None) -> None:
        self.name = name or default_instance_name()
        self.app = f"{APP_PREFIX}{self.name}"
        self.refresh, self.heartbeat_interval, self.grace = refresh, heartbeat, grace
        self.links: dict[int, NodeLink] = {}
        self.accepting = True
        self.changed = False
        self.calls_handled = 0
        self.peers = 0  # other instances alive at the last heartbeat
        self.last_event: datetime | None = None
        self.started = timezone.now()
        self._stop = asyncio.Event()
        self._latency = open(latency_log, "a", buffering=1) if latency_log else None

    def first_action(self, ctx: CallContext) -> None:
        """StasisStart → the call's first ARI request, for the bench (``--latency-log``: one JSON line a call)."""
        log.debug("%s: first action after %.2f ms", ctx, ctx.latency_ms)
        if self._latency and ctx.args[:1] != [ADOPT]:  # (a call taken over is not a new call)
            line = {"channel": ctx.channel_id, "node": ctx.node.name, "kind": ctx.args[0] if ctx.args else "",
                    "latency_ms": round(ctx.latency_ms, 3), "at": time.time()}
            broadcast, claimed = getattr(ctx, "broadcast", (None, None))
            if broadcast is not None and claimed is not None:  # CallBroadcast → claim answered → StasisStart
                line.update(claim_ms=round((claimed - broadcast) * 1000, 3),
                            broadcast_to_start_ms=round((ctx.received - broadcast) * 1000, 3))
            self._latency.write(json.dumps(line) + "\n")

    def stop(self) -> None:
        self._stop.set()

    @property
    def connected_nodes(self) -> list[str]:
        return sorted(link.node.name for link in self.links.values() if link.connected)

    async def run(self) -> None:
        asyncio.get_running_loop().set_default_executor(
            concurrent.futures.ThreadPoolExecutor(DB_THREADS, thread_name_prefix="media-db"))
        loaded = autodiscover()
        log.info("application service %s (ARI app %s), handlers from %s", self.name, self.app, ", ".join(loaded))
        await self.sync_nodes()
        await self.beat()
        tasks = [asyncio.create_task(self._every(self.refresh, self.sync_nodes)),
                 asyncio.create_task(self._every(self.heartbeat_interval, self.beat))]
        try:
            await self._stop.wait()
            await self.shutdown()
        finally:
            for task in tasks:
                task.cancel()
            for link in list(self.links.values()):
                await link.close()
            if self._latency:
                self._latency.close()

    async def _every(self, seconds: float, fn) -> None:
        while True:
            await asyncio.sleep(seconds if not self.changed else min(seconds, 0.2))
            try:
                await fn()
            except Exception:  # noqa: BLE001 - the database may be away a moment; try again next time
                log.exception("%s failed", getattr(fn, "__name__", fn))

    async def sync_nodes(self) -> None:
        """Start links to new nodes, drop disabled or removed ones, restart those whose ARI changed."""
        nodes = {n.pk: n for n in await asyncio.to_thread(state.enabled_nodes)}
        for pk, link in list(self.links.items()):
            if pk not in nodes or nodes[pk].key != link.node.key:
                log.info("%s: %s", link.node.name, "removed" if pk not in nodes else "ARI settings changed")
                del self.links[pk]
                await link.close()
                self.changed = True
        for pk, node in nodes.items():
            if pk not in self.links:
                self.links[pk] = NodeLink(self, node)
            elif node != self.links[pk].node:  # renamed, moved: same connection, fresh snapshot
                self.links[pk].node = node

    async def beat(self) -> None:
        """The heartbeat; and the calls of instances whose heartbeat stopped are taken over."""
        self.changed = False
        if self._stop.is_set():  # stopping: shutdown() writes the last word
            return
        dead, self.peers = await asyncio.to_thread(
            state.heartbeat, self.name, hostname=socket.gethostname(), pid=os.getpid(), started=self.started,
            connected=self.connected_nodes, last_event=self.last_event, calls_handled=self.calls_handled,
            stale_after=STALE_BEATS * self.heartbeat_interval)
        if dead and self.accepting:
            await self.take_over(dead)

    async def take_over(self, dead: list[str]) -> None:
        links = [link for link in self.links.values() if link.connected]
        for name in dead:
            results = await asyncio.gather(*(link.adopt(f"{APP_PREFIX}{name}") for link in links))
            if sum(results):
                await asyncio.to_thread(state.forget_menu_calls, name)

    def calls_in_progress(self) -> int:
        return sum(len(link.calls) for link in self.links.values())

    async def shutdown(self) -> None:
        """Stop claiming (the other instances, or [va-app]'s fallback, take the new calls), give the calls in
        progress ``grace`` seconds to leave the application, then close; see media/service/__init__.py."""
        self.accepting = False
        log.info("stopping: %d calls in progress", self.calls_in_progress())
        deadline = time.monotonic() + self.grace
        while self.calls_in_progress() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        left = self.calls_in_progress()
        try:
            if left:  # (room members, callers who outlasted the grace): the other instances take them over
                log.warning("stopping with %d calls in progress: handing them over", left)
                await asyncio.to_thread(state.give_up, self.name, STALE_BEATS * self.heartbeat_interval)
            else:
                await asyncio.to_thread(state.forget_instance, self.name)
        except Exception:  # noqa: BLE001
            log.exception("could not update instance %s", self.name)
