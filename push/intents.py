"""The reload intents a change may ask for, per target (the allow-list).

Anything else is a programming error in the calling action, so ``push.api.request``
raises ``ValueError`` at once instead of queueing a command no node understands.
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

COMMANDS: dict[str, tuple[str, ...]] = {
    KAMAILIO: (DISPATCHER_RELOAD, DIALPLAN_RELOAD, ADDRESS_RELOAD, UACREG_RELOAD),
    ASTERISK: (PJSIP_RELOAD, ASTERISK_DIALPLAN_RELOAD, VOICEMAIL_RELOAD),
}


def validate(target: str, command: str) -> None:
    if target not in COMMANDS:
        raise ValueError(f"unknown push target {target!r}; use push.api.KAMAILIO or push.api.ASTERISK")
    if command not in COMMANDS[target]:
        raise ValueError(f"{command!r} is not a known {target} reload; known: {', '.join(COMMANDS[target])}")
