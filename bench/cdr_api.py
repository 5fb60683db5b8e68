#!/usr/bin/env python
"""CDR API benchmark: 1,000,000 Asterisk CDRs (+ Kamailio's records) in PostgreSQL, keyset pages, the CSV export.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voipadmin .venv/bin/python bench/cdr_api.py \
        [--rows N] [--kamailio-rows M]

Uses a separate database (<name>_bench_cdr), created and migrated on first run; the rows are
generated with INSERT … SELECT generate_series and kept for later runs: N rows in Asterisk's ``cdr``
and M in Kamailio's ``acc_cdrs`` (calls it rang on phones, default 100,000, interleaved in time), which
/api/v1/cdrs/ lists together (view ``call_record``). Prints the time of the first page and of a page
90 % deep (100 rows each, through the full Django/DRF stack with a token) and their ratio, the same
deep page fetched with LIMIT/OFFSET as the baseline, and the CSV export rate and peak memory.
Goals: ≤ 50 ms per page, deep/first ≤ 1.5×, export ≥ 50,000 rows/s with flat memory.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import callrecords  # noqa: E402


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voipadmin")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/cdr_api.py needs DATABASE_URL=postgres://… (it creates <name>_bench_cdr beside it)")
    name = parts.path.lstrip("/") or "voipadmin"
    if not name.endswith("_bench_cdr"):
        name += "_bench_cdr"
    return urlunsplit(parts._replace(path="/" + name))


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def timed(fn, repeat: int) -> float:
    """Median wall time in ms of ``repeat`` calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--kamailio-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    url = bench_database_url()
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipadmin.settings")
    os.environ.setdefault("VOIPADMIN_LIVE_RELOAD", "false")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from cdrs.models import CallRecord
    from sites import actions as site_actions
    from sites.models import Site
    from voipadmin.actors import Actor
    from voipadmin.api.pagination import KeysetPagination
    from voipadmin.api.tokens import create_token
    from voipadmin.models import ApiToken

    call_command("migrate", verbosity=0)
    actor = Actor.command("bench/cdr_api.py")
    for i in range(5):
        if not Site.objects.filter(slug=f"site{i}").exists():
            site_actions.create_site(actor=actor, name=f"Bench site {i}", slug=f"site{i}",
                                     sip_domain=f"site{i}.bench.test", ranges=[(1000 * (i + 1), 1000 * (i + 1) + 999)])
    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM cdr), (SELECT count(*) FROM acc_cdrs)")
        have = cur.fetchone()
    if have != (args.rows, args.kamailio_rows):
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            callrecords.fill(cur.execute, args.rows, args.kamailio_rows)
        print(f"generated {args.rows:,} CDR rows and {args.kamailio_rows:,} Kamailio records in "
              f"{time.perf_counter() - t0:.1f} s")
    total = args.rows + args.kamailio_rows
    ApiToken.objects.filter(name="bench").delete()
    _token, key = create_token(actor=actor, name="bench", scope="read")
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    def get(path: str, **params):
        response = client.get(path, params)
        assert response.status_code == 200, response.content[:300]
        return response

    first = get("/api/v1/cdrs/", limit=100).json()
    assert len(first["results"]) == 100
    deep_row = CallRecord.objects.order_by("-start", "-id").values_list("start", "id")[int(total * 0.9)]
    deep_cursor = KeysetPagination.encode_cursor(deep_row[0], deep_row[1], False)
    deep = get("/api/v1/cdrs/", limit=100, cursor=deep_cursor).json()
    assert len(deep["results"]) == 100 and deep["results"][0]["start"] < first["results"][-1]["start"]

    first_ms = timed(lambda: get("/api/v1/cdrs/", limit=100), args.repeat)
    deep_ms = timed(lambda: get("/api/v1/cdrs/", limit=100, cursor=deep_cursor), args.repeat)
    offset = int(total * 0.9)
    offset_ms = timed(lambda: list(CallRecord.objects.order_by("-start", "-id")[offset:offset + 100]),
                      max(3, args.repeat // 4))
    filtered_ms = timed(lambda: get("/api/v1/cdrs/", limit=100, site="site3", min_billsec=60,
                                    since="2026-01-10T00:00:00Z", until="2026-01-20T00:00:00Z"), args.repeat)

    print(f"rows in cdr:                          {args.rows:,}")
    print(f"rows in acc_cdrs (Kamailio):          {args.kamailio_rows:,}  (listed together: {total:,})")
    print(f"first page (100 rows, API):           {first_ms:.1f} ms")
    print(f"page 90% deep (100 rows, API, cursor): {deep_ms:.1f} ms")
    print(f"deep / first:                          {deep_ms / first_ms:.2f}x")
    print(f"filtered page (site, billsec, period): {filtered_ms:.1f} ms")
    print(f"baseline: same deep page by OFFSET (ORM only, no HTTP): {offset_ms:.1f} ms "
          f"(cursor page is {offset_ms / deep_ms:.1f}x faster)")

    def export(trace: bool) -> tuple[int, int, float, list[int]]:
        response = client.get("/api/v1/cdrs/export.csv")
        assert response.status_code == 200
        lines = size = 0
        peaks = []
        mark = 100_000
        t0 = time.perf_counter()
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            size += len(chunk)
            if trace and lines >= mark:
                peaks.append(tracemalloc.get_traced_memory()[1])
                mark += 100_000
        elapsed = time.perf_counter() - t0
        response.close()
        return lines - 1, size, elapsed, peaks

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows, size, elapsed, _ = export(trace=False)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert rows == total, rows
    print(f"CSV export:                            {rows:,} rows, {size / 1e6:.0f} MB in {elapsed:.1f} s "
          f"= {rows / elapsed:,.0f} rows/s")
    print(f"process peak RSS growth during export: {(rss_after - rss_before) / 1024:.1f} MB "
          f"(peak RSS {rss_after / 1024:.0f} MB)")
    tracemalloc.start()
    _rows, _size, _elapsed, peaks = export(trace=True)
    tracemalloc.stop()
    if peaks:
        print(f"peak traced Python memory:             after ~100k rows {peaks[0] / 1e6:.1f} MB, "
              f"after all {total:,} rows {peaks[-1] / 1e6:.1f} MB (flat = constant memory)")


if __name__ == "__main__":
    main()
