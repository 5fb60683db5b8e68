#!/usr/bin/env python
"""Bench: failover in seconds — call setup with one of four Asterisks down, and PSTN with the ITSP down.

Real parts only, all on loopback: the portal's kamailio.cfg in a real Kamailio 5.6, four real Asterisk 22s
configured by ``manage.py asterisk_config`` (two per site, 127.0.0.41-44), sipp phones, a sipp ITSP and a
sipp far end of the E1 line. The estate is built through the portal's actions in a throw-away database
(``<name>_bench_failover``, dropped at the end), exactly as the test suite builds its own.

Call setup = first INVITE sent by the phone → 200 OK received (so it includes the 407 challenge round
trip), read from each sipp's own message trace. Phases, each against a same-run baseline:

1. ``*130`` (media set of the four Asterisks, round robin): all nodes up (baseline); one node killed
   (SIGKILL) — how long the OPTIONS keepalive alone takes to mark it inactive, with no calls at all; calls
   while Kamailio still holds it active (goal p95 ≤ 3 s): each round tells Kamailio the dead node is up
   (``dispatcher.set_state ap``, as a reload or the first seconds after a crash leave it) and starts
   2 x CONCURRENCY calls at once, so about a quarter of them meet the dead node; then the same calls once
   ``dispatcher.list`` shows it inactive (goal p95 ≤ 1 s).
2. ``*123`` (the caller's home node) with that home node down: the fallback to the media set, before and
   after Kamailio marked the node.
3. PSTN (route ITSP first, E1 backup): ITSP up (baseline), ITSP down before / after Kamailio marked it
   (goal: answered by the E1 path ≤ 3 s).

Calls without a 200 OK are counted and not timed; answered calls whose phone scenario failed later are
timed and counted too (their sipp traces go to FAILURES).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voipadmin .venv/bin/python bench/failover.py [CALLS]
"""
from __future__ import annotations

import concurrent.futures
import math
import os
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipadmin.settings")

CALLS = 40  # per phase (PSTN phases: half)
CONCURRENCY = 4
PASSWORD = "bench-failover-password-1"
#: (node name, site, host, roles): two nodes per site; the first central one holds the E1 line
NODES = [("ast-central-a", "central", "127.0.0.41", "pbx,voicemail,conference,gateway"),
         ("ast-central-b", "central", "127.0.0.42", "pbx,media"),
         ("ast-branch1-a", "branch1", "127.0.0.43", "pbx,voicemail"),
         ("ast-branch1-b", "branch1", "127.0.0.44", "pbx,media")]
#: the node the bench kills: in the media set, and home node of branch1's callers
VICTIM = "ast-branch1-a"
E1_SIM = "127.0.0.140"
#: where the sipp traces of failed calls go
FAILURES = Path(tempfile.gettempdir()) / "bench-failover-failures.log"
ITSP = "127.0.0.141"


# -- measuring ----------------------------------------------------------------------------------------------


_BLOCK = re.compile(r"^-+ (\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+)\n(UDP message (sent|received).*?)(?=^-+ \d{4}-|\Z)",
                    re.M | re.S)


def setup_time(message_log: str) -> float | None:
    """Seconds from the first INVITE the phone sent to the 200 OK it received (sipp -trace_msg)."""
    sent = answered = None
    for stamp, body, direction in _BLOCK.findall(message_log):
        when = datetime.strptime(re.sub(r"\s+", " ", stamp), "%Y-%m-%d %H:%M:%S.%f")
        lines = [line for line in body.splitlines()[1:] if line.strip()]
        first = lines[0].strip() if lines else ""
        if direction == "sent" and sent is None and first.startswith("INVITE "):
            sent = when
        elif (direction == "received" and first.startswith("SIP/2.0 200")
              and "INVITE" in body.split("CSeq:", 1)[-1][:40]):
            answered = when
            break
    if sent is None or answered is None:
        return None
    return (answered - sent).total_seconds()


def one_call(caller, kamailio, number: str, hold_ms: int = 300) -> tuple[float | None, str]:
    """One call of ``caller`` (extension, address), on a port of its own, with tests/sip's phone scenario:
    (setup seconds, or None when no 200 OK came; what went wrong, "" when the call ran cleanly)."""
    from tests.sip import Phone

    phone = Phone(caller[0], PASSWORD, ip=caller[1])
    with tempfile.TemporaryDirectory(prefix="bench-call-") as tmp:
        tmp = Path(tmp)
        proc = subprocess.run(phone._call_cmd(kamailio, number, hold_ms, 15.0, tmp), cwd=tmp, capture_output=True,
                              text=True, timeout=40)
        log = (tmp / "messages.log").read_text(errors="replace") if (tmp / "messages.log").exists() else ""
    seconds = setup_time(log)
    if proc.returncode == 0 and seconds is not None:
        return seconds, ""
    with open(FAILURES, "a") as out:
        out.write(f"===== {caller[0]} -> {number}: exit {proc.returncode}\n{proc.stderr}\n{log}\n")
    flow = [f"{d} {b.splitlines()[2] if len(b.splitlines()) > 2 else ''}" for _, b, d in _BLOCK.findall(log)]
    return seconds, f"exit {proc.returncode}: {' / '.join(flow) or '(no trace)'}"


def place_calls(callers, kamailio, number: str, count: int, concurrency: int = CONCURRENCY) -> list[float]:
    """``count`` calls, ``concurrency`` at a time, each by a caller no other running call uses (its own
    address, so its own RTP port). Setup times of every answered call; the others are reported."""
    free: queue.Queue = queue.Queue()
    for caller in callers[:concurrency]:
        free.put(caller)

    def call(_):
        caller = free.get()
        try:
            return one_call(caller, kamailio, number)
        finally:
            free.put(caller)

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(call, range(count)))
    unanswered = [why for seconds, why in results if seconds is None]
    spoilt = [why for seconds, why in results if seconds is not None and why]
    if unanswered:
        print(f"  !! {len(unanswered)} of {count} calls to {number} got no 200 OK (not timed; sipp traces in "
              f"{FAILURES}); first: {unanswered[0][:300]}")
    if spoilt:
        print(f"  !! {len(spoilt)} of {count} calls to {number} were answered (timed) but the phone's scenario "
              f"failed later (traces in {FAILURES}); first: {spoilt[0][-300:]}")
    return [seconds for seconds, _ in results if seconds is not None]


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def describe(label: str, values: list[float], count: int) -> str:
    if not values:
        return f"{label:<58} no call answered of {count}"
    return (f"{label:<58} n={len(values):>2}/{count:<2} p50 {statistics.median(values):6.3f} s  "
            f"p95 {p95(values):6.3f} s  max {max(values):6.3f} s")


def destination_flags(kamailio, uri: str) -> list[str]:
    """FLAGS of ``uri`` in every dispatcher set Kamailio holds (e.g. ["AP"], ["IP", "IP"])."""
    from voipadmin.connectors.kamailio import dispatcher_targets

    try:
        listing = kamailio.rpc("dispatcher.list")
    except Exception:  # noqa: BLE001 - "No Destination Sets"
        return []
    return [t["flags"] for t in dispatcher_targets(listing) if t["uri"] == uri]


def wait_until(predicate, timeout: float, interval: float = 0.05) -> float | None:
    """Seconds until ``predicate()`` held, or None after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(interval)
    return None


# -- the estate ---------------------------------------------------------------------------------------------


def uas(host: str, port: int, workdir: Path) -> subprocess.Popen:
    """A sipp UAS on host:port answering every call, and OPTIONS, until stopped (tests/sip's answer.xml,
    without the stop after its first call)."""
    from tests.kamailio.harness import require_binary
    from tests.sip import SCENARIOS

    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "answer-all.xml"
    scenario.write_text((SCENARIOS / "answer.xml").read_text().replace(
        '<nop><action><exec int_cmd="stop_gracefully"/></action></nop>', ""))
    cmd = [require_binary("sipp"), "-sf", str(scenario), "-i", host, "-p", str(port), "-mi", host, "-nostdin"]
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.2)
    return proc


def build(workdir: Path) -> SimpleNamespace:
    """Kamailio, the estate through the portal's actions, four Asterisks configured by asterisk_config."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from nodeconf import database
    from services import actions as service_actions
    from sites import actions as site_actions
    from tests.asterisk.estate import SIP_DOMAIN, SITES, EstatePlan, NodePlan
    from tests.asterisk.harness import AsteriskInstance, asterisk_prefix, free_port
    from tests.asterisk.sounds import install_prompts
    from tests.kamailio.harness import KamailioInstance, dburl_from_settings
    from trunks import actions as trunk_actions
    from users import actions as user_actions
    from voipadmin.actors import Actor
    from voipadmin.celery import app

    settings.LIVE_RELOAD = True
    settings.PUSH_MIN_INTERVAL_SECONDS = {"asterisk": 0.0, "kamailio": 0.0}
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    actor = Actor.command("bench")

    kamailio = KamailioInstance(dburl_from_settings(connection.settings_dict), workdir / "kamailio",
                                defines={"UAC_REG_GC_INTERVAL": "2"})
    kamailio.start()
    plan = EstatePlan(db_role="estate", e1_sim=(E1_SIM, free_port(E1_SIM)), nodes=tuple(
        NodePlan(name=name, site=site, host=host, sip_port=free_port(host), ami_port=free_port(host, udp=False),
                 http_port=free_port(host, udp=False), roles=roles) for name, site, host, roles in NODES))
    sites = {slug: site_actions.create_site(actor=actor, name=name, slug=slug, kind=kind, sip_domain=SIP_DOMAIN,
                                            time_zone=tz, ranges=[(start, end)])
             for slug, name, kind, tz, (start, end) in SITES}
    database.apply(database.estate_sql())
    site_actions.create_kamailio_node(actor=actor, name="kamailio-bench", sip_address=kamailio.sip_address,
                                      jsonrpc_url=kamailio.rpc_url)
    nodes = {n.name: site_actions.create_asterisk_node(
        actor=actor, name=n.name, site=sites[n.site], host=n.host, sip_port=n.sip_port, ami_host=n.host,
        ami_port=n.ami_port, ami_username="voipadmin", ami_secret=n.ami_secret, roles=n.roles) for n in plan.nodes}
    itsp_port = free_port(ITSP)
    e1 = trunk_actions.create_e1_trunk(actor=actor, name="e1-pstn", asterisk_node=nodes["ast-central-a"], span=1,
                                       group=1, dial_string="PJSIP/{number}@e1-sim")
    itsp = trunk_actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host=ITSP, port=itsp_port,
                                           ip_addresses=ITSP)
    trunk_actions.create_route(actor=actor, name="national", pattern="^6[0-9]{8}$", trunks=[itsp, e1])
    media = service_actions.create_dispatcher_set(actor=actor, setid=1, name="media", algorithm=4,
                                                  destinations=[{"node": node} for node in nodes.values()])
    service_actions.create_service_code(actor=actor, code="*130", name="Echo test", kind="echo", route_to="set",
                                        dispatcher_set=media)
    service_actions.create_service_code(actor=actor, code="*123", name="Voicemail", kind="voicemail",
                                        route_to="home")
    instances = {}
    for n in plan.nodes:
        node = instances[n.name] = AsteriskInstance(asterisk_prefix(), workdir / n.name, name=n.name)
        call_command("asterisk_config", n.name, out=str(node.etc), prefix=str(node.prefix), state_dir=str(node.state),
                     db_role="estate", ami_permit=["127.0.0.0/8"], stdout=open(os.devnull, "w"))
        for name, text in plan.local_files(n.site).items():
            (node.etc / name).write_text(text)
        install_prompts(node.sounds)
    for node in instances.values():  # from this thread: the harness ties a node's life to its starter's
        node.start()
    phones = {}  # site -> [(extension, the phone's address)]
    for slug, first, net in (("central", 1001, 150), ("branch1", 4001, 160)):
        phones[slug] = []
        for i in range(2 * CONCURRENCY):  # a burst is 2 x CONCURRENCY calls at once
            user_actions.create_user(actor=actor, extension=first + i, name=f"Bench {first + i}", site=sites[slug],
                                     password=PASSWORD)
            phones[slug].append((str(first + i), f"127.0.0.{net + i}"))
    return SimpleNamespace(kamailio=kamailio, plan=plan, nodes=nodes, asterisks=instances, phones=phones,
                           itsp=(ITSP, itsp_port), workdir=workdir, procs=[])


def stop(estate) -> None:
    for proc in estate.procs:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
    for node in estate.asterisks.values():
        node.stop()
    estate.kamailio.stop()


def all_active(kamailio, uris) -> bool:
    """Every set holding these URIs has them active and probed: they answered a keepalive (AP)."""
    flags = [f for uri in uris for f in destination_flags(kamailio, uri)]
    return bool(flags) and all(f == "AP" for f in flags)


def marked_down(kamailio, uri) -> bool:
    flags = destination_flags(kamailio, uri)
    return bool(flags) and all(f.startswith("I") for f in flags)


def burst_before_marking(estate, phones, number: str, uri: str, rounds: int, size: int) -> list[float]:
    """Calls placed while Kamailio still holds a dead node active: each round tells Kamailio the node is up
    (dispatcher.set_state, as after a reload or in the seconds after a crash) and starts ``size`` calls at
    once, before a timeout or the keepalive can mark it."""
    times = []
    for _ in range(rounds):
        for setid in {t["setid"] for t in _targets(estate.kamailio) if t["uri"] == uri}:
            estate.kamailio.rpc("dispatcher.set_state", "ap", setid, uri)
        times += place_calls(phones, estate.kamailio, number, size, concurrency=size)
    return times


def _targets(kamailio):
    from voipadmin.connectors.kamailio import dispatcher_targets

    return dispatcher_targets(kamailio.rpc("dispatcher.list"))


def main(calls: int) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("bench/failover.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    FAILURES.unlink(missing_ok=True)
    started = time.monotonic()
    estate = build(workdir)
    k = estate.kamailio
    try:
        estate.procs += [uas(*estate.plan.e1_sim, workdir / "e1-sim"), uas(*estate.itsp, workdir / "itsp")]
        uris = [n.sip_uri for n in estate.nodes.values()]
        victim, victim_uri = estate.asterisks[VICTIM], estate.nodes[VICTIM].sip_uri
        itsp_uri = f"sip:{estate.itsp[0]}:{estate.itsp[1]}"
        ready = wait_until(lambda: all_active(k, uris + [itsp_uri]), 15)
        print(f"failover bench: Kamailio 5.6 + 4 Asterisk 22 (estate set up in {time.monotonic() - started:.1f} s, "
              f"every destination answering OPTIONS after {ready if ready is not None else float('nan'):.1f} s); "
              f"{calls} calls per phase, {CONCURRENCY} at a time")
        central, branch = estate.phones["central"], estate.phones["branch1"]
        place_calls(central, k, "*130", 2 * CONCURRENCY)  # warm-up: every node's first call
        place_calls(branch, k, "*123", CONCURRENCY)

        print("*130 (media set of the 4 Asterisks, round robin):")
        base = place_calls(central, k, "*130", calls)
        print("  " + describe("all 4 nodes up (baseline)", base, calls))
        victim.kill()
        detected = wait_until(lambda: marked_down(k, victim_uri), 30)
        print(f"  {VICTIM} killed: the OPTIONS keepalive alone marks it inactive after "
              + (f"{detected:.1f} s" if detected is not None else "more than 30 s (not marked)"))
        rounds = max(1, calls // (2 * CONCURRENCY))
        before = burst_before_marking(estate, central, "*130", victim_uri, rounds, 2 * CONCURRENCY)
        print("  " + describe(f"1 node down, before marked ({rounds}x{2 * CONCURRENCY} calls at once)", before,
                              rounds * 2 * CONCURRENCY))
        wait_until(lambda: marked_down(k, victim_uri), 30)
        after = place_calls(central, k, "*130", calls)
        print("  " + describe("1 node down, marked inactive", after, calls))

        print(f"*123 (the caller's home node; {VICTIM} is branch1's):")
        victim.start()
        back = wait_until(lambda: all_active(k, [victim_uri]), 30)
        print(f"  {VICTIM} restarted: active again after {back if back is not None else float('nan'):.1f} s "
              "(its first answered OPTIONS)")
        home_base = place_calls(branch, k, "*123", calls // 2)
        print("  " + describe("home node up (baseline)", home_base, calls // 2))
        victim.kill()
        home_before = burst_before_marking(estate, branch, "*123", victim_uri, max(1, rounds // 2), CONCURRENCY)
        print("  " + describe("home node down, before marked", home_before, max(1, rounds // 2) * CONCURRENCY))
        wait_until(lambda: marked_down(k, victim_uri), 30)
        home_after = place_calls(branch, k, "*123", calls // 2)
        print("  " + describe("home node down, marked inactive", home_after, calls // 2))

        print("PSTN 6xxxxxxxx (route: ITSP first, E1 on ast-central-a as backup):")
        pstn = calls // 2
        itsp_base = place_calls(central, k, "600123456", pstn)
        print("  " + describe("ITSP up, answered by the ITSP (baseline)", itsp_base, pstn))
        estate.procs[1].terminate()
        estate.procs[1].wait(5)
        pstn_before = burst_before_marking(estate, central, "600123456", itsp_uri, max(1, rounds // 2), CONCURRENCY)
        print("  " + describe("ITSP down, before marked: answered via E1", pstn_before,
                              max(1, rounds // 2) * CONCURRENCY))
        wait_until(lambda: marked_down(k, itsp_uri), 30)
        pstn_after = place_calls(central, k, "600123456", pstn)
        print("  " + describe("ITSP down, marked inactive: answered via E1", pstn_after, pstn))

        print("goals (p95):")
        goal = [("*130, 1 of 4 down, marked", after, 1.0, base),
                ("*130, 1 of 4 down, before marked", before, 3.0, base),
                ("*123, home node down, marked", home_after, 1.0, home_base),
                ("*123, home node down, before marked", home_before, 3.0, home_base),
                ("PSTN, ITSP down, before marked (E1)", pstn_before, 3.0, itsp_base),
                ("PSTN, ITSP down, marked (E1)", pstn_after, 3.0, itsp_base)]
        for label, values, limit, baseline in goal:
            if not values or not baseline:
                print(f"  {label:<40} no data")
                continue
            ok = "met" if p95(values) <= limit else "NOT met"
            print(f"  {label:<40} {p95(values):6.3f} s (goal <= {limit:g} s: {ok}); "
                  f"baseline p95 {p95(baseline):.3f} s, ratio {p95(values) / p95(baseline):.2f}x")
    finally:
        stop(estate)


if __name__ == "__main__":
    from throwaway import run_in_throwaway_database

    run_in_throwaway_database("bench_failover", main, int(sys.argv[1]) if len(sys.argv) > 1 else CALLS)
