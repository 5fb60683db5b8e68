"""Push settings with their defaults (overridable in settings.py / tests)."""
from __future__ import annotations

from django.conf import settings

from .intents import ASTERISK, KAMAILIO

_MIN_INTERVAL_DEFAULTS = {ASTERISK: 2.0, KAMAILIO: 0.0}


def live_reload() -> bool:
    return bool(getattr(settings, "LIVE_RELOAD", True))


def min_interval(kind: str) -> float:
    """Seconds between two reloads sent to the same node of this kind.

    Asterisk can deadlock on reloads in quick succession; Kamailio is configured with
    ``reload_delta 0`` and an "Ongoing reload" answer is treated as transient anyway.
    """
    value = getattr(settings, "PUSH_MIN_INTERVAL_SECONDS", {})
    if isinstance(value, (int, float)):
        return float(value) if kind == ASTERISK else 0.0
    return float({**_MIN_INTERVAL_DEFAULTS, **value}.get(kind, 0.0))


def node_timeout() -> float:
    return float(getattr(settings, "PUSH_NODE_TIMEOUT_SECONDS", 5.0))


def retry_base() -> float:
    return float(getattr(settings, "PUSH_RETRY_BASE_SECONDS", 1.0))


def retry_max() -> float:
    return float(getattr(settings, "PUSH_RETRY_MAX_SECONDS", 3.0))


def max_attempts() -> int:
    """0 = retry transient errors until the node answers (the default: nothing is given up)."""
    return int(getattr(settings, "PUSH_MAX_ATTEMPTS", 0))


def lease_seconds(kind: str) -> float:
    """Long enough for one command (timeout + rate-limit wait) with margin; renewed per command."""
    return node_timeout() + min_interval(kind) + 5.0


def backoff(attempts: int) -> float:
    """Delay before attempt ``attempts + 1``: base, 2×base, 4×base, ... capped at retry_max()."""
    return min(retry_base() * (2 ** max(attempts - 1, 0)), retry_max())
