#!/usr/bin/env python
"""Bench: import N users (default 10,000) into PostgreSQL through the same code as ``manage.py import_users``.

Prints the import's wall time and how much the process's resident memory grew while it ran (peak RSS over
the RSS before it, and what is left afterwards), then the import's ratio to a raw psycopg ``COPY`` of the
same N Kamailio subscriber rows measured in the same run (the floor: just moving the rows into PostgreSQL).
For context it also times a raw COPY of all 3N rows the import writes (users, subscribers, audit entries).
All timed including their commit. The CSV is written to a temporary file first and imported from it, as
the command does (streamed: goal RSS growth <= 100 MB for 200,000 lines). Uses DATABASE_URL (must be
PostgreSQL, migrated); works in a scratch site ``bench`` with its own SIP domain and extension range, and
removes everything it wrote at the end.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voipadmin .venv/bin/python bench/import_users.py [N]

(It also runs against a checkout of the code before the streamed import, which had no ``csvio.run``: it
then imports the way that code's command did, the whole file read, parsed and planned in memory.)
"""
from __future__ import annotations

import gc
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipadmin.settings")

import django  # noqa: E402

django.setup()

import django.utils.timezone  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection, reset_queries, transaction  # noqa: E402

from sites.models import ExtensionRange, Site  # noqa: E402
from users import csvio  # noqa: E402
from users.models import SipUser  # noqa: E402
from voipadmin.actors import Actor  # noqa: E402
from voipadmin.kamailio import hashing  # noqa: E402

SLUG, DOMAIN, FIRST = "bench", "bench.example.test", 700_000
MESSAGE = "bench import"


def cleanup() -> None:
    with transaction.atomic(), connection.cursor() as cur:
        site = Site.objects.filter(slug=SLUG).first()
        cur.execute("DELETE FROM subscriber WHERE domain IN (%s, %s, %s)", [DOMAIN, "copy." + DOMAIN,
                                                                             "copy2." + DOMAIN])
        cur.execute("DELETE FROM voipadmin_changelogentry WHERE message IN (%s, 'bench copy')", [MESSAGE])
        if site:
            cur.execute("DELETE FROM users_sipuser WHERE site_id = %s", [site.pk])
            ExtensionRange.objects.filter(site=site).delete()
            site.delete()


# --- resident memory ------------------------------------------------------------------------------------------


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


class PeakRss:
    """The process's peak resident memory while the block runs: the kernel's high-water mark (VmHWM, reset
    through /proc/self/clear_refs) and, should that reset be refused, a 5 ms sampler."""

    def __enter__(self) -> "PeakRss":
        gc.collect()
        self.before = _status_kb("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self.hwm = _status_kb("VmHWM") <= self.before + 1024
        except OSError:
            self.hwm = False
        self.sampled = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.sampled = max(self.sampled, _status_kb("VmRSS"))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.sampled, _status_kb("VmHWM") if self.hwm else 0)
        gc.collect()
        self.after = _status_kb("VmRSS")

    def mb(self, kb: int) -> float:
        return kb / 1024


# --- the import, as the command runs it -----------------------------------------------------------------------


def write_csv(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("extension,name,email,site,password,voicemail_pin\n")
        for i in range(n):
            out.write(f"{FIRST + i},Bench user {i},u{i}@example.test,{SLUG},,\n")


def import_file(path: Path, secrets_path: Path, *, dry_run: bool = False) -> tuple[int, int]:
    """What ``manage.py import_users`` does with the file; returns (created, errors)."""
    actor = Actor.command("bench")
    if hasattr(csvio, "run"):  # the streamed import
        with secrets_path.open("w", encoding="utf-8", newline="") as out, path.open("rb") as source:
            writer = csvio.secrets_writer(out)
            report = csvio.run(source, actor=actor, dry_run=dry_run, message=MESSAGE, on_secret=writer.writerow)
        return report.created, report.error_count
    data = path.read_bytes()  # the code before it: the whole file in memory, parse -> plan -> apply
    header, parsed = csvio.parse(data)
    plan = csvio.plan(header, parsed)
    if dry_run or not plan.ok:
        return 0, len(plan.errors)
    result = csvio.apply(plan, actor=actor, message=MESSAGE)
    with secrets_path.open("w", encoding="utf-8", newline="") as out:
        csvio.write_secrets(result.secrets, out)
    return result.created, 0


def main(n: int) -> None:
    if connection.vendor != "postgresql":
        sys.exit("bench/import_users.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    cleanup()
    site = Site.objects.create(name="Bench", slug=SLUG, sip_domain=DOMAIN)
    ExtensionRange.objects.create(site=site, start=FIRST, end=FIRST + n - 1)
    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    path, secrets_path = workdir / "users.csv", workdir / "secrets.csv"
    write_csv(path, n)
    file_mb = path.stat().st_size / 1e6
    try:
        # 0. the dry run alone (parse + validate, nothing written)
        started = time.perf_counter()
        _, errors = import_file(path, secrets_path, dry_run=True)
        validated = time.perf_counter() - started
        assert errors == 0
        reset_queries()

        # 1. the import, exactly as the command runs it (read, validate, write in one transaction, commit),
        #    with the process's resident memory watched
        with PeakRss() as rss:
            started, cpu = time.perf_counter(), time.process_time()
            created, errors = import_file(path, secrets_path)
            imported, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert created == n and errors == 0, (created, errors)

        # 2. the baseline: raw COPY of the same subscriber rows (another domain, so no clash), committed
        rows = [(str(FIRST + i), "copy." + DOMAIN, "", hashing.ha1(str(FIRST + i), DOMAIN, "x" * 20),
                 hashing.ha1b(str(FIRST + i), DOMAIN, "x" * 20)) for i in range(n)]
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cur:
            with cur.cursor.copy("COPY subscriber (username, domain, password, ha1, ha1b) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        copied = time.perf_counter() - started

        # 3. context: raw COPY of what the import writes (users, subscribers, audit rows), prepared beforehand
        user_cols = ["extension", "name", "email", "site_id", "enabled", "caller_id", "nat", "codecs", "ha1",
                     "ha1b", "voicemail_enabled", "voicemail_pin", "voicemail_email", "created", "updated"]
        now = django.utils.timezone.now()
        users = [(FIRST + n + i, f"Copy {i}", "", site.pk, True, "", False, "", r[3], r[4], True, "2468", "",
                  now, now) for i, r in enumerate(rows)]
        subs = [(str(FIRST + n + i), "copy2." + DOMAIN, "", r[3], r[4]) for i, r in enumerate(rows)]
        ct = ContentType.objects.get_for_model(SipUser).pk
        logs = [(now, None, "bench", "command", "create", ct, f"c{i}", f"Copy {i}", "bench copy",
                 '{"name": [null, "Copy"], "ha1": [null, "********"]}') for i in range(n)]
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cur:
            for table, cols, data in [("users_sipuser", user_cols, users),
                                      ("subscriber", ["username", "domain", "password", "ha1", "ha1b"], subs),
                                      ("voipadmin_changelogentry", ["time", "user_id", "actor", "source", "action",
                                       "content_type_id", "object_id", "object_repr", "message", "changes"], logs)]:
                with cur.cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
        copied_all = time.perf_counter() - started
    finally:
        cleanup()
        for p in (path, secrets_path):
            p.unlink(missing_ok=True)
        workdir.rmdir()
    print(f"import_users: {n} users in {imported:.2f} s ({n / imported:,.0f} users/s; users + subscribers + "
          f"{n} audit entries, one transaction)")
    print(f"  CPU time of this process during it: {cpu:.2f} s (the rest is PostgreSQL's, or waiting for a core)")
    print(f"  dry run alone (read + validate, nothing written): {validated:.2f} s")
    print(f"  resident memory: {rss.mb(rss.before):.0f} MB before, peak growth {rss.mb(rss.peak - rss.before):.1f} MB "
          f"during the import (goal <= 100 MB for 200,000 lines), {rss.mb(rss.after - rss.before):+.1f} MB after"
          f"  [file {file_mb:.1f} MB]")
    print(f"raw COPY of {n} subscriber rows: {copied:.3f} s")
    print(f"ratio import / COPY: {imported / copied:.1f}x  (goal: <= 5 s and <= 3x)")
    print(f"(context: raw COPY of all {3 * n} rows the import writes - users, subscribers, audit entries: "
          f"{copied_all:.3f} s; import / that = {imported / copied_all:.1f}x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
