"""Recording changes. Actions call ``snapshot`` before and ``record`` after a write (``voipadmin.crud`` does both).

``entry_values`` is what one log entry holds: ``record`` writes it for one object, ``crud.bulk_create`` and
``crud.bulk_update`` write the same values for many (the CSV import), so a user's history reads the same
however it came.
"""
from __future__ import annotations

import datetime
import decimal
import functools
import hashlib
import hmac
import uuid
from typing import Any, Mapping

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

from .actors import Actor
from .fields import is_secret_field
from .models import ChangeLogEntry

MASK = "********"
_SECRET_PREFIX = "\x00secret:"


@functools.lru_cache(maxsize=4)
def _keyed(key: str) -> "hmac.HMAC":
    return hmac.new(key.encode(), digestmod=hashlib.sha256)


def _secret_token(value: str) -> str:
    """A keyed digest, so a changed secret shows as changed without the log holding anything crackable."""
    mac = _keyed(settings.SECRET_KEY).copy()  # (the keyed state is computed once: a bulk import logs 10,000s)
    mac.update(str(value).encode())
    return _SECRET_PREFIX + mac.hexdigest()[:16]


_SCALARS = (str, int, bool, float, type(None))


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
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
    for name, attname, secret in _audited_fields(obj._meta, tuple(getattr(obj, "audit_exclude_fields", ())),
                                                 tuple(getattr(obj, "audit_secret_fields", ()))):
        value = getattr(obj, attname)
        if secret:
            value = _secret_token(value) if value else ""
        data[name] = _plain(value)
    return data


def creation_changes(meta, values: Mapping[str, Any], *, exclude: tuple[str, ...] = (),
                     extra_secret: tuple[str, ...] = ()) -> dict[str, list]:
    """``diff({}, snapshot(obj))`` for a new row given as attname → value, computed without the object or the
    keyed digests: a created secret only ever shows as the mask. (The bulk path logs 10,000s of creations.)"""
    changes = {}
    for name, attname, secret in _audited_fields(meta, exclude, extra_secret):
        value = values[attname]
        if secret:
            value = MASK if value else ""
        elif type(value) not in _SCALARS:
            value = _plain(value)
        if value is not None:
            changes[name] = [None, value]
    return changes


@functools.lru_cache(maxsize=None)
def _audited_fields(meta, exclude: tuple[str, ...], extra_secret: tuple[str, ...]) -> tuple[tuple[str, str, bool], ...]:
    """(name, attname, secret?) of the fields the log shows; bookkeeping timestamps are not changes anybody made."""
    return tuple((f.name, f.attname, is_secret_field(f) or f.name in extra_secret) for f in meta.concrete_fields
                 if f.name not in exclude and not getattr(f, "auto_now", False)
                 and not getattr(f, "auto_now_add", False))


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


def entry_values(*, actor: Actor, content_type: ContentType, object_id: Any, object_repr: str, action: str,
                 changes: dict, message: str = "") -> dict[str, Any]:
    """The columns of one log entry (``record`` saves it; the bulk path copies many at once)."""
    return {"user_id": actor.user.pk if getattr(actor.user, "pk", None) else None,
            "actor": actor.label[:150], "source": actor.source, "action": str(action),
            "content_type_id": content_type.pk, "object_id": str(object_id), "object_repr": object_repr[:200],
            "message": message[:200], "changes": changes}


def record(*, actor: Actor, obj: models.Model, action: str, before: dict | None = None,
           after: dict | None = None, message: str = "") -> ChangeLogEntry | None:
    """Write one audit entry; an update that changed nothing writes none."""
    before = before or {}
    after = after if after is not None else (snapshot(obj) if action != ChangeLogEntry.Action.DELETE else {})
    changes = diff(before, after)
    if action == ChangeLogEntry.Action.UPDATE and not changes and not message:
        return None
    return ChangeLogEntry.objects.create(**entry_values(
        actor=actor, content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=obj.pk, object_repr=str(obj), action=action, changes=changes, message=message))


def record_operation(*, actor: Actor, obj: models.Model, message: str,
                     details: Mapping[str, Any] | None = None) -> ChangeLogEntry:
    """Log an operation on the live estate that writes no row of ours (hanging up a call, click-to-call,
    listening in): on the object it concerns, so it shows in that object's history, as action "other".

    ``message`` says what was done and how it ended; ``details`` (node, channel, …) are kept as
    ``{name: [None, value]}``, the log's own before/after shape, so the history pages show them unchanged.
    Failed attempts are logged too: who tried to listen in on a call matters even when the node was down.
    """
    return ChangeLogEntry.objects.create(**entry_values(
        actor=actor, content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=obj.pk, object_repr=str(obj), action=ChangeLogEntry.Action.OTHER,
        changes={k: [None, _plain(v)] for k, v in (details or {}).items()}, message=message))
