"""Benchmark of one live poll cycle: 100 fake Asterisk nodes × 50 channels, one of them hung.

A cycle is what the beat task runs (``live.actions.run_cycle``): poll every node
concurrently, each under the per-node timeout, and write the results in bulk as
nodes answer.  A cycle can never be shorter than the hung node's timeout, so the
baseline is a one-node cycle of that same hung node, measured in the same run; a
cycle of one healthy node is printed too.  Goal: ≤ 1.5 s per cycle and ≤ 3× the
one-node cycle.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voipadmin .venv/bin/python bench/poll_estate.py

Runs in a throw-away test database (test_<name>), and only on loopback; the fake
nodes run in a child process, as real nodes would be other machines.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipadmin.settings")

NODES, CHANNELS, ROUNDS = 100, 50, 3


def serve_fakes(conn) -> None:
    """Child process: 99 healthy fake AMI nodes and 1 hung one, until the parent says stop."""
    from tests.fakes.ami import running_ami_fake, running_ami_fakes

    with running_ami_fakes(NODES - 1, channels=CHANNELS) as fakes, running_ami_fake(fault="hang") as hung:
        conn.send([(f.port, f.username, f.secret) for f in [*fakes, hung]])
        conn.recv()


def cycle(targets, timeout):
    """Exactly what the beat task runs, timed from the outside."""
    from live import actions
    from voipadmin.actors import Actor

    started = time.perf_counter()
    summary = actions.run_cycle(targets, actor=Actor(label="bench"), timeout=timeout)
    return time.perf_counter() - started, summary.results


def main() -> None:
    from django.conf import settings
    from django.db import connection

    from live import actions
    from live.models import ActiveCall
    from sites import actions as site_actions
    from voipadmin.actors import Actor

    timeout = settings.LIVE_NODE_TIMEOUT_SECONDS
    actor = Actor(label="bench")
    site = site_actions.create_site(actor=actor, slug="bench", name="Bench", sip_domain="voip.example.test",
                                    ranges=[(1000, 9999)])
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    server = spawn.Process(target=serve_fakes, args=(child,), daemon=True)
    server.start()
    try:
        fakes = parent.recv()
        nodes = [site_actions.create_asterisk_node(actor=actor, site=site, name=f"bench-{i:03d}", host="127.0.0.1",
                                                   ami_port=port, ami_username=user, ami_secret=secret)
                 for i, (port, user, secret) in enumerate(fakes)]
        targets = [actions.asterisk_target(n) for n in nodes]
        healthy_one, hung_one = targets[:1], targets[-1:]
        cycle(healthy_one, timeout)  # warm-up: imports, DB connection
        one_healthy = statistics.median(cycle(healthy_one, timeout)[0] for _ in range(ROUNDS))
        one_hung = statistics.median(cycle(hung_one, timeout)[0] for _ in range(ROUNDS))
        full, last = [], []
        for _ in range(ROUNDS):
            seconds, last = cycle(targets, timeout)
            full.append(seconds)
        estate = statistics.median(full)
    finally:
        parent.send("stop")
        server.join(10)
    states = {s: sum(1 for r in last if r.state == s) for s in ("up", "degraded", "down")}
    hung_reason = next((r.reason for r in last if r.state == "down"), "-")
    print(f"poll_estate bench: {NODES} Asterisk nodes x {CHANNELS} channels, 1 hung; per-node timeout {timeout:g}s; "
          f"{connection.vendor}; median of {ROUNDS}")
    print(f"  cycle, {NODES} nodes:             {estate:.3f} s  (runs: {', '.join(f'{s:.3f}' for s in full)})")
    print(f"    nodes up/degraded/down: {states['up']}/{states['degraded']}/{states['down']} "
          f"(hung: {hung_reason}); channels recorded: {ActiveCall.objects.count()}")
    print(f"  one-node cycle, the hung node:  {one_hung:.3f} s")
    print(f"  one-node cycle, a healthy node: {one_healthy:.3f} s")
    print(f"  ratio {NODES}-node / one-node (hung) cycle: {estate / one_hung:.2f}x   (goal <= 3x; cycle goal <= 1.5 s)")
    print(f"  ratio {NODES}-node / one-node (healthy) cycle: {estate / one_healthy:.1f}x "
          f"(bounded below by the {timeout:g}s timeout of the hung node)")


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
