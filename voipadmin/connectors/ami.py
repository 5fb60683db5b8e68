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
#: How long a node that greeted us may take to answer Login: Asterisk sleeps 1 s before it
#: refuses one (manager.c, against guessing), and "authentication failed" must not turn into
#: "timed out" under a 1 s poll budget.  A node that never sends the banner gets no extra time.
LOGIN_ANSWER_SECONDS = 1.5

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

# res_pjsip answers an empty listing with ``Response: Error`` and, as Asterisk 22.10 words it,
# "No Contacts found", "No endpoints found", "No AORs found" or "No Auths found" (plus a stray "\n").
# Other listings (CoreShowChannels, DeviceStateList, ExtensionStateList) answer an empty event list.
_EMPTY_LISTING = re.compile(r"^no \w+( \w+)? found", re.IGNORECASE)

#: ``core show uptime seconds`` prints ``System uptime: 4711`` and ``Last reload: 42`` (main/asterisk.c).
UPTIME_COMMAND = "core show uptime seconds"
_UPTIME_LINE = re.compile(r"^\s*(System uptime|Last reload):\s*(.+?)\s*$", re.IGNORECASE)
_UPTIME_UNITS = {"year": 365 * 86400, "week": 7 * 86400, "day": 86400, "hour": 3600, "minute": 60, "second": 1}

#: What may never go into an AMI header value (CR/LF would end it and start another header).
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

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
        self.greeted: asyncio.Future[None] = asyncio.get_running_loop().create_future()

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
        if self.version is not None and not self.greeted.done():
            self.greeted.set_result(None)


class _OneShotManager(Manager):
    """A panoramisk Manager that never reconnects, never pings, never replays.

    It logs in with ``Events: off``, so Asterisk sends no events at all, not even the
    ``FullyBooted`` it greets event-receiving sessions with: uptime is asked for instead
    (see :meth:`AmiSession.uptime`).
    """

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.lost: asyncio.Future[None] = self.loop.create_future()

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

    ``timeout`` bounds connect+banner+Login together (a node that sent the banner gets at
    least ``LOGIN_ANSWER_SECONDS`` to answer Login) and then each action separately, or
    all of them together once ``deadline`` is set.
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
        #: ``loop.time()`` after which no action may wait any longer (a poll's whole budget);
        #: None: each action gets ``timeout`` of its own.
        self.deadline: float | None = None
        self.ami_version: str = ""
        self._manager: _OneShotManager | None = None
        self._protocol: _AmiProtocol | None = None
        self._unanswered = False  # an action timed out: the node is busy or stuck

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
            await self._wait(protocol.greeted, deadline - loop.time(), "Login", extra=(protocol.failed,))
            reply = await self._wait(login, max(deadline - loop.time(), LOGIN_ANSWER_SECONDS), "Login",
                                     extra=(protocol.failed,))
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
        """Log off politely (bounded), then drop the socket.

        Not politely after an unanswered action: Asterisk serves one session's actions in
        order, so the Logoff would only queue behind the stuck one and cost another wait.
        """
        manager = self._manager
        if manager is None:
            return
        self._manager = None
        if (not self._unanswered and manager.protocol is not None and not manager.protocol.closed
                and not manager.lost.done()):
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
        self._unanswered = True
        raise self._error(f"{_fmt_timeout(self.timeout)} waiting for {what}")

    # -- actions ------------------------------------------------------------------------

    async def action(self, name: str, *, as_list: bool | None = None, **headers: str) -> Message | list[Message]:
        """Send one action; return panoramisk's reply (a list for event-list actions).

        Raises NodeError for ``Response: Error`` (permanent: Asterisk said no, asking
        again will not change that). ``as_list=False``: the first response is the whole answer
        (panoramisk would otherwise wait for an asynchronous Originate's ``OriginateResponse``
        event, which a session logged in with ``Events: off`` never gets).
        """
        if self._manager is None:
            raise self._error("AMI session is not connected")
        if self._manager.lost.done():
            raise self._error("connection closed by node")
        fut = self._manager.send_action({"Action": name, **headers}, as_list=as_list)
        timeout = self.timeout
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - asyncio.get_running_loop().time())
        reply = await self._wait(fut, timeout, name)
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
        """Hints Asterisk holds; pattern hints (``_1XXX,hint,PJSIP/${EXTEN}``) only appear once
        something asked for one of their extensions. No hints: an empty list, not an error."""
        return await self._event_list("ExtensionStateList", "ExtensionStatus")

    async def uptime(self) -> tuple[int | None, int | None]:
        """``(seconds since start, seconds since the last reload)`` from ``core show uptime seconds``.

        Why a CLI command: the ``FullyBooted`` event that carries the uptime only reaches
        sessions that receive events, and CoreStatus gives the start as the node's local
        wall clock without its time zone.  Needs the ``command`` write privilege.
        """
        return parse_uptime(await self.command(UPTIME_COMMAND))

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

    # -- call control (the user page's hang-up, click-to-call and listen-in) -------------------------------

    def _checked(self, **values: str) -> dict[str, str]:
        """Header values as sent: a line break would end the header and smuggle in another one."""
        for name, value in values.items():
            if _CONTROL_CHARS.search(str(value)):
                raise self._error(f"{name} contains a control character (a line break?) and cannot be sent",
                                  permanent=True)
        return {k: str(v) for k, v in values.items()}

    async def hangup(self, channel: str, *, cause: int = 16) -> None:
        """Hang up one channel (``Hangup``; cause 16 "normal clearing"). A channel bridged to others ends
        their call too. A channel that is gone is a permanent NodeError "no such channel"."""
        await self.action("Hangup", **self._checked(Channel=channel, Cause=str(int(cause))))

    async def originate(self, channel: str, *, application: str = "", data: str = "", context: str = "",
                        exten: str = "", priority: int = 1, caller_id: str = "", timeout_ms: int = 30000,
                        variables: dict[str, str] | None = None) -> str:
        """Ring ``channel``; once it answers, run ``application(data)`` or go to ``context,exten,priority``.

        Asynchronous (``Async: true``): Asterisk answers "successfully queued" at once and rings in the
        background, so a web request never waits for somebody to pick up. Needs the ``originate`` write
        privilege (and ``system`` for applications such as System or Exec, which we never send).
        Returns Asterisk's message.
        """
        if bool(application) == bool(context):
            raise ValueError("originate needs either an application or a context")
        headers = {"Channel": channel, "Timeout": str(int(timeout_ms)), "Async": "true"}
        if application:
            headers.update(Application=application, Data=data)
        else:
            headers.update(Context=context, Exten=exten, Priority=str(int(priority)))
        if caller_id:
            headers["CallerID"] = caller_id
        for name, value in (variables or {}).items():
            headers.setdefault("Variable", "")
            headers["Variable"] = f"{headers['Variable']},{name}={value}".lstrip(",")
        reply = await self.action("Originate", as_list=False, **self._checked(**headers))
        first = reply[0] if isinstance(reply, list) else reply
        return first.message or "Originate successfully queued"

    async def mailbox_count(self, mailbox: str) -> dict[str, int]:
        """``{"new": n, "old": n, "urgent": n}`` of a voicemail box ``<ext>@<context>`` (``MailboxCount``);
        a box that does not exist counts zero, as Asterisk says."""
        reply = await self.action("MailboxCount", **self._checked(Mailbox=mailbox))
        first = reply[0] if isinstance(reply, list) else reply
        return {"new": _int(first.get("NewMessages")), "old": _int(first.get("OldMessages")),
                "urgent": _int(first.get("UrgMessages"))}

    #: GetConfig's numbered headers: Category-000001, IsTemplate-000001, Templates-000001, Line-000001-000002
    _GETCONFIG_HEADER = re.compile(r"^(Category|IsTemplate|Templates|Line)-(\d+)(?:-(\d+))?$", re.IGNORECASE)

    async def get_config(self, filename: str) -> list[dict[str, Any]]:
        """A config file as it is on the node's disk *now* (AMI ``GetConfig``), not as loaded.

        Asterisk parses the file afresh (includes inlined, comments dropped, ``\\;`` unescaped) and
        answers ``Category-NNNNNN: name`` / ``Line-NNNNNN-MMMMMM: key=value`` headers. Returns the
        categories in file order: ``{"category": name, "template": bool, "templates": [names],
        "lines": [(key, value), ...]}``. Needs the ``system`` or ``config`` write privilege. Asterisk's
        refusals are permanent NodeErrors: "config file not found", "file requires escalated
        privileges" (a path outside its config directory), "permission denied".
        """
        reply = await self.action("GetConfig", Filename=filename)
        if isinstance(reply, list):  # (never seen: GetConfig is one response)
            reply = reply[0]
        categories: dict[int, dict[str, Any]] = {}
        lines: dict[int, list[tuple[int, str, str]]] = {}
        for key, value in reply.items():
            match = self._GETCONFIG_HEADER.match(key)
            if not match:
                continue
            if isinstance(value, list):  # (panoramisk folds a repeated header into a list)
                value = value[-1]
            kind, index, line_no = match.group(1).lower(), int(match.group(2)), match.group(3)
            entry = categories.setdefault(index, {"category": "", "template": False, "templates": [], "lines": []})
            if kind == "category":
                entry["category"] = value.strip()
            elif kind == "istemplate":
                entry["template"] = value.strip() == "1"
            elif kind == "templates":
                entry["templates"] = [t.strip() for t in value.split(",") if t.strip()]
            elif kind == "line" and line_no is not None:
                name, _, val = value.partition("=")
                lines.setdefault(index, []).append((int(line_no), name.strip(), val.strip()))
        for index, entry in categories.items():
            entry["lines"] = [(name, val) for _, name, val in sorted(lines.get(index, []))]
        return [categories[i] for i in sorted(categories)]


def _error_reason(action: str, reply: Message) -> str:
    message = reply.message or "error"
    if message.lower().startswith("invalid/unknown command"):
        return f"unknown action {action}"
    output = _command_output(reply)
    if output:
        return " ".join(output)
    return message[:1].lower() + message[1:]


def parse_uptime(lines: Iterable[str]) -> tuple[int | None, int | None]:
    """``["System uptime: 4711", "Last reload: 42"]`` → ``(4711, 42)``.

    Also reads the wording without ``seconds`` ("1 day, 2 hours, 3 seconds"); a line it
    cannot read gives None rather than a wrong number.
    """
    found: dict[str, int | None] = {}
    for line in lines:
        match = _UPTIME_LINE.match(line)
        if match:
            found[match.group(1).lower()] = _duration_seconds(match.group(2))
    return found.get("system uptime"), found.get("last reload")


def _duration_seconds(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    total, matched = 0, False
    for number, unit in re.findall(r"(\d+)\s+(year|week|day|hour|minute|second)s?", text, re.IGNORECASE):
        total += int(number) * _UPTIME_UNITS[unit.lower()]
        matched = True
    return total if matched else None


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
    """What one AMI poll learned about a node.

    ``failures`` names the optional questions the node did not answer, with why
    (``{"PJSIPShowContacts": "permission denied"}``); their fields are then left empty.
    """

    host: str
    port: int
    polled_at: float
    latency_ms: float
    ami_version: str
    asterisk_version: str
    system_name: str
    startup: datetime | None  # node-local wall clock, as CoreStatus reports it
    last_reload: datetime | None
    uptime_seconds: int | None  # ``core show uptime seconds``; None if the node did not say
    current_calls: int
    processed_calls: int
    channels: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    device_states: dict[str, str] = field(default_factory=dict)
    extension_states: list[dict[str, Any]] = field(default_factory=list)
    last_reload_seconds: int | None = None
    commands: dict[str, "CommandResult"] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


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
    host: str, port: int, username: str, secret: str, *, timeout: float = 2.0, commands: Iterable[str] = ()
) -> AsteriskSnapshot:
    """Connect, ask the read-only questions concurrently, log off: all within ``timeout``.

    Only what says the node works raises :class:`NodeError`: connect, Login, Ping,
    CoreStatus, CoreSettings.  Every other question is optional: its failure (refused,
    or not answered within the poll's budget) is recorded in ``failures`` so that one
    listing a node will not give cannot make a working node look down.  ``commands``
    are extra CLI commands run in the same session, answered in ``commands``.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    async with AmiSession(host, port, username, secret, timeout=timeout) as ami:
        ami.deadline = deadline
        latency = await ami.ping()
        extra = [c for c in dict.fromkeys(commands) if c != UPTIME_COMMAND]
        asks = {
            "CoreShowChannels": ami.core_show_channels,
            "PJSIPShowContacts": ami.pjsip_show_contacts,
            "DeviceStateList": ami.device_state_list,
            "ExtensionStateList": ami.extension_state_list,
            UPTIME_COMMAND: ami.uptime,
        }
        answers = await asyncio.gather(ami.core_status(), ami.core_settings(), *(ask() for ask in asks.values()),
                                       *(ami.command(c) for c in extra), return_exceptions=True)
    status, settings = answers[:2]
    for required in (status, settings):
        if isinstance(required, BaseException):
            raise required
    optional = dict(zip(asks, answers[2:2 + len(asks)]))
    failures: dict[str, str] = {}
    for name, answer in optional.items():
        if isinstance(answer, NodeError):
            failures[name] = answer.reason
        elif isinstance(answer, BaseException):
            raise answer  # a bug, not the node: let the caller see it
    results: dict[str, CommandResult] = {}
    for command, answer in zip(extra, answers[2 + len(asks):]):
        if isinstance(answer, NodeError):
            results[command] = CommandResult(command, False, [], answer.reason, answer.permanent)
        elif isinstance(answer, BaseException):
            raise answer
        else:
            results[command] = CommandResult(command, True, answer)

    def answered(name: str, empty: Any) -> Any:
        return empty if name in failures else optional[name]

    uptime, last_reload = answered(UPTIME_COMMAND, (None, None))
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
        last_reload_seconds=last_reload,
        current_calls=_int(status.get("CoreCurrentCalls")),
        processed_calls=_int(status.get("CoreProcessedCalls")),
        channels=answered("CoreShowChannels", []),
        contacts=answered("PJSIPShowContacts", []),
        device_states=answered("DeviceStateList", {}),
        extension_states=answered("ExtensionStateList", []),
        commands=results,
        failures=failures,
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


async def run_session_async(host: str, port: int, username: str, secret: str, work: Any, *,
                            timeout: float = 2.0) -> Any:
    """``await work(ami)`` in one authenticated session (connect, log in, work, log off), each step bounded."""
    async with AmiSession(host, port, username, secret, timeout=timeout) as ami:
        return await work(ami)


def run_session(host: str, port: int, username: str, secret: str, work: Any, *, timeout: float = 2.0) -> Any:
    """Sync wrapper of :func:`run_session_async` for views and tasks (not from inside a running loop).

    The whole session is bounded too (connect + login + the work), so a node that accepts and then
    stalls costs at most about twice ``timeout``, never a hung request.
    """
    async def bounded() -> Any:
        limit = 2 * max(timeout, LOGIN_ANSWER_SECONDS) + 0.5
        try:
            return await asyncio.wait_for(run_session_async(host, port, username, secret, work, timeout=timeout),
                                          limit)
        except asyncio.TimeoutError:
            raise NodeError(f"{_fmt_timeout(limit)}", node=f"{host}:{port}") from None

    return asyncio.run(bounded())
