"""Who made a change: every action takes an ``Actor`` so the audit log can say."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    user: Any = None  # django.contrib.auth user, or None for commands and tokens
    label: str = "system"
    source: str = "system"  # ui | api | command | system

    @classmethod
    def from_request(cls, request, source: str = "ui") -> "Actor":
        user = request.user if request.user.is_authenticated else None
        token = getattr(request, "auth", None)
        label = user.get_username() if user else f"token:{getattr(token, 'name', '?')}"
        return cls(user=user, label=label, source=source)

    @classmethod
    def command(cls, name: str) -> "Actor":
        return cls(user=None, label=f"manage.py {name}", source="command")


SYSTEM = Actor()
