#!/usr/bin/env python
"""Bench: what re-projecting Kamailio's and Asterisk's rows costs a service-code change.

Every services action rebuilds its projections (dispatcher sets, dialplan dpids 1/3/4, the realtime
``extensions`` rows) from the domain rows and writes only the difference. This times one
``create_service_code`` on an estate of 4 sites, 200 codes and 1,000 DDIs, against the baseline of the
same insert through ``voipadmin.crud.create`` (validation, save, audit; no projection, no clash check),
measured in the same run. Also times ``check_projection`` (what check_estate adds before any RPC).
Runs in one transaction that is rolled back: nothing is left behind.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voipadmin .venv/bin/python bench/projection.py [CODES] [DDIS]
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipadmin.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from services import actions, estate  # noqa: E402
from services.models import InboundNumber, ServiceCode  # noqa: E402
from sites import actions as site_actions  # noqa: E402
from voipadmin import crud  # noqa: E402
from voipadmin.actors import Actor  # noqa: E402


class Rollback(Exception):
    pass


def timed(func, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        with transaction.atomic():
            func()
            transaction.set_rollback(True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main(codes: int, ddis: int) -> None:
    if connection.vendor != "postgresql":
        sys.exit("bench/projection.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    actor = Actor.command("bench")
    try:
        with transaction.atomic():
            sites = [site_actions.create_site(actor=actor, name=f"Bench {i}", slug=f"bench{i}",
                                              sip_domain="bench.example.test",
                                              ranges=[(800_000 + i * 1000, 800_999 + i * 1000)]) for i in range(4)]
            for i, site in enumerate(sites):
                site_actions.create_asterisk_node(actor=actor, name=f"bench-ast{i}", site=site,
                                                  host=f"127.0.1.{i + 1}", roles="pbx,voicemail")
            start = time.perf_counter()
            made = [actions.create_service_code(actor=actor, code=f"*9{i:04d}", name=f"Code {i}", kind="echo",
                                                route_to="home") for i in range(codes)]
            setup_codes = time.perf_counter() - start
            InboundNumber.objects.bulk_create([InboundNumber(number=f"+3480000{i:05d}", target="service",
                                                             service_code=made[i % codes]) for i in range(ddis)])
            actions.project("bench setup")

            fields = dict(code="*8123", name="Bench", kind="echo", route_to="home")
            baseline = timed(lambda: crud.create(ServiceCode, actor=actor, fields=fields), 20)
            action = timed(lambda: actions.create_service_code(actor=actor, **fields), 20)
            check = timed(estate.check_projection, 5)
            print(f"estate: 4 sites, {codes} codes ({codes * 4 * 3} extensions rows), {ddis} DDIs")
            print(f"setup: {codes} create_service_code calls in {setup_codes:.2f}s "
                  f"({setup_codes / codes * 1000:.1f} ms each, growing with the estate)")
            print(f"baseline crud.create(ServiceCode): {baseline * 1000:.1f} ms (median of 20)")
            print(f"create_service_code (clash check + full re-projection): {action * 1000:.1f} ms "
                  f"(median of 20) = {action / baseline:.1f}x baseline")
            print(f"check_projection (all tables, no RPC): {check * 1000:.1f} ms (median of 5)")
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200, int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
