"""Recording changes. Actions call ``snapshot`` before and ``record`` after a write."""
from __future__ import annotations

import datetime
import decimal
import hashlib
import hmac
import uuid
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

from .actors import Actor
from .fields import is_secret_field
from .models import ChangeLogEntry

MASK = "********"
_SECRET_PREFIX = "\x00secret:"


def _secret_token(value: str) -> str:
    """A keyed digest, so a changed secret shows as changed without the log holding anything crackable."""
    digest = hmac.new(settings.SECRET_KEY.encode(), str(value).encode(), hashlib.sha256).hexdigest()[:16]
    return _SECRET_PREFIX + digest


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def snapshot(obj: models.Model | None) -> dict[str, Any]:
    """Concrete field values of ``obj`` as JSON-safe data, secrets masked."""
    if obj is None:
        return {}
    data = {}
    extra_secret = set(getattr(obj, "audit_secret_fields", ()))
    for field in obj._meta.concrete_fields:
        if field.name in getattr(obj, "audit_exclude_fields", ()) or \
                getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue  # bookkeeping timestamps are not changes anybody made
        value = getattr(obj, field.attname)
        if is_secret_field(field) or field.name in extra_secret:
            value = _secret_token(value) if value else ""
        data[field.name] = _plain(value)
    return data


def _shown(value: Any) -> Any:
    return MASK if isinstance(value, str) and value.startswith(_SECRET_PREFIX) else value


def diff(before: dict, after: dict) -> dict[str, list]:
    """Changed fields as [before, after]; secrets appear only as masks."""
    keys = list(dict.fromkeys([*before, *after]))
    changes = {}
    for k in keys:
        old, new = before.get(k), after.get(k)
        if old != new:
            old, new = _shown(old), _shown(new)
            if old == new == MASK:
                new = MASK + " (changed)"
            changes[k] = [old, new]
    return changes


def record(*, actor: Actor, obj: models.Model, action: str, before: dict | None = None,
           after: dict | None = None, message: str = "") -> ChangeLogEntry | None:
    """Write one audit entry; an update that changed nothing writes none."""
    before = before or {}
    after = after if after is not None else (snapshot(obj) if action != ChangeLogEntry.Action.DELETE else {})
    changes = diff(before, after)
    if action == ChangeLogEntry.Action.UPDATE and not changes and not message:
        return None
    return ChangeLogEntry.objects.create(
        user=actor.user if getattr(actor.user, "pk", None) else None,
        actor=actor.label[:150],
        source=actor.source,
        action=action,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        message=message[:200],
        changes=changes,
    )
