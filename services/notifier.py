"""What changed → which reload intents (wazo-confd's notifier), called by services' actions.

Dispatcher sets, service codes and DDIs are Kamailio rows (``dispatcher``, ``dialplan``), reloaded
through trunks' map. A service code is also Asterisk ``extensions`` rows, which ``pbx_realtime`` reads
on each call (``switch => Realtime/site-<slug>@extensions``): a new, changed or disabled code applies
to the next call with no reload. pbx_realtime keeps a matched row for at most ~2 s, and ``dialplan
reload`` (which re-reads extensions.conf only) does not clear that cache, so asking every Asterisk
for one per change bought nothing (tests/asterisk/test_push_real.py). Asterisk's reloads are for its
static files only: see push.intents and services/estate.py.
"""
from __future__ import annotations

from trunks.notifier import kamailio_tables_changed


def changed(result: dict[str, bool], *, reason: str) -> list[str]:
    """``result``: {"dispatcher"|"dialplan"|"extensions": changed?}; returns the intents requested."""
    return kamailio_tables_changed([t for t, did in result.items() if did and t != "extensions"], reason=reason)
