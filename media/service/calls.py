"""What a media application sees of one call: :class:`CallContext`, and the registry of handlers by kind.

A handler is ``async def handler(ctx: CallContext)``, registered with ``register("code", handler)``. The
StasisStart's ``args[0]`` names the kind (``code``, ``relay``, ``announce``); the rest are the kind's own
arguments. The handler owns the channel until it hands it back to the dialplan (``continue_in``) or hangs
it up; when the caller hangs up first, every wait of the context raises :class:`CallEnded`, which the
runner swallows (use ``try/finally`` for clean-up).

Why helpers instead of raw ARI everywhere: the wait for DTMF, the end of a playback and the caller's
hang-up are events on the node's socket, which the runner routes here; a handler just awaits them.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable

from django.db import close_old_connections

from .ari import AriError, AriRest

log = logging.getLogger("media.service")

Handler = Callable[["CallContext"], Awaitable[None]]
_handlers: dict[str, Handler] = {}

#: events that end the call for the application (the channel left Stasis or is gone)
END_EVENTS = frozenset({"StasisEnd", "ChannelDestroyed", "ChannelHangupRequest"})


def register(kind: str, handler: Handler) -> Handler:
    """Make ``handler`` run the calls whose first Stasis argument is ``kind`` (last registration wins)."""
    _handlers[kind] = handler
    return handler


def handler_for(kind: str) -> Handler | None:
    return _handlers.get(kind)


class CallEnded(Exception):
    """The caller hung up (or the channel left the application): stop working on this call."""


@dataclass(frozen=True)
class NodeInfo:
    """A snapshot of the node a call is on (read when the node list is refreshed, not per call)."""

    pk: int
    name: str
    site: str  # the node's site slug
    sip_uri: str
    ari_url: str
    username: str = field(repr=False, default="")
    password: str = field(repr=False, default="")

    @property
    def key(self) -> tuple:
        """What a connection depends on: a change restarts it."""
        return self.ari_url, self.username, self.password


class _CallAri:
    """The node's ARI as a handler uses it: the call's first request records the service's latency."""

    def __init__(self, ctx: "CallContext", rest: AriRest) -> None:
        self._ctx, self._rest = ctx, rest

    def _mark(self) -> None:
        if self._ctx.latency_ms is None:
            self._ctx.latency_ms = (time.perf_counter() - self._ctx.received) * 1000.0
            if self._ctx.on_first_action:
                self._ctx.on_first_action(self._ctx)

    async def get(self, path: str, **params: Any) -> Any:
        self._mark()
        return await self._rest.get(path, **params)

    async def post(self, path: str, body: Any = None, **params: Any) -> Any:
        self._mark()
        return await self._rest.post(path, body, **params)

    async def delete(self, path: str, **params: Any) -> Any:
        self._mark()
        return await self._rest.delete(path, **params)


class CallContext:
    """One call in the application: ``node``, ``channel`` (StasisStart's dict), ``args``, ``instance``, ``ari``."""

    def __init__(self, *, node: NodeInfo, channel: dict[str, Any], args: list[str], instance: str, rest: AriRest,
                 received: float | None = None,
                 on_first_action: Callable[["CallContext"], None] | None = None, link: Any = None) -> None:
        self.node = node
        self.channel = channel
        self.args = list(args)
        self.instance = instance
        self.ari = _CallAri(self, rest)
        self.received = time.perf_counter() if received is None else received
        self.latency_ms: float | None = None
        self.on_first_action = on_first_action
        #: the runner's NodeLink of this node (``link.listeners``: node events no call took, such as a bridge's)
        self.link = link
        self.hung_up = asyncio.Event()
        #: callables given every event about this channel (rooms watch their own bridge events through this too)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        self._playbacks: dict[str, asyncio.Future] = {}

    def __repr__(self) -> str:
        return f"<CallContext {self.channel_id} on {self.node.name} args={self.args}>"

    @property
    def channel_id(self) -> str:
        return self.channel.get("id", "")

    @property
    def caller(self) -> str:
        return (self.channel.get("caller") or {}).get("number", "")

    @property
    def exten(self) -> str:
        return (self.channel.get("dialplan") or {}).get("exten", "")

    # -- events (called by the runner, in the event loop) --------------------------------------------------------

    def deliver(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "ChannelDtmfReceived":
            digit = event.get("digit", "")
            if digit:
                self._digits.put_nowait(digit)
                self._stop_barge_in()
        elif kind == "PlaybackFinished":
            future = self._playbacks.pop((event.get("playback") or {}).get("id", ""), None)
            if future and not future.done():
                future.set_result(event["playback"].get("state", "done"))
        elif kind in END_EVENTS:
            self.hung_up.set()
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - one listener's bug must not stop the call's events
                log.exception("listener failed on %s", kind)

    def _stop_barge_in(self) -> None:
        for playback_id, future in list(self._playbacks.items()):
            if getattr(future, "barge_in", False) and not future.done():
                future.set_result("interrupted")
                asyncio.get_running_loop().create_task(self._quietly(self.ari.delete(f"/playbacks/{playback_id}")))

    @staticmethod
    async def _quietly(awaitable: Awaitable) -> None:
        try:
            await awaitable
        except AriError:
            pass

    # -- waiting ---------------------------------------------------------------------------------------------------

    async def _until(self, awaitable: Awaitable, timeout: float | None):
        """``awaitable``'s result, or raise CallEnded as soon as the caller hangs up; None on timeout."""
        if self.hung_up.is_set():
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # never started: no "was never awaited" warning
            raise CallEnded(self.channel_id)
        task = asyncio.ensure_future(awaitable)
        ended = asyncio.ensure_future(self.hung_up.wait())
        try:
            done, _ = await asyncio.wait({task, ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if task in done:
            return task.result()
        task.cancel()
        if ended in done or self.hung_up.is_set():
            raise CallEnded(self.channel_id)
        return None

    # -- actions ---------------------------------------------------------------------------------------------------

    async def answer(self) -> None:
        await self.ari.post(f"/channels/{self.channel_id}/answer")

    async def play(self, media: str | Iterable[str], wait: bool = True, *, barge_in: bool = False) -> str:
        """Play ``media`` ("sound:name", an announcement URI, or several). ``wait``: until it ends; ``barge_in``:
        a key stops it (the key stays queued for get_digit; a key already queued skips the prompt).
        Returns "done", "interrupted" (barge-in) or "started" (not waited)."""
        if barge_in and not self._digits.empty():
            return "interrupted"
        media = media if isinstance(media, str) else ",".join(media)
        playback_id = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        future.barge_in = barge_in
        if wait:
            self._playbacks[playback_id] = future
        try:
            await self.ari.post(f"/channels/{self.channel_id}/play/{playback_id}", media=media)
        except AriError:
            self._playbacks.pop(playback_id, None)
            if self.hung_up.is_set():
                raise CallEnded(self.channel_id) from None
            raise
        if not wait:
            return "started"
        try:
            return await self._until(future, None)
        finally:
            self._playbacks.pop(playback_id, None)

    async def get_digit(self, timeout: float) -> str | None:
        """The next key the caller presses (RFC 2833 / SIP INFO, as Asterisk hands it), or None after ``timeout``."""
        return await self._until(self._digits.get(), timeout)

    async def get_digits(self, max: int, timeout: float, terminator: str = "#") -> str:  # noqa: A002 - contract
        """Up to ``max`` keys, ending early at ``terminator`` (not included) or when ``timeout`` passes between keys."""
        keys = ""
        while len(keys) < max:
            digit = await self.get_digit(timeout)
            if digit is None or (terminator and digit == terminator):
                break
            keys += digit
        return keys

    def clear_digits(self) -> None:
        while not self._digits.empty():
            self._digits.get_nowait()

    async def set_variable(self, name: str, value: str) -> None:
        await self.ari.post(f"/channels/{self.channel_id}/variable", variable=name, value=value)

    async def continue_in(self, context: str, exten: str, priority: int = 1,
                          variables: dict[str, str] | None = None) -> None:
        """Hand the call back to the dialplan at context,exten,priority (channel variables set first)."""
        for name, value in (variables or {}).items():
            await self.set_variable(name, value)
        await self.ari.post(f"/channels/{self.channel_id}/continue", context=context, extension=exten,
                            priority=priority)

    async def hangup(self, reason: str = "normal") -> None:
        try:
            await self.ari.delete(f"/channels/{self.channel_id}", reason=reason)
        except AriError as exc:
            if exc.status != 404:  # already gone
                raise

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run sync ORM code in a worker thread (its own connection, dropped when broken or too old)."""
        def run():
            close_old_connections()
            return fn(*args, **kwargs)

        return await asyncio.to_thread(run)


ADOPT = "adopt"


def broadcast_args(channel: dict[str, Any]) -> list[str]:
    """The Stasis arguments the dialplan gave a channel, read back from the application it is executing
    (``StasisBroadcast(timeout,filter,a:b:c)`` or ``Stasis(app,a,b,c)``); [] when it is neither."""
    dialplan = channel.get("dialplan") or {}
    app, data = dialplan.get("app_name", ""), dialplan.get("app_data", "")
    if app == "StasisBroadcast":
        fields = data.split(",")
        return fields[2].split(":") if len(fields) > 2 and fields[2] else []
    if app == "Stasis":
        return data.split(",")[1:]
    return []


async def adopt(ctx: CallContext) -> None:
    """A call taken over from an instance that died (or from this instance's name before a restart): it starts
    over from the arguments its dialplan gave (a caller in a menu hears the menu again). A channel in a bridge
    (a room's member) stays there, handed to the ``adopt-bridged`` handler when one is registered."""
    bridges = await ctx.ari.get("/bridges")
    if any(ctx.channel_id in (b.get("channels") or []) for b in bridges or []):
        handler = handler_for("adopt-bridged")
        if handler is not None:
            await handler(ctx)
        return
    args = broadcast_args(ctx.channel)
    handler = handler_for(args[0]) if args and args[0] != ADOPT else None
    if handler is None:
        log.warning("%s: taken over, but nothing says what it was doing (%s); hanging up", ctx,
                    (ctx.channel.get("dialplan") or {}).get("app_data", ""))
        await ctx.hangup()
        return
    log.info("%s: taken over, starting %s again", ctx, args)
    ctx.args = args
    await handler(ctx)


register(ADOPT, adopt)


async def run_call(ctx: CallContext) -> None:
    """Run the handler the call's first argument names; an unknown kind or a handler's failure hangs up."""
    kind = ctx.args[0] if ctx.args else ""
    handler = handler_for(kind)
    try:
        if handler is None:
            log.warning("%s: no handler for %r; hanging up", ctx, kind)
            await ctx.hangup()
            return
        await handler(ctx)
    except CallEnded:
        log.debug("%s: caller gone", ctx)
    except asyncio.CancelledError:
        raise
    except Exception:
        if ctx.hung_up.is_set():
            log.debug("%s: ended while the handler worked", ctx, exc_info=True)
            return
        log.exception("%s: handler %r failed; hanging up", ctx, kind)
        try:
            await ctx.hangup()
        except AriError:
            pass
