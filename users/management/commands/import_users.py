"""``manage.py import_users FILE.csv [--dry-run] [--secrets-file PATH]`` — all-or-nothing bulk import."""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from users import csvio
from voipadmin.actors import Actor


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
        try:
            if file == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(file, "rb") as fh:
                    data = fh.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None

        def progress(stage: str, done: int, total: int) -> None:
            if not quiet_progress and total >= 1000:
                self.stderr.write(f"{stage}: {done}/{total} ({100 * done // max(total, 1)}%)")

        target = secrets_file or f"import-secrets-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}.csv"
        if not dry_run and os.path.exists(target):
            raise CommandError(f"{target} already exists; choose another --secrets-file.")
        try:
            plan, result = csvio.import_csv(data, actor=Actor.command("import_users"), dry_run=dry_run,
                                            progress=progress, message=f"CSV import {os.path.basename(file)}")
        except (csvio.ImportError_, ValidationError) as exc:
            raise CommandError("; ".join(getattr(exc, "messages", [str(exc)]))) from None
        for line, reason in plan.errors:
            self.stderr.write(f"line {line}: {reason}")
        summary = (f"{plan.count('create')} to create, {plan.count('update')} to update, "
                   f"{plan.count('unchanged')} unchanged")
        if plan.errors:
            raise CommandError(f"{len(plan.errors)} error(s) in {len({ln for ln, _ in plan.errors})} line(s); "
                               f"nothing was imported ({summary}).")
        if dry_run:
            self.stdout.write(f"Dry run: {summary}. Nothing was written.")
            return
        assert result is not None
        if result.secrets:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                csvio.write_secrets(result.secrets, out)
            self.stdout.write(f"Generated secrets for {len(result.secrets)} user(s) written to {target} "
                              f"(mode 0600). Hand them over and delete the file.")
        self.stdout.write(self.style.SUCCESS(
            f"Imported: {result.created} created, {result.updated} updated, {result.unchanged} unchanged."))
