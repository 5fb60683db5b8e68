"""Bulk import and export of SIP users as CSV (``manage.py import_users``, the import page, the benchmark).

The import is all-or-nothing and set-based, so 10,000 lines cost a handful of queries:

1. :func:`parse` reads the file (UTF-8, optional BOM, comma-separated, header line required);
2. :func:`plan` validates every line in memory — sites by slug and their ranges in two queries, existing
   users by extension in one, duplicates in the file with a set — and returns a :class:`Plan` listing
   each line's outcome (create / update / unchanged) or its errors with the line number;
3. :func:`apply` (only for a plan without errors) writes users, Kamailio ``subscriber`` rows and one
   audit entry per created or changed user with ``bulk_create``/``bulk_update`` in ONE transaction,
   then asks the affected sites' Asterisks to reload. Generated secrets come back to the caller, who
   hands them to the operator (a 0600 file for the command, a one-time download in the UI).

Why one audit entry per user (not one summary): each user's history page must show where its current
state came from; ``bulk_create`` makes that one INSERT per batch, so the cost is small.

Re-importing an existing extension updates that user (only the columns present; ``password`` and
``voicemail_pin`` empty = keep), or leaves it "unchanged" when nothing differs. The import never
deletes users. :func:`export` writes the same columns without secrets, so an exported file re-imports
with every line "unchanged".
"""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from types import SimpleNamespace
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TextIO

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from sites.models import Site
from voipadmin import audit
from voipadmin.actors import Actor
from voipadmin.kamailio import hashing
from voipadmin.kamailio.models import Subscriber
from voipadmin.models import ChangeLogEntry

from . import validators
from .actions import request_reload
from .models import SipUser

REQUIRED_COLUMNS = ["extension", "name", "email", "site"]
SECRET_COLUMNS = ["password", "voicemail_pin"]
OPTIONAL_COLUMNS = ["enabled", "voicemail", "voicemail_email", "caller_id", "nat", "codecs"]
ALL_COLUMNS = REQUIRED_COLUMNS + SECRET_COLUMNS + OPTIONAL_COLUMNS
# CSV column -> SipUser field for the plain (non-secret) columns.
FIELD_OF = {"name": "name", "email": "email", "enabled": "enabled", "voicemail": "voicemail_enabled",
            "voicemail_email": "voicemail_email", "caller_id": "caller_id", "nat": "nat", "codecs": "codecs"}
BOOLEAN_COLUMNS = {"enabled", "voicemail", "nat"}
DEFAULTS = {"enabled": True, "voicemail_enabled": True, "nat": False, "caller_id": "", "codecs": "",
            "voicemail_email": ""}
TRUE = {"1", "yes", "y", "true", "t", "on"}
FALSE = {"0", "no", "n", "false", "f", "off"}
MAX_LENGTH = {"name": 80, "email": 80, "voicemail_email": 80, "caller_id": 40, "codecs": 200}
BATCH = 2000
_email = EmailValidator()

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class ImportError_(ValueError):
    """The file cannot be read at all (not CSV, no header, unknown columns)."""


@dataclass
class Line:
    line: int
    extension: int | None
    action: str = ""  # create | update | unchanged | error
    values: dict[str, Any] = field(default_factory=dict)  # SipUser field -> value (columns present only)
    password: str = ""
    pin: str = ""
    site: Site | None = None
    errors: list[str] = field(default_factory=list)
    user: SipUser | None = None  # existing user for update/unchanged
    changed: list[str] = field(default_factory=list)


@dataclass
class Plan:
    lines: list[Line]
    errors: list[tuple[int, str]]  # (line number, reason) — empty means the file can be applied
    columns: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, action: str) -> int:
        return sum(1 for ln in self.lines if ln.action == action)


@dataclass
class Result:
    created: int
    updated: int
    unchanged: int
    secrets: list[dict[str, str]]  # extension, name, site, password, voicemail_pin (only the issued ones)


def parse(source: str | bytes | TextIO) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and ``(line number, row)`` pairs; line numbers count the header as line 1."""
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportError_("The file is not UTF-8 text.") from None
    if isinstance(source, str):
        source = io.StringIO(source.lstrip("\ufeff"))
    reader = csv.reader(source)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ImportError_("The file is empty; expected a header line: " + ",".join(ALL_COLUMNS)) from None
    except csv.Error as exc:
        raise ImportError_(f"Line 1: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in ALL_COLUMNS]
    dup = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or dup:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(missing))
        if unknown:
            parts.append("unknown column(s) " + ", ".join(unknown))
        if dup:
            parts.append("repeated column(s) " + ", ".join(dup))
        raise ImportError_("Line 1 (header): " + "; ".join(parts) + ". Columns: " + ",".join(ALL_COLUMNS))
    rows = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank line
            if len(cells) != len(header):
                rows.append((line, {"__error__": f"has {len(cells)} fields, the header has {len(header)}"}))
                continue
            if any("\x00" in c for c in cells):  # PostgreSQL text cannot hold NUL: say so, don't crash in COPY
                rows.append((line, {"__error__": "contains a NUL character"}))
                continue
            rows.append((line, {k: v.strip() for k, v in zip(header, cells)}))
    except csv.Error as exc:
        raise ImportError_(f"Line {reader.line_num}: {exc}") from None
    return header, rows


def _bool(value: str) -> bool | None:
    v = value.lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise ValueError


def plan(header: list[str], rows: list[tuple[int, dict[str, str]]], *,
         progress: Progress | None = None) -> Plan:
    """Validate every line against the file and the database; nothing is written."""
    sites = {s.slug: s for s in Site.objects.prefetch_related("extension_ranges")}
    ranges = {slug: [(r.start, r.end) for r in s.extension_ranges.all()] for slug, s in sites.items()}
    exts: list[int] = []
    for _, row in rows:
        raw = row.get("extension", "")
        if raw.isascii() and raw.isdigit():  # "²".isdigit() is True but int() refuses it
            exts.append(int(raw))
    # One range query instead of a 10,000-item IN list (cheaper to build, send and plan); filtered here.
    wanted = set(exts)
    existing = {u.extension: u for u in SipUser.objects.filter(extension__gte=min(wanted, default=0),
                                                               extension__lte=max(wanted, default=0))
                .select_related("site") if u.extension in wanted}
    reserved = validators.unavailable_extensions(exts)
    first_seen: dict[int, int] = {}
    lines: list[Line] = []
    total = len(rows)
    for i, (num, row) in enumerate(rows, 1):
        if progress and i % 1000 == 0:
            progress("validate", i, total)
        ln = Line(line=num, extension=None)
        lines.append(ln)
        if "__error__" in row:
            ln.errors.append(row["__error__"])
            continue
        raw_ext = row["extension"]
        if not raw_ext.isdigit() or not raw_ext.isascii() or int(raw_ext) < 1 or len(raw_ext) > 10:
            ln.errors.append(f"extension {raw_ext!r} is not a positive number")
        else:
            ext = ln.extension = int(raw_ext)
            if ext in first_seen:
                ln.errors.append(f"extension {ext} is repeated (first on line {first_seen[ext]})")
            else:
                first_seen[ext] = num
            if ext in reserved:
                ln.errors.append(reserved[ext])
        site = sites.get(row["site"])
        if site is None:
            ln.errors.append(f"unknown site {row['site']!r}" if row["site"] else "site is empty")
        else:
            ln.site = site
            if ln.extension and not any(a <= ln.extension <= b for a, b in ranges[site.slug]):
                ln.errors.append(f"extension {ln.extension} is outside site {site.slug}'s ranges "
                                 f"({', '.join(f'{a}-{b}' for a, b in ranges[site.slug]) or 'none'})")
        values: dict[str, Any] = {}
        for col, fname in FIELD_OF.items():
            if col not in row:
                continue
            value = row[col]
            if col in BOOLEAN_COLUMNS:
                if value == "":
                    continue  # keep (update) / default (create)
                try:
                    values[fname] = _bool(value)
                except ValueError:
                    ln.errors.append(f"{col} {value!r} is not yes/no")
                continue
            if len(value) > MAX_LENGTH[fname]:
                ln.errors.append(f"{col} is longer than {MAX_LENGTH[fname]} characters")
            elif col in ("email", "voicemail_email") and value:
                try:
                    _email(value)
                except ValidationError:
                    ln.errors.append(f"{col} {value!r} is not an email address")
            elif col == "codecs" and validators.codecs_problem(value):
                ln.errors.append(f"codecs {value!r} is not a comma-separated list of codec names")
            values[fname] = value
        if not values.get("name"):
            ln.errors.append("name is empty")
        ln.values = values
        ln.password = row.get("password", "")
        ln.pin = row.get("voicemail_pin", "")
        if ln.password and (problem := validators.password_problem(ln.password)):
            ln.errors.append("password: " + problem.removeprefix("The SIP password ").rstrip("."))
        if ln.pin and (problem := validators.pin_problem(ln.pin, ln.extension)):
            ln.errors.append("voicemail_pin: " + problem.rstrip("."))
        if ln.errors:
            ln.action = "error"
            continue
        user = existing.get(ln.extension)
        if user is None:
            ln.action = "create"
            continue
        ln.user = user
        ln.changed = [f for f, v in values.items() if getattr(user, f) != v]
        if site.pk != user.site_id:
            ln.changed.append("site")
        if ln.pin and ln.pin != user.voicemail_pin:
            ln.changed.append("voicemail_pin")
        if ln.password:
            ln.changed.append("password")
        ln.action = "update" if ln.changed else "unchanged"
    errors = [(ln.line, e) for ln in lines for e in ln.errors]
    return Plan(lines=lines, errors=errors, columns=header)


def _insert_rows(table: str, columns: list[str], rows: list[tuple]) -> None:
    """Raw multi-row insert: ``COPY`` on PostgreSQL (the fastest way in), ``executemany`` elsewhere."""
    if not rows:
        return
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
            cur.executemany(f"INSERT INTO {qn(table)} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})", rows)


def _new_ids(count: int, extensions: list[int]) -> list[int] | None:
    """Primary keys for the new users before inserting them (PostgreSQL: one nextval() query)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [SipUser._meta.db_table, count])
        return [r[0] for r in cur.fetchall()]


def apply(the_plan: Plan, *, actor: Actor, message: str = "CSV import",
          progress: Progress | None = None) -> Result:
    """Write a valid plan in one transaction; returns counts and the secrets generated for the operator.

    New users, their subscriber rows and their audit entries go in as raw rows (``COPY`` on PostgreSQL):
    model instances, per-row SQL and ``RETURNING`` would cost 20x more for 10,000 users. The audit
    entries carry exactly what ``audit.record`` would write (tests compare them).
    """
    if not the_plan.ok:
        raise ValidationError(f"The file has {len(the_plan.errors)} error(s); nothing was imported.")
    ct = ContentType.objects.get_for_model(SipUser)
    now = timezone.now()
    actor_user_id = actor.user.pk if getattr(actor.user, "pk", None) else None
    secrets_out: list[dict[str, str]] = []
    creates = [ln for ln in the_plan.lines if ln.action == "create"]
    updates = [ln for ln in the_plan.lines if ln.action == "update"]
    total = len(creates) + len(updates)
    fields = [f for f in SipUser._meta.concrete_fields if not f.primary_key]
    entries: list[ChangeLogEntry] = []

    # --- new users as plain rows (attname -> value) ---------------------------------------------------------
    new_rows: list[dict[str, Any]] = []
    for ln in creates:
        site = ln.site
        values = {**DEFAULTS, **ln.values}
        password = ln.password or validators.generate_password()
        pin = ln.pin
        if values["voicemail_enabled"] and not pin:
            pin = validators.generate_pin(ln.extension)
        username = str(ln.extension)
        row = {"extension": ln.extension, "name": values["name"], "email": values.get("email", ""),
               "site_id": site.pk, "enabled": values["enabled"], "caller_id": values["caller_id"],
               "nat": values["nat"], "codecs": values["codecs"],
               "ha1": hashing.ha1(username, site.sip_domain, password),
               "ha1b": hashing.ha1b(username, site.sip_domain, password),
               "voicemail_enabled": values["voicemail_enabled"], "voicemail_pin": pin,
               "voicemail_email": values["voicemail_email"], "created": now, "updated": now,
               "_domain": site.sip_domain}
        new_rows.append(row)
        issued = {"password": "" if ln.password else password, "voicemail_pin": "" if ln.pin else pin}
        if issued["password"] or issued["voicemail_pin"]:
            secrets_out.append({"extension": username, "name": row["name"], "site": site.slug,
                                "sip_domain": site.sip_domain, **issued})
    if progress and creates:
        progress("prepare", len(creates), total)

    # --- changed users: model instances and bulk_update (usually few) ---------------------------------------
    changed_users: list[SipUser] = []
    old_keys: list[tuple[str, str]] = []
    update_fields: set[str] = set()
    befores: list[dict] = []
    old_site_ids: set[int] = set()
    for ln in updates:
        user = ln.user
        befores.append(audit.snapshot(user))
        old_site_ids.add(user.site_id)
        old_keys.append((user.username, user.site.sip_domain))
        for fname, value in ln.values.items():
            setattr(user, fname, value)
        if user.site_id != ln.site.pk:
            user.site = ln.site
        issued: dict[str, str] = {"password": "", "voicemail_pin": ""}
        if ln.pin:
            user.voicemail_pin = ln.pin
        elif user.voicemail_enabled and not user.voicemail_pin:
            user.voicemail_pin = issued["voicemail_pin"] = validators.generate_pin(user.extension)
        password = ln.password
        if not password and (user.username, user.site.sip_domain) != old_keys[-1]:
            password = issued["password"] = validators.generate_password()  # new realm: new hashes needed
        if password:
            user.ha1 = hashing.ha1(user.username, user.site.sip_domain, password)
            user.ha1b = hashing.ha1b(user.username, user.site.sip_domain, password)
        if issued["password"] or issued["voicemail_pin"]:
            secrets_out.append({"extension": user.username, "name": user.name, "site": user.site.slug,
                                "sip_domain": user.site.sip_domain, **issued})
        user.updated = now
        update_fields.update(ln.values, {"site", "voicemail_pin", "ha1", "ha1b", "updated"})
        changed_users.append(user)

    try:
        with transaction.atomic():
            if new_rows:
                ids = _new_ids(len(new_rows), [r["extension"] for r in new_rows])
                columns = [f.column for f in fields]
                if ids is not None:
                    for row, pk in zip(new_rows, ids):
                        row["id"] = pk
                    columns = ["id", *columns]
                _insert_rows(SipUser._meta.db_table, columns,
                             [tuple(r[c] for c in columns) for r in new_rows])
                if ids is None:  # read the ids back, in chunks SQLite accepts
                    exts = [r["extension"] for r in new_rows]
                    got: dict[int, int] = {}
                    for i in range(0, len(exts), 500):
                        got.update(SipUser.objects.filter(extension__in=exts[i:i + 500])
                                   .values_list("extension", "id"))
                    for row in new_rows:
                        row["id"] = got[row["extension"]]
                if progress:
                    progress("write", len(new_rows), total)
                _insert_rows(Subscriber._meta.db_table, ["username", "domain", "password", "ha1", "ha1b"],
                             [(str(r["extension"]), r["_domain"], "", r["ha1"], r["ha1b"])
                              for r in new_rows if r["enabled"]])
                log_columns = ["time", "user_id", "actor", "source", "action", "content_type_id", "object_id",
                               "object_repr", "message", "changes"]
                log_rows = []
                for r in new_rows:
                    # the same snapshot/diff audit.record uses, so the log reads the same however a user came
                    # (a stand-in carrying the model's _meta: 10,000 model __init__ calls cost more than the rest)
                    shadow = SimpleNamespace(_meta=SipUser._meta, audit_secret_fields=SipUser.audit_secret_fields,
                                             **{k: v for k, v in r.items() if not k.startswith("_")})
                    changes = audit.diff({}, audit.snapshot(shadow))
                    log_rows.append((now, actor_user_id, actor.label[:150], actor.source,
                                     ChangeLogEntry.Action.CREATE.value, ct.pk, str(r["id"]),
                                     f"{r['extension']} {r['name']}"[:200], message[:200], json.dumps(changes)))
                _insert_rows(ChangeLogEntry._meta.db_table, log_columns, log_rows)
            if changed_users:
                SipUser.objects.bulk_update(changed_users, sorted(update_fields), batch_size=500)
                by_domain: dict[str, list[str]] = {}
                for username, domain in old_keys + [(u.username, u.site.sip_domain) for u in changed_users]:
                    by_domain.setdefault(domain, []).append(username)
                for domain, usernames in by_domain.items():
                    Subscriber.objects.filter(domain=domain, username__in=usernames).delete()
                Subscriber.objects.bulk_create(
                    [Subscriber(username=u.username, domain=u.site.sip_domain, password="", ha1=u.ha1,
                                ha1b=u.ha1b) for u in changed_users if u.enabled], batch_size=BATCH)
                for u, before, ln in zip(changed_users, befores, updates):
                    msg = message + ("; SIP password reset" if "password" in ln.changed else "")
                    entries.append(ChangeLogEntry(
                        user_id=actor_user_id, actor=actor.label[:150], source=actor.source,
                        action=ChangeLogEntry.Action.UPDATE, content_type=ct, object_id=str(u.pk),
                        object_repr=str(u)[:200], message=msg[:200],
                        changes=audit.diff(before, audit.snapshot(u)), time=now))
                ChangeLogEntry.objects.bulk_create(entries, batch_size=BATCH)
                if progress:
                    progress("write", total, total)
            site_ids = {r["site_id"] for r in new_rows} | {u.site_id for u in changed_users} | old_site_ids
            request_reload(site_ids, voicemail=True, reason=f"{message}: {len(new_rows)} created, "
                                                             f"{len(changed_users)} updated")
    except IntegrityError as exc:  # a concurrent change took an extension between plan and apply
        raise ValidationError(f"Nothing was imported: the database refused the import ({exc}). "
                              "Run the import again.") from None
    return Result(created=len(new_rows), updated=len(changed_users), unchanged=the_plan.count("unchanged"),
                  secrets=secrets_out)


def import_csv(source: str | bytes | TextIO, *, actor: Actor, dry_run: bool = False,
               progress: Progress | None = None, message: str = "CSV import") -> tuple[Plan, Result | None]:
    """Parse, validate and (unless ``dry_run`` or invalid) apply: the path the command and the UI share."""
    header, rows = parse(source)
    the_plan = plan(header, rows, progress=progress)
    if dry_run or not the_plan.ok:
        return the_plan, None
    return the_plan, apply(the_plan, actor=actor, message=message, progress=progress)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def export(users: Iterable[SipUser], out: TextIO) -> int:
    """Write users as CSV (every column, secrets empty); re-importing the file changes nothing."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ALL_COLUMNS)
    n = 0
    for u in users:
        writer.writerow([u.extension, u.name, u.email, u.site.slug, "", "", _yes(u.enabled),
                         _yes(u.voicemail_enabled), u.voicemail_email, u.caller_id, _yes(u.nat), u.codecs])
        n += 1
    return n


def write_secrets(rows: list[dict[str, str]], out: TextIO) -> None:
    writer = csv.DictWriter(out, ["extension", "name", "site", "sip_domain", "password", "voicemail_pin"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
