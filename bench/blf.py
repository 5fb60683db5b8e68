#!/usr/bin/env python
"""Bench: busy-lamp latency — from a state change on an Asterisk to the watcher's NOTIFY (issue 15).

Real parts only, all on loopback: the portal's kamailio.cfg in a real Kamailio 5.6 (the presence server), two
real Asterisk 22s configured by ``manage.py asterisk_config`` (one per site, 127.0.0.51-52), sipp phones. The
estate is built through the portal's actions in a throw-away database (``<name>_bench_blf``, dropped at the
end): 500 watched users spread over both sites and 8 receptionists whose BLF keys (at most 64 each) cover those
500, brought in as one CSV through the portal's import (``blf`` column). Each receptionist's phone
(tests/sip/watcher.py, one socket each) SUBSCRIBEs to its own keys: 500 subscriptions.

State changes are made the way the estate makes them, by calls the Asterisks carry, CONCURRENCY at a time: half
are a node ringing a watched user's phone (AMI ``Originate Local/<ext>@va-ring``, nodes alternating, through
Kamailio to the registered sipp phone, which rings, answers and is hung up: 3 changes), half a watched user's
phone calling ``*130`` (the echo test, round robin over both nodes: the caller's lamp goes in use, then off:
2 changes). Each change is taken from the node's AMI (``DeviceStateChange`` of ``Custom:va-<ext>``); its moment
is when the node's channel ran the ``Set(DEVICE_STATE(Custom:va-<ext>)=...)`` that made it, from a log of the
dialplan's steps stamped to the microsecond (the bench adds it to the generated logger.conf). AMI's own
``Timestamp`` (manager.conf ``timestampevents``, the nodes' manager_local.conf) is only the fallback: Asterisk
stamps a manager event when it writes it out, which under load comes after the change was published. The NOTIFY
is the first one after the change showing the lamp it makes, timed by ``time.time()`` when the watcher got it (same
clock). The node's PUBLISH of the change is seen leaving it on ``lo`` (a packet socket with kernel timestamps: the
bench runs as root), which splits the figure into Asterisk (change → PUBLISH sent) and Kamailio (PUBLISH →
NOTIFY). No NOTIFY within 5 s: the change is lost (what the node, the wire and the watcher saw of it goes to
FAILURES).

Baseline in the same run (Kamailio alone): the bench PUBLISHes dialog-info itself from a node's address
(tests/sip/watcher.py ``publish_dialog_info``), early → confirmed → terminated on 34 other watched extensions,
one at a time; the PUBLISH's send time → the NOTIFY's arrival.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voipadmin .venv/bin/python bench/blf.py [CHANGES]

``BLF_KAMAILIO_CFG=<path>`` runs another kamailio.cfg (a candidate change); ``BLF_TRACE=<file>`` writes there
every PUBLISH and its answers seen on ``lo``, and keeps the nodes' and Kamailio's files (its working directory).
"""
from __future__ import annotations

import concurrent.futures
import math
import os
import queue
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipadmin.settings")

CHANGES = 100
CONCURRENCY = 4
PASSWORD = "bench-blf-password-1"
#: watched users: (site, first extension, how many)
WATCHED = [("central", 2000, 250), ("branch1", 4000, 250)]
#: receptionists (central), one watcher phone each, on 127.0.0.150+
RECEPTIONISTS = [(1001 + i, f"127.0.0.{150 + i}") for i in range(8)]
#: watched users with a phone the nodes ring (registered; a sipp UAS ringing RING_MS then answering), and
#: watched users whose phone calls *130; each on its own loopback address
RUNG = [(2000 + i, f"127.0.0.{170 + i}") for i in range(3)] + [(4000 + i, f"127.0.0.{175 + i}") for i in range(3)]
CALLERS = [(2010 + i, f"127.0.0.{180 + i}") for i in range(3)] + [(4010 + i, f"127.0.0.{185 + i}") for i in range(3)]
#: the baseline's extensions (no phone, nothing else publishes them)
BASELINE_FIRST = (2100, 4100)
NODES = [("ast-central-blf", "central", "127.0.0.51"), ("ast-branch1-blf", "branch1", "127.0.0.52")]
E1_SIM = "127.0.0.53"
RING_MS, HOLD_MS = 400, 600
LOST_AFTER = 5.0
OFF = {"terminated", "idle"}
#: how long before its AMI Timestamp a change may have been made (the stamp is late under load)
STAMP_SLACK = 0.3
#: each node's log of its dialplan steps (in its log directory)
STEPS_LOG = "bench-steps.log"
#: where what the nodes, the wire and the watchers saw of each lost change goes
FAILURES = Path(tempfile.gettempdir()) / "bench-blf-lost.log"
LAMP = {"RINGING": "early", "INUSE": "confirmed", "BUSY": "confirmed", "ONHOLD": "confirmed",
        "NOT_INUSE": "terminated"}


# -- figures ------------------------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def describe(label: str, values: list[float], count: int, *, lost: bool = True) -> str:
    if not values:
        return f"{label:<44} no NOTIFY of {count} changes"
    return (f"{label:<44} n={len(values):>3}/{count:<3} p50 {1000 * statistics.median(values):6.1f} ms  "
            f"p95 {1000 * p95(values):6.1f} ms  max {1000 * max(values):6.1f} ms"
            + (f"  lost {count - len(values)}" if lost else ""))


# -- what the watchers saw ----------------------------------------------------------------------------------


class Lamps:
    """Every NOTIFY of every watcher: extension -> [(time.time() on arrival, lamp state)]."""

    def __init__(self):
        self.seen: dict[str, list[tuple[float, str | None]]] = defaultdict(list)
        self.lock = threading.Lock()

    def on_notify(self, subscription, notify) -> None:
        now = time.time()
        extension = subscription.target.split(":", 1)[1].split("@", 1)[0]
        with self.lock:
            self.seen[extension].append((now, notify.state))

    def first(self, extension: str, state: str, since: float, not_before: float = 0.0) -> float | None:
        """Arrival of the first NOTIFY of ``extension`` showing ``state`` at or after ``since`` (a lamp off is
        "terminated" or "idle": a call that ended, or no dialog at all)."""
        wanted = OFF if state in OFF else {state}
        with self.lock:
            for at, seen in self.seen[extension]:
                if at >= since and at >= not_before and seen in wanted:
                    return at
        return None


# -- the nodes' side: AMI events and the PUBLISHes on the wire ----------------------------------------------


class AmiEvents(threading.Thread):
    """A raw AMI connection to one node: logs in, records every DeviceStateChange of a lamp (``Custom:va-<ext>``)
    as (Timestamp, extension, state), and sends Originate actions."""

    def __init__(self, name: str, host: str, port: int, username: str, secret: str):
        super().__init__(name=f"ami-{name}", daemon=True)
        self.node = name
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.settimeout(None)
        self.changes: list[tuple[float, str, str]] = []
        self.missing_timestamp = 0
        self.failed_originates: list[str] = []
        self.logged_in = threading.Event()
        self.failed = ""
        self._buffer = b""
        self._send({"Action": "Login", "Username": username, "Secret": secret, "Events": "call"})
        self.start()

    def _send(self, fields: dict[str, str]) -> None:
        self.sock.sendall(("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode())

    def originate(self, extension: str, seconds: float) -> None:
        self._send({"Action": "Originate", "Channel": f"Local/{extension}@va-ring", "Application": "Wait",
                    "Data": f"{seconds:g}", "Async": "true", "ActionID": f"bench-{extension}-{time.monotonic()}"})

    def run(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            self._buffer += data
            while b"\r\n\r\n" in self._buffer:
                block, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
                fields = {}
                for line in block.decode(errors="replace").split("\r\n"):
                    key, _, value = line.partition(": ")
                    fields[key] = value
                self._handle(fields)

    def _handle(self, fields: dict[str, str]) -> None:
        if fields.get("Response") and not self.logged_in.is_set():
            if fields["Response"] == "Success":
                self.logged_in.set()
            else:
                self.failed = fields.get("Message", "login refused")
                self.logged_in.set()
            return
        if fields.get("Event") == "OriginateResponse" and fields.get("Response") != "Success":
            self.failed_originates.append(f"{fields.get('Channel', '?')}: {fields.get('Reason', '?')}")
            return
        if fields.get("Event") != "DeviceStateChange" or not fields.get("Device", "").startswith("Custom:va-"):
            return
        stamp = fields.get("Timestamp")
        if stamp is None:
            self.missing_timestamp += 1
            stamp = str(time.time())  # not the node's own stamp: arrival here
        self.changes.append((float(stamp), fields["Device"][len("Custom:va-"):], fields.get("State", "")))

    def close(self) -> None:
        try:
            self._send({"Action": "Logoff"})
            self.sock.close()
        except OSError:
            pass


_STEP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\].*Executing \[[^]]*\] Set\(.*"
                   r"DEVICE_STATE\(Custom:va-(\d+)\)=(\w+)")


def dialplan_sets(node) -> dict[tuple[str, str], list[float]]:
    """(extension, state) -> when the node's channels ran Set(DEVICE_STATE(Custom:va-<ext>)=<state>), from its
    steps log (the node runs in UTC)."""
    from datetime import datetime, timezone

    sets: dict[tuple[str, str], list[float]] = defaultdict(list)
    path = node.messages_log.parent / STEPS_LOG
    if not path.exists():
        return sets
    for line in path.read_text(errors="replace").splitlines():
        match = _STEP.match(line)
        if match:
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
            sets[(match.group(2), match.group(3))].append(when.timestamp())
    return sets


SO_TIMESTAMPNS = 35  # Linux: SCM_TIMESTAMPNS ancillary data, a struct timespec of CLOCK_REALTIME


class PublishCapture(threading.Thread):
    """The PUBLISHes the nodes send, as they leave (a packet socket on ``lo``; needs root), each with the
    kernel's timestamp of the packet: [(epoch seconds, source address, extension, dialog state or None)]."""

    def __init__(self, sources: set[str]):
        super().__init__(name="publish-capture", daemon=True)
        self.sources = {socket.inet_aton(s) for s in sources}
        self.sent: list[tuple[float, str, str, str | None]] = []
        self.trace = os.environ.get("BLF_TRACE")  # a file: every PUBLISH and its answers, in full
        self.packets: list[tuple[float, bytes]] = []
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024 * 1024)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)  # the kernel's time of each packet
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.2)
        self.dropped = 0
        self._halt = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                frame, ancillary, _flags, address = self.sock.recvmsg(65535, 256)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            now = next((sec + nsec / 1e9 for level, kind, data in ancillary
                        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS
                        for sec, nsec in [struct.unpack("qq", data[:16])]), None) or time.time()
            if address[2] != socket.PACKET_OUTGOING or len(frame) < 42 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
            if ip[9] != 17 or (ip[12:16] not in self.sources and not (self.trace and ip[16:20] in self.sources)):
                continue
            payload = ip[(ip[0] & 0x0F) * 4 + 8:]
            if self.trace and b"PUBLISH\r\n" in payload[:2000]:
                self.packets.append((now, ip[12:20] + payload))
            if not payload.startswith(b"PUBLISH sip:"):
                continue
            extension = payload[12:].split(b"@", 1)[0].decode(errors="replace")
            state = re.search(rb"<state>(\w+)</state>", payload)
            self.sent.append((now, socket.inet_ntoa(ip[12:16]), extension,
                              state.group(1).decode() if state else None))

    def first(self, host: str, extension: str, state: str, since: float) -> float | None:
        for at, source, ext, sent_state in list(self.sent):
            if at >= since and source == host and ext == extension and sent_state == state:
                return at
        return None

    def drops(self) -> int:
        """Packets the kernel dropped for this socket so far (PACKET_STATISTICS; reading resets them)."""
        packets_drops = self.sock.getsockopt(263, 6, 8)  # SOL_PACKET, PACKET_STATISTICS: struct tpacket_stats
        self.dropped += int.from_bytes(packets_drops[4:8], sys.byteorder)
        return self.dropped

    def close(self) -> None:
        self._halt.set()
        self.join(1)
        self.sock.close()
        if self.trace:
            with open(self.trace, "w") as out:
                for at, data in self.packets:
                    out.write(f"----- {at:.6f} {socket.inet_ntoa(data[:4])} -> {socket.inet_ntoa(data[4:8])}\n"
                              f"{data[8:].decode(errors='replace')}\n")


# -- the estate ---------------------------------------------------------------------------------------------


def ringing_uas(host: str, port: int, workdir: Path) -> subprocess.Popen:
    """A sipp UAS on host:port that rings RING_MS then answers every call until stopped (tests/sip's
    answer.xml without its stop after the first call)."""
    from tests.kamailio.harness import require_binary
    from tests.sip import SCENARIOS

    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "ring-answer-all.xml"
    scenario.write_text((SCENARIOS / "answer.xml").read_text()
                        .replace('<nop><action><exec int_cmd="stop_gracefully"/></action></nop>', "")
                        .replace('  <send retrans="500">',
                                 f'  <pause milliseconds="{RING_MS}"/>\n  <send retrans="500">', 1))
    cmd = [require_binary("sipp"), "-sf", str(scenario), "-i", host, "-p", str(port), "-mi", host, "-nostdin"]
    return subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def build(workdir: Path) -> SimpleNamespace:
    """Kamailio, the estate through the portal's actions, two Asterisks configured by asterisk_config."""
    from django.conf import settings
    from django.db import connection

    from tests.kamailio.harness import KamailioInstance, dburl_from_settings
    from voipadmin.actors import Actor
    from voipadmin.celery import app

    settings.LIVE_RELOAD = True
    settings.PUSH_MIN_INTERVAL_SECONDS = {"asterisk": 0.0, "kamailio": 0.0}
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    actor = Actor.command("bench")

    other_cfg = {"cfg": os.environ["BLF_KAMAILIO_CFG"]} if os.environ.get("BLF_KAMAILIO_CFG") else {}
    kamailio = KamailioInstance(dburl_from_settings(connection.settings_dict), workdir / "kamailio",
                                defines={"UAC_REG_GC_INTERVAL": "2"}, **other_cfg)
    kamailio.start()
    asterisks: dict = {}
    try:
        return _build(kamailio, asterisks, workdir, actor)
    except BaseException:
        stop(SimpleNamespace(procs=[], asterisks=asterisks, kamailio=kamailio))
        raise


def _build(kamailio, asterisks: dict, workdir: Path, actor) -> SimpleNamespace:
    from django.core.management import call_command

    from nodeconf import database
    from tests.asterisk.estate import EstatePlan, NodePlan, build_estate
    from tests.asterisk.harness import AsteriskInstance, asterisk_prefix, free_port
    from tests.asterisk.sounds import install_prompts
    from users import csvio
    from users.models import SipUser

    plan = EstatePlan(db_role="estate", e1_sim=(E1_SIM, free_port(E1_SIM)), nodes=tuple(
        NodePlan(name=name, site=site, host=host, sip_port=free_port(host), ami_port=free_port(host, udp=False),
                 http_port=free_port(host, udp=False), roles="pbx,voicemail,conference,gateway")
        for name, site, host in NODES))
    database.apply(database.estate_sql())
    estate = build_estate(plan, kamailio=kamailio, actor=actor)
    # the users, as an operator brings an estate's users in: one CSV import (Users -> Import CSV), the
    # receptionists' BLF keys in its blf column
    watched = [(ext, slug) for slug, first, count in WATCHED for ext in range(first, first + count)]
    share = math.ceil(len(watched) / len(RECEPTIONISTS))
    lines = ["extension,name,email,site,password,voicemail,blf"]
    lines += [f"{ext},Watched {ext},,{slug},{PASSWORD},no," for ext, slug in watched]
    lines += [f"{ext},Reception {ext},,central,{PASSWORD},no,"
              + ";".join(str(e) for e, _ in watched[index * share:(index + 1) * share])
              for index, (ext, _ip) in enumerate(RECEPTIONISTS)]
    started = time.monotonic()
    report = csvio.run("\n".join(lines) + "\n", actor=actor, message="bench/blf.py users")
    if not report.imported:
        sys.exit(f"the users' CSV import failed: {report.errors[:5]}")
    users_seconds = time.monotonic() - started
    keys = {u.extension: [str(m.monitored.extension) for m in sorted(u.monitored_extensions.all(),
                                                                     key=lambda m: m.position)]
            for u in SipUser.objects.filter(extension__in=[e for e, _ in RECEPTIONISTS])
            .prefetch_related("monitored_extensions__monitored")}
    for n in plan.nodes:
        node = asterisks[n.name] = AsteriskInstance(asterisk_prefix(), workdir / n.name, name=n.name)
        call_command("asterisk_config", n.name, out=str(node.etc), prefix=str(node.prefix), state_dir=str(node.state),
                     db_role="estate", ami_permit=["127.0.0.0/8"], stdout=open(os.devnull, "w"))
        for name, text in plan.local_files(n.site).items():
            (node.etc / name).write_text(text)
        # the bench's additions: AMI events carry the node's own Timestamp, and a log of the dialplan's steps
        # stamped to the microsecond when the channel runs them (the Set(DEVICE_STATE(...)) that is the change)
        (node.etc / "manager_local.conf").write_text("[general](+)\ntimestampevents = yes\n")
        logger = node.etc / "logger.conf"
        logger.write_text(logger.read_text().replace("%3q", "%6q") + f"{STEPS_LOG} => verbose(3)\n")
        install_prompts(node.sounds)
    for node in asterisks.values():
        node.start()
    return SimpleNamespace(kamailio=kamailio, plan=plan, estate=estate, asterisks=asterisks, keys=keys,
                           users_seconds=users_seconds, procs=[], workdir=workdir)


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


def nodes_active(kamailio, uris: list[str]) -> bool:
    """Kamailio's dispatcher holds every node active and probed (answered a keepalive): *130 reaches them."""
    from voipadmin.connectors.kamailio import dispatcher_targets

    try:
        flags = [t["flags"] for t in dispatcher_targets(kamailio.rpc("dispatcher.list")) if t["uri"] in uris]
    except Exception:  # noqa: BLE001 - "No Destination Sets" while starting
        return False
    return len(flags) >= len(uris) and all(f == "AP" for f in flags)


# -- phases -------------------------------------------------------------------------------------------------


def baseline(kamailio, lamps: Lamps, source_ip: str, changes: int) -> tuple[list[float], int]:
    """Kamailio alone: the bench PUBLISHes (from a trusted node address) early, confirmed, terminated on its
    own extensions, one at a time; PUBLISH sent -> NOTIFY showing it."""
    from tests.sip.watcher import publish_dialog_info

    proxy = (kamailio.sip_ip, kamailio.sip_port)
    extensions = [str(first + i) for i in range(math.ceil(changes / 6)) for first in BASELINE_FIRST]
    steps = [(ext, state) for ext in extensions for state in ("early", "confirmed", "terminated")][:changes]
    times, etags = [], {}
    for extension, state in steps:
        call_id = f"bench-{extension}"
        sent = time.time()
        answer = publish_dialog_info(source_ip=source_ip, proxy=proxy, extension=extension, state=state,
                                     call_id=call_id, etag=etags.get(extension))
        if answer is None or answer.status != 200:
            continue
        etags[extension] = answer.get("sip-etag")
        deadline = time.monotonic() + LOST_AFTER
        while time.monotonic() < deadline:
            arrived = lamps.first(extension, state, sent)
            if arrived is not None:
                times.append(arrived - sent)
                break
            time.sleep(0.002)
    return times, len(steps)


def make_calls(estate, ami: dict[str, AmiEvents], changes: int) -> tuple[str, list[str]]:
    """Calls the nodes carry until ``changes`` lamp changes: alternately a node rings a watched phone (3) and
    a watched phone calls *130 (2), CONCURRENCY at a time, each phone in one call at a time."""
    from tests.sip import Phone

    plan, rung_free, callers_free = [], queue.Queue(), queue.Queue()
    for item in RUNG:
        rung_free.put(item)
    for item in CALLERS:
        callers_free.put(item)
    total = 0
    while total < changes:
        kind = "ring" if len(plan) % 2 == 0 else "echo"
        plan.append(kind)
        total += 3 if kind == "ring" else 2
    nodes = list(ami.values())
    problems = []

    def ring(index: int) -> None:
        extension, _ip = rung_free.get()
        try:
            nodes[index % len(nodes)].originate(str(extension), HOLD_MS / 1000)
            time.sleep(RING_MS / 1000 + HOLD_MS / 1000 + 1.0)  # rings, held, hung up (and a margin)
        finally:
            rung_free.put((extension, _ip))

    def echo(_index: int) -> None:
        extension, ip = callers_free.get()
        try:
            result = Phone(str(extension), PASSWORD, ip=ip).call(estate.kamailio, "*130", hold_ms=HOLD_MS)
            if not result.ok:
                problems.append(f"{extension} -> *130: {result.status} exit {result.exit_code}")
        finally:
            callers_free.put((extension, ip))

    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda item: (ring if item[1] == "ring" else echo)(item[0]), enumerate(plan)))
    return (f"{plan.count('ring')} calls a node rang + {plan.count('echo')} calls to *130, {CONCURRENCY} at a "
            f"time: {total} lamp changes planned"), problems


def measure(ami: dict[str, AmiEvents], hosts: dict[str, str], lamps: Lamps, capture: PublishCapture | None,
            steps: dict[str, dict[tuple[str, str], list[float]]]):
    """Each lamp change on a node -> the first NOTIFY showing the lamp that change makes (the extension's lamp
    over both nodes: in use beats ringing beats off), and the node's PUBLISH of it in between.

    The change's moment is when the node's channel ran the Set(DEVICE_STATE(...)) that made it (its steps
    log). Failing that, the AMI event's Timestamp, or the PUBLISH if it left earlier: Asterisk stamps a manager
    event when it writes it out, which under load comes after the change was already published (up to ~13 ms
    after the watcher had its NOTIFY, on the loaded machine)."""
    events = sorted((stamp, node, ext, state) for node, client in ami.items() for stamp, ext, state in client.changes)
    current: dict[str, dict[str, str]] = defaultdict(dict)  # extension -> node -> device state
    figures = SimpleNamespace(total=[], asterisk=[], kamailio=[], lost=[], from_dialplan=0, stamp_late=0)
    previous: dict[str, float] = {}  # extension -> moment of its previous change
    last_seen: dict[str, float] = {}  # extension -> arrival of the NOTIFY its previous change got
    for stamp, node, ext, state in events:
        if current[ext].get(node) == state:
            continue  # no change of the hint: nothing to publish
        current[ext][node] = state
        lamp_states = {LAMP.get(s, "terminated") for s in current[ext].values()}
        expected = next(s for s in ("confirmed", "early", "terminated") if s in lamp_states)
        lower = max(previous.get(ext, 0.0) + 1e-6, stamp - STAMP_SLACK)
        published = capture.first(hosts[node], ext, LAMP.get(state, "terminated"), lower) if capture else None
        if published is not None and published - stamp > LOST_AFTER:
            published = None
        upper = min(stamp, published if published is not None else stamp)
        ran = [t for t in steps.get(node, {}).get((ext, state), []) if lower <= t <= upper]
        if ran:
            moment = ran[0]
            figures.from_dialplan += 1
        else:
            moment = upper
            figures.stamp_late += published is not None and published < stamp
        previous[ext] = moment
        arrived = lamps.first(ext, expected, lower, last_seen.get(ext, 0.0) + 1e-6)
        if arrived is None or arrived - moment > LOST_AFTER:
            figures.lost.append(f"{node} {ext} {state}")
            sent = [(round(t, 6), h, s) for t, h, e, s in (capture.sent if capture else []) if e == ext]
            with open(FAILURES, "a") as out:
                out.write(f"===== {node} {ext} {state} at {stamp:.6f}, lamp expected {expected}\n"
                          f"node changes: {[(round(t, 6), n, s) for t, n, e, s in events if e == ext]}\n"
                          f"PUBLISHes: {sent}\nNOTIFYs: {[(round(t, 6), s) for t, s in lamps.seen[ext]]}\n")
            continue
        last_seen[ext] = arrived
        figures.total.append(max(0.0, arrived - moment))  # < 0 only without a capture, when the stamp was late
        if published is not None and published <= arrived:
            figures.asterisk.append(published - moment)
            figures.kamailio.append(arrived - published)
    return figures


def main(changes: int) -> None:
    from django.db import connection

    from tests.sip.watcher import Watcher

    if connection.vendor != "postgresql":
        sys.exit("bench/blf.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-blf-"))
    FAILURES.unlink(missing_ok=True)
    started = time.monotonic()
    estate = build(workdir)
    k = estate.kamailio
    watchers, ami, capture = [], {}, None
    try:
        plans = {n.name: n for n in estate.plan.nodes}
        hosts = {n.name: n.host for n in estate.plan.nodes}
        for name, n in plans.items():
            ami[name] = AmiEvents(name, n.host, n.ami_port, "voipadmin", n.ami_secret)
            ami[name].logged_in.wait(5)
            if ami[name].failed or not ami[name].logged_in.is_set():
                sys.exit(f"AMI login to {name} failed: {ami[name].failed or 'no answer'}")
        try:
            capture = PublishCapture(set(hosts.values()))
        except OSError as exc:
            print(f"(no packet capture on lo: {exc}; the Asterisk/Kamailio split is not measured)")
        from tests.sip import Phone

        for extension, ip in RUNG:
            phone = Phone(str(extension), PASSWORD, ip=ip)
            registered = phone.register(k)
            if not registered.ok:
                sys.exit(f"phone {extension} did not register: {registered}")
            estate.procs.append(ringing_uas(ip, phone.port, workdir / f"uas-{extension}"))
        uris = [node.sip_uri for node in estate.estate.nodes.values()]
        deadline = time.monotonic() + 20
        while not nodes_active(k, uris) and time.monotonic() < deadline:
            time.sleep(0.1)
        lamps = Lamps()
        subscribed = time.monotonic()
        for extension, ip in RECEPTIONISTS:
            watcher = Watcher(str(extension), PASSWORD, ip=ip, proxy=(k.sip_ip, k.sip_port),
                              on_notify=lamps.on_notify)
            watchers.append(watcher)
            subs = watcher.subscribe_many(estate.keys[extension], timeout=20)
            refused = [(s.target, s.status, s.reason) for s in subs if s.status != 200]
            if refused:
                sys.exit(f"receptionist {extension}: {len(refused)} SUBSCRIBEs not accepted, first {refused[:3]}")
        subscriptions = [s for w in watchers for s in w.subscriptions.values()]
        first_notifies = [s.wait_notifies(1, timeout=10) for s in subscriptions]
        subscribed = time.monotonic() - subscribed
        from voipadmin.kamailio.models import ActiveWatcher

        deadline = time.monotonic() + 5  # (rows are written as each SUBSCRIBE is answered: poll)
        while (held := ActiveWatcher.objects.filter(event="dialog", expires__gt=int(time.time())).count()) \
                != len(subscriptions) and time.monotonic() < deadline:
            time.sleep(0.1)
        if held != len(subscriptions):
            sys.exit(f"Kamailio holds {held} active watchers for {len(subscriptions)} accepted subscriptions")
        watched = {s.target for s in subscriptions}
        print(f"blf bench: Kamailio 5.6 + 2 Asterisk 22, estate set up in {time.monotonic() - started:.1f} s "
              f"(users, and the BLF keys of {len(RECEPTIONISTS)} receptionists, imported in "
              f"{estate.users_seconds:.1f} s)")
        print(f"  {len(subscriptions)} subscriptions to {len(watched)} extensions answered 200 and first-NOTIFYed in "
              f"{subscribed:.1f} s ({len(first_notifies)} initial NOTIFYs); {held} rows in Kamailio's active_watchers")

        base, base_count = baseline(k, lamps, hosts[NODES[0][0]], changes)
        print("  " + describe("baseline: bench PUBLISH -> NOTIFY (Kamailio)", base, base_count))

        load = os.getloadavg()[0]
        made, problems = make_calls(estate, ami, changes)
        time.sleep(LOST_AFTER / 2)  # the last NOTIFYs
        problems += [f"rung by {name}: {why}" for name, client in ami.items() for why in client.failed_originates]
        if problems:
            print(f"  !! {len(problems)} calls failed; first: {problems[0]}")
        figures = measure(ami, hosts, lamps, capture,
                          {name: dialplan_sets(node) for name, node in estate.asterisks.items()})
        total = figures.total
        seen = len(total) + len(figures.lost)
        stamps = sum(c.missing_timestamp for c in ami.values())
        print(f"  calls: {made}, {seen} seen on the nodes (AMI DeviceStateChange); timed from the channel's "
              f"Set(DEVICE_STATE) in the node's log: {figures.from_dialplan}"
              + (f", else from the AMI Timestamp or the PUBLISH if earlier ({figures.stamp_late})"
                 if figures.from_dialplan < len(total) else "")
              + (f"; {stamps} AMI events without Timestamp" if stamps else ""))
        print("  " + describe("Asterisk state change -> NOTIFY", total, seen))
        if capture is not None:
            print(f"    (the change's PUBLISH seen on lo for {len(figures.asterisk)} of {len(total)}; "
                  f"capture drops: {capture.drops()})")
            for label, values in (("  of which: state change -> PUBLISH sent", figures.asterisk),
                                  ("  of which: PUBLISH sent -> NOTIFY", figures.kamailio)):
                print("  " + describe(label, values, len(values), lost=False))
        if figures.lost:
            print(f"  !! lost ({len(figures.lost)}; what was seen of each in {FAILURES}): "
                  f"{', '.join(figures.lost[:6])}")
        if total and base:
            ok = "met" if p95(total) <= 0.300 else "NOT met"
            print(f"goal p95 <= 300 ms: {1000 * p95(total):.1f} ms ({ok}); baseline p95 {1000 * p95(base):.1f} ms, "
                  f"ratio {p95(total) / p95(base):.2f}x")
        print("load average (1 min) at the start of the calls {:.1f}, at the end {:.1f}; {} cores".format(
            load, os.getloadavg()[0], os.cpu_count()))
    finally:
        for watcher in watchers:
            watcher.close()
        for client in ami.values():
            client.close()
        if capture is not None:
            capture.close()
        stop(estate)
        if not os.environ.get("BLF_TRACE"):
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    from throwaway import run_in_throwaway_database

    run_in_throwaway_database("bench_blf", main, int(sys.argv[1]) if len(sys.argv) > 1 else CHANGES)
