"""Asterisk Manager Interface client built on panoramisk.

Why a wrapper: panoramisk's ``Manager`` is made for long-lived event consumers.  It
reconnects forever (``reconnect_timeout``), pings on its own timer, queues unanswered
actions to replay after a reconnect, and never fails an action whose connection died.
A portal polling or reloading a node needs the opposite: one connection, every step
bounded by a timeout, and a dead node reported quickly as a :class:`NodeError`.
So we keep panoramisk for framing, ActionID matching and event-list collection, and
override the parts that would retry or hang.

No Django here: plain values in, dicts/dataclasses out.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from .errors import NodeError, describe_os_error, garbage

log = logging.getLogger(__name__)

BANNER_PREFIX = "Asterisk Call Manager/"

#: ``reload(intent)`` -> CLI command.  Narrow reloads only: ``core reload`` would touch
#: every module on a production node.
RELOAD_COMMANDS: dict[str, str] = {
    "pjsip": "module reload res_pjsip.so",
    "dialplan": "dialplan reload",
    "voicemail": "voicemail reload",
}

# Texts Asterisk prints with ``Response: Success`` although nothing was reloaded
# (``module reload`` returns CLI_SUCCESS whatever happened).
_RELOAD_FAILURE_MARKERS = (
    "not properly initialized",
    "unable to find",
    "no such module",
    "not found",
    "failed",
    "could not",
)

_EMPTY_LISTING = re.compile(r"^no \w+( \w+)? found", re.IGNORECASE)

_HIDDEN_HEADERS = {"actionid", "commandid", "event", "response", "eventlist", "content"}


def _fmt_timeout(timeout: float) -> str:
    return f"timed out after {float(timeout)!r}s"


class _AmiProtocol(AMIProtocol):
    """panoramisk's protocol plus a banner check, so a non-AMI peer fails at once.

    Without it, an HTTP or SSH server on the AMI port would just never answer the
    Login and we would wait out the whole timeout with no hint of what was wrong.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.head = ""
        self.failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if self.version is None and not self.failed.done():
            self.head += data.decode("utf-8", "replace")
            probe = self.head[: len(BANNER_PREFIX)]
            if not BANNER_PREFIX.startswith(probe) or (
                len(probe) < len(BANNER_PREFIX) and "\n" in self.head
            ):
                self.failed.set_exception(NodeError(garbage(self.head)))
                self.transport.close()
                return
            if len(self.head) < len(BANNER_PREFIX):
                return  # wait for the rest of the banner before handing over
            data, self.head = self.head.encode("utf-8"), self.head[:200]
        super().data_received(data)


class _OneShotManager(Manager):
    """A panoramisk Manager that never reconnects, never pings, never replays."""

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.lost: asyncio.Future[None] = self.loop.create_future()
        self.fully_booted: Message | None = None
        self.register_event("FullyBooted", self._on_fully_booted)

    def _on_fully_booted(self, manager: Manager, event: Message) -> None:
        self.fully_booted = event

    def ping(self) -> None:  # panoramisk's keepalive timer: not for short sessions
        return None

    async def send_awaiting_actions(self, *_: Any) -> None:  # no replay after reconnect
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        if not self.lost.done():
            self.lost.set_result(None)


def _headers(msg: Message) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if k.lower() not in _HIDDEN_HEADERS}


class AmiSession:
    """One authenticated AMI connection; use as ``async with AmiSession(...) as ami``.

    ``timeout`` bounds connect+banner+Login together and then each action separately.
    """

    def __init__(
        self,
        host: str,
        port: int = 5038,
        username: str = "",
        secret: str = "",
        *,
        timeout: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.timeout = timeout
        self.ami_version: str = ""
        self._manager: _OneShotManager | None = None
        self._protocol: _AmiProtocol | None = None

    @property
    def node(self) -> str:
        return f"{self.host}:{self.port}"

    def _error(self, reason: str, permanent: bool = False) -> NodeError:
        return NodeError(reason, permanent=permanent, node=self.node)

    # -- connection -------------------------------------------------------------------

    async def __aenter__(self) -> "AmiSession":
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        manager = _OneShotManager(
            host=self.host,
            port=self.port,
            username=self.username,
            secret=self.secret,
            events="off",  # a poller does not want the node's event firehose
            loop=loop,
            protocol_factory=_AmiProtocol,
            ping_delay=3600,
            reconnect_timeout=3600,
        )
        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_connection(_AmiProtocol, self.host, self.port), self.timeout
            )
        except asyncio.TimeoutError:
            raise self._error(f"{_fmt_timeout(self.timeout)} connecting") from None
        except OSError as exc:
            raise self._error(describe_os_error(exc)) from None
        self._manager, self._protocol = manager, protocol
        # Hand the ready connection to panoramisk: wires the protocol and sends Login.
        ready: asyncio.Future[Any] = loop.create_future()
        ready.set_result((transport, protocol))
        manager.connection_made(ready)
        login = manager.authenticated_future
        try:
            reply = await self._wait(login, deadline - loop.time(), "Login", extra=(protocol.failed,))
        except NodeError:
            manager.close()
            raise
        if protocol.version is None:
            manager.close()
            raise self._error(garbage(protocol.head or "reply without AMI banner"))
        self.ami_version = protocol.version
        if not reply.success:
            manager.close()
            message = reply.message or "login refused"
            raise self._error(message[:1].lower() + message[1:], permanent=True)

    async def close(self) -> None:
        """Log off politely (bounded), then drop the socket."""
        manager = self._manager
        if manager is None:
            return
        self._manager = None
        if manager.protocol is not None and not manager.protocol.closed and not manager.lost.done():
            try:
                fut = manager.send_action({"Action": "Logoff"})
                await asyncio.wait({fut, manager.lost}, timeout=min(self.timeout, 0.5))
            except Exception:  # pragma: no cover - best effort
                pass
        manager.close()

    async def _wait(
        self,
        fut: "asyncio.Future[Any]",
        timeout: float,
        what: str,
        extra: Iterable["asyncio.Future[Any]"] = (),
    ) -> Any:
        assert self._manager is not None
        lost = self._manager.lost
        waiters = {fut, lost, *extra}
        done, _ = await asyncio.wait(waiters, timeout=max(timeout, 0), return_when=asyncio.FIRST_COMPLETED)
        if fut in done:
            return fut.result()
        for other in extra:
            if other in done and other.exception() is not None:
                exc = other.exception()
                if isinstance(exc, NodeError):
                    raise self._error(exc.reason, exc.permanent)
                raise exc  # pragma: no cover
        if lost in done:
            raise self._error(f"connection closed by node during {what}")
        raise self._error(f"{_fmt_timeout(self.timeout)} waiting for {what}")

    # -- actions ------------------------------------------------------------------------

    async def action(self, name: str, **headers: str) -> Message | list[Message]:
        """Send one action; return panoramisk's reply (a list for event-list actions).

        Raises NodeError for ``Response: Error`` (permanent: Asterisk said no, asking
        again will not change that).
        """
        if self._manager is None:
            raise self._error("AMI session is not connected")
        if self._manager.lost.done():
            raise self._error("connection closed by node")
        fut = self._manager.send_action({"Action": name, **headers})
        reply = await self._wait(fut, self.timeout, name)
        first = reply[0] if isinstance(reply, list) else reply
        if first.response in ("Error", "Fail", "Failure"):
            raise self._error(_error_reason(name, first), permanent=True)
        return reply

    async def _event_list(self, name: str, item_event: str, **headers: str) -> list[dict[str, Any]]:
        try:
            reply = await self.action(name, **headers)
        except NodeError as exc:
            # res_pjsip answers an empty listing with an error ("No endpoints found").
            if exc.permanent and _EMPTY_LISTING.match(exc.reason):
                return []
            raise
        if not isinstance(reply, list):  # e.g. "There are no voicemail users currently defined."
            return []
        return [_headers(m) for m in reply if m.event == item_event]

    async def ping(self) -> float:
        """Round trip of an AMI Ping, in milliseconds."""
        started = time.perf_counter()
        reply = await self.action("Ping")
        if not isinstance(reply, Message) or reply.ping.lower() != "pong":
            raise self._error(garbage(str(reply)))
        return (time.perf_counter() - started) * 1000.0

    async def core_status(self) -> dict[str, Any]:
        return _headers(await self.action("CoreStatus"))  # type: ignore[arg-type]

    async def core_settings(self) -> dict[str, Any]:
        return _headers(await self.action("CoreSettings"))  # type: ignore[arg-type]

    async def core_show_channels(self) -> list[dict[str, Any]]:
        return await self._event_list("CoreShowChannels", "CoreShowChannel")

    async def pjsip_show_contacts(self) -> list[dict[str, Any]]:
        return await self._event_list("PJSIPShowContacts", "ContactList")

    async def pjsip_show_endpoints(self) -> list[dict[str, Any]]:
        return await self._event_list("PJSIPShowEndpoints", "EndpointList")

    async def device_state_list(self) -> dict[str, str]:
        """``{"PJSIP/1001": "NOT_INUSE", ...}``."""
        events = await self._event_list("DeviceStateList", "DeviceStateChange")
        return {e.get("Device", ""): e.get("State", "") for e in events}

    async def extension_state_list(self) -> list[dict[str, Any]]:
        return await self._event_list("ExtensionStateList", "ExtensionStatus")

    async def command(self, text: str) -> list[str]:
        """Run a CLI command through the ``Command`` action; return its output lines."""
        reply = await self.action("Command", Command=text)
        return _command_output(reply)  # type: ignore[arg-type]

    async def reload(self, intent: str) -> list[str]:
        """Reload one subsystem (see ``RELOAD_COMMANDS``) and check Asterisk's wording.

        ``module reload`` answers ``Response: Success`` even when the module could not
        be reloaded, so the output is inspected too.
        """
        try:
            command = RELOAD_COMMANDS[intent]
        except KeyError:
            raise ValueError(f"unknown reload intent {intent!r}; known: {sorted(RELOAD_COMMANDS)}") from None
        output = await self.command(command)
        text = " ".join(output).lower()
        if any(marker in text for marker in _RELOAD_FAILURE_MARKERS):
            raise self._error(f"{command}: {' '.join(output)}", permanent=True)
        return output


def _error_reason(action: str, reply: Message) -> str:
    message = reply.message or "error"
    if message.lower().startswith("invalid/unknown command"):
        return f"unknown action {action}"
    output = _command_output(reply)
    if output:
        return " ".join(output)
    return message[:1].lower() + message[1:]


def _command_output(reply: Message) -> list[str]:
    """Asterisk 13+ sends ``Output:`` headers; older ones ``Response: Follows`` + body."""
    output = reply.get("Output")
    if output is None:
        body = reply.content or ""
        lines = [line for line in body.splitlines() if line.strip() != "--END COMMAND--"]
        return lines
    if isinstance(output, list):
        return list(output)
    return [output]


# -- snapshot / plain entry points ------------------------------------------------------


@dataclass
class AsteriskSnapshot:
    """What one AMI poll learned about a node."""

    host: str
    port: int
    polled_at: float
    latency_ms: float
    ami_version: str
    asterisk_version: str
    system_name: str
    startup: datetime | None  # node-local wall clock, as CoreStatus reports it
    last_reload: datetime | None
    uptime_seconds: int | None  # from FullyBooted; None if the node did not send it
    current_calls: int
    processed_calls: int
    channels: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    device_states: dict[str, str] = field(default_factory=dict)
    extension_states: list[dict[str, Any]] = field(default_factory=list)


def _parse_dt(date: str, clock: str) -> datetime | None:
    try:
        return datetime.strptime(f"{date} {clock}", "%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


async def poll_asterisk_ami(
    host: str, port: int, username: str, secret: str, *, timeout: float = 2.0
) -> AsteriskSnapshot:
    """Connect, ask the read-only questions concurrently, log off."""
    async with AmiSession(host, port, username, secret, timeout=timeout) as ami:
        latency = await ami.ping()
        status, settings, channels, contacts, devices, extensions = await asyncio.gather(
            ami.core_status(),
            ami.core_settings(),
            ami.core_show_channels(),
            ami.pjsip_show_contacts(),
            ami.device_state_list(),
            ami.extension_state_list(),
        )
        booted = ami._manager.fully_booted if ami._manager else None
        uptime = _int(booted.uptime) if booted is not None and booted.uptime else None
        return AsteriskSnapshot(
            host=host,
            port=port,
            polled_at=time.time(),
            latency_ms=latency,
            ami_version=ami.ami_version,
            asterisk_version=settings.get("AsteriskVersion", ""),
            system_name=settings.get("SystemName", ""),
            startup=_parse_dt(status.get("CoreStartupDate", ""), status.get("CoreStartupTime", "")),
            last_reload=_parse_dt(status.get("CoreReloadDate", ""), status.get("CoreReloadTime", "")),
            uptime_seconds=uptime,
            current_calls=_int(status.get("CoreCurrentCalls")),
            processed_calls=_int(status.get("CoreProcessedCalls")),
            channels=channels,
            contacts=contacts,
            device_states=devices,
            extension_states=extensions,
        )


def poll_asterisk_ami_sync(
    host: str, port: int, username: str, secret: str, *, timeout: float = 2.0
) -> AsteriskSnapshot:
    """For Celery tasks and management commands (must not be called from a running loop)."""
    return asyncio.run(poll_asterisk_ami(host, port, username, secret, timeout=timeout))


@dataclass
class CommandResult:
    command: str
    ok: bool
    output: list[str]
    error: str = ""
    permanent: bool = False


async def run_ami_commands_async(
    host: str, port: int, username: str, secret: str, commands: list[str], *, timeout: float = 5.0
) -> list[CommandResult]:
    """Run CLI commands in order on one connection.

    A command Asterisk rejects is reported in its ``CommandResult`` and the rest still
    run; a connection-level failure (refused, timeout, auth) raises NodeError, because
    then nothing after it can run either.
    """
    results: list[CommandResult] = []
    async with AmiSession(host, port, username, secret, timeout=timeout) as ami:
        for command in commands:
            try:
                results.append(CommandResult(command, True, await ami.command(command)))
            except NodeError as exc:
                if not exc.permanent:
                    raise
                results.append(CommandResult(command, False, [], exc.reason, True))
    return results


def run_ami_commands(
    host: str, port: int, username: str, secret: str, commands: list[str], *, timeout: float = 5.0
) -> list[CommandResult]:
    """Sync wrapper of :func:`run_ami_commands_async` for Celery tasks."""
    return asyncio.run(run_ami_commands_async(host, port, username, secret, commands, timeout=timeout))
