"""Push settings with their defaults (overridable in settings.py / tests)."""
from __future__ import annotations

import random

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
    return float(getattr(settings, "PUSH_RETRY_BASE_SECONDS", 2.0))


def retry_max() -> float:
    """The backoff's ceiling: a node down for a day is tried about every this many seconds."""
    return float(getattr(settings, "PUSH_RETRY_MAX_SECONDS", 300.0))


def retry_jitter() -> float:
    """The fraction of each delay taken off at random, so nodes (and workers) that failed together
    do not all retry in the same second (0 = no jitter)."""
    return min(max(float(getattr(settings, "PUSH_RETRY_JITTER", 0.2)), 0.0), 1.0)


def max_attempts() -> int:
    """0 = retry transient errors until the node answers (the default: nothing is given up)."""
    return int(getattr(settings, "PUSH_MAX_ATTEMPTS", 0))


def lease_seconds(kind: str) -> float:
    """Long enough for one command (timeout + rate-limit wait) with margin; renewed per command."""
    return node_timeout() + min_interval(kind) + 5.0


def backoff(attempts: int, *, rng: random.Random | None = None) -> float:
    """Delay before attempt ``attempts + 1``: base, 2×base, 4×base, ... capped at retry_max(), each
    shortened by up to ``retry_jitter()`` of itself at random (never longer than the ceiling)."""
    ceiling = min(retry_base() * (2 ** min(max(attempts - 1, 0), 32)), retry_max())
    return ceiling * (1.0 - retry_jitter() * (rng or random).random())
