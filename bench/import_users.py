#!/usr/bin/env python
"""Bench: import 10,000 users into PostgreSQL through the same code as ``manage.py import_users``.

Prints the import time and its ratio to a raw psycopg ``COPY`` of the same 10,000 Kamailio subscriber
rows measured in the same run (the floor: just moving the rows into PostgreSQL). For context it also times
a raw COPY of all 30,000 rows the import writes (users, subscribers, audit entries). All timed including
their commit. Uses DATABASE_URL (must be PostgreSQL, migrated); works in a scratch site ``bench`` with its
own SIP domain and extension range, and removes everything it wrote at the end.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voipadmin .venv/bin/python bench/import_users.py [N]
"""
from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipadmin.settings")

import django  # noqa: E402

django.setup()

import django.utils.timezone  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from sites.models import ExtensionRange, Site  # noqa: E402
from users import csvio  # noqa: E402
from users.models import SipUser  # noqa: E402
from voipadmin.actors import Actor  # noqa: E402
from voipadmin.kamailio import hashing  # noqa: E402
from voipadmin.models import ChangeLogEntry  # noqa: E402

SLUG, DOMAIN, FIRST = "bench", "bench.example.test", 700_000


def cleanup() -> None:
    with transaction.atomic(), connection.cursor() as cur:
        site = Site.objects.filter(slug=SLUG).first()
        cur.execute("DELETE FROM subscriber WHERE domain IN (%s, %s, %s)", [DOMAIN, "copy." + DOMAIN,
                                                                             "copy2." + DOMAIN])
        cur.execute("DELETE FROM voipadmin_changelogentry WHERE message = 'bench copy'")
        if site:
            ids = [str(i) for i in SipUser.objects.filter(site=site).values_list("id", flat=True)]
            ChangeLogEntry.objects.filter(content_type__app_label="users", object_id__in=ids).delete()
            SipUser.objects.filter(site=site).delete()
            ExtensionRange.objects.filter(site=site).delete()
            site.delete()


def main(n: int) -> None:
    if connection.vendor != "postgresql":
        sys.exit("bench/import_users.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    cleanup()
    site = Site.objects.create(name="Bench", slug=SLUG, sip_domain=DOMAIN)
    ExtensionRange.objects.create(site=site, start=FIRST, end=FIRST + n - 1)
    text = "extension,name,email,site,password,voicemail_pin\n" + "".join(
        f"{FIRST + i},Bench user {i},u{i}@example.test,{SLUG},,\n" for i in range(n))
    try:
        # 1. the import, exactly as the command runs it (parse, validate, write in one transaction, commit)
        #    (csvio.import_csv is exactly parse -> plan -> apply; called step by step to time each)
        started = time.perf_counter()
        header, parsed = csvio.parse(text.encode())
        plan = csvio.plan(header, parsed)
        validated = time.perf_counter() - started
        result = csvio.apply(plan, actor=Actor.command("bench"), message="bench import")
        imported = time.perf_counter() - started
        assert plan.ok and result.created == n, plan.errors[:5]

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
    print(f"import_users: {n} users in {imported:.2f} s ({n / imported:,.0f} users/s; users + subscribers + "
          f"{n} audit entries, one transaction)")
    print(f"  of which parse + validate {validated:.2f} s, write + commit {imported - validated:.2f} s")
    print(f"raw COPY of {n} subscriber rows: {copied:.3f} s")
    print(f"ratio import / COPY: {imported / copied:.1f}x  (goal: <= 5 s and <= 3x)")
    print(f"(context: raw COPY of all {3 * n} rows the import writes - users, subscribers, audit entries: "
          f"{copied_all:.3f} s; import / that = {imported / copied_all:.1f}x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
