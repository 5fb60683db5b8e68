"""More than one of everything, on Redis and on RabbitMQ: two portals, two push workers, two live workers and two
beats against one database and one broker -- all real processes (gunicorn, ``celery -A voipadmin worker``,
``celery -A voipadmin beat``) -- and a real Kamailio.

What "sent once" means here. Delivery is **at least once on the wire**: a push worker killed while its reload is
on the wire may have reached Kamailio, and the worker that takes the node over once the dead one's lease
expires sends the reload again. That is harmless because a reload makes Kamailio re-read the whole table as it
is now (idempotent, never stale). What must happen **exactly once** is completion: every push job goes from
pending to sent once, never back, never twice, and only after a reload of its command that started after the
job was written. These tests count both: the reloads on the wire (a counting proxy in front of Kamailio's
JSON-RPC) and every state change of every job (a trigger in the database).
"""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from push.models import PushJob, PushNodeState, PushState
from sites import actions as site_actions
from tests.kamailio.harness import sip_register
from voipadmin.actors import Actor

from .rpcproxy import RELOADS

pytestmark = [pytest.mark.kamailio, pytest.mark.postgres]

ACTOR = Actor.command("tests")
DOMAIN = "voip.example.test"
#: what every worker and beat of these tests runs with: a quick sweep, a short node timeout (so a
#: dead worker's lease, node timeout + 5 s, expires 6 s after its last renewal)
TIMINGS = {"VOIPADMIN_PUSH_SWEEP": "1", "VOIPADMIN_PUSH_NODE_TIMEOUT_MS": "1000", "VOIPADMIN_PUSH_RETRY_MAX": "2",
           "VOIPADMIN_PUSH_KAMAILIO_INTERVAL_MS": "0", "VOIPADMIN_PUSH_ASTERISK_INTERVAL_MS": "0",
           "VOIPADMIN_POLL_INTERVAL": "5", "VOIPADMIN_LIVE_NODE_TIMEOUT_MS": "500"}


def password(extension: int) -> str:
    return f"pw-{extension}-Zq8rT5vLm2xK"


class Api:
    """A write-token client spreading requests over the portals, retrying what a portal asks to retry (409
    "another change got in the way", 429), as an integration would."""

    def __init__(self, portals, key: str) -> None:
        self.portals, self.key = portals, key
        self.done = 0
        self.failures: list[str] = []
        self.retry_reasons = Counter()  # what the portals asked to retry, and how often
        self._lock = threading.Lock()

    def call(self, number: int, method: str, path: str, body: dict) -> dict | None:
        url = self.portals[number % len(self.portals)].url + path
        for attempt in range(5):
            request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method, headers={
                "Authorization": f"Token {self.key}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback only
                    result = json.loads(answer.read() or b"{}")
                with self._lock:
                    self.done += 1
                return result
            except urllib.error.HTTPError as exc:
                if exc.code in (409, 429) and attempt < 4:
                    with self._lock:
                        what = f"{method} {path.split('/')[3]}"  # POST users, PATCH dispatcher-sets, ...
                        self.retry_reasons[f"{what}: {exc.code} {exc.read()[:90].decode(errors='replace')}"] += 1
                    time.sleep(0.1 * (attempt + 1))
                    continue
                with self._lock:
                    self.failures.append(f"{method} {path} {body}: {exc.code} {exc.read()[:300]!r}")
                return None
        return None


def start_everything(processes) -> dict:
    """Two portals, two push workers, two live workers, two beats, all started at once (``wait_ready`` next)."""
    return {
        "portals": [processes.portal(f"portal{n}", **TIMINGS) for n in (1, 2)],
        "push": [processes.worker(f"push{n}", "push", **TIMINGS) for n in (1, 2)],
        "live": [processes.worker(f"live{n}", "live", **TIMINGS) for n in (1, 2)],
        "beats": [processes.beat(f"beat{n}", **TIMINGS) for n in (1, 2)],
    }


def build_estate(kamailio, proxy_url: str):
    """A site, four Asterisks (no real ones: they are dispatcher destinations here), the real Kamailio through
    the counting proxy, ten dispatcher sets."""
    from services import actions as svc_actions

    # Kamailio first: a change asks for the reloads of the Kamailio nodes known when it is made
    kam = site_actions.create_kamailio_node(actor=ACTOR, name="kam", sip_address=kamailio.sip_address,
                                            jsonrpc_url=proxy_url)
    site = site_actions.create_site(actor=ACTOR, slug="central", name="Central", kind="central", sip_domain=DOMAIN,
                                    ranges=[(1000, 1999)])
    nodes = [site_actions.create_asterisk_node(actor=ACTOR, site=site, name=f"ast{n}", host=f"127.0.0.{21 + n}",
                                               ami_port=5038, ami_username="admin", ami_secret="secret", roles="pbx")
             for n in range(4)]
    sets = [svc_actions.create_dispatcher_set(actor=ACTOR, setid=n, name=f"set{n}", algorithm=4,
                                              destinations=[{"node": nodes[0]}]) for n in range(1, 11)]
    return site, nodes, kam, sets


MIX = ["user", "set", "user", "trunk", "user", "set", "user", "trunk", "user", "set"]  # 5 : 3 : 2


def burst(site, nodes, sets) -> list[tuple[str, str, dict]]:
    """200 changes, interleaved: 100 new users, 60 dispatcher set changes, 40 ITSP trunks (IP-authenticated)."""
    changes = []
    counts = Counter()
    for i in range(200):
        kind = MIX[i % len(MIX)]
        n = counts[kind]
        counts[kind] += 1
        if kind == "user":
            ext = 1100 + n
            changes.append(("POST", "/api/v1/users/", {"extension": ext, "name": f"User {ext}", "email": "",
                                                       "site": site.pk, "password": password(ext),
                                                       "voicemail_enabled": False}))
        elif kind == "set":
            dset = sets[n % len(sets)]
            members = [nodes[(i + k) % 4] for k in range(1 + i % 4)]
            changes.append(("PATCH", f"/api/v1/dispatcher-sets/{dset.pk}/", {"destinations": [
                {"node": node.pk, "priority": k, "weight": 1 + (i + k) % 5} for k, node in enumerate(members)]}))
        else:
            ip = f"127.0.{5 + n // 200}.{1 + n % 200}"
            changes.append(("POST", "/api/v1/trunks/itsp/", {"name": f"itsp-{n}", "host": ip, "ip_addresses": ip}))
    return changes


def aware(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def worker_of(pid: int, workers) -> object:
    """The worker process (group) a pid belongs to: a prefork child is in its main process's group."""
    group = os.getpgid(pid)
    return next(w for w in workers if w.popen.pid == group)


def settle(kam, deadline: float) -> tuple[bool, str]:
    """Wait until every push job is sent and Kamailio's memory equals the database."""
    from services import estate

    why = ""
    while time.monotonic() < deadline:
        if PushJob.objects.exclude(state=PushState.SENT).exists():
            why = f"{PushJob.objects.exclude(state=PushState.SENT).count()} job(s) not sent"
        else:
            report = estate.check_node(kam, timeout=2)
            if not report.error and not report.differences:
                return True, ""
            why = report.error or "; ".join(f"{d.table} {d.where}: {d.row}" for d in report.differences[:5])
        time.sleep(0.2)
    return False, why


def test_200_changes_through_two_portals_with_a_push_worker_killed_mid_reload_leave_kamailio_exactly_as_the_database(
        processes, rpc_proxy, kamailio_clean, job_transitions):
    from services import estate
    from voipadmin.api.tokens import create_token
    from voipadmin.connectors.kamailio import KamailioRpc, dispatcher_targets
    from voipadmin.kamailio.models import Dispatcher

    t0 = time.monotonic()
    procs = start_everything(processes)
    site, nodes, kam, sets = build_estate(kamailio_clean, rpc_proxy.url)  # (pushed once workers are up)
    _, key = create_token(actor=ACTOR, name="provisioning", scope="write")
    processes.wait_ready(timeout=60)
    started = time.monotonic() - t0
    ok, why = settle(kam, time.monotonic() + 40)
    assert ok, f"the estate's first pushes did not settle: {why}"

    api = Api(procs["portals"], key)
    changes = burst(site, nodes, sets)
    kill = {}
    t1 = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(api.call, n, *change) for n, change in enumerate(changes)]
        # mid-burst: hold the next reload in the proxy, kill -9 the worker that sent it (it holds the lease)
        while api.done < 70 and time.monotonic() - t1 < 60:
            time.sleep(0.01)
        held = rpc_proxy.hold_next(RELOADS)
        assert held.wait(20), "no reload went out after 70 changes"
        token = PushNodeState.objects.get(node_kind="kamailio", node_id=kam.pk).lease_token
        victim = worker_of(int(token.split(":")[1]), procs["push"])
        held_call = next(c for c in rpc_proxy.calls() if c.held)
        claimed = set(PushJob.objects.filter(kamailio_node=kam, state=PushState.PENDING, command=held_call.method,
                                             created__lt=aware(held_call.started)).values_list("pk", flat=True))
        victim.kill()  # SIGKILL to the worker's process group: main process and pool child
        kill.update(time=time.time(), worker=victim.name, method=held_call.method, jobs=claimed)
        rpc_proxy.release()  # the dead worker's reload reaches Kamailio after all
        for future in futures:
            future.result()
    burst_seconds = time.monotonic() - t1
    assert not api.failures, "\n".join(api.failures[:10])
    assert api.done == 200

    ok, why = settle(kam, time.monotonic() + 60)
    settled_seconds = time.monotonic() - t1
    assert ok, f"{why} ({settled_seconds:.1f}s after the burst began)"
    assert not victim.alive and all(w.alive for w in procs["push"] if w is not victim)

    # Kamailio holds exactly the database's state: the estate check, and the dispatcher list read directly
    assert not estate.check_projection()
    report = estate.check_node(kam, timeout=2)
    assert not report.error and not report.differences
    with KamailioRpc(kamailio_clean.rpc_url) as rpc:
        live = {(t["setid"], t["uri"]) for t in dispatcher_targets(rpc.dispatcher_list())}
    assert live == set(Dispatcher.objects.values_list("setid", "destination"))
    for ext in (1100, 1150, 1199):  # users of the burst register with the password they were given
        result = sip_register(kamailio_clean, str(ext), DOMAIN, password(ext))
        assert result.ok, result.output

    # no job lost, none completed twice
    jobs = list(PushJob.objects.filter(kamailio_node=kam).order_by("id"))
    assert {job.state for job in jobs} == {PushState.SENT}
    transitions = job_transitions.all()
    sent = Counter(t.job_id for t in transitions if t.new_state == PushState.SENT and t.old_state != PushState.SENT)
    assert all(sent[job.pk] == 1 for job in jobs), {pk: n for pk, n in sent.items() if n != 1}
    assert not [t for t in transitions if t.old_state == PushState.SENT], "a sent job was changed again"

    # ... each completed by a reload of its command that started after the job was written
    reloads = defaultdict(list)
    for call in rpc_proxy.calls(*RELOADS):
        reloads[call.method].append(call)
    slack = timedelta(milliseconds=5).total_seconds()
    for job in jobs:
        created, sent_at = job.created.timestamp(), job.sent_at.timestamp()
        assert any(c.started >= created - slack and c.ended is not None and c.ended <= sent_at + slack
                   for c in reloads[job.command]), f"{job} was marked sent with no reload after it"
    # ... one reload on the wire at a time (the node's lease), the dead worker's jobs sent again by another
    assert rpc_proxy.max_in_flight.get("reload") == 1
    assert kill["jobs"], "the killed worker had claimed nothing"
    redone = PushJob.objects.filter(pk__in=kill["jobs"])
    assert all(job.sent_at.timestamp() > kill["time"] for job in redone)
    assert any(c.started > kill["time"] for c in reloads[kill["method"]])

    # the live workers polled the real Kamailio meanwhile (through the proxy)
    assert len(rpc_proxy.calls("core.uptime")) >= 2
    wire = {m: len(c) for m, c in reloads.items()}
    by_command = Counter(job.command for job in jobs)
    print(f"\n[{processes.broker}] 8 processes ready in {started:.1f}s; 200 changes through 2 portals in "
          f"{burst_seconds:.1f}s (retried: {dict(api.retry_reasons) or 'none'}); {victim.name} killed mid-"
          f"{kill['method']} holding {len(kill['jobs'])} job(s); all {len(jobs)} jobs sent and Kamailio = database "
          f"{settled_seconds:.1f}s after the burst began; reloads on the wire {wire} for jobs {dict(by_command)}")


def test_two_beats_and_two_live_workers_never_run_two_poll_cycles_at_once(processes, rpc_proxy, kamailio_clean):
    """Only the beat holding the beat lock sends; a burst of poll tasks on two live workers runs one cycle at a time
    (each cycle opens with one ``core.uptime`` per Kamailio, which the proxy slows down to 0.4 s); when the
    leading beat is killed, the other takes over."""
    site_actions.create_kamailio_node(actor=ACTOR, name="kam", sip_address=kamailio_clean.sip_address,
                                      jsonrpc_url=rpc_proxy.url)
    rpc_proxy.delays["core.uptime"] = 0.4
    env = {**TIMINGS, "VOIPADMIN_POLL_INTERVAL": "1"}
    live = [processes.worker(f"live{n}", "live", **env) for n in (1, 2)]
    beats = [processes.beat(f"beat{n}", **env) for n in (1, 2)]
    processes.wait_ready(*live, *beats, timeout=45)

    from voipadmin.celery import app

    for _ in range(8):  # a backlog: two workers take two at a time
        app.send_task("live.tasks.poll_estate")
    deadline = time.monotonic() + 20  # ... then beat's own, every second
    while time.monotonic() < deadline and (sum(w.log().count("poll cycle skipped") for w in live) < 2
                                           or len(rpc_proxy.calls("core.uptime")) < 4):
        time.sleep(0.1)
    cycles = rpc_proxy.calls("core.uptime")
    assert rpc_proxy.max_in_flight["core.uptime"] == 1, "two poll cycles ran at once"
    assert sum(w.log().count("poll cycle skipped") for w in live) >= 2
    assert len(cycles) >= 4

    sending = [b for b in beats if "Sending due task live-poll-estate" in b.log()]
    assert len(sending) == 1, "\n".join(b.log_tail() for b in beats)
    leader = sending[0]
    standby = next(b for b in beats if b is not leader)
    assert "stands by" in standby.log()
    leader.kill()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "Sending due task live-poll-estate" not in standby.log():
        time.sleep(0.1)
    assert "Sending due task live-poll-estate" in standby.log(), standby.log_tail()
    took_over = time.monotonic() - (deadline - 15)
    assert rpc_proxy.max_in_flight["core.uptime"] == 1
    print(f"\n[{processes.broker}] {len(rpc_proxy.calls('core.uptime'))} poll cycles, never two at once; "
          f"standby beat sending {took_over:.1f}s after the leader was killed")
