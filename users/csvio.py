"""Bulk import and export of SIP users as CSV (``manage.py import_users``/``export_users``, the import page, the
Celery task behind it for big files, the benchmark).

The import is all-or-nothing, streamed and set-based:

1. :func:`read` takes the header (every column known, the required ones present) and then yields
   ``(line number, row)`` one line at a time, each cell through ``csvsafe.uncell`` (an exported file
   re-imports exactly);
2. :class:`Checker` validates the lines ``BATCH`` at a time — sites and their ranges once, existing users
   and reserved extensions in one query each per batch, duplicates in the file with one set — with the rules
   a single write uses: the model's own field validation (``crud.field_errors``) and the users validators;
3. :func:`run` hands the valid batches to ``users.actions.import_users``, the one bulk write path (users,
   Kamailio ``subscriber`` rows, one audit entry per user, hooks), in ONE transaction. A line in error stops
   the writing but not the checking, and at the end of the file the transaction is rolled back: every error
   is reported, with its line number, and nothing is written.

Memory stays that of one batch whatever the size of the file: the caller sees each error (``on_error``) and
each generated secret (``on_secret``) as it comes and writes them where they belong (a sealed file, a 0600
file, stderr); the :class:`Report` keeps counts and the first ``PREVIEW`` lines and errors for the page.

Re-importing an existing extension updates that user (only the columns present; ``password`` and
``voicemail_pin`` empty = keep), or leaves it "unchanged" when nothing differs. The import never deletes
users. :func:`export` writes the same columns without secrets, every cell through ``voipadmin.csvsafe``.

The optional ``blf`` column is the user's BLF keys in button order, ``4003;4004:Reception`` (``;`` between keys,
``:`` before an optional label; empty = no keys; column absent = keys kept). Each key must be an extension of the
estate — in the database or anywhere in the file (a key may name a user created further down; those are settled
at the end of the file) — not the line's own, at most once. The keys are written after every user of the file,
one log entry per user whose keys changed (``actions._import_keys``).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, BinaryIO, Callable, Iterable, Iterator, TextIO

from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext

from sites.models import Site
from voipadmin import crud, csvsafe, scope
from voipadmin.actors import Actor

from . import actions, blf, validators
from .models import MonitoredExtension, SipUser

REQUIRED_COLUMNS = ["extension", "name", "email", "site"]
SECRET_COLUMNS = ["password", "voicemail_pin"]
OPTIONAL_COLUMNS = ["enabled", "voicemail", "voicemail_email", "caller_id", "nat", "codecs", "blf"]
ALL_COLUMNS = REQUIRED_COLUMNS + SECRET_COLUMNS + OPTIONAL_COLUMNS
# CSV column -> SipUser field for the plain (non-secret) columns.
FIELD_OF = {"name": "name", "email": "email", "enabled": "enabled", "voicemail": "voicemail_enabled",
            "voicemail_email": "voicemail_email", "caller_id": "caller_id", "nat": "nat", "codecs": "codecs"}
COLUMN_OF = {**{f: c for c, f in FIELD_OF.items()}, "extension": "extension", "voicemail_pin": "voicemail_pin"}
BOOLEAN_COLUMNS = {"enabled", "voicemail", "nat"}
TRUE = {"1", "yes", "y", "true", "t", "on"}
FALSE = {"0", "no", "n", "false", "f", "off"}
SECRETS_COLUMNS = ["extension", "name", "site", "sip_domain", "password", "voicemail_pin"]
ERRORS_COLUMNS = ["line", "error"]
BATCH = 5000  # lines validated and written together: memory is one batch's
PREVIEW = 500  # lines and errors the report keeps for the page (every error goes to on_error)
PROGRESS_EVERY = 1000

Progress = Callable[[str, int, "int | None"], None]  # (stage, lines done, lines in the file if known)


class ImportError_(ValueError):
    """The file cannot be read at all (not CSV, not UTF-8, no header, unknown columns)."""


class Refused(Exception):
    """Some line is wrong: raised at the end of the file, inside the import's transaction, to roll it back."""


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
    keys: list[blf.Key] | None = None  # the ``blf`` cell (None: no such column)


@dataclass
class Report:
    """What an import (or its dry run) found and did; small whatever the size of the file."""

    columns: list[str]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("create", "update", "unchanged",
                                                                          "error"), 0))
    lines: int = 0  # data lines read
    preview: list[Line] = field(default_factory=list)  # the first PREVIEW lines
    errors: list[tuple[int, str]] = field(default_factory=list)  # the first PREVIEW errors (line, reason)
    error_count: int = 0
    imported: bool = False
    created: int = 0
    updated: int = 0
    issued: int = 0  # users with a generated password or PIN

    @property
    def ok(self) -> bool:
        return not self.error_count

    @property
    def unchanged(self) -> int:
        return self.counts["unchanged"]

    def count(self, action: str) -> int:
        return self.counts[action]


@dataclass
class Result:
    """``import_csv``'s answer for a file held in memory: the counts and every generated secret."""

    created: int
    updated: int
    unchanged: int
    secrets: list[dict[str, str]]


# --- reading ------------------------------------------------------------------------------------------------------


def text_stream(source: str | bytes | BinaryIO | TextIO) -> TextIO:
    """The CSV as text, read as it is consumed (UTF-8, a BOM is fine; the csv module wants newline='')."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    if isinstance(source, str):
        return io.StringIO(source.removeprefix("\ufeff"), newline="")
    if isinstance(source, io.TextIOBase):
        return source
    if isinstance(source, io.RawIOBase):
        source = io.BufferedReader(source)
    return io.TextIOWrapper(source, encoding="utf-8-sig", newline="")


def read(source: str | bytes | BinaryIO | TextIO) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header, and ``(line number, row)`` pairs read lazily; line numbers count the header as line 1.

    A row that cannot be taken apart comes as ``{"__error__": reason}`` (the checker reports it on its line).
    """
    text = text_stream(source)
    reader = csv.reader(text)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ImportError_(gettext("The file is empty; expected a header line: %(columns)s")
                           % {"columns": ",".join(ALL_COLUMNS)}) from None
    except UnicodeDecodeError:
        raise ImportError_(gettext("The file is not UTF-8 text.")) from None
    except csv.Error as exc:
        raise ImportError_(gettext("Line %(line)d: %(error)s") % {"line": 1, "error": exc}) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in ALL_COLUMNS]
    dup = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or dup:
        parts = []
        if missing:
            parts.append(gettext("missing column(s) %(columns)s") % {"columns": ", ".join(missing)})
        if unknown:
            parts.append(gettext("unknown column(s) %(columns)s") % {"columns": ", ".join(unknown)})
        if dup:
            parts.append(gettext("repeated column(s) %(columns)s") % {"columns": ", ".join(dup)})
        raise ImportError_(gettext("Line 1 (header): %(problems)s. Columns: %(columns)s")
                           % {"problems": "; ".join(parts), "columns": ",".join(ALL_COLUMNS)})
    wrapper = text if text is not source and isinstance(text, io.TextIOWrapper) else None
    return header, _rows(reader, header, wrapper)


def _rows(reader, header: list[str], wrapper: io.TextIOWrapper | None) -> Iterator[tuple[int, dict[str, str]]]:
    uncell = csvsafe.uncell
    width = len(header)
    try:
        for cells in reader:
            line = reader.line_num
            if len(cells) != width:
                if not any(c.strip() for c in cells):
                    continue  # blank line
                yield line, {"__error__": gettext("has %(cells)d fields, the header has %(width)d")
                             % {"cells": len(cells), "width": width}}
                continue
            if any("\x00" in c for c in cells):  # PostgreSQL text cannot hold NUL: say so, don't crash in COPY
                yield line, {"__error__": gettext("contains a NUL character")}
                continue
            row = {k: uncell(v.strip()) for k, v in zip(header, cells)}
            if not any(row.values()):
                continue  # a line of empty cells
            yield line, row
    except UnicodeDecodeError:
        raise ImportError_(gettext("Line %(line)d: the file is not UTF-8 text.") % {"line": reader.line_num + 1}) \
            from None
    except csv.Error as exc:
        raise ImportError_(gettext("Line %(line)d: %(error)s") % {"line": reader.line_num, "error": exc}) from None
    finally:
        if wrapper is not None:  # the caller's stream is the caller's to close (not the wrapper's, when freed)
            try:
                wrapper.detach()
            except ValueError:
                pass


def _bool(value: str) -> bool:
    v = value.lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise ValueError


def _extension(raw: str) -> int | None:
    """``raw`` as an extension number, or None ("²".isdigit() is True but int() refuses it)."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) >= 1:
        return int(raw)
    return None


# --- checking -----------------------------------------------------------------------------------------------------


class Checker:
    """Validates lines batch by batch and turns valid batches into ``actions.Batch``es.

    Holds what spans the whole file — the sites, the extensions seen (duplicates), the report — and nothing
    per line beyond the current batch.
    """

    def __init__(self, report: Report, *, on_error: Callable[[int, str], Any] | None = None,
                 progress: Progress | None = None, total: int | None = None, stage: str = "validate",
                 site_ids: frozenset[int] | None = None) -> None:
        self.report = report
        self.on_error = on_error
        self.progress = progress
        self.total = total
        self.stage = stage
        # A site-limited account's file may name only its own sites (voipadmin.scope); another site reads as
        # unknown, exactly as on its pages, where other sites do not exist.
        sites = Site.objects.prefetch_related("extension_ranges")
        self.sites = {s.slug: s for s in (sites.filter(pk__in=site_ids) if site_ids is not None else sites)}
        self.site_ids = site_ids
        self.ranges = {slug: [(r.start, r.end) for r in s.extension_ranges.all()] for slug, s in self.sites.items()}
        self.first_seen: dict[int, int] = {}
        # lines whose keys name an extension neither in the database nor earlier in the file: it may come further
        # down (a receptionist listed before the people it watches); settled at the end of the file
        self.pending: list[tuple[Line, set[int]]] = []

    def batches(self, rows: Iterable[tuple[int, dict[str, str]]], *, lock: bool) -> Iterator[actions.Batch]:
        """Valid batches, to write; after the last line, ``Refused`` if any line anywhere was wrong.

        ``lock``: the users a batch updates are read ``FOR UPDATE`` (call inside the import's transaction).
        """
        rows = iter(rows)
        while chunk := list(islice(rows, BATCH)):
            lines = self.check(chunk, lock=lock)
            if self.report.ok:
                yield _batch(lines)
        self._settle_pending()
        if not self.report.ok:
            raise Refused
        if self.progress:
            self.progress(self.stage, self.report.lines, self.total)

    def check(self, chunk: list[tuple[int, dict[str, str]]], *, lock: bool = False) -> list[Line]:
        wanted = {ext for _, row in chunk if (ext := _extension(row.get("extension", ""))) is not None}
        existing = _existing(wanted, lock=lock)
        reserved = validators.unavailable_extensions(wanted) if wanted else {}
        keys = self._keys(chunk, existing)
        report = self.report
        lines = []
        for num, row in chunk:
            ln = self._line(num, row, existing, reserved, keys)
            lines.append(ln)
            report.lines += 1
            report.counts[ln.action] += 1
            if len(report.preview) < PREVIEW:
                report.preview.append(ln)
            for reason in ln.errors:
                self._error(num, reason)
            if self.progress and report.lines % PROGRESS_EVERY == 0:
                self.progress(self.stage, report.lines, self.total)
        return lines

    def _error(self, num: int, reason: str) -> None:
        report = self.report
        report.error_count += 1
        if len(report.errors) < PREVIEW:
            report.errors.append((num, reason))
        if self.on_error:
            self.on_error(num, reason)

    def _keys(self, chunk: list[tuple[int, dict[str, str]]], existing: dict[int, SipUser]) -> "_BatchKeys | None":
        """The batch's ``blf`` cells parsed, the extensions they name that exist (one query) and the keys the
        batch's existing users have now (one query); None when the file has no ``blf`` column."""
        if "blf" not in self.report.columns:
            return None
        parsed = {num: blf.parse_cell(row["blf"]) for num, row in chunk if "__error__" not in row}
        named = {ext for keys, _ in parsed.values() for ext, _ in keys}
        stored: dict[int, list[blf.Key]] = {}
        if existing:
            for user_id, ext, label in (MonitoredExtension.objects.filter(user_id__in=[u.pk for u in existing.values()])
                                        .order_by("user_id", "position")
                                        .values_list("user_id", "monitored__extension", "label")):
                stored.setdefault(user_id, []).append((ext, label))
        return _BatchKeys(parsed=parsed, known=blf.existing(named), stored=stored)

    def _check_keys(self, ln: Line, keys: "_BatchKeys") -> None:
        """The line's ``blf`` cell, with the rule every write applies (``blf.problems``); an extension not known
        yet may be created further down the file (``pending``)."""
        parsed, errors = keys.parsed[ln.line]
        ln.errors.extend(f"blf: {e}" for e in errors)
        if errors:
            return
        later = {ext for ext, _ in parsed if ext not in keys.known and ext not in self.first_seen}
        known = _Known(keys.known, self.first_seen, later)
        for index, problem in blf.problems(parsed, own_extension=ln.extension, known=known):
            ln.errors.append("blf: " + (gettext("key %(key)d: %(problem)s") % {"key": index + 1, "problem": problem}
                                        if index >= 0 else problem))
        ln.keys = parsed
        if later:
            self.pending.append((ln, later))

    def _settle_pending(self) -> None:
        """Keys naming an extension that never came: errors on their lines (the file is refused)."""
        for ln, later in self.pending:
            if ln.action == "error":
                continue
            missing = [(i, ext) for i, (ext, _) in enumerate(ln.keys or []) if ext in later and ext not in self.first_seen]
            if not missing:
                continue
            self.report.counts[ln.action] -= 1
            self.report.counts["error"] += 1
            ln.action = "error"
            for i, ext in missing:
                reason = "blf: " + gettext("key %(key)d: %(problem)s") % {
                    "key": i + 1, "problem": gettext("%(extension)d is not an extension of the estate")
                    % {"extension": ext}}
                ln.errors.append(reason)
                self._error(ln.line, reason)
        self.pending = []

    def _line(self, num: int, row: dict[str, str], existing: dict[int, SipUser], reserved: dict[int, str],
              keys: "_BatchKeys | None" = None) -> Line:
        ln = Line(line=num, extension=None)
        if "__error__" in row:
            ln.errors.append(row["__error__"])
            ln.action = "error"
            return ln
        raw_ext = row["extension"]
        ext = _extension(raw_ext)
        if ext is None:
            ln.errors.append(gettext("extension %(value)s is not a positive number") % {"value": repr(raw_ext)})
        else:
            ln.extension = ext
            if ext in self.first_seen:
                ln.errors.append(gettext("extension %(extension)d is repeated (first on line %(line)d)")
                                 % {"extension": ext, "line": self.first_seen[ext]})
            else:
                self.first_seen[ext] = num
            if ext in reserved:
                ln.errors.append(reserved[ext])
        site = self.sites.get(row["site"])
        if site is None:
            ln.errors.append(gettext("unknown site %(site)s") % {"site": repr(row["site"])} if row["site"]
                             else gettext("site is empty"))
        else:
            ln.site = site
            if ext is not None and not any(a <= ext <= b for a, b in self.ranges[site.slug]):
                ranges = ", ".join(f"{a}-{b}" for a, b in self.ranges[site.slug]) or gettext("none")
                ln.errors.append(gettext("extension %(extension)d is outside site %(site)s's ranges (%(ranges)s)")
                                 % {"extension": ext, "site": site.slug, "ranges": ranges})
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
                    ln.errors.append(gettext("%(column)s %(value)s is not yes/no") % {"column": col,
                                                                                       "value": repr(value)})
                continue
            values[fname] = value
        ln.values = values
        ln.password = row.get("password", "")
        ln.pin = row.get("voicemail_pin", "")
        # the model's own rules, as full_clean applies them to a single write (lengths, emails, grammar, codecs)
        checked = {name: v for name, v in values.items() if name not in ("enabled", "voicemail_enabled", "nat")}
        if ext is not None:
            checked["extension"] = ext
        if ln.pin:
            checked["voicemail_pin"] = ln.pin
        refused = crud.field_errors(SipUser, checked)
        for name, exc in refused.items():
            ln.errors.extend(f"{COLUMN_OF[name]}: {message}" for message in exc.messages)
        # then the secrets' policies, as users.actions applies them
        if ln.password and (problem := validators.password_problem(ln.password)):
            ln.errors.append("password: " + problem.removeprefix("The SIP password ").rstrip("."))
        if ln.pin and "voicemail_pin" not in refused and (problem := validators.pin_problem(ln.pin, ext)):
            ln.errors.append("voicemail_pin: " + problem.rstrip("."))
        if keys is not None:
            self._check_keys(ln, keys)
        if ln.errors:
            ln.action = "error"
            return ln
        user = existing.get(ext)
        if user is None:
            ln.action = "create"
            return ln
        if self.site_ids is not None and user.site_id not in self.site_ids:
            ln.errors.append(gettext("extension %(extension)d belongs to a user of a site you do not manage")
                             % {"extension": ext})
            ln.action = "error"
            return ln
        ln.user = user
        ln.changed = [f for f, v in values.items() if getattr(user, f) != v]
        if site.pk != user.site_id:
            ln.changed.append("site")
        if ln.pin and ln.pin != user.voicemail_pin:
            ln.changed.append("voicemail_pin")
        if ln.password:
            ln.changed.append("password")
        if keys is not None and ln.keys != keys.stored.get(user.pk, []):
            ln.changed.append("monitored_extensions")
        ln.action = "update" if ln.changed else "unchanged"
        return ln


@dataclass
class _BatchKeys:
    parsed: dict[int, tuple[list[blf.Key], list[str]]]  # line → (keys, errors)
    known: set[int]  # extensions named in the batch's cells that exist in the database
    stored: dict[int, list[blf.Key]]  # existing user id → its keys now


class _Known:
    """"Is this an extension of the estate?" for ``blf.problems``: in the database, earlier in the file, or (to be
    settled at the end) later in it — without copying the file's extensions for every line."""

    def __init__(self, *sets) -> None:
        self.sets = sets

    def __contains__(self, ext: int) -> bool:
        return any(ext in s for s in self.sets)


def _existing(extensions: set[int], *, lock: bool) -> dict[int, SipUser]:
    """The users holding these extensions, by extension; ``lock``: exactly those rows, ``FOR UPDATE``."""
    if not extensions:
        return {}
    found = {u.pk: u for u in _having_extensions(extensions).select_related("site") if u.extension in extensions}
    if lock and found:
        found = {u.pk: u for u in SipUser.objects.filter(pk__in=found).select_related("site")
                 .select_for_update(of=("self",))}
    return {u.extension: u for u in found.values()}


def _having_extensions(extensions: set[int]):
    """Users with one of these extensions (the caller keeps those it asked for).

    A batch of a file in extension order covers a short range: one index range scan is the cheapest query
    (a list of thousands of values costs more to send and plan than the scan takes). Otherwise, on PostgreSQL, one
    array parameter (``= ANY``) rather than thousands of IN placeholders.
    """
    low, high = min(extensions), max(extensions)
    if high - low < 4 * len(extensions):
        return SipUser.objects.filter(extension__gte=low, extension__lte=high)
    if connection.vendor != "postgresql":
        return SipUser.objects.filter(extension__in=extensions)
    hit = RawSQL(f"{connection.ops.quote_name(SipUser._meta.db_table)}.extension = ANY(%s)", (sorted(extensions),),
                 output_field=BooleanField())
    return SipUser.objects.alias(wanted=hit).filter(wanted=True)


def _batch(lines: list[Line]) -> actions.Batch:
    batch = actions.Batch()
    for ln in lines:
        if ln.action == "create":
            fields = {**ln.values, "extension": ln.extension, "site": ln.site}
            if ln.pin:
                fields["voicemail_pin"] = ln.pin
            batch.creates.append(actions.NewUser(fields=fields, password=ln.password or None))
            if ln.keys:
                batch.keys[ln.extension] = ln.keys
        elif ln.action == "update":
            if "monitored_extensions" in ln.changed:
                batch.keys[ln.extension] = ln.keys
                if ln.changed == ["monitored_extensions"]:
                    batch.keys_only += 1
                    continue  # the user's row stays as it is
            fields = {name: value for name, value in ln.values.items() if name in ln.changed}
            if "site" in ln.changed:
                fields["site"] = ln.site
            if ln.pin:
                fields["voicemail_pin"] = ln.pin
            batch.updates.append(actions.UserChange(user=ln.user, fields=fields, password=ln.password or None))
    return batch


# --- the import ---------------------------------------------------------------------------------------------------


def run(source: str | bytes | BinaryIO | TextIO, *, actor: Actor, dry_run: bool = False,
        message: str = "CSV import", on_error: Callable[[int, str], Any] | None = None,
        on_secret: Callable[[dict[str, str]], Any] | None = None, progress: Progress | None = None,
        total: int | None = None) -> Report:
    """Check (and unless ``dry_run``, import) a CSV read as a stream; the one path of the command, the page
    and the task. Raises ``ImportError_`` for an unreadable file and ``ValidationError`` when the database
    refused the write (a concurrent change); a file with wrong lines comes back as a report with errors and
    nothing written. ``total``: the number of lines, if known, for ``progress``."""
    header, rows = read(source)
    report = Report(columns=header)
    checker = Checker(report, on_error=on_error, progress=progress, total=total,
                      stage="validate" if dry_run else "import",
                      site_ids=scope.site_scope(actor.user) if actor.user is not None else None)
    try:
        if dry_run:
            for _ in checker.batches(rows, lock=False):
                pass
            return report
        result = actions.import_users(checker.batches(rows, lock=True), actor=actor, message=message,
                                      secrets=on_secret)
    except Refused:
        return report
    report.imported = True
    report.created, report.updated, report.issued = result.created, result.updated, result.issued
    return report


def import_csv(source: str | bytes | BinaryIO | TextIO, *, actor: Actor, dry_run: bool = False,
               progress: Progress | None = None, message: str = "CSV import") -> tuple[Report, Result | None]:
    """``run`` for a file at hand, keeping every error and generated secret in memory (tests, small files)."""
    secrets: list[dict[str, str]] = []
    report = run(source, actor=actor, dry_run=dry_run, message=message, on_secret=secrets.append,
                 progress=progress)
    if not report.imported:
        return report, None
    return report, Result(created=report.created, updated=report.updated, unchanged=report.unchanged,
                          secrets=secrets)


# --- writing ------------------------------------------------------------------------------------------------------


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def export(users: Iterable[SipUser], out: TextIO) -> int:
    """Write users as CSV (every column, secrets empty, every cell through ``csvsafe``); re-importing the file
    changes nothing. ``blf``: the keys as stored (``4003;4004:Reception``; an empty label stays empty, so it
    keeps following the monitored user's name) — give ``users`` with ``blf.keys_prefetch()``."""
    writer = csvsafe.Writer(out, lineterminator="\n")
    writer.writerow(ALL_COLUMNS)
    n = 0
    for u in users:
        keys = blf.format_cell((k.monitored.extension, k.label) for k in u.monitored_extensions.all())
        writer.writerow([u.extension, u.name, u.email, u.site.slug, "", "", _yes(u.enabled),
                         _yes(u.voicemail_enabled), u.voicemail_email, u.caller_id, _yes(u.nat), u.codecs, keys])
        n += 1
    return n


def secrets_writer(out: TextIO) -> csvsafe.DictWriter:
    """The generated passwords and PINs of an import, for the operator (header written)."""
    writer = csvsafe.DictWriter(out, SECRETS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    return writer


def write_secrets(rows: Iterable[dict[str, str]], out: TextIO) -> None:
    secrets_writer(out).writerows(rows)


def errors_writer(out: TextIO) -> csvsafe.Writer:
    """Every error of a refused file, ``line,error`` (header written)."""
    writer = csvsafe.Writer(out, lineterminator="\n")
    writer.writerow(ERRORS_COLUMNS)
    return writer
