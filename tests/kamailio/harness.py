"""Run a real Kamailio 5.6 (deploy/kamailio/kamailio.cfg) for tests, and talk SIP and JSON-RPC to it.

    instance = KamailioInstance(dburl="postgres://postgres@127.0.0.1:5432/test_voipadmin", workdir=tmp)
    instance.start()                 # free loopback ports, readiness checked against *this* instance
    instance.rpc("ul.dump")          # JSON-RPC over HTTP; raises KamailioRPCError on an error object
    sip_register(instance, "1001", "voip.example.test", "secret")  # -> RegisterResult(200, 0.09, ...)
    instance.stop(); instance.start()  # restart on the same ports (outage tests)

Only loopback addresses are used. A missing ``kamailio``/``sipp`` binary is a test
failure (``pytest.fail``), never a skip.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parents[2]
KAMAILIO_CFG = REPO / "deploy" / "kamailio" / "kamailio.cfg"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
LOOPBACK = "127.0.0.1"

# Kamailio tables the harness empties between tests (never `version`).
KAMAILIO_DATA_TABLES = (
    "location_attrs", "location", "aliases", "subscriber", "dispatcher", "dialplan", "address", "trusted",
    "uacreg", "acc", "acc_cdrs", "missed_calls", "presentity", "active_watchers", "watchers", "xcap", "pua",
)


def empty_kamailio_tables(connection) -> None:
    """Every Kamailio data table emptied and its id sequence restarted, as ``TRUNCATE ... RESTART IDENTITY``
    would, but with DELETE: the tables hold a handful of rows, and a TRUNCATE of 17 tables costs ~0.3 s
    (a new file per table), paid after every transactional test. No table references them (a foreign key
    added one day fails the commit loudly: deferred constraints are checked there)."""
    from django.db import transaction

    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            for table in KAMAILIO_DATA_TABLES:
                cursor.execute(f"DELETE FROM {table}")
            return
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for table in KAMAILIO_DATA_TABLES:
            cursor.execute(f"DELETE FROM {table}")
        cursor.execute("SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s "
                       "JOIN pg_depend d ON d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass "
                       "AND d.deptype IN ('a', 'i') WHERE d.refobjid = ANY(%s::regclass[])",
                       [list(KAMAILIO_DATA_TABLES)])


class KamailioError(AssertionError):
    """Kamailio did not start / answer; the message carries the tail of its log."""


class KamailioRPCError(RuntimeError):
    def __init__(self, method: str, error: dict):
        self.method = method
        self.code = error.get("code")
        self.error_message = error.get("message", "")
        super().__init__(f"{method}: {self.code} {self.error_message}")


def require_binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if not path:
        pytest.fail(f"`{name}` is not installed: these tests need it (apt-get install kamailio sip-tester sipsak)")
    return path


# --- ports ----------------------------------------------------------------------------------------------------


def free_port(ip: str = LOOPBACK, *, udp: bool = True) -> int:
    """A port on ``ip`` (a loopback address) free for TCP (and UDP, unless udp=False) right now.

    Bound without SO_REUSEADDR, so a port a Kamailio (which sets SO_REUSEADDR) already holds is
    reported busy. The ports a test run uses come from the kernel's ephemeral range.
    """
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((ip, 0))
            port = tcp.getsockname()[1]
            if not udp:
                return port
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dgram:
                    dgram.bind((ip, port))
            except OSError:
                continue
            return port
    raise KamailioError(f"no free port found on {ip}")


def _port_free(port: int, *, udp: bool) -> bool:
    kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp else [])
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                return False
    return True


def dburl_from_settings(settings_dict: dict) -> str:
    """Kamailio's db_url for a Django DATABASES entry (PostgreSQL only)."""
    if "postgresql" not in settings_dict.get("ENGINE", ""):
        pytest.fail("Kamailio needs the PostgreSQL database: run with DATABASE_URL=postgres://...")
    user = quote(settings_dict.get("USER") or "postgres", safe="")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = settings_dict.get("HOST") or LOOPBACK
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Kamailio gets SIGTERM if the test process dies, so no orphan keeps the test DB open."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setpgrp()


# --- the instance ---------------------------------------------------------------------------------------------


class KamailioInstance:
    def __init__(
        self,
        dburl: str,
        workdir: str | os.PathLike | None = None,
        *,
        cfg: str | os.PathLike = KAMAILIO_CFG,
        sip_port: int | None = None,
        http_port: int | None = None,
        defines: dict[str, str] | None = None,
        startup_timeout: float = 5.0,
    ):
        self.binary = require_binary("kamailio")
        self.dburl = dburl
        self.cfg = Path(cfg)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="kamailio-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rundir = self.workdir / "run"
        self.rundir.mkdir(exist_ok=True)
        self.pidfile = self.workdir / "kamailio.pid"
        self.log_path = self.workdir / "kamailio.log"
        self.sip_ip = LOOPBACK
        self.sip_port = sip_port or free_port(udp=True)
        self.http_port = http_port or free_port(udp=False)
        while self.http_port == self.sip_port:
            self.http_port = free_port(udp=False)
        self.tag = f"test-{uuid.uuid4().hex[:12]}"
        self.defines = dict(defines or {})
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.starts = 0

    # -- addresses
    @property
    def rpc_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}/RPC"

    @property
    def sip_address(self) -> str:
        return f"{self.sip_ip}:{self.sip_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        cmd = [
            self.binary, "-f", str(self.cfg), "-DD", "-E", "-m", "64", "-M", "8",
            "-P", str(self.pidfile), "-Y", str(self.rundir),
            "-A", f"SIP_IP={self.sip_ip}", "-A", f"SIP_PORT={self.sip_port}",
            "-A", f"HTTP_IP={LOOPBACK}", "-A", f"HTTP_PORT={self.http_port}",
            "-A", f'DBURL="{self.dburl}"',
            "-A", f'UAC_CONTACT_ADDR="{self.sip_ip}:{self.sip_port}"',
            "-A", f'SELF_URI="sip:{self.sip_ip}:{self.sip_port}"',
            "-A", f'INSTANCE_TAG="{self.tag}"',
        ]
        for name, value in self.defines.items():
            cmd += ["-A", f"{name}={value}"]
        return cmd

    # -- lifecycle
    def start(self) -> "KamailioInstance":
        if self.running:
            return self
        for port, udp in ((self.sip_port, True), (self.http_port, False)):
            if not _port_free(port, udp=udp):
                raise KamailioError(f"port {port} on {LOOPBACK} is taken; cannot (re)start Kamailio there")
        self.pidfile.unlink(missing_ok=True)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.process = subprocess.Popen(
                self.command(), cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no answer"
        rpc_ok = False
        while time.monotonic() < deadline:
            if not self.running:
                raise KamailioError(f"Kamailio exited with {self.process.returncode} during start-up\n{self.log_tail()}")
            try:
                if not rpc_ok:
                    pids = {int(p["PID"]) for p in self.rpc("core.psx", timeout=0.5)}
                    if self.process.pid not in pids:
                        raise KamailioError(
                            f"JSON-RPC on port {self.http_port} is answered by another Kamailio (pids {sorted(pids)})"
                        )
                    rpc_ok = True
                reply = sip_options(LOOPBACK, self.sip_port, timeout=0.5)
                if f"X-Kamailio-Instance: {self.tag}" in reply:
                    return
                raise KamailioError(f"UDP port {self.sip_port} is answered by another SIP server:\n{reply[:400]}")
            except KamailioError:
                self.stop()
                raise
            except (OSError, ValueError, urllib.error.URLError, KamailioRPCError) as exc:
                last_error = repr(exc)
                time.sleep(0.05)
        self.stop()
        raise KamailioError(
            f"Kamailio not ready within {self.startup_timeout:.0f}s ({last_error})\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (the pid file's pid, i.e. the main process), then SIGKILL the process group if needed."""
        if self.process is None:
            return
        if self.process.poll() is None:
            pid = self.process.pid
            try:
                pid = int(self.pidfile.read_text().strip())
            except (OSError, ValueError):
                pass
            try:
                os.kill(pid, signal.SIGTERM)
                self.process.wait(timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout)
        # children are in the same process group: make sure none outlives the main process
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process = None

    def restart(self) -> "KamailioInstance":
        self.stop()
        return self.start()

    # -- observability
    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no Kamailio log)"
        return f"--- last {lines} lines of {self.log_path} ---\n" + "\n".join(text[-lines:])

    def rpc(self, method: str, *params, timeout: float = 5.0):
        """Call a JSON-RPC method; return its ``result`` or raise :class:`KamailioRPCError`."""
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}).encode()
        request = urllib.request.Request(
            self.rpc_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
                raw = response.read()
        except urllib.error.HTTPError as exc:  # some methods answer HTTP 500 with a JSON error body
            raw = exc.read()
            if not raw:
                raise KamailioRPCError(method, {"code": exc.code, "message": str(exc.reason)}) from None
        payload = json.loads(raw.decode() or "{}")
        if "error" in payload:
            raise KamailioRPCError(method, payload["error"])
        return payload.get("result")

    # -- state between tests
    def registered_aors(self) -> list[str]:
        result = self.rpc("ul.dump") or {}
        aors = []
        for entry in result.get("Domains", []):
            for aor in (entry.get("Domain") or {}).get("AoRs") or []:
                aors.append(aor["Info"]["AoR"])
        return aors

    def contacts(self, aor: str) -> list[str]:
        """Contacts registered for ``user@domain`` (empty list if none)."""
        try:
            result = self.rpc("ul.lookup", "location", aor)
        except KamailioRPCError as exc:
            if "not found" in exc.error_message.lower():
                return []
            raise
        return [c["Contact"]["Address"] for c in (result or {}).get("Contacts") or []]

    def reset(self, connection=None, *, tables: bool = True) -> None:
        """Forget registrations (usrloc memory and the location tables); with ``tables`` also empty every
        Kamailio data table (all but ``version``: :func:`empty_kamailio_tables`) and reload the caches."""
        if self.running:
            for aor in self.registered_aors():
                try:
                    self.rpc("ul.rm", "location", aor)
                except KamailioRPCError:
                    pass
        if connection is not None and tables:
            empty_kamailio_tables(connection)
        elif connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM location_attrs")
                cursor.execute("DELETE FROM location")
        if self.running and tables:
            for method in ("dispatcher.reload", "dialplan.reload", "permissions.addressReload",
                           "permissions.trustedReload"):
                try:
                    self.rpc(method)
                except KamailioRPCError:
                    pass
            self._forget_uac_registrations()

    def _forget_uac_registrations(self, patience: float = 4.0) -> None:
        """uac.reg_reload is refused within reg_gc_interval of the previous one; when registrations are
        still in memory, keep trying so the next test never inherits them."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self.rpc("uac.reg_reload")
                return
            except KamailioRPCError:
                try:
                    remaining = self.rpc("uac.reg_dump")
                except KamailioRPCError:
                    remaining = None
                if not remaining or time.monotonic() > deadline:
                    return
                time.sleep(0.25)

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<Kamailio sip {self.sip_address} rpc {self.rpc_url} {state}>"


# --- SIP helpers ----------------------------------------------------------------------------------------------


def sip_options(host: str, port: int, timeout: float = 1.0) -> str:
    """Send one OPTIONS over UDP from loopback and return the reply text (raises OSError on timeout)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(timeout)
        local_port = sock.getsockname()[1]
        branch = "z9hG4bK" + uuid.uuid4().hex
        message = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:{local_port};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{LOOPBACK}>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {uuid.uuid4().hex}@{LOOPBACK}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(message.encode(), (host, port))
        data, _ = sock.recvfrom(65535)
        return data.decode(errors="replace")


@dataclass
class RegisterResult:
    status_code: int | None  # final SIP status of the REGISTER (200, 401, 403, ...); None: no answer
    elapsed: float  # seconds, including the client process
    output: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


_STATUS_RE = re.compile(r"^SIP/2\.0 (\d{3}) ", re.M)


def _sipp_last_status(message_log: str) -> int | None:
    """Last status code sipp *received*, from its -trace_msg log ('... message received [n] bytes :' blocks)."""
    status = None
    for block in re.split(r"^-{10,}.*$", message_log, flags=re.M):
        if "message received" in block:
            codes = _STATUS_RE.findall(block)
            if codes:
                status = int(codes[-1])
    return status


def register_with_sipp(
    target: "KamailioInstance | tuple[str, int]",
    username: str,
    domain: str,
    password: str,
    *,
    expires: int = 300,
    timeout: float = 5.0,
) -> tuple[bool, float]:
    """sipp REGISTER with digest auth; returns (got 200, elapsed seconds)."""
    result = sip_register(target, username, domain, password, expires=expires, timeout=timeout, client="sipp")
    return result.ok, result.elapsed


def sip_register(
    target: "KamailioInstance | tuple[str, int]",
    username: str,
    domain: str,
    password: str,
    *,
    expires: int = 300,
    timeout: float = 5.0,
    client: str = "sipp",
) -> RegisterResult:
    """REGISTER username@domain with digest ``password`` at a Kamailio (instance or (host, port)).

    client="sipp" (default) runs tests/kamailio/scenarios/register.xml (401 challenge, then 200);
    client="sipsak" uses ``sipsak -U`` (sipsak 0.9.8 resolves ``domain`` in DNS even with ``-p``, so
    it only works for resolvable domains such as ``localhost``; use sipp for made-up domains).
    The contact is sip:username@127.0.0.1:<a free port>. Returns the final status code (the last
    response received: 200, 403, ...; None when nothing answered), the elapsed time including the
    client process, and the client's output for failure messages (``result.output``).
    """
    host, port = (LOOPBACK, target.sip_port) if isinstance(target, KamailioInstance) else target
    if client == "sipsak":
        return _register_sipsak(host, port, username, domain, password, expires=expires, timeout=timeout)
    sipp = require_binary("sipp")
    local_port = free_port(udp=True)
    with tempfile.TemporaryDirectory(prefix="sipp-") as tmp:
        csv = Path(tmp) / "users.csv"
        csv.write_text(f"SEQUENTIAL\n{username};{domain}\n")
        messages = Path(tmp) / "messages.log"
        cmd = [
            sipp, f"{host}:{port}", "-sf", str(SCENARIOS / "register.xml"), "-inf", str(csv),
            "-i", LOOPBACK, "-p", str(local_port), "-m", "1", "-nostdin",
            "-timeout", f"{int(max(timeout, 1))}s", "-timeout_error", "-recv_timeout", f"{int(timeout * 1000)}",
            "-au", username, "-ap", password,
            "-key", "expires", str(expires), "-trace_msg", "-message_file", str(messages),
        ]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout + 10)
        elapsed = time.monotonic() - started
        log = messages.read_text(errors="replace") if messages.exists() else ""
    status = _sipp_last_status(log)
    if proc.returncode == 0 and status is None:
        status = 200
    output = f"$ {' '.join(cmd)}\nexit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}\n{log[-4000:]}"
    return RegisterResult(status, elapsed, output)


def _register_sipsak(host, port, username, domain, password, *, expires, timeout) -> RegisterResult:
    sipsak = require_binary("sipsak")
    local_port = free_port(udp=True)
    cmd = [
        sipsak, "-U", "-C", f"sip:{username}@{LOOPBACK}:{local_port}", "-s", f"sip:{username}@{domain}",
        "-p", f"{host}:{port}", "-u", username, "-a", password, "-x", str(expires), "-vv",
        "-l", str(local_port),
    ]
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired as exc:
        return RegisterResult(None, time.monotonic() - started, f"$ {' '.join(cmd)}\ntimeout\n{exc.stdout}")
    elapsed = time.monotonic() - started
    codes = [int(c) for c in _STATUS_RE.findall(proc.stdout + "\n" + proc.stderr)]
    status = codes[-1] if codes else None
    if proc.returncode == 0 and status is None:
        status = 200
    return RegisterResult(status, elapsed, f"$ {' '.join(cmd)}\nexit {proc.returncode}\n{proc.stdout[-4000:]}{proc.stderr[-1000:]}")
