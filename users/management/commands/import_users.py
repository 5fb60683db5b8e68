"""``manage.py import_users FILE.csv [--dry-run] [--secrets-file PATH]`` — all-or-nothing bulk import.

The file is read as a stream (memory stays one batch's, whatever its size) through ``users.csvio.run``, the
path the import page and its Celery task take too. Progress goes to stderr (files of 1,000 lines or more),
every error as ``line N: reason``; generated secrets are written to a 0600 file that appears only if the
import was committed.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from users import csvio
from voipadmin.actors import Actor


def _count_lines(path: str) -> int | None:
    """Data lines of a regular file (one quick pass, for the progress total), None for a pipe."""
    try:
        with open(path, "rb") as fh:
            count, last = 0, b"\n"
            while block := fh.read(1 << 20):
                count += block.count(b"\n")
                last = block[-1:]
    except OSError:
        return None
    return max(count + (last != b"\n") - 1, 0)


class Command(BaseCommand):
    help = ("Import SIP users from CSV (extension,name,email,site[,password,voicemail_pin,enabled,voicemail,"
            "voicemail_email,caller_id,nat,codecs]). Nothing is written unless every line is valid.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file ('-' reads standard input)")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")
        parser.add_argument("--secrets-file", help="Where generated passwords/PINs go (created 0600, must not "
                                                   "exist). Default: import-secrets-<UTC time>.csv here.")
        parser.add_argument("--quiet-progress", action="store_true", help="No progress lines on stderr.")

    def handle(self, *args, file: str, dry_run: bool, secrets_file: str | None, quiet_progress: bool, **opts):
        total = None if file == "-" else _count_lines(file)
        try:
            source = sys.stdin.buffer if file == "-" else open(file, "rb")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None

        def progress(stage: str, done: int, lines: int | None) -> None:
            if not quiet_progress and (lines or done) >= 1000:
                of = f"/{lines} ({100 * done // max(lines, 1)}%)" if lines else " lines"
                self.stderr.write(f"{stage}: {done}{of}")

        target = secrets_file or f"import-secrets-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}.csv"
        if not dry_run and os.path.exists(target):
            raise CommandError(f"{target} already exists; choose another --secrets-file.")
        secrets = _SecretsFile(target)
        try:
            with source:
                report = csvio.run(source, actor=Actor.command("import_users"), dry_run=dry_run,
                                   message=f"CSV import {os.path.basename(file)}"[:200],
                                   on_error=lambda line, reason: self.stderr.write(f"line {line}: {reason}"),
                                   on_secret=secrets.write, progress=progress, total=total)
        except (csvio.ImportError_, ValidationError) as exc:
            secrets.discard()
            raise CommandError("; ".join(getattr(exc, "messages", None) or [str(exc)])) from None
        except BaseException:
            secrets.discard()
            raise
        summary = (f"{report.count('create')} to create, {report.count('update')} to update, "
                   f"{report.count('unchanged')} unchanged")
        if not report.ok:
            secrets.discard()
            raise CommandError(f"{report.error_count} error(s) in {report.count('error')} line(s); "
                               f"nothing was imported ({summary}).")
        if dry_run:
            self.stdout.write(f"Dry run: {summary}. Nothing was written.")
            return
        if secrets.publish():
            self.stdout.write(f"Generated secrets for {secrets.rows} user(s) written to {target} "
                              f"(mode 0600). Hand them over and delete the file.")
        self.stdout.write(self.style.SUCCESS(
            f"Imported: {report.created} created, {report.updated} updated, {report.unchanged} unchanged."))


class _SecretsFile:
    """The generated secrets, written as they come to ``<target>.part`` (0600), renamed to ``target`` once the
    import is committed and removed if it is not: the file never names users that do not exist."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.part = f"{target}.part"
        self.rows = 0
        self._out = None
        self._writer = None

    def write(self, row: dict[str, str]) -> None:
        if self._writer is None:
            fd = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._out = os.fdopen(fd, "w", encoding="utf-8", newline="")
            self._writer = csvio.secrets_writer(self._out)
        self._writer.writerow(row)
        self.rows += 1

    def publish(self) -> bool:
        if self._out is None:
            return False
        self._out.close()
        if os.path.exists(self.target):  # (created meanwhile: never overwrite it)
            raise CommandError(f"{self.target} appeared during the import; the secrets are in {self.part}.")
        os.replace(self.part, self.target)
        return True

    def discard(self) -> None:
        if self._out is not None:
            self._out.close()
            os.unlink(self.part)
            self._out = None
