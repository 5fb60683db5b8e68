"""Call control on the Asterisk that carries a call: hang up, click-to-call, listen in; a mailbox's counts.

Why a module of its own: the poller only *looks* (its rows are seconds old), while these *act*, now, on
one node. So each operation opens one AMI session to that node, looks at the node's own channel list in
that session (the stored ``ActiveCall`` rows only say where to look) and acts on what is there, or says
plainly why not: the node is down, the call has already ended, the channel is not this user's.

Phones register with Kamailio, not with the Asterisks, so a node reaches an extension through the
estate's Kamailio exactly as its generated dialplan does (``PJSIP/kamailio-1/sip:<ext>@<proxy>``, see
deploy/asterisk/templates): Kamailio finds the phone. Every function raises :class:`CallControlError`
(a sentence an operator can act on) and nothing else; ``live.actions`` audits and the views show it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from nodeconf.asterisk import kamailio_peers
from sites.models import AsteriskNode
from voipadmin.connectors import ami
from voipadmin.connectors.errors import NodeError
from voipadmin.fields import misconfiguration

from .reasons import translate_reason

#: Asterisk's channel names (``PJSIP/kamailio-1-0000002a``, ``Local/600@test-00000001;2``): nothing that
#: could end an AMI header or separate ChanSpy's arguments.
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_]+/[A-Za-z0-9_.@:+*#;~-]{1,200}$")
EXTENSION = re.compile(r"^[0-9]{1,20}$")
#: ChanSpy options: q (no beep or announcement: the parties do not learn of it), E (stop when the spied
#: channel hangs up). No w/W/B: the listener can never be heard (no whisper, no barge).
LISTEN_OPTIONS = "qE"
RING_SECONDS = 30


class Sentence(str):
    """A sentence in English (what the audit log and the logs keep) that can also say itself in the reader's
    language (``shown()``, for the page). ``why`` is a node's reason (live.reasons translates it)."""

    def __new__(cls, wording, /, **params: object) -> "Sentence":
        with translation.override("en"):
            text = cls._fill(wording, params)
        sentence = super().__new__(cls, text)
        sentence.wording, sentence.params = wording, params
        return sentence

    @staticmethod
    def _fill(wording, params: dict) -> str:
        if "why" in params:
            params = {**params, "why": translate_reason(str(params["why"]))}
        return str(wording) % params if params else str(wording)

    def shown(self) -> str:
        return self._fill(self.wording, self.params)


class CallControlError(Exception):
    """Why an operation did not happen, worded for the operator. ``node_down``: the node did not answer.

    ``message`` is English (the audit log keeps it); ``shown()`` is for the page, in the reader's language."""

    def __init__(self, message: str, *, node_down: bool = False) -> None:
        super().__init__(message)
        self.message = str(message)
        self.sentence = message
        self.node_down = node_down

    def shown(self) -> str:
        return self.sentence.shown() if isinstance(self.sentence, Sentence) else self.message


def timeout() -> float:
    return float(getattr(settings, "LIVE_CALL_CONTROL_TIMEOUT_SECONDS", 2.0))


@dataclass(frozen=True)
class Channel:
    """One channel as the node lists it now (``CoreShowChannels``)."""

    name: str
    linkedid: str
    caller: str
    connected: str
    exten: str
    application: str
    state: str

    @classmethod
    def from_event(cls, e: dict[str, Any]) -> "Channel":
        return cls(name=str(e.get("Channel") or ""), linkedid=str(e.get("Linkedid") or e.get("Uniqueid") or ""),
                   caller=str(e.get("CallerIDNum") or ""), connected=str(e.get("ConnectedLineNum") or ""),
                   exten=str(e.get("Exten") or ""), application=str(e.get("Application") or ""),
                   state=str(e.get("ChannelStateDesc") or ""))

    def involves(self, extension: str) -> bool:
        return extension in (self.caller, self.connected, self.exten)


def _session(node: AsteriskNode, work, *, within: float | None = None) -> Any:
    """Run ``work(ami)`` in one AMI session to ``node``; every failure becomes a CallControlError."""
    if not node.enabled:
        raise CallControlError(Sentence(_("%(node)s is disabled: the portal does not talk to it."), node=node.name))
    problem = misconfiguration(node)
    if problem:
        raise CallControlError(Sentence(_("%(node)s cannot be reached as stored: %(why)s"), node=node.name,
                                        why=problem), node_down=True)
    try:
        return ami.run_session(node.effective_ami_host, node.ami_port, node.ami_username, node.ami_secret or "",
                               work, timeout=within or timeout())
    except NodeError as exc:
        if exc.permanent:
            raise CallControlError(Sentence(_("%(node)s refused: %(why)s."), node=node.name, why=exc.reason)) from None
        raise CallControlError(Sentence(_("%(node)s did not answer (%(why)s); nothing was done."), node=node.name,
                                        why=exc.reason), node_down=True) from None


def dial_string(extension: str) -> str:
    """How a node rings an extension: through the estate's first Kamailio, as its dialplan does."""
    if not EXTENSION.match(str(extension)):
        raise CallControlError(Sentence(_("%(extension)s is not an extension (digits only)."),
                                        extension=repr(extension)))
    peers = kamailio_peers()
    if not peers:
        raise CallControlError(Sentence(_("The estate has no enabled Kamailio node: no node can ring a phone.")))
    return f"PJSIP/kamailio-1/sip:{extension}@{peers[0].uri_host}:{peers[0].port}"


def _users_channel(channels: list[Channel], channel: str, extension: str, node: AsteriskNode) -> Channel:
    """``channel`` as the node lists it now, if it is part of a call of ``extension``."""
    found = next((c for c in channels if c.name == channel), None)
    if found is None:
        raise CallControlError(call_ended(channel, node))
    call = [c for c in channels if c.linkedid == found.linkedid]
    if not any(c.involves(extension) for c in call):
        raise CallControlError(Sentence(_("%(channel)s on %(node)s is not a call of extension %(extension)s."),
                                        channel=channel, node=node.name, extension=extension))
    return found


def call_ended(channel: str, node: AsteriskNode) -> Sentence:
    return Sentence(_("The call has already ended: %(channel)s is no longer on %(node)s."), channel=channel,
                    node=node.name)


def _check_channel_name(channel: str) -> None:
    if not CHANNEL_NAME.match(channel or ""):
        raise CallControlError(Sentence(_("%(channel)s is not an Asterisk channel name."), channel=repr(channel)))


def hangup(node: AsteriskNode, *, channel: str, extension: str) -> Channel:
    """Hang up ``channel`` (and so the call it is in) if it is still up and a call of ``extension``."""
    _check_channel_name(channel)

    async def work(session: ami.AmiSession) -> Channel:
        channels = [Channel.from_event(e) for e in await session.core_show_channels()]
        found = _users_channel(channels, channel, extension, node)
        try:
            await session.hangup(found.name)
        except NodeError as exc:
            if exc.permanent and "no such channel" in exc.reason.lower():  # it ended in between
                raise CallControlError(call_ended(channel, node))

            raise
        return found

    return _session(node, work)


def originate(node: AsteriskNode, *, from_extension: str, to_extension: str, to_name: str = "") -> str:
    """Click-to-call: ``node`` rings ``from_extension``; when it answers, it dials ``to_extension``.

    The first phone shows who it is about to call (caller ID ``"<name>" <to_extension>``). Asterisk
    queues the call (``Async``): ringing and answering happen after this returns.
    """
    first, second = dial_string(from_extension), dial_string(to_extension)
    label = re.sub(r'["<>\\\x00-\x1f]', "", to_name)[:40]

    async def work(session: ami.AmiSession) -> str:
        # Dial's I: the first phone keeps the caller ID it was rung with ("<name>" <user>) instead of being
        # sent a connected-line update (a re-INVITE) when the user answers
        return await session.originate(first, application="Dial", data=f"{second},{RING_SECONDS},I",
                                       caller_id=f'"{label}" <{to_extension}>' if label else str(to_extension),
                                       timeout_ms=RING_SECONDS * 1000)

    return _session(node, work)


def listen_in(node: AsteriskNode, *, channel: str, extension: str, listener_extension: str) -> Channel:
    """Ring ``listener_extension`` from ``node``; when it answers it hears ``channel``'s call (ChanSpy,
    quiet, no whisper) until that channel hangs up."""
    _check_channel_name(channel)
    ring = dial_string(listener_extension)

    async def work(session: ami.AmiSession) -> Channel:
        channels = [Channel.from_event(e) for e in await session.core_show_channels()]
        found = _users_channel(channels, channel, extension, node)
        await session.originate(ring, application="ChanSpy", data=f"{found.name},{LISTEN_OPTIONS}",
                                caller_id=f'"Listen {extension}" <{extension}>', timeout_ms=RING_SECONDS * 1000)
        return found

    return _session(node, work)


def mailbox_counts(node: AsteriskNode, mailbox: str, *, within: float | None = None) -> dict[str, int]:
    """New/old/urgent messages of ``mailbox`` (``<ext>@<site>``) on ``node``, asked now (the poller does
    not keep them). ``within``: the page's budget, shorter than an operation's."""
    async def work(session: ami.AmiSession) -> dict[str, int]:
        return await session.mailbox_count(mailbox)

    return _session(node, work, within=within)
