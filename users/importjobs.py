"""A CSV import started from the portal, as a job: its files, its status, and running it.

A job is a random token known only to the session that uploaded the file. Everything it keeps on the portal's
side is a ``voipadmin.sealed`` file under ``VAR_DIR/user-imports/`` — encrypted at rest, expiring after
``IMPORT_FILES_MINUTES``, removed on logout (``forget_session``) and by the periodic ``purge``:

* ``<token>-upload``  the uploaded CSV, between the preview and the confirmation;
* ``<token>-status``  progress and outcome (counts, the first lines and errors for the page);
* ``<token>-secrets`` the generated SIP passwords and PINs, taken by their one download;
* ``<token>-errors``  every error of a refused file, ``line,error``, taken by its one download.

``start`` runs the job in the request when the file is small (``SYNC_LINES``) and as the Celery task
``users.tasks.run_import`` otherwise; both run ``run`` below, which reads the sealed upload as a stream and
calls ``csvio.run`` — the command's path too.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.utils import translation
from django.utils.translation import gettext

from voipadmin import sealed
from voipadmin.actors import Actor

from . import csvio

log = logging.getLogger(__name__)

AREA = "user-imports"
UPLOAD, STATUS, SECRETS, ERRORS = "upload", "status", "secrets", "errors"
KINDS = (UPLOAD, STATUS, SECRETS, ERRORS)
SYNC_LINES = 5000  # up to this many lines the page waits for the answer (about a second); beyond, a task runs it
SESSION_JOBS = "users:import-jobs"  # every job token a session started (removed at logout)
STATUS_EVERY = 0.5  # seconds between two progress writes


def _name(token: str, kind: str) -> str:
    return f"{token}-{kind}"


def valid(token: Any) -> bool:
    return isinstance(token, str) and sealed.valid(_name(token, STATUS))


# --- files ----------------------------------------------------------------------------------------------------------


class SealedUpload(UploadedFile):
    """An upload ``SealedUploadHandler`` has sealed: the job's token and the file's data lines, no content."""

    def __init__(self, *, token: str | None, name: str, size: int, lines: int, content_type: str | None) -> None:
        super().__init__(file=None, name=name, content_type=content_type, size=size)
        self.token, self.lines = token, lines

    @property
    def too_big(self) -> bool:
        return self.token is None


class SealedUploadHandler(FileUploadHandler):
    """Seals the import's upload as it arrives (set on the request before it is read): no clear byte of it
    ever touches the disk — Django's own handlers would keep a big file in a clear temporary file — and
    memory is one chunk. Beyond ``max_size`` the rest is read and dropped (the page says the file is too big).
    """

    def __init__(self, request=None, *, max_size: int) -> None:
        super().__init__(request)
        self.max_size = max_size
        self.writer: sealed.Writer | None = None
        self.token: str | None = None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self._abandon()  # (a second file in the same request replaces the first: the form takes one)
        self.token = sealed.new_token()
        self.writer = sealed.Writer(AREA, _name(self.token, UPLOAD))
        self.size, self.newlines, self.last = 0, 0, b"\n"

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.size += len(raw_data)
        if self.writer is None:
            return None  # too big already: drop
        if self.size > self.max_size:
            self._abandon()
            return None
        self.writer.write(raw_data)
        self.newlines += raw_data.count(b"\n")
        self.last = raw_data[-1:] or self.last
        return None

    def file_complete(self, file_size: int) -> SealedUpload:
        token = None
        if self.writer is not None:
            self.writer.close()
            self.writer, token = None, self.token
        lines = max(self.newlines + (self.last != b"\n") - 1, 0)  # (minus the header)
        return SealedUpload(token=token, name=self.file_name, size=self.size, lines=lines,
                            content_type=self.content_type)

    def upload_interrupted(self) -> None:
        self._abandon()

    def _abandon(self) -> None:
        if self.writer is not None:
            self.writer.discard()
            self.writer = None


def status(token: str | None) -> dict[str, Any] | None:
    if not valid(token):
        return None
    data = sealed.read_bytes(AREA, _name(token, STATUS))
    return None if data is None else json.loads(data)


def save_status(token: str, data: dict[str, Any]) -> None:
    sealed.write_bytes(AREA, json.dumps(data).encode(), _name(token, STATUS))


def _alive(token: str) -> bool:
    """The job's status still exists (logout or expiry removes it: the job then publishes nothing)."""
    return sealed.path_of(AREA, _name(token, STATUS)).exists()


def take(token: str | None, kind: str) -> sealed.Reader | None:
    """A job's secrets or errors file for its one download (gone afterwards)."""
    if kind not in (SECRETS, ERRORS) or not valid(token):
        return None
    return sealed.take(AREA, _name(token, kind))


def discard(token: str | None) -> None:
    """Remove every file of a job."""
    if valid(token):
        for kind in KINDS:
            sealed.remove(AREA, _name(token, kind))


def forget_session(sender=None, request=None, **kwargs) -> None:
    """``user_logged_out``: the files of every import the session started go with it."""
    session = getattr(request, "session", None)
    if session is None:
        return
    for token in session.get(SESSION_JOBS, []):
        discard(token)
    session.pop(SESSION_JOBS, None)


def remember(session, token: str) -> None:
    jobs = [t for t in session.get(SESSION_JOBS, []) if t != token][-19:]
    session[SESSION_JOBS] = [*jobs, token]


def purge(now: float | None = None) -> int:
    """Remove every expired import file (Celery beat: ``users.tasks.purge_import_files``)."""
    return sealed.purge(AREA, now=now)


# --- running --------------------------------------------------------------------------------------------------------


def start(token: str, *, actor: Actor, dry_run: bool, filename: str, lines: int | None) -> dict[str, Any]:
    """Run the job now (small file) or queue it; returns its status (``state`` done/failed, or queued)."""
    state = {"state": "queued", "dry_run": dry_run, "filename": filename, "stage": "queued", "done": 0,
             "total": lines}
    save_status(token, state)
    if lines is not None and lines <= SYNC_LINES:
        return run(token, actor=actor, dry_run=dry_run, filename=filename, lines=lines)
    from .tasks import run_import

    user = actor.user if getattr(actor.user, "pk", None) else None
    try:
        run_import.delay(token, dry_run=dry_run, user_id=user.pk if user else None, label=actor.label,
                         source=actor.source, filename=filename, lines=lines,
                         language=translation.get_language())  # (its errors in the operator's language)
    except Exception:  # noqa: BLE001 - kombu raises many types
        if run_import.app.conf.task_always_eager:
            raise
        log.exception("users: could not queue import %s", filename)
        state.update(state="failed", message=gettext("The import could not be queued (is the Celery broker up?). "
                                                     "Nothing was written; try again."))
        save_status(token, state)
        return state
    return status(token) or state


def _line_view(ln: csvio.Line) -> dict[str, Any]:
    if ln.action == "error":
        detail = "; ".join(ln.errors)
    elif ln.action == "update":
        detail = gettext("update (%(fields)s)") % {"fields": ", ".join(ln.changed)}
    else:
        detail = {"create": gettext("create"), "unchanged": gettext("unchanged")}.get(ln.action, ln.action)
    return {"line": ln.line, "extension": ln.extension, "name": ln.values.get("name", ""),
            "site": ln.site.slug if ln.site else "", "action": ln.action, "detail": detail}


def run(token: str, *, actor: Actor, dry_run: bool, filename: str, lines: int | None = None) -> dict[str, Any]:
    """Check or import the job's sealed upload (streamed), keeping every error and generated secret in their
    sealed files and the progress in the status; returns the final status."""
    state: dict[str, Any] = {"state": "running", "dry_run": dry_run, "filename": filename, "stage": "validate",
                             "done": 0, "total": lines}
    save_status(token, state)
    last_save = [time.monotonic()]

    def progress(stage: str, done: int, total: int | None) -> None:
        state.update(stage=stage, done=done)
        if time.monotonic() - last_save[0] >= STATUS_EVERY and _alive(token):
            save_status(token, state)
            last_save[0] = time.monotonic()

    errors_file = sealed.Writer(AREA, _name(token, ERRORS))
    errors_csv = csvio.errors_writer(errors_file)
    secrets_file: sealed.Writer | None = None
    secrets_csv = None

    def on_secret(row: dict[str, str]) -> None:
        nonlocal secrets_file, secrets_csv
        if secrets_csv is None:
            secrets_file = sealed.Writer(AREA, _name(token, SECRETS))
            secrets_csv = csvio.secrets_writer(secrets_file)
        secrets_csv.writerow(row)

    report = None
    reader = sealed.open_(AREA, _name(token, UPLOAD))
    try:
        if reader is None:
            raise csvio.ImportError_(gettext("The uploaded file has expired; upload it again."))
        with reader:
            report = csvio.run(reader, actor=actor, dry_run=dry_run, message=f"CSV import {filename}"[:200],
                               on_error=lambda line, reason: errors_csv.writerow([line, reason]),
                               on_secret=on_secret, progress=progress, total=lines)
    except (csvio.ImportError_, ValidationError, sealed.Expired) as exc:
        state.update(state="failed", message="; ".join(getattr(exc, "messages", None) or [str(exc)]))
    except BaseException:
        state.update(state="failed", message=gettext("The import failed unexpectedly; nothing was written."))
        raise
    finally:
        alive = _alive(token)
        if report is not None and report.error_count and alive:
            errors_file.close()
        else:
            errors_file.discard()
        if secrets_file is not None:
            if report is not None and report.imported and alive:
                secrets_file.close()
            else:
                secrets_file.discard()
        if report is not None:
            state.update(_outcome(report))
        if not (dry_run and report is not None and report.ok):
            sealed.remove(AREA, _name(token, UPLOAD))  # only a clean dry run is kept, for its confirmation
        if alive:
            save_status(token, state)
        elif reader is not None:
            discard(token)
    return state


def _outcome(report: csvio.Report) -> dict[str, Any]:
    return {"state": "done", "stage": "done", "done": report.lines, "lines": report.lines,
            "counts": report.counts, "error_count": report.error_count, "errors": report.errors,
            "preview": [_line_view(ln) for ln in report.preview], "imported": report.imported,
            "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
            "issued": report.issued, "has_secrets": report.imported and report.issued > 0,
            "has_errors": report.error_count > 0}
