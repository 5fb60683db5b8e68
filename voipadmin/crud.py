"""The one write path every app's ``actions.py`` builds on.

``create`` / ``update`` / ``delete`` do, in this order and inside ONE transaction:

1. **lock** the stored row (``SELECT … FOR UPDATE``; update and delete) and snapshot it for the log — the
   snapshot is the row as stored, not the caller's copy (a form has already written into that);
2. set the given fields (PATCH: every other field keeps its stored value), let the app ``prepare`` what follows
   from them (a new password when the SIP domain changes, …);
3. **validate**: ``full_clean`` and the app's ``checks`` (other apps' vetoes registered on a :class:`Hook`);
4. save only the columns that changed, then the app's ``related`` rows (ranges, destinations, a route's trunks);
5. **audit**: one entry with the field-level diff (``voipadmin.audit``, secrets masked);
6. **effects**: projections into Kamailio's and Asterisk's tables and the reload intents they ask for
   (``push.api.request``: sent after commit, dropped on rollback).

Apps lower in the dependency order (``voipadmin ← sites ← push ← users, trunks ← services``) cannot import the
apps that project from their rows; they expose a :class:`Hook` the higher app registers into at ready() and pass
it to ``checks``/``effects``. No model signal is involved: a write that does not go through an action changes
nothing but its row (``check_estate`` reports what is missing, ``--repair`` rebuilds it).

``bulk_create`` / ``bulk_update`` are the same path for many rows of one model (the CSV import): the same field
validation (``field_errors``), the same log entries (``audit.entry_values``), written with ``COPY`` on
PostgreSQL inside the caller's transaction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Generic, Iterable, Sequence, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from . import audit
from .actors import Actor
from .models import ChangeLogEntry

M = TypeVar("M", bound=models.Model)


class Hook:
    """Callables a lower app calls from its actions and higher apps register into (at ``AppConfig.ready``).

    ``hook(*args)`` calls each in registration order and returns their results; ``hook.check(*args)`` runs
    them as validators and raises one ``ValidationError`` carrying every refusal.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._callables: list[Callable[..., Any]] = []

    def register(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if fn not in self._callables:
            self._callables.append(fn)
        return fn

    def __call__(self, *args: Any, **kwargs: Any) -> list[Any]:
        return [fn(*args, **kwargs) for fn in self._callables]

    def check(self, *args: Any) -> None:
        check_all(self._callables, *args)

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {[getattr(f, '__qualname__', f) for f in self._callables]}>"


def merge(errors: Sequence[ValidationError]) -> ValidationError:
    """Several ValidationErrors as one (field errors stay on their fields)."""
    if len(errors) == 1:
        return errors[0]
    by_field: dict[str, list] = {}
    for exc in errors:
        if hasattr(exc, "error_dict"):
            for name, errs in exc.error_dict.items():
                by_field.setdefault(name, []).extend(errs)
        else:
            by_field.setdefault("__all__", []).extend(exc.error_list)
    return ValidationError(by_field)


@dataclass
class Write(Generic[M]):
    """One write in progress, handed to ``prepare`` and ``effects``."""

    obj: M
    actor: Actor
    action: str
    old: M | None = None  # the row as stored before (update, delete)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def changes(self) -> dict[str, list]:
        return audit.diff(self.before, self.after)

    @property
    def changed(self) -> set[str]:
        return set(self.changes)


Snapshot = Callable[[Any], dict[str, Any]]
Effect = Callable[[Write], Any]
Check = Callable[[Any], Any]


def _snapshot(obj: models.Model, extra: Snapshot | None) -> dict[str, Any]:
    return {**audit.snapshot(obj), **(extra(obj) if extra else {})}


def check_all(checks: Iterable[Callable[..., Any]], *args: Any) -> None:
    """Run every check, even after one refuses, and raise one error carrying all refusals (a form shows
    them all at once, not one per submit)."""
    errors = []
    for check in checks:
        try:
            check(*args)
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise merge(errors)


def _validate(obj: models.Model, checks: Iterable[Check]) -> None:
    """``full_clean`` first (the model's own rules), then every check; all refusals in one error."""
    obj.full_clean()
    check_all(checks, obj)


def lock(obj: M) -> M:
    """The stored row of ``obj``, locked until the transaction ends (``model.DoesNotExist`` if it is gone).

    A multi-table child (an E1 trunk) locks its parent's row too: both hold its fields.
    """
    model = type(obj)
    parents = tuple(link.name for link in model._meta.parents.values() if link is not None)
    return model._default_manager.select_for_update(of=("self", *parents)).get(pk=obj.pk)


def lock_many(queryset: models.QuerySet, pks: Iterable[Any]) -> list:
    """``lock`` for many rows (a bulk change from a list): the stored rows, locked in key order — two bulk
    changes of overlapping rows queue up instead of deadlocking. Rows gone meanwhile are simply not returned."""
    model = queryset.model
    parents = tuple(link.name for link in model._meta.parents.values() if link is not None)
    return list(queryset.select_for_update(of=("self", *parents)).filter(pk__in=sorted(set(pks))).order_by("pk"))


def create(model: type[M], *, actor: Actor, fields: dict[str, Any], message: str = "",
           prepare: Callable[[Write], Any] | None = None, checks: Iterable[Check] = (),
           related: Callable[[M], Any] | None = None, snapshot: Snapshot | None = None,
           effects: Iterable[Effect] = ()) -> M:
    with transaction.atomic():
        obj = model(**fields)
        write = Write(obj=obj, actor=actor, action=ChangeLogEntry.Action.CREATE, message=message)
        if prepare:
            prepare(write)
        _validate(obj, checks)
        obj.save()
        if related:
            related(obj)
        write.after = _snapshot(obj, snapshot)
        audit.record(actor=actor, obj=obj, action=write.action, after=write.after, message=write.message)
        for effect in effects:
            effect(write)
    return obj


def update(obj: M, *, actor: Actor, fields: dict[str, Any], message: str = "",
           prepare: Callable[[Write], Any] | None = None, checks: Iterable[Check] = (),
           related: Callable[[M], Any] | None = None, snapshot: Snapshot | None = None,
           effects: Iterable[Effect] = ()) -> M:
    """Change only the given fields (PATCH semantics) of the locked row; never delete and re-create.

    ``obj`` is brought up to the stored row first (a stale or form-edited copy cannot write back values
    nobody asked to change), and only the columns that differ from the stored row are written.
    """
    model = type(obj)
    with transaction.atomic():
        old = lock(obj)
        before = _snapshot(old, snapshot)
        given = set(fields) | {model._meta.get_field(n).attname for n in fields}
        for f in model._meta.concrete_fields:
            if f.name not in given and f.attname not in given:
                setattr(obj, f.attname, getattr(old, f.attname))
        for name, value in fields.items():
            setattr(obj, name, value)
        write = Write(obj=obj, actor=actor, action=ChangeLogEntry.Action.UPDATE, old=old, before=before,
                      message=message)
        if prepare:
            prepare(write)
        _validate(obj, checks)
        dirty = [f.name for f in model._meta.concrete_fields
                 if not f.primary_key and getattr(obj, f.attname) != getattr(old, f.attname)]
        if dirty:
            dirty += [f.name for f in model._meta.concrete_fields
                      if getattr(f, "auto_now", False) and f.name not in dirty]
            obj.save(update_fields=dirty)
        if related:
            related(obj)
        write.after = _snapshot(obj, snapshot)
        audit.record(actor=actor, obj=obj, action=write.action, before=before, after=write.after,
                     message=write.message)
        for effect in effects:
            effect(write)
    return obj


def delete(obj: models.Model, *, actor: Actor, message: str = "", checks: Iterable[Check] = (),
           related: Callable[[Any], Any] | None = None, snapshot: Snapshot | None = None,
           effects: Iterable[Effect] = ()) -> None:
    """Lock, refuse if a check says so, remove (``related`` first: rows that are not cascaded), log, effects."""
    with transaction.atomic():
        old = lock(obj)
        before = _snapshot(old, snapshot)
        check_all(checks, old)
        if related:
            related(old)
        pk = obj.pk
        obj.delete()
        obj.pk = pk  # keep the id for the log entry and the effects
        write = Write(obj=obj, actor=actor, action=ChangeLogEntry.Action.DELETE, old=old, before=before,
                      message=message)
        audit.record(actor=actor, obj=obj, action=write.action, before=before, after={}, message=message)
        for effect in effects:
            effect(write)


# --- many rows at once (the CSV import) -------------------------------------------------------------------------


def field_errors(model: type[models.Model], values: dict[str, Any]) -> dict[str, ValidationError]:
    """What ``full_clean`` says about each of these fields (their validators, length, blank, choices), without
    building an instance: the bulk path checks 10,000s of rows with the rules a single write uses.

    Relations, uniqueness and the model's ``clean()`` are the caller's (it resolves and counts them for the
    whole file at once). Like ``Model.clean_fields``, an empty value of a field that may be blank is not checked.
    """
    errors = {}
    get_field = model._meta.get_field
    for name, value in values.items():
        f = get_field(name)
        if f.blank and value in f.empty_values:
            continue
        try:
            f.clean(value, None)
        except ValidationError as exc:
            errors[name] = exc
    return errors


def _copy_rows(table: str, columns: list[str], rows: Iterable[tuple]) -> None:
    """Raw multi-row insert: ``COPY`` on PostgreSQL (the fastest way in), ``executemany`` elsewhere."""
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in columns)
    with connection.cursor() as cur, connection.wrap_database_errors:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(f"COPY {qn(table)} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            adapt = connection.ops.adapt_datetimefield_value
            rows = [tuple(adapt(v) if isinstance(v, datetime) else v for v in row) for row in rows]
            if rows:
                cur.executemany(f"INSERT INTO {qn(table)} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})",
                                rows)


def copy_rows(model: type[models.Model], rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Insert plain rows (column → value) into ``model``'s table: for projections of a bulk write
    (Kamailio's ``subscriber``); no validation, no log — their source rows had both."""
    if rows:
        _copy_rows(model._meta.db_table, list(columns), (tuple(r[c] for c in columns) for r in rows))


def _new_ids(model: type[models.Model], count: int) -> list[int] | None:
    """Primary keys for new rows before inserting them (PostgreSQL: one nextval() query)."""
    if connection.vendor != "postgresql" or not count:
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [model._meta.db_table, model._meta.pk.column, count])
        return [r[0] for r in cur.fetchall()]


def _log_rows(entries: Iterable[dict[str, Any]], now) -> Iterable[tuple]:
    for e in entries:
        yield (now, e["user_id"], e["actor"], e["source"], e["action"], e["content_type_id"], e["object_id"],
               e["object_repr"], e["message"], json.dumps(e["changes"]))


_LOG_COLUMNS = ["time", "user_id", "actor", "source", "action", "content_type_id", "object_id", "object_repr",
                "message", "changes"]


class _Row:
    """A row (attname → value) read as attributes, for the model's ``__str__`` (the log's object_repr)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


def bulk_create(model: type[M], rows: list[dict[str, Any]], *, actor: Actor, message: str = "",
                natural_key: str | None = None) -> list[dict[str, Any]]:
    """Insert validated rows (attname → value, every concrete column but the key) and log each as
    ``create`` would; returns the rows with their ``id``. Call inside a transaction.

    Model instances, per-row SQL and ``RETURNING`` would cost 20x more for 10,000 rows, so rows go in as
    ``COPY`` and the log entry is computed from the row itself (``audit.creation_changes``: what
    ``diff({}, snapshot(obj))`` gives, tested equal). ``natural_key`` (a unique column) reads the ids back where
    the database cannot hand them out first (SQLite).
    """
    if not rows:
        return rows
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for r in rows:
                r.setdefault(f.attname, now)
        elif f.attname not in rows[0]:  # a column the caller does not set takes its default, as in model(**)
            for r in rows:
                r.setdefault(f.attname, f.get_default())
    ids = _new_ids(model, len(rows))
    columns = [f.column for f in fields]
    attnames = [f.attname for f in fields]
    if ids is not None:
        for r, pk in zip(rows, ids):
            r["id"] = pk
        _copy_rows(model._meta.db_table, ["id", *columns], ((r["id"], *(r[a] for a in attnames)) for r in rows))
    else:
        _copy_rows(model._meta.db_table, columns, (tuple(r[a] for a in attnames) for r in rows))
        assert natural_key, "bulk_create needs natural_key off PostgreSQL"
        keys = [r[natural_key] for r in rows]
        got: dict[Any, int] = {}
        for i in range(0, len(keys), 500):  # (chunks SQLite accepts)
            got.update(model._default_manager.filter(**{f"{natural_key}__in": keys[i:i + 500]})
                       .values_list(natural_key, "pk"))
        for r in rows:
            r["id"] = got[r[natural_key]]
    ct = ContentType.objects.get_for_model(model)
    secret = tuple(getattr(model, "audit_secret_fields", ()))
    exclude = tuple(getattr(model, "audit_exclude_fields", ()))

    def entries():
        for r in rows:
            yield audit.entry_values(actor=actor, content_type=ct, object_id=r["id"],
                                     object_repr=model.__str__(_Row(r)), action=ChangeLogEntry.Action.CREATE,
                                     changes=audit.creation_changes(model._meta, r, exclude=exclude,
                                                                    extra_secret=secret), message=message)

    _copy_rows(ChangeLogEntry._meta.db_table, _LOG_COLUMNS, _log_rows(entries(), now))
    return rows


def bulk_update(objs: Sequence[M], *, actor: Actor, befores: Sequence[dict[str, Any]], fields: Iterable[str],
                messages: Sequence[str] | None = None, message: str = "") -> None:
    """Save changed instances (``full_clean`` already passed on their values) and log each as ``update``
    would: ``befores`` are their ``audit.snapshot`` before the change. Call inside a transaction."""
    if not objs:
        return
    model = type(objs[0])
    now = timezone.now()
    names = set(fields)
    for f in model._meta.concrete_fields:
        if getattr(f, "auto_now", False):
            names.add(f.name)
            for o in objs:
                setattr(o, f.attname, now)
    model._default_manager.bulk_update(objs, sorted(names), batch_size=500)
    ct = ContentType.objects.get_for_model(model)
    entries = []
    for i, (o, before) in enumerate(zip(objs, befores)):
        msg = messages[i] if messages else message
        changes = audit.diff(before, audit.snapshot(o))
        if changes or msg:
            entries.append(audit.entry_values(actor=actor, content_type=ct, object_id=o.pk, object_repr=str(o),
                                              action=ChangeLogEntry.Action.UPDATE, changes=changes, message=msg))
    _copy_rows(ChangeLogEntry._meta.db_table, _LOG_COLUMNS, _log_rows(entries, now))


def log_updates(model: type[models.Model], changes: Iterable[tuple[models.Model, dict[str, Any]]], *,
                actor: Actor, message: str = "") -> None:
    """Log ``update`` entries whose changes the caller computed (``audit.diff`` of rows kept beside ``model``'s
    objects, e.g. a user's BLF keys set by the CSV import), as ``bulk_update`` logs its own. Inside a transaction."""
    ct = ContentType.objects.get_for_model(model)
    entries = [audit.entry_values(actor=actor, content_type=ct, object_id=o.pk, object_repr=str(o),
                                  action=ChangeLogEntry.Action.UPDATE, changes=c, message=message)
               for o, c in changes if c]
    _copy_rows(ChangeLogEntry._meta.db_table, _LOG_COLUMNS, _log_rows(entries, timezone.now()))


# --- a bulk operation's plan (list pages: "what will change", shown before it is done) ----------------------------


@dataclass
class Planned:
    """One selected object and what a bulk operation would do to it: ``changes`` (field label → (before,
    after)), ``deleted``, or why it is ``refused`` (then the whole operation is)."""

    obj: Any
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    deleted: bool = False
    refused: str = ""


def protected_by(model: type[models.Model], pks: Iterable[Any], *,
                 skip: Iterable[type[models.Model]] = ()) -> dict[Any, list[str]]:
    """Which of these rows other rows still point at with ``on_delete=PROTECT`` (pk → "inbound number
    +34911…", …): one query per protecting relation, however many rows — so a lower app can say why a
    delete would be refused without importing the higher apps that point at it. ``skip``: relations the caller
    reports itself."""
    pks, skip = list(pks), set(skip)
    found: dict[Any, list[str]] = {}
    for rel in model._meta.related_objects:
        if rel.on_delete is not models.PROTECT or not pks or rel.related_model in skip:
            continue
        name = rel.related_model._meta.verbose_name
        for ref in rel.related_model._default_manager.filter(**{f"{rel.field.name}__in": pks}):
            found.setdefault(getattr(ref, rel.field.attname), []).append(f"{name} {ref}")
    return found
