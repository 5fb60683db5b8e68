"""The one place a reload intent becomes a call on a node (wazo-confd's "sysconfd client").

``send(kind, node, command)`` maps the intent to the connector call, with the node's
address and credentials, and returns a short text for the job's record. Every failure
is a ``NodeError``: ``permanent`` says whether trying again can help.
"""
from __future__ import annotations

import asyncio

from voipadmin.connectors.ami import RELOAD_COMMANDS, AmiSession
from voipadmin.connectors.errors import NodeError
from voipadmin.connectors.kamailio import KamailioRpc
from voipadmin.fields import misconfiguration

from . import conf
from .intents import ASTERISK, COMMANDS, KAMAILIO

# CLI command -> the AMI connector's reload intent ("module reload res_pjsip.so" -> "pjsip"); the
# connector also checks Asterisk's wording, since ``module reload`` says Success whatever happened.
_ASTERISK_INTENTS = {command: intent for intent, command in RELOAD_COMMANDS.items()}
# Kamailio answers these while a previous reload is still running: try again later.
_TRANSIENT = ("ongoing reload", "failed to shift records")
# Asterisk's ``module reload`` answers Success whatever happened; its wording (main/cli.c, 22.10) says
# whether the module was reloaded. Busy or still booting: later. The connector already refuses
# "No such module" and "not properly initialized"; these two are refusals too.
_ASTERISK_BUSY = ("already in progress", "request queued")
_ASTERISK_REFUSED = ("reported a reload failure", "does not support reloads")


def send(kind: str, node, command: str, *, timeout: float | None = None) -> str:
    if command not in COMMANDS.get(kind, ()):
        raise NodeError(f"{command!r} is not a {kind} reload", permanent=True, node=str(node))
    timeout = conf.node_timeout() if timeout is None else timeout
    if problem := misconfiguration(node):  # a reload sent with no secret would only fail to log in
        raise NodeError(problem, permanent=True, node=str(node))
    if kind == KAMAILIO:
        return _kamailio(node, command, timeout)
    if kind == ASTERISK:
        return asyncio.run(_asterisk(node, command, timeout))
    raise NodeError(f"unknown node kind {kind!r}", permanent=True, node=str(node))  # pragma: no cover


def _kamailio(node, method: str, timeout: float) -> str:
    try:
        with KamailioRpc(node.jsonrpc_url, username=node.jsonrpc_username or None,
                         password=node.jsonrpc_password or None, timeout=timeout) as rpc:
            result = rpc.call(method)
    except NodeError as exc:
        if any(m in exc.reason.lower() for m in _TRANSIENT):
            exc.permanent = False
        raise
    return f"{method}: {result if result not in (None, '', {}) else 'ok'}"[:200]


async def _asterisk(node, command: str, timeout: float) -> str:
    """What the real Asterisk 22 answers when it did reload: ``Module 'res_pjsip.so' reloaded
    successfully.``, ``Dialplan reloaded.``, ``Reloading voicemail configuration...``."""
    async with AmiSession(node.effective_ami_host, node.ami_port, node.ami_username, node.ami_secret,
                          timeout=timeout) as ami:
        output = await ami.reload(_ASTERISK_INTENTS[command])
    text = " ".join(output)
    if any(marker in text.lower() for marker in _ASTERISK_BUSY):
        raise NodeError(f"{command}: {text}", permanent=False, node=str(node))
    if any(marker in text.lower() for marker in _ASTERISK_REFUSED):
        raise NodeError(f"{command}: {text}", permanent=True, node=str(node))
    return f"{command}: {text or 'ok'}"[:200]
