"""Benchmark of the push outbox: what it costs a change, and what it saves the node.

1. Write path: a transaction making 10 changes (10 ``dispatcher`` rows) with a
   ``push.api.request`` per change (10 requests -> 1 outbox row per node), against the
   baseline of the same transaction without push, measured in the same run.
2. Delivery: 100 committed changes to one Asterisk (the AMI fake), each asking for
   ``dialplan reload``, delivered by one ``deliver_node`` run, against the baseline of
   one bare AMI ``Command`` session (connect, login, one command, logoff).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voipadmin .venv/bin/python bench/push_outbox.py

Runs in a throw-away test database (test_<name>), only on loopback; nothing is queued
on a broker (the post-commit nudge is replaced by explicit delivery).
"""
from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipadmin.settings")

TRANSACTIONS, EDITS, CHANGES, ROUNDS = 50, 10, 100, 5


def main() -> None:
    from django.conf import settings
    from django.db import connection, transaction

    from push import api, delivery, tasks
    from push.models import PushJob
    from sites import actions as site_actions
    from tests.fakes.ami import running_ami_fake
    from voipadmin.actors import Actor
    from voipadmin.connectors.ami import run_ami_commands
    from voipadmin.kamailio.models import Dispatcher

    settings.LIVE_RELOAD = True
    settings.PUSH_MIN_INTERVAL_SECONDS = {"asterisk": 0.0, "kamailio": 0.0}
    tasks.dispatch = lambda *a, **k: None  # measure the write path, not a broker
    actor = Actor(label="bench")
    site = site_actions.create_site(actor=actor, slug="bench", name="Bench", sip_domain="voip.example.test")
    site_actions.create_kamailio_node(actor=actor, name="kam-bench", sip_address="127.0.0.1:5060",
                                      jsonrpc_url="http://127.0.0.1:9/RPC")

    def write(with_push: bool) -> float:
        started = time.perf_counter()
        with transaction.atomic():
            for i in range(EDITS):
                Dispatcher.objects.create(setid=1, destination=f"sip:127.0.0.1:{5000 + i}")
                if with_push:
                    api.request(api.KAMAILIO, api.DISPATCHER_RELOAD, reason=f"destination {i}")
        return time.perf_counter() - started

    write(True), write(False)  # warm-up
    plain, pushed = [], []
    for _ in range(TRANSACTIONS):
        plain.append(write(False))
        pushed.append(write(True))
    rows_per_txn = PushJob.objects.filter(command=api.DISPATCHER_RELOAD).count() / (TRANSACTIONS + 1)

    with running_ami_fake() as fake:
        node = site_actions.create_asterisk_node(actor=actor, site=site, name="pbx-bench", host="127.0.0.1",
                                                 ami_port=fake.port, ami_username=fake.username,
                                                 ami_secret=fake.secret)
        bare = []
        for _ in range(ROUNDS + 1):
            started = time.perf_counter()
            run_ami_commands("127.0.0.1", fake.port, fake.username, fake.secret, ["dialplan reload"], timeout=5)
            bare.append(time.perf_counter() - started)
        bare = bare[1:]
        runs, reloads = [], []
        for _ in range(ROUNDS):
            for i in range(CHANGES):
                with transaction.atomic():
                    api.request(api.ASTERISK, api.ASTERISK_DIALPLAN_RELOAD, node_ids=[node.pk], reason=f"change {i}")
            before = len(fake.commands)
            started = time.perf_counter()
            outcome = delivery.deliver_node("asterisk", node.pk)
            runs.append(time.perf_counter() - started)
            reloads.append(len(fake.commands) - before)
            assert len(outcome.sent) == CHANGES, outcome

    p, q = statistics.median(plain), statistics.median(pushed)
    b, d = statistics.median(bare), statistics.median(runs)
    print(f"push_outbox bench: {connection.vendor}; medians of {TRANSACTIONS} transactions / {ROUNDS} deliveries")
    print(f"  transaction of {EDITS} changes, no push (baseline): {p * 1000:.2f} ms")
    print(f"  same with {EDITS} push.api.request calls:           {q * 1000:.2f} ms  "
          f"({rows_per_txn:.0f} outbox row(s) per transaction)")
    print(f"  ratio with / without push: {q / p:.2f}x")
    print(f"  one bare AMI Command session (baseline):        {b * 1000:.2f} ms")
    print(f"  delivering {CHANGES} pending changes to one Asterisk: {d * 1000:.2f} ms, "
          f"{statistics.median(reloads):.0f} reload(s) on the wire")
    print(f"  ratio delivery / bare session: {d / b:.2f}x   ({CHANGES} changes, one reload)")


if __name__ == "__main__":
    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        main()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
