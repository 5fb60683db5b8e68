"""The reload intents a change may ask for, per target (the allow-list).

Anything else is a programming error in the calling action, so ``push.api.request``
raises ``ValueError`` at once instead of queueing a command no node understands.

Who needs which reload (checked against a real Kamailio 5.6 and a real Asterisk 22):

* **Kamailio** caches ``dispatcher``, ``dialplan``, ``address`` and ``uacreg`` in memory: every change
  to those tables asks for the matching RPC (trunks/notifier.py, services/notifier.py).
  ``subscriber`` (users) is read on every REGISTER: no reload.
* **Asterisk** reads everything that changes day to day from the database on each use: users
  (sorcery realtime, no cache), mailboxes (app_voicemail realtime) and the service codes' dialplan
  (pbx_realtime: it keeps a match for at most ~2 s, and no reload clears that). So no user, service
  code or DDI change asks an Asterisk for anything. Its three reloads are for the *static* files
  ``manage.py asterisk_config`` writes, which change with sites, extension ranges, Kamailio nodes,
  E1 trunks and the node's own settings: the portal cannot write a node's files, so the estate check
  (services/estate.py) compares them with what the portal generates and, once the operator has
  written them, queues the reload of each file the node has not loaded (``ASTERISK_FILE_RELOADS``).
"""
from __future__ import annotations

KAMAILIO = "kamailio"
ASTERISK = "asterisk"

# Kamailio JSON-RPC methods: the cached tables only become live after these.
DISPATCHER_RELOAD = "dispatcher.reload"
DIALPLAN_RELOAD = "dialplan.reload"
ADDRESS_RELOAD = "permissions.addressReload"
UACREG_RELOAD = "uac.reg_reload"

# Asterisk CLI commands sent through the AMI ``Command`` action; narrow reloads only.
PJSIP_RELOAD = "module reload res_pjsip.so"
ASTERISK_DIALPLAN_RELOAD = "dialplan reload"
VOICEMAIL_RELOAD = "voicemail reload"

#: A file ``asterisk_config`` writes → the narrow reload that makes a running Asterisk read it again
#: (the transport's bind address is the exception: pjsip only re-binds on a restart).
ASTERISK_FILE_RELOADS: dict[str, str] = {
    "extensions.conf": ASTERISK_DIALPLAN_RELOAD,
    "pjsip.conf": PJSIP_RELOAD,
    "voicemail.conf": VOICEMAIL_RELOAD,
}

COMMANDS: dict[str, tuple[str, ...]] = {
    KAMAILIO: (DISPATCHER_RELOAD, DIALPLAN_RELOAD, ADDRESS_RELOAD, UACREG_RELOAD),
    ASTERISK: (PJSIP_RELOAD, ASTERISK_DIALPLAN_RELOAD, VOICEMAIL_RELOAD),
}


def validate(target: str, command: str) -> None:
    if target not in COMMANDS:
        raise ValueError(f"unknown push target {target!r}; use push.api.KAMAILIO or push.api.ASTERISK")
    if command not in COMMANDS[target]:
        raise ValueError(f"{command!r} is not a known {target} reload; known: {', '.join(COMMANDS[target])}")
