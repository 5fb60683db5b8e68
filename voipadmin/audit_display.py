"""How the audit log is shown: each entry's object, and the foreign keys in its changes, by name, linked to the
object while it exists.

An entry stores its object's name at the time (``object_repr``) and field values as written (a foreign key as
the related object's id: ``{"site": [1, 2]}``). For a page of entries, ``describe`` looks up every object the
page mentions with one query per kind of object (``pk IN (...)``), never one per entry, and names an object
that has since been deleted by the last name the log recorded for it (one more query, only if any is gone):
"site: Central → Branch 1", not "site: 1 → 2".
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext

from .models import ChangeLogEntry


@dataclass
class Shown:
    """One side of a change as shown: the text, and the link to the object it names (None: plain text)."""

    text: Any
    url: str | None = None
    deleted: bool = False


@dataclass
class ShownChange:
    field: str
    before: Shown
    after: Shown


def _url(obj: models.Model) -> str | None:
    get = getattr(obj, "get_absolute_url", None)
    if get is None:
        return None
    try:
        return get()
    except Exception:  # noqa: BLE001  (a model whose page needs more than the row: no link rather than a 500)
        return None


def _foreign_key(model: type[models.Model] | None, name: str) -> models.ForeignKey | None:
    if model is None:
        return None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if not (field.concrete and (field.many_to_one or field.one_to_one)) or field.remote_field.parent_link:
        return None
    return field


def _key(model: type[models.Model], field: models.Field, value: Any) -> Any:
    try:
        return field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return None


def describe(entries: Iterable[ChangeLogEntry]) -> list[ChangeLogEntry]:
    """Set ``object_url`` (None once the object is gone, or when it has no page), ``object_exists`` and
    ``shown_changes`` (a list of ``ShownChange``) on each entry, in a number of queries that depends on the
    kinds of objects mentioned, not on the number of entries. The entries need ``content_type`` loaded."""
    entries = list(entries)
    # (model, lookup field) → the values wanted
    wanted: dict[tuple[type[models.Model], models.Field], set] = defaultdict(set)
    referenced: set[tuple[type[models.Model], models.Field]] = set()  # the foreign keys' targets
    plans = []
    for entry in entries:
        model = entry.content_type.model_class()
        own = (model, model._meta.pk) if model is not None else None
        own_key = _key(*own, entry.object_id) if own else None
        if own and own_key is not None:
            wanted[own].add(own_key)
        fks = {}
        for name, pair in (entry.changes or {}).items():
            field = _foreign_key(model, name)
            if field is None or not isinstance(pair, (list, tuple)) or len(pair) != 2:
                continue
            target = (field.related_model, field.target_field)
            referenced.add(target)
            keys = [_key(*target, v) if v is not None else None for v in pair]
            for k in keys:
                if k is not None:
                    wanted[target].add(k)
            fks[name] = (target, keys)
        plans.append((entry, own, own_key, fks))

    found: dict[tuple[type[models.Model], models.Field], dict[Any, models.Model]] = {}
    for (model, field), keys in wanted.items():
        rows = model._base_manager.filter(**{f"{field.attname}__in": keys})
        if (model, field) in referenced:  # named with str(): what it reads is loaded with it
            rows = rows.select_related()
        found[(model, field)] = {getattr(obj, field.attname): obj for obj in rows}

    gone = {(model, key) for (model, field) in referenced if field.primary_key
            for key in wanted[(model, field)] - found[(model, field)].keys()}
    last_names = _last_recorded_names(gone)

    for entry, own, own_key, fks in plans:
        obj = found.get(own, {}).get(own_key) if own else None
        entry.object_exists = obj is not None
        entry.object_url = _url(obj) if obj is not None else None
        shown = []
        for name, pair in (entry.changes or {}).items():
            if name in fks:
                target, keys = fks[name]
                sides = [_named(target, key, raw, found, last_names) for key, raw in zip(keys, pair)]
            else:
                sides = [Shown(v) for v in pair] if isinstance(pair, (list, tuple)) and len(pair) == 2 \
                    else [Shown(None), Shown(pair)]
            shown.append(ShownChange(name, *sides))
        entry.shown_changes = shown
    return entries


def _named(target, key, raw, found, last_names) -> Shown:
    if raw is None:
        return Shown(None)
    obj = found.get(target, {}).get(key)
    if obj is not None:
        return Shown(str(obj), _url(obj))
    name = last_names.get((target[0], key))
    text = gettext("%(name)s (deleted)") % {"name": name or f"#{raw}"}
    return Shown(text, None, deleted=True)


def _last_recorded_names(gone: set[tuple[type[models.Model], Any]]) -> dict[tuple[type[models.Model], Any], str]:
    """The name the log last recorded for each object that no longer exists (one query for all of them)."""
    if not gone:
        return {}
    by_type: dict[int, tuple[type[models.Model], dict[str, Any]]] = {}
    for model, key in gone:
        for concrete in (False, True):  # entries are recorded under the object's own (maybe proxy) type
            ct = ContentType.objects.get_for_model(model, for_concrete_model=concrete)  # (cached)
            by_type.setdefault(ct.pk, (model, {}))[1][str(key)] = key
    condition = Q()
    for ct_id, (_model, ids) in by_type.items():
        condition |= Q(content_type_id=ct_id, object_id__in=list(ids))
    names = {}
    for ct_id, object_id, name in (ChangeLogEntry.objects.filter(condition).order_by("time", "id")
                                   .values_list("content_type_id", "object_id", "object_repr")):
        model, ids = by_type[ct_id]
        names[(model, ids[object_id])] = name  # the latest wins
    return names
