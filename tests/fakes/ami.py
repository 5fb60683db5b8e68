"""A fake Asterisk Manager Interface: a real asyncio TCP server speaking AMI.

Replies are rebuilt from the captured transcript (``observed/ami_transcript.json``):
same header names, same order, same event-list framing, ActionID echoed.  What varies
(channels, contacts, device states, ...) is generated in the captured shape.  Where the
capture says nothing (empty listings, uptime, unknown CLI commands, FullyBooted) the fake
answers as a real Asterisk 22.10.1 did; tests/asterisk/test_conformance.py runs the same
assertions against this fake and a real Asterisk, so the two cannot drift apart.

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
from typing import Any, Iterable, Iterator

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


#: An action's authority as manager.c/res_pjsip register it. Asterisk checks it against the
#: user's *write* privileges (``write =`` in manager.conf): any one of the classes will do.
ACTION_AUTHORITY: dict[str, frozenset[str]] = {
    **{a: frozenset({"system", "reporting"}) for a in ("corestatus", "coresettings", "coreshowchannels")},
    **{a: frozenset({"system"}) for a in ("pjsipshowcontacts", "pjsipshowendpoints", "pjsipshowendpoint",
                                          "modulecheck")},
    **{a: frozenset({"call", "reporting"}) for a in ("devicestatelist", "extensionstatelist", "extensionstate",
                                                     "mailboxcount", "voicemailuserslist")},
    "command": frozenset({"command"}),
    "originate": frozenset({"originate"}),
}


def make_channel(**values: Any) -> Headers:
    """One CoreShowChannel event in the captured shape, with ``values`` replaced (Channel=..., BridgeId=...)."""
    return _replace(CHANNEL_TEMPLATE, **values)


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
                       (``core show uptime seconds``/``core show version`` and ``module
                       reload X`` are answered from the fake's own state)
    system_name:       CoreSettings' SystemName (asterisk.conf ``systemname``)
    errors:            {"CoreShowChannels": "Internal error"}: actions answered with
                       ``Response: Error`` and that message
    silent_actions:    actions never answered (the rest of the session still works)
    write:             the user's write privileges ("system,call,command"; default "all");
                       an action outside them gets "Permission denied", as manager.c does
    users:             more logins: {"username": (secret, write privileges)}
    refused_login_delay: seconds before a wrong secret is refused (Asterisk sleeps 1 s first)
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
        system_name: str | None = None,
        startup: datetime = datetime(2026, 11, 22, 23, 46, 13),
        processed_calls: int = 1,
        send_fully_booted: bool = True,
        errors: dict[str, str] | None = None,
        silent_actions: Iterable[str] = (),
        write: str = "all",
        users: dict[str, tuple[str, str]] | None = None,
        refused_login_delay: float = 1.0,
        modules: Iterable[str] = ("res_pjsip.so", "app_voicemail.so", "pbx_config.so", "chan_pjsip.so"),
        config_files: dict[str, str] | None = None,
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
            "dialplan reload": ["Dialplan reloaded."],
            "voicemail reload": ["Reloading voicemail configuration..."],
            **(command_outputs or {}),
        }
        self.fault = fault
        self.garbage = garbage
        self.reply_delay = reply_delay
        settings = dict(_first_message("CoreSettings"))
        self.asterisk_version = asterisk_version or settings["AsteriskVersion"]
        self.system_name = settings["SystemName"] if system_name is None else system_name
        self.startup = startup
        self.processed_calls = processed_calls
        self.send_fully_booted = send_fully_booted
        self.errors = {k.lower(): v for k, v in (errors or {}).items()}
        self.silent_actions = {a.lower() for a in silent_actions}
        self.write = write
        self.users = dict(users or {})
        self.refused_login_delay = refused_login_delay
        self.modules = set(modules)
        #: file name → text, what GetConfig reads (a real node reads its astetcdir)
        self.config_files = dict(config_files or {})
        self.banner = TRANSCRIPT["banner"]
        self.actions: list[RecordedAction] = []
        self.connections = 0
        super().__init__()
        self._started = self._reloaded = time.time()

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
        session: dict[str, Any] = {"authenticated": False, "write": set()}
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

    # -- what a real Asterisk computes ------------------------------------------------------

    def cli(self, command: str) -> tuple[bool, list[str]]:
        """(accepted, output lines) of a CLI command, worded as main/cli.c words them.

        ``command_outputs`` wins (a value of None: no such command on this node); reloads
        that succeed move "Last reload", as they do on a real node.
        """
        words = command.split()
        now = time.time()
        if command in self.command_outputs:
            output = self.command_outputs[command]
            if output is not None:
                if "reload" in words:
                    self._reloaded = now
                return True, list(output)
        elif command == "core show uptime seconds":  # main/asterisk.c print_uptimestr(), printsec
            return True, [f"System uptime: {int(now - self._started)}", f"Last reload: {int(now - self._reloaded)}"]
        elif command == "core show version":
            return True, [f"Asterisk {self.asterisk_version} built by root @ vm on a x86_64 running Linux on "
                          "2026-11-22 23:37:32 UTC"]
        elif words[:2] == ["module", "reload"] and len(words) == 3:
            if words[2] not in self.modules:
                return True, [f"No such module '{words[2]}'"]  # still Response: Success
            self._reloaded = now
            return True, [f"Module '{words[2]}' reloaded successfully."]
        # find_best(): the words Asterisk could still match, i.e. all but the last one
        hint = " ".join(words[:-1]) if len(words) > 1 else command
        return False, [f"No such command '{command}' (type 'core show help {hint}' for other possible commands)"]

    def _get_config(self, action_id: str | None, filename: str) -> Headers:
        """GetConfig as Asterisk 22 answers it: its own parse of the file, one ``Category-NNNNNN`` per
        category and ``Line-NNNNNN-NNNNNN: key=value`` per line (``exten => x`` comes back ``exten=x``)."""
        from services.estate import parse_conf

        text = self.config_files.get(filename)
        if text is None:
            return self._response(action_id, "Error", ("Message", "Config file not found"))
        categories, _includes = parse_conf(text)
        rest: list[tuple[str, Any]] = []
        for c, category in enumerate(categories):
            rest.append((f"Category-{c:06d}", category.name))
            rest += [(f"Line-{c:06d}-{n:06d}", f"{key}={value}") for n, (key, value) in enumerate(category.lines)]
        return self._response(action_id, "Success", *rest)

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
        self, name: str, headers: dict[str, str], session: dict[str, Any], writer: asyncio.StreamWriter
    ) -> bool:
        aid = next((v for k, v in headers.items() if k.lower() == "actionid"), None)
        action = name.lower()
        send = lambda *messages: writer.write(self._frame(*messages))  # noqa: E731

        if action == "login":
            logins = {self.username: (self.secret, self.write), **self.users}
            user = headers.get("Username")
            if user in logins and headers.get("Secret") == logins[user][0]:
                session["authenticated"] = True
                session["write"] = {c.strip().lower() for c in logins[user][1].split(",")}
                send(self._response(aid, "Success", ("Message", "Authentication accepted")))
                # Only to a session whose event mask takes "system" events: not with Events: off
                # (what a poller asks for), nor with Events: call.
                if self.send_fully_booted and _wants_system_events(headers):
                    now = time.time()
                    send([("Event", "FullyBooted"), ("Privilege", "system,all"),
                          ("Uptime", str(int(now - self._started))), ("LastReload", str(int(now - self._reloaded))),
                          ("Status", "Fully Booted")])
                return True
            await asyncio.sleep(self.refused_login_delay)  # manager.c: sleep(1) before saying no
            send(self._response(aid, "Error", ("Message", "Authentication failed")))
            return False  # Asterisk drops the session after a failed login
        if action == "logoff":
            send(self._response(aid, "Goodbye", ("Message", "Thanks for all the fish.")))
            return False
        if not session["authenticated"] and action != "challenge":
            send(self._response(aid, "Error", ("Message", "Permission denied")))
            return True

        if action in self.silent_actions:
            return True
        authority = ACTION_AUTHORITY.get(action)
        if authority and "all" not in session["write"] and not authority & session["write"]:
            send(self._response(aid, "Error", ("Message", "Permission denied")))
            return True
        if action in self.errors:
            send(self._response(aid, "Error", ("Message", self.errors[action])))
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
            send(self._response(aid, "Success", *_replace(rest, AsteriskVersion=self.asterisk_version,
                                                          SystemName=self.system_name)))
        elif action == "coreshowchannels":
            send(*self._event_list(aid, "Channels will follow", "CoreShowChannelsComplete", channels))
        elif action == "pjsipshowcontacts":
            if not self.contacts:  # res_pjsip: an error, with a stray "\n" in the message
                send(self._response(aid, "Error", ("Message", "No Contacts found\n")))
            else:
                send(*self._event_list(aid, "A listing of Contacts follows, presented as ContactList events",
                                       "ContactListComplete", make_contacts(self.contacts)))
        elif action == "pjsipshowendpoints":
            names = self.endpoints if self.endpoints is not None else (self.contacts or ["1001"])
            if not names:
                send(self._response(aid, "Error", ("Message", "No endpoints found\n")))
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
        elif action == "getconfig":
            send(self._get_config(aid, headers.get("Filename", "")))
        elif action == "command":
            accepted, output = self.cli(headers.get("Command", ""))
            send(self._response(aid, "Success" if accepted else "Error", ("Message", "Command output follows"),
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


def _wants_system_events(headers: dict[str, str]) -> bool:
    """Login's ``Events``: absent or on/yes/true = every class; off/no/false = none; else a list."""
    value = next((v for k, v in headers.items() if k.lower() == "events"), None)
    if value is None or value.strip().lower() in ("on", "yes", "true"):
        return True
    classes = {c.strip().lower() for c in value.split(",")}
    return bool(classes & {"system", "all"})


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
