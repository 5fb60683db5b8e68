#!/usr/bin/env python
"""Bench: N simultaneous callers through the media application service vs. the same call in static dialplan.

Real parts only, all on loopback: the portal's kamailio.cfg in a real Kamailio 5.6, two real Asterisk 22s
configured by ``manage.py asterisk_config`` (one per site, 127.0.0.61-62, both in the media dispatcher set),
``manage.py run_media_apps`` as a process of its own, and one sipp that starts N calls at once (``-l N``, all
sent within a few milliseconds). The estate is built through the portal's actions in a throw-away database
(``<name>_bench_media_apps``, dropped at the end).

Two codes, the same call as the caller hears it (answered, then a prompt):

* static: ``*130`` (kind echo): the node's dialplan runs ``Answer``, ``Playback(demo-echotest)``, ``Echo``;
* application: ``*190`` (kind application) → an IVR menu whose prompt is ``demo-echotest``: the node's
  ``[va-app]`` offers the call to the service (``StasisBroadcast``), which claims it, reads the code and menu
  from the database, answers and plays the prompt over ARI.

Each phase is ROUNDS bursts of N calls, static and application alternating. Figures:

* call setup at the phone (its first INVITE → the 200 OK, the 407 challenge included, from sipp's message
  trace), p50 / p95 per way, and calls set up per second per burst (N / first INVITE → last 200 OK);
* the service's added latency: StasisStart → its first ARI request for the call (``run_media_apps
  --latency-log``, timed in the service), p50 / p95 — goal ≤ 20 ms at p95 with 50 simultaneous calls;
* mid-burst, what the dashboard's media panel reads (calls in menus, the service's health).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voipadmin .venv/bin/python bench/media_apps.py [N] [ROUNDS]
"""
from __future__ import annotations

import json
import os
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

from blf import nodes_active, p95, stop  # noqa: E402 - (bench/ is on sys.path when run as a script)

CALLS = 50
ROUNDS = 3
HOLD_MS = 4000  # every call of a burst is up at once: the bursts are "N simultaneous calls"
PASSWORD = "bench-media-password-1"
NODES = [("ast-central-media", "central", "127.0.0.61"), ("ast-branch1-media", "branch1", "127.0.0.62")]
E1_SIM = "127.0.0.63"
CALLER = (1001, "127.0.0.160")
STATIC, APPLICATION = "*130", "*190"
PROMPT = "demo-echotest"
INSTANCE = "bench"
#: sipp's traces of a burst with failed calls go here
FAILURES = Path(tempfile.gettempdir()) / "bench-media-apps-failures.log"


# -- figures ------------------------------------------------------------------------------------------------


def describe(label: str, values: list[float], count: int, unit: str = "ms") -> str:
    if not values:
        return f"{label:<48} n= 0/{count}"
    return (f"{label:<48} n={len(values):>3}/{count:<3} p50 {statistics.median(values):7.1f} {unit}  "
            f"p95 {p95(values):7.1f} {unit}  max {max(values):7.1f} {unit}")


_BLOCK = re.compile(r"^-+ (\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+)\n(UDP message (sent|received).*?)(?=^-+ \d{4}-|\Z)",
                    re.M | re.S)
_CALL_ID = re.compile(r"^\s*Call-ID:\s*(\S+)", re.M | re.I)


def setups(message_log: str) -> dict[str, tuple[datetime, datetime | None]]:
    """Per Call-ID: when the phone sent its first INVITE and when it received the INVITE's 200 OK."""
    calls: dict[str, list] = {}
    for stamp, body, direction in _BLOCK.findall(message_log):
        found = _CALL_ID.search(body)
        if not found:
            continue
        when = datetime.strptime(re.sub(r"\s+", " ", stamp), "%Y-%m-%d %H:%M:%S.%f")
        lines = [line.strip() for line in body.splitlines()[1:] if line.strip()]
        first = lines[0] if lines else ""
        call = calls.setdefault(found.group(1), [None, None])
        if direction == "sent" and call[0] is None and first.startswith("INVITE "):
            call[0] = when
        elif (direction == "received" and call[1] is None and first.startswith("SIP/2.0 200")
              and "INVITE" in body.split("CSeq:", 1)[-1][:40]):
            call[1] = when
    return {cid: (sent, answered) for cid, (sent, answered) in calls.items() if sent is not None}


# -- the estate ---------------------------------------------------------------------------------------------


def build(workdir: Path) -> SimpleNamespace:
    """Kamailio, the estate through the portal's actions, two Asterisks, the menu and its code."""
    from django.conf import settings
    from django.db import connection

    from tests.kamailio.harness import KamailioInstance, dburl_from_settings
    from voipadmin.actors import Actor
    from voipadmin.celery import app

    settings.LIVE_RELOAD = True
    settings.PUSH_MIN_INTERVAL_SECONDS = {"asterisk": 0.0, "kamailio": 0.0}
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    kamailio = KamailioInstance(dburl_from_settings(connection.settings_dict), workdir / "kamailio")
    kamailio.start()
    asterisks: dict = {}
    try:
        return _build(kamailio, asterisks, workdir, Actor.command("bench"))
    except BaseException:
        stop(SimpleNamespace(procs=[], asterisks=asterisks, kamailio=kamailio))
        raise


def _build(kamailio, asterisks: dict, workdir: Path, actor) -> SimpleNamespace:
    from django.core.management import call_command

    from media import actions as media_actions
    from nodeconf import database
    from services import actions as service_actions
    from tests.asterisk.estate import EstatePlan, NodePlan, build_estate
    from tests.asterisk.harness import AsteriskInstance, asterisk_prefix, free_port
    from tests.asterisk.sounds import install_prompts
    from users import actions as user_actions

    plan = EstatePlan(db_role="estate", e1_sim=(E1_SIM, free_port(E1_SIM)), nodes=tuple(
        NodePlan(name=name, site=site, host=host, sip_port=free_port(host), ami_port=free_port(host, udp=False),
                 http_port=free_port(host, udp=False), roles="pbx,voicemail,conference,gateway")
        for name, site, host in NODES))
    database.apply(database.estate_sql())
    estate = build_estate(plan, kamailio=kamailio, actor=actor)  # *130: echo, routed to the media set
    user_actions.create_user(actor=actor, extension=CALLER[0], name="Bench caller", site=estate.sites["central"],
                             password=PASSWORD)
    code = service_actions.create_service_code(actor=actor, code=APPLICATION, name="Bench menu", kind="application",
                                               route_to="set", dispatcher_set=estate.media)
    media_actions.create_ivr_menu(actor=actor, site=estate.sites["central"], name="Bench menu", prompt_sound=PROMPT,
                                  timeout=30, attempts=1, service_code=code,
                                  options=[{"key": "timeout", "action": "hangup"}])
    for n in plan.nodes:
        node = asterisks[n.name] = AsteriskInstance(asterisk_prefix(), workdir / n.name, name=n.name)
        call_command("asterisk_config", n.name, out=str(node.etc), prefix=str(node.prefix), state_dir=str(node.state),
                     db_role="estate", ami_permit=["127.0.0.0/8"], stdout=open(os.devnull, "w"))
        for name, text in plan.local_files(n.site).items():
            (node.etc / name).write_text(text)
        install_prompts(node.sounds)
    for node in asterisks.values():
        node.start()
    return SimpleNamespace(kamailio=kamailio, plan=plan, estate=estate, asterisks=asterisks, procs=[],
                           workdir=workdir)


def start_service(estate) -> SimpleNamespace:
    """``manage.py run_media_apps`` on the bench's database, until every node lists its ARI application."""
    import httpx
    from django.db import connection

    from tests.kamailio.harness import dburl_from_settings

    log, latency = estate.workdir / "media-apps.log", estate.workdir / "latency.jsonl"
    env = {**os.environ, "DATABASE_URL": dburl_from_settings(connection.settings_dict), "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "run_media_apps", "--instance", INSTANCE,
                                 "--latency-log", str(latency), "--refresh", "1"], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    estate.procs.append(proc)
    started, app = time.monotonic(), f"voipadmin.{INSTANCE}"
    while True:
        listed = []
        for n in estate.plan.nodes:
            try:
                answer = httpx.get(f"{n.ari_url}/applications", auth=("voipadmin", n.ari_password), timeout=2)
                listed.append(app in [a["name"] for a in answer.json()])
            except (httpx.HTTPError, ValueError):
                listed.append(False)
        if all(listed):
            return SimpleNamespace(proc=proc, log=log, latency=latency, connected=time.monotonic() - started)
        if proc.poll() is not None or time.monotonic() - started > 30:
            sys.exit(f"run_media_apps did not connect to every node:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


# -- a burst ------------------------------------------------------------------------------------------------


def burst(kamailio, number: str, calls: int, workdir: Path, during=None) -> SimpleNamespace:
    """``calls`` calls to ``number`` started at once by one sipp (tests/sip's phone scenario), each held
    HOLD_MS; ``during()`` runs once they are all up. Setup seconds per answered call; failures counted."""
    from tests.kamailio.harness import require_binary
    from tests.sip import Phone, call_scenario

    phone = Phone(str(CALLER[0]), PASSWORD, ip=CALLER[1])
    tmp = Path(tempfile.mkdtemp(prefix="burst-", dir=workdir))
    csv = tmp / "caller.csv"
    csv.write_text(f"SEQUENTIAL\n{phone.user};{phone.domain}\n")
    cmd = [require_binary("sipp"), f"{kamailio.sip_ip}:{kamailio.sip_port}", "-sf", str(call_scenario(tmp, HOLD_MS)),
           "-inf", str(csv), "-s", number, "-i", phone.ip, "-p", str(phone.port), "-mi", phone.ip,
           "-m", str(calls), "-l", str(calls), "-r", str(calls * 20), "-rp", "1000", "-nostdin",
           "-timeout", "60s", "-timeout_error", "-au", phone.user, "-ap", phone.password,
           "-trace_msg", "-message_file", str(tmp / "messages.log")]
    proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = None
    if during is not None:
        time.sleep(HOLD_MS / 2000)
        seen = during()
    _, stderr = proc.communicate(timeout=120)
    log = (tmp / "messages.log").read_text(errors="replace") if (tmp / "messages.log").exists() else ""
    found = setups(log)
    answered = {cid: (sent, ok) for cid, (sent, ok) in found.items() if ok is not None}
    if proc.returncode != 0 or len(answered) < calls:
        with open(FAILURES, "a") as out:
            out.write(f"===== {number}: sipp exit {proc.returncode}, {len(answered)}/{calls} answered\n{stderr}\n"
                      f"{log}\n")
    first = min((sent for sent, _ in found.values()), default=None)
    last = max((ok for _, ok in answered.values()), default=None)
    span = (last - first).total_seconds() if first and last else 0.0
    return SimpleNamespace(setup=[(ok - sent).total_seconds() for sent, ok in answered.values()],
                           answered=len(answered), calls=calls, span=span, exit=proc.returncode, seen=seen,
                           first=first.timestamp() if first else None,
                           answers=[ok.timestamp() for _, ok in answered.values()])


def dashboard_view() -> str:
    """What the dashboard's media panel shows now (media.overview, the same reading)."""
    from media.overview import media_overview

    media = media_overview()
    alive = media["health"].alive
    per_node = ", ".join(f"{n.node['name']} {n.calls}" for n in media["menus"])
    return (f"{media['menu_calls']} calls in menus ({per_node}); instances alive {len(alive)}, connected "
            f"{', '.join(f'{i.name} {len(i.connected)}/{i.enabled}' for i in alive)}")


def main(calls: int, rounds: int) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("bench/media_apps.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-media-apps-"))
    FAILURES.unlink(missing_ok=True)
    started = time.monotonic()
    estate = build(workdir)
    try:
        service = start_service(estate)
        uris = [node.sip_uri for node in estate.estate.nodes.values()]
        deadline = time.monotonic() + 20
        while not nodes_active(estate.kamailio, uris) and time.monotonic() < deadline:
            time.sleep(0.1)
        print(f"media apps bench: Kamailio 5.6 + 2 Asterisk 22 + run_media_apps (estate set up in "
              f"{time.monotonic() - started:.1f} s, service connected to both nodes after {service.connected:.1f} s); "
              f"{rounds} bursts of {calls} simultaneous calls each way, each call held {HOLD_MS / 1000:g} s")
        # one call each way first: the nodes' first channel, the service's first database queries
        for number in (STATIC, APPLICATION):
            burst(estate.kamailio, number, 1, workdir)
        skip = len(read_latencies(service.latency))
        ways = {STATIC: [], APPLICATION: []}
        load = os.getloadavg()[0]
        views = []
        for _ in range(rounds):
            for number in (STATIC, APPLICATION):
                result = burst(estate.kamailio, number, calls, workdir,
                               dashboard_view if number == APPLICATION else None)
                ways[number].append(result)
                if result.seen:
                    views.append(result.seen)
        entries = [e for e in read_latencies(service.latency)[skip:] if e.get("kind") == "code"]
        report(calls, ways, entries, views)
        print("load average (1 min) at the start of the calls {:.1f}, at the end {:.1f}; {} cores".format(
            load, os.getloadavg()[0], os.cpu_count()))
    finally:
        stop(estate)
        if not os.environ.get("MEDIA_BENCH_KEEP"):
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


def report(calls: int, ways: dict, entries: list[dict], views: list[str]) -> None:
    """Each way's setup at the phone and rate, the service's latency, where a burst's time goes, the goal."""
    setup = {number: [1000 * s for r in results for s in r.setup] for number, results in ways.items()}
    for number, label in ((STATIC, "static dialplan (Answer + Playback)"),
                          (APPLICATION, "application service (menu: answer + prompt)")):
        results = ways[number]
        rates = [f"{r.answered / r.span:.0f}" if r.span else "-" for r in results]
        print(f"{number} {label}:")
        print("  " + describe("call setup at the phone (INVITE -> 200 OK)", setup[number],
                              sum(r.calls for r in results)))
        print(f"  calls set up per second, per burst of {calls}: {', '.join(rates)} "
              f"(first INVITE -> last 200 OK: {', '.join(f'{r.span:.3f}' for r in results)} s)")
        failed = [r for r in results if r.exit != 0 or r.answered < r.calls]
        if failed:
            print(f"  !! {len(failed)} bursts had unanswered or failed calls (sipp traces in {FAILURES})")
    latencies = [e["latency_ms"] for e in entries]
    # where a burst's time goes: its first INVITE -> the service's first action (StasisStart + the latency
    # above; before it: Kamailio, the dialplan, StasisBroadcast and the claim) and -> the phones' 200 OKs
    # (a burst's first actions come before its calls' hang-up: HOLD_MS after the first INVITE at the latest)
    acted, answered_at = [], []
    for r in (r for r in ways[APPLICATION] if r.first is not None):
        acted += [1000 * (e["at"] - r.first) for e in entries if r.first <= e["at"] <= r.first + HOLD_MS / 1000]
        answered_at += [1000 * (t - r.first) for t in r.answers]
    print("  " + describe("service: StasisStart -> first action", latencies,
                          sum(r.calls for r in ways[APPLICATION])))
    print("  " + describe("burst's first INVITE -> service's first action", acted, len(acted)))
    # the same, split where the service sees it (runner: CallBroadcast received, claim answered, StasisStart)
    split = [e for e in entries if "broadcast_to_start_ms" in e]
    heard = [1000 * (e["at"] - r.first) - e["latency_ms"] - e["broadcast_to_start_ms"]
             for r in ways[APPLICATION] if r.first is not None
             for e in split if r.first <= e["at"] <= r.first + HOLD_MS / 1000]
    print("  " + describe("  of which: -> CallBroadcast at the service", heard, len(heard)))
    print("  " + describe("  of which: CallBroadcast -> claim answered", [e["claim_ms"] for e in split], len(split)))
    print("  " + describe("  of which: CallBroadcast -> StasisStart", [e["broadcast_to_start_ms"] for e in split],
                          len(split)))
    print("  " + describe("burst's first INVITE -> 200 OK at the phone", answered_at, len(answered_at)))
    for view in views[:1]:
        print(f"  mid-burst, the dashboard read: {view}")
    if latencies:
        ok = "met" if p95(latencies) <= 20 else "NOT met"
        print(f"goal: service's added latency p95 <= 20 ms at {calls} simultaneous calls: "
              f"{p95(latencies):.1f} ms ({ok})")
    static, app = setup[STATIC], setup[APPLICATION]
    if static and app:
        print(f"setup at the phone, application vs static: p50 {statistics.median(app):.1f} vs "
              f"{statistics.median(static):.1f} ms, p95 {p95(app):.1f} vs {p95(static):.1f} ms")


def read_latencies(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    from throwaway import run_in_throwaway_database

    run_in_throwaway_database("bench_media_apps", main, int(sys.argv[1]) if len(sys.argv) > 1 else CALLS,
                              int(sys.argv[2]) if len(sys.argv) > 2 else ROUNDS)
