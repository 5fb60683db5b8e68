"""A node's reason ("slow: 812 ms round trip; ARI: connection refused"), in the reader's language.

Why at display time: the poller runs in a Celery worker, where nobody's language is active, and the
reason it stores is read by English and Spanish speakers alike (and by logs and /metrics, in English).
So the stored text stays the poller's English and pages translate it here, phrase by phrase: the
poller's own wording (live/poller.py) and the connectors' most common ones (voipadmin/connectors).
Anything not recognised (a node's own error text, say) is shown as it is.
"""
from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

#: whole reasons as the connectors and the pages word them
_PHRASES = {
    "connection refused": _("connection refused"),
    "connection reset by peer": _("connection reset by peer"),
    "connection closed by node": _("connection closed by node"),
    "timed out": _("timed out"),
    "authentication failed": _("authentication failed"),
    "AMI session is not connected": _("AMI session is not connected"),
    "not polled yet": _("not polled yet"),
    "network error": _("network error"),
    "name or service not known": _("name or service not known"),
    "no route to host": _("no route to host"),
    "network is unreachable": _("network is unreachable"),
}

#: (pattern, wording): a pattern's named groups fill the wording; those in _TRANSLATED are translated first
_PATTERNS = [(re.compile(pattern), wording) for pattern, wording in (
    (r"slow: (?P<ms>\d+) ms round trip", _("slow: %(ms)s ms round trip")),
    (r"timed out after (?P<seconds>[0-9.]+)s", _("timed out after %(seconds)ss")),
    (r"timed out after (?P<seconds>[0-9.]+)s connecting", _("timed out after %(seconds)ss connecting")),
    (r"timed out after (?P<seconds>[0-9.]+)s waiting for (?P<what>.+)",
     _("timed out after %(seconds)ss waiting for %(what)s")),
    (r"connection closed by node during (?P<what>.+)", _("connection closed by node during %(what)s")),
    (r"authentication failed \(HTTP (?P<status>\d+)\)", _("authentication failed (HTTP %(status)s)")),
    (r"dispatcher states unknown: (?P<why>.+)", _("dispatcher states unknown: %(why)s")),
    (r"ITSP registrations unknown: (?P<why>.+)", _("ITSP registrations unknown: %(why)s")),
    (r"ITSP not registered: (?P<trunks>.+)", _("ITSP not registered: %(trunks)s")),
    (r"E1 spans unknown: (?P<why>.+)", _("E1 spans unknown: %(why)s")),
    (r"E1 (?P<spans>.+) not up", _("E1 %(spans)s not up")),
    (r"ARI: answered by (?P<other>.+), not by this node \((?P<own>.+)\)",
     _("ARI: answered by %(other)s, not by this node (%(own)s)")),
    (r"unexpected error: (?P<error>.+)", _("unexpected error: %(error)s")),
    (r"unreachable \((?P<why>.+)\)", _("unreachable (%(why)s)")),
    (r"garbage reply: (?P<data>.*)", _("garbage reply: %(data)s")),
    (r"misconfigured: (?P<secrets>.+) cannot be decrypted — re-enter it on the (?P<page>.+)'s page",
     _("misconfigured: %(secrets)s cannot be decrypted — re-enter it on the %(page)s's page")),
)]
_TRANSLATED = {"why"}
#: "<what was asked>: <why it failed>" (an AMI action, "ARI"): only the why is translated
_ASKED = re.compile(r"(?P<asked>[A-Za-z][A-Za-z0-9 _-]{0,40}): (?P<why>.+)")


def translate_reason(reason: str) -> str:
    """``reason`` in the active language, each ``; ``-separated problem on its own."""
    if not reason:
        return reason
    return "; ".join(_phrase(part) for part in str(reason).split("; "))


def _phrase(text: str) -> str:
    if text in _PHRASES:
        return str(_PHRASES[text])
    for pattern, wording in _PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            values = {name: _phrase(value) if name in _TRANSLATED else value
                      for name, value in match.groupdict().items()}
            return str(wording) % values
    match = _ASKED.fullmatch(text)
    if match:
        return f"{match['asked']}: {_phrase(match['why'])}"
    return text
