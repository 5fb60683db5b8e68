"""The common write path every app's actions.py builds on: validate, save, audit, atomically."""
from __future__ import annotations

from typing import Any, TypeVar

from django.db import models, transaction

from . import audit
from .actors import Actor
from .models import ChangeLogEntry

M = TypeVar("M", bound=models.Model)


def create(model: type[M], *, actor: Actor, fields: dict[str, Any], message: str = "") -> M:
    with transaction.atomic():
        obj = model(**fields)
        obj.full_clean()
        obj.save()
        audit.record(actor=actor, obj=obj, action=ChangeLogEntry.Action.CREATE, message=message)
    return obj


def update(obj: M, *, actor: Actor, fields: dict[str, Any], message: str = "") -> M:
    """Change only the given fields (PATCH semantics); never delete and re-create."""
    changed = [name for name, value in fields.items() if getattr(obj, name) != value]
    if not changed and not message:
        return obj  # nothing to write, nothing to log, nothing to push
    with transaction.atomic():
        before = audit.snapshot(obj)
        for name in changed:
            setattr(obj, name, fields[name])
        obj.full_clean()
        obj.save()
        audit.record(actor=actor, obj=obj, action=ChangeLogEntry.Action.UPDATE, before=before, message=message)
    return obj


def delete(obj: models.Model, *, actor: Actor, message: str = "") -> None:
    with transaction.atomic():
        before = audit.snapshot(obj)
        pk = obj.pk
        obj.delete()
        obj.pk = pk  # keep the id for the log entry
        audit.record(actor=actor, obj=obj, action=ChangeLogEntry.Action.DELETE, before=before, after={},
                     message=message)
