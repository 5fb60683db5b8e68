"""A fake Asterisk Manager Interface: a real asyncio TCP server speaking AMI.

Replies are rebuilt from the captured transcript (``observed/ami_transcript.json``):
same header names, same order, same event-list framing, ActionID echoed.  What varies
(channels, contacts, device states, ...) is generated in the captured shape.

Usage::

    with running_ami_fake(channels=5) as fake:       # own thread + loop
        run_ami_commands(fake.host, fake.port, fake.username, fake.secret, [...])
        assert fake.commands == ["dialplan reload"]

    async with AmiFake(fault="hang") as fake:        # inside a running loop
        ...

    with running_ami_fakes(100) as fakes: ...        # 100 servers, one background loop
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

from . import load_observed
from .server import LoopbackServer

Headers = list[tuple[str, str]]

TRANSCRIPT: dict[str, str] = load_observed("ami_transcript.json")
FAULTS = (None, "hang", "garbage", "silent_after_login", "close_after_login")
DEFAULT_GARBAGE = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"


def parse_messages(raw: str) -> list[Headers]:
    """Split a raw AMI reply into messages of ordered (key, value) pairs."""
    messages: list[Headers] = []
    for block in raw.split("\r\n\r\n"):
        if not block.strip():
            continue
        headers: Headers = []
        for line in block.split("\r\n"):
            key, sep, value = line.partition(": ")
            if not sep and line.endswith(":"):
                key, value = line[:-1], ""
            headers.append((key, value))
        messages.append(headers)
    return messages


def _template(key: str, event: str) -> Headers:
    for message in parse_messages(TRANSCRIPT[key]):
        if message[0] == ("Event", event):
            return message
    raise KeyError(event)


def _replace(headers: Headers, **values: Any) -> Headers:
    return [(k, str(values[k]) if k in values else v) for k, v in headers]


def _first_message(key: str) -> Headers:
    return parse_messages(TRANSCRIPT[key])[0]


CHANNEL_TEMPLATE = _template("CoreShowChannels", "CoreShowChannel")
CONTACT_TEMPLATE = _template("PJSIPShowContacts", "ContactList")
ENDPOINT_TEMPLATE = _template("PJSIPShowEndpoints", "EndpointList")


def make_channels(count: int, base: float = 1795391178.0) -> list[Headers]:
    """``count`` channels shaped like the captured Local/600 pair, distinct Uniqueids."""
    channels = []
    for i in range(count):
        pair, leg = divmod(i, 2)
        channels.append(
            _replace(
                CHANNEL_TEMPLATE,
                Channel=f"Local/600@test-{pair:08x};{leg + 1}",
                Uniqueid=f"{int(base)}.{i}",
                Linkedid=f"{int(base)}.{pair * 2}",
                Priority=leg + 1,
            )
        )
    return channels


def make_contacts(endpoints: list[str]) -> list[Headers]:
    contacts = []
    for i, ep in enumerate(endpoints):
        port = 5098 + i
        contacts.append(
            _replace(
                CONTACT_TEMPLATE,
                ObjectName=f"{ep};@{i:032x}",
                Endpoint=ep,
                Uri=f"sip:{ep}@127.0.0.1:{port}",
                ViaPort=port,
                CallId=f"{i + 1}-15909@127.0.0.1",
            )
        )
    return contacts


@dataclass
class RecordedAction:
    name: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class AmiFake(LoopbackServer):
    """One fake Asterisk node.  Configure at construction; all attributes may be changed later.

    channels:          number of CoreShowChannel entries (or a list of header lists)
    contacts:          endpoint names that have a registered contact
    endpoints:         PJSIP endpoints (default: the contacts' endpoints, else ["1001"])
    device_states:     {"PJSIP/1001": "NOT_INUSE"}
    extension_states:  [(exten, context, hint, status, status_text)]
    command_outputs:   {"cli command": ["output line", ...]}; an unknown CLI command is
                       answered like Asterisk: Response: Error + "No such command ..."
    fault:             None | "hang" (accept, never write) | "garbage" (non-AMI bytes) |
                       "silent_after_login" (login OK, then never answer) |
                       "close_after_login"
    reply_delay:       seconds to wait before each reply (latency simulation)
    """

    def __init__(
        self,
        *,
        username: str = "admin",
        secret: str = "secret",
        channels: int | list[Headers] = 2,
        contacts: list[str] | None = None,
        endpoints: list[str] | None = None,
        device_states: dict[str, str] | None = None,
        extension_states: list[tuple[str, str, str, int, str]] | None = None,
        command_outputs: dict[str, list[str]] | None = None,
        fault: str | None = None,
        garbage: bytes = DEFAULT_GARBAGE,
        reply_delay: float = 0.0,
        asterisk_version: str | None = None,
        startup: datetime = datetime(2026, 11, 22, 23, 46, 13),
        processed_calls: int = 1,
        send_fully_booted: bool = True,
    ) -> None:
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}")
        self.username = username
        self.secret = secret
        self.channels = channels
        self.contacts = ["1001"] if contacts is None else contacts
        self.endpoints = endpoints
        self.device_states = {"PJSIP/1001": "NOT_INUSE"} if device_states is None else device_states
        self.extension_states = (
            [("1001", "test", "PJSIP/1001", 0, "Idle"), ("1002", "test", "PJSIP/1002", 4, "Unavailable")]
            if extension_states is None
            else extension_states
        )
        self.command_outputs: dict[str, list[str]] = {
            "core show version": [
                "Asterisk UNKNOWN__and_probably_unsupported built by root @ vm on a x86_64 "
                "running Linux on 2026-11-22 23:37:32 UTC"
            ],
            "module reload res_pjsip.so": ["Module 'res_pjsip.so' reloaded successfully."],
            "dialplan reload": ["Dialplan reloaded."],
            "voicemail reload": ["Reloading voicemail configuration..."],
            **(command_outputs or {}),
        }
        self.fault = fault
        self.garbage = garbage
        self.reply_delay = reply_delay
        settings = dict(_first_message("CoreSettings"))
        self.asterisk_version = asterisk_version or settings["AsteriskVersion"]
        self.startup = startup
        self.processed_calls = processed_calls
        self.send_fully_booted = send_fully_booted
        self.banner = TRANSCRIPT["banner"]
        self.actions: list[RecordedAction] = []
        self.connections = 0
        super().__init__()
        self._started = time.time()

    # -- what tests read ------------------------------------------------------------------

    def actions_named(self, name: str) -> list[RecordedAction]:
        return [a for a in self.actions if a.name.lower() == name.lower()]

    @property
    def action_names(self) -> list[str]:
        return [a.name for a in self.actions]

    @property
    def commands(self) -> list[str]:
        """CLI commands received through ``Action: Command``, in order."""
        return [a.headers.get("Command", "") for a in self.actions_named("Command")]

    # -- protocol -------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        session = {"authenticated": False}
        try:
            if self.fault == "hang":
                while await reader.read(4096):
                    pass
                return
            if self.fault == "garbage":
                writer.write(self.garbage)
                await writer.drain()
                while await reader.read(4096):
                    pass
                return
            writer.write(self.banner.encode())
            await writer.drain()
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                name, headers = self._parse_action(raw)
                if name is None:
                    continue
                self.actions.append(RecordedAction(name, headers))
                if session["authenticated"] and self.fault == "silent_after_login":
                    continue
                if session["authenticated"] and self.fault == "close_after_login":
                    return
                if self.reply_delay:
                    await asyncio.sleep(self.reply_delay)
                keep_open = await self._dispatch(name, headers, session, writer)
                await writer.drain()
                if not keep_open:
                    return
        except ConnectionError:
            return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    def _parse_action(raw: bytes) -> tuple[str | None, dict[str, str]]:
        headers: dict[str, str] = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            if not line:
                continue
            key, _, value = line.partition(":")
            headers[key.strip()] = value.strip()
        name = next((v for k, v in headers.items() if k.lower() == "action"), None)
        return name, headers

    @staticmethod
    def _frame(*messages: Headers) -> bytes:
        return b"".join(
            ("".join(f"{k}: {v}\r\n" for k, v in message) + "\r\n").encode() for message in messages
        )

    @staticmethod
    def _response(action_id: str | None, status: str, *rest: tuple[str, Any]) -> Headers:
        headers: Headers = [("Response", status)]
        if action_id is not None:
            headers.append(("ActionID", action_id))
        headers.extend((k, str(v)) for k, v in rest)
        return headers

    def _event_list(
        self, action_id: str | None, message: str, complete: str, items: list[Headers]
    ) -> list[Headers]:
        aid = [("ActionID", action_id)] if action_id is not None else []
        out = [self._response(action_id, "Success", ("EventList", "start"), ("Message", message))]
        for item in items:
            out.append([item[0], *aid, *[(k, v) for k, v in item[1:] if k != "ActionID"]])
        out.append([("Event", complete), *aid, ("EventList", "Complete"), ("ListItems", str(len(items)))])
        return out

    async def _dispatch(
        self, name: str, headers: dict[str, str], session: dict[str, bool], writer: asyncio.StreamWriter
    ) -> bool:
        aid = next((v for k, v in headers.items() if k.lower() == "actionid"), None)
        action = name.lower()
        send = lambda *messages: writer.write(self._frame(*messages))  # noqa: E731

        if action == "login":
            if headers.get("Username") == self.username and headers.get("Secret") == self.secret:
                session["authenticated"] = True
                send(self._response(aid, "Success", ("Message", "Authentication accepted")))
                if self.send_fully_booted:  # manager.c action_login sends it unconditionally
                    uptime = int(time.time() - self._started)
                    send([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", str(uptime)),
                          ("LastReload", str(uptime)), ("Status", "Fully Booted")])
                return True
            send(self._response(aid, "Error", ("Message", "Authentication failed")))
            return False  # Asterisk drops the session after a failed login
        if action == "logoff":
            send(self._response(aid, "Goodbye", ("Message", "Thanks for all the fish.")))
            return False
        if not session["authenticated"] and action != "challenge":
            send(self._response(aid, "Error", ("Message", "Permission denied")))
            return True

        channels = make_channels(self.channels) if isinstance(self.channels, int) else self.channels
        if action == "ping":
            send(self._response(aid, "Success", ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")))
        elif action == "corestatus":
            d, t = self.startup.strftime("%Y-%m-%d"), self.startup.strftime("%H:%M:%S")
            send(self._response(aid, "Success", ("CoreStartupDate", d), ("CoreStartupTime", t),
                                ("CoreReloadDate", d), ("CoreReloadTime", t),
                                ("CoreCurrentCalls", len(channels)),
                                ("CoreProcessedCalls", self.processed_calls)))
        elif action == "coresettings":
            rest = [(k, v) for k, v in _first_message("CoreSettings") if k not in ("Response", "ActionID")]
            send(self._response(aid, "Success", *_replace(rest, AsteriskVersion=self.asterisk_version)))
        elif action == "coreshowchannels":
            send(*self._event_list(aid, "Channels will follow", "CoreShowChannelsComplete", channels))
        elif action == "pjsipshowcontacts":
            send(*self._event_list(aid, "A listing of Contacts follows, presented as ContactList events",
                                   "ContactListComplete", make_contacts(self.contacts)))
        elif action == "pjsipshowendpoints":
            names = self.endpoints if self.endpoints is not None else (self.contacts or ["1001"])
            if not names:
                send(self._response(aid, "Error", ("Message", "No endpoints found")))
            else:
                items = [_replace(ENDPOINT_TEMPLATE, ObjectName=n, Aor=n, Auths=n,
                                  Contacts=f"{n}/sip:{n}@127.0.0.1:5098," if n in self.contacts else "",
                                  DeviceState="Not in use" if n in self.contacts else "Unavailable")
                         for n in names]
                send(*self._event_list(aid, "A listing of Endpoints follows, presented as EndpointList events",
                                       "EndpointListComplete", items))
        elif action == "devicestatelist":
            items = [[("Event", "DeviceStateChange"), ("Device", d), ("State", s)]
                     for d, s in self.device_states.items()]
            send(*self._event_list(aid, "Device State Changes will follow", "DeviceStateListComplete", items))
        elif action == "extensionstatelist":
            items = [[("Event", "ExtensionStatus"), ("Exten", e), ("Context", c), ("Hint", h),
                      ("Status", str(s)), ("StatusText", st)] for e, c, h, s, st in self.extension_states]
            send(*self._event_list(aid, "Extension Statuses will follow", "ExtensionStateListComplete", items))
        elif action == "command":
            cli = headers.get("Command", "")
            output = self.command_outputs.get(cli)
            if output is None:
                send(self._response(aid, "Error", ("Message", "Command output follows"),
                                    ("Output", f"No such command '{cli}' (type 'core show help {cli}' "
                                               "for other possible commands)")))
            else:
                send(self._response(aid, "Success", ("Message", "Command output follows"),
                                    *[("Output", line) for line in output]))
        elif (key := _captured_key(name)) is not None:
            # Other captured actions (ModuleCheck, MailboxCount, ...) replayed as captured.
            messages = parse_messages(TRANSCRIPT[key])
            send(*[[(k, aid) if k == "ActionID" else (k, v) for k, v in m if k != "ActionID" or aid]
                   for m in messages])
        else:
            send(self._response(aid, "Error", ("Message", f"Invalid/unknown command: {name}. "
                                                          "Use Action: ListCommands to show available commands.")))
        return True


def _captured_key(name: str) -> str | None:
    for key in TRANSCRIPT:
        if key in ("banner", "BadActionName"):
            continue
        if key.split(" ", 1)[0].lower() == name.lower():
            return key
    return None


# -- running fakes from synchronous code ---------------------------------------------------


class _LoopThread:
    """An event loop in a daemon thread, for sync tests and Celery-style callers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ami-fake", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@contextlib.contextmanager
def running_ami_fakes(count: int, **config: Any) -> Iterator[list[AmiFake]]:
    """Start ``count`` fakes (same config) on one background loop; yield them."""
    runner = _LoopThread()
    fakes = [AmiFake(**config) for _ in range(count)]
    try:
        async def start_all() -> None:
            await asyncio.gather(*(f.start() for f in fakes))

        runner.run(start_all())
        yield fakes
    finally:
        async def stop_all() -> None:
            await asyncio.gather(*(f.stop() for f in fakes), return_exceptions=True)

        with contextlib.suppress(Exception):
            runner.run(stop_all())
        runner.close()


@contextlib.contextmanager
def running_ami_fake(**config: Any) -> Iterator[AmiFake]:
    """One fake in a background thread; ``fake.host``/``fake.port`` to connect to."""
    with running_ami_fakes(1, **config) as fakes:
        yield fakes[0]


def closed_port() -> int:
    """A loopback port nobody listens on (bound then released), for "refused" tests."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
