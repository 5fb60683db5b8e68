"""Phones played by sipp, for end-to-end calls through the real Kamailio and Asterisks.

    phone = Phone("1001", password, ip="127.0.0.100")
    phone.register(kamailio)                          # -> RegisterResult (200 expected)
    result = phone.call(kamailio, "*130", hold_ms=800) # INVITE, 407, INVITE+auth, 200, ACK, hold, BYE
    assert result.status == 200, result.output
    with phone.calling(kamailio, "*125", hold_ms=3000) as call:   # in the background
        ...                                           # look at the Asterisks while the call is up
    assert call.result.ok

    callee = Phone("4001", password, ip="127.0.0.101")
    callee.register(kamailio)
    with callee.answering() as uas: ...               # sipp's UAS on the registered contact

Phones use their own loopback address (127.0.0.100+), never the Kamailio's (127.0.0.1): an Asterisk
trusts calls from the Kamailio's address, so a phone must not share it.
"""
from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.kamailio.harness import SCENARIOS as KAMAILIO_SCENARIOS, RegisterResult, require_binary

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def dtmf_scenario(tmp: Path, keys: list[tuple[str, int]]) -> Path:
    """call.xml with ``keys`` sent after the answer: (keys, pause in ms after them), RFC 2833 over RTP."""
    from .dtmf import DtmfSequence

    sequence, steps = DtmfSequence(), []
    for index, (digits, pause_ms) in enumerate(keys):
        if digits:
            pcap = sequence.write(tmp / f"dtmf-{index}.pcap", digits)
            steps.append(f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>')
            steps.append(f'  <pause milliseconds="{len(digits) * 400}"/>')
        steps.append(f'  <pause milliseconds="{int(pause_ms)}"/>')
    text = call_scenario_text()
    anchor = "  <recv request=\"INVITE\" timeout=\"HOLD_MS\""
    text = text.replace(anchor, "\n".join(steps) + "\n" + anchor, 1)
    path = tmp / "call_dtmf.xml"
    path.write_text(text)
    return path


def call_scenario_text() -> str:
    return (SCENARIOS / "call.xml").read_text()


def call_scenario(tmp: Path, hold_ms: int, dtmf: list[tuple[str, int]] | None = None,
                  headers: tuple[str, ...] = ()) -> Path:
    """scenarios/call.xml for one call: the hold filled in, DTMF keys added after the answer, ``headers``
    ("Name: value" lines) added to both INVITEs."""
    path = dtmf_scenario(tmp, dtmf) if dtmf else tmp / "call.xml"
    text = path.read_text() if dtmf else call_scenario_text()
    text = with_headers(text, "      User-Agent: voipadmin-tests sipp\n", headers)
    path.write_text(text.replace("HOLD_MS", str(max(int(hold_ms), 1))))
    return path


def with_headers(scenario: str, after: str, headers: tuple[str, ...]) -> str:
    """A scenario's text with ``headers`` added after every ``after`` line."""
    return scenario.replace(after, after + "".join(f"      {line}\n" for line in headers)) if headers else scenario


_STATUS_RE = re.compile(r"^SIP/2\.0 (\d{3}) ", re.M)


def _free_udp_port(ip: str) -> int:
    from tests.asterisk.harness import free_port

    return free_port(ip)


def _final_status(message_log: str) -> int | None:
    """The last final (>= 200) status sipp received, from its -trace_msg log."""
    status = None
    for block in re.split(r"^-{10,}.*$", message_log, flags=re.M):
        if "message received" in block:
            for code in _STATUS_RE.findall(block):
                if int(code) >= 200:
                    status = int(code)
    return status


@dataclass
class CallResult:
    status: int | None  # final status of the (authenticated) INVITE; None: no answer at all
    exit_code: int
    elapsed: float
    output: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        """Answered, held and hung up cleanly (sipp's exit code 0)."""
        return self.exit_code == 0 and self.status == 200


class Phone:
    def __init__(self, user: str, password: str, *, domain: str = "voip.example.test", ip: str = "127.0.0.100",
                 port: int | None = None):
        self.user, self.password, self.domain, self.ip = str(user), password, domain, ip
        self.port = port or _free_udp_port(ip)

    # -- registration
    def register(self, kamailio, *, expires: int = 300, timeout: float = 5.0) -> RegisterResult:
        sipp = require_binary("sipp")
        with tempfile.TemporaryDirectory(prefix="sipp-") as tmp:
            csv = Path(tmp) / "users.csv"
            csv.write_text(f"SEQUENTIAL\n{self.user};{self.domain}\n")
            messages = Path(tmp) / "messages.log"
            cmd = [sipp, f"{kamailio.sip_ip}:{kamailio.sip_port}", "-sf", str(KAMAILIO_SCENARIOS / "register.xml"),
                   "-inf", str(csv), "-i", self.ip, "-p", str(self.port), "-m", "1", "-nostdin",
                   "-timeout", f"{int(timeout)}s", "-timeout_error", "-au", self.user, "-ap", self.password,
                   "-key", "expires", str(expires), "-trace_msg", "-message_file", str(messages)]
            started = time.monotonic()
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout + 10)
            elapsed = time.monotonic() - started
            log = messages.read_text(errors="replace") if messages.exists() else ""
        status = _final_status(log)
        return RegisterResult(status, elapsed, f"exit {proc.returncode}\n{proc.stderr[-2000:]}\n{log[-4000:]}")

    # -- calling
    def _call_cmd(self, kamailio, number: str, hold_ms: int, timeout: float, tmp: Path,
                  dtmf: list[tuple[str, int]] | None = None, headers: tuple[str, ...] = ()) -> list[str]:
        sipp = require_binary("sipp")
        csv = tmp / "caller.csv"
        csv.write_text(f"SEQUENTIAL\n{self.user};{self.domain}\n")
        scenario = call_scenario(tmp, hold_ms, dtmf, headers)
        return [sipp, f"{kamailio.sip_ip}:{kamailio.sip_port}", "-sf", str(scenario),
                "-inf", str(csv), "-s", number, "-i", self.ip, "-p", str(self.port), "-mi", self.ip,
                "-m", "1", "-nostdin", "-timeout", f"{int(timeout)}s", "-timeout_error",
                "-au", self.user, "-ap", self.password, "-trace_msg", "-message_file", str(tmp / "messages.log"),
                "-trace_err", "-error_file", str(tmp / "errors.log")]

    @staticmethod
    def _result(proc_returncode: int, started: float, tmp: Path, stderr: str) -> CallResult:
        log = (tmp / "messages.log").read_text(errors="replace") if (tmp / "messages.log").exists() else ""
        errors = (tmp / "errors.log").read_text(errors="replace") if (tmp / "errors.log").exists() else ""
        return CallResult(_final_status(log), proc_returncode, time.monotonic() - started,
                          f"exit {proc_returncode}\n{stderr[-1500:]}\n{errors[-1500:]}\n{log[-6000:]}")

    def call(self, kamailio, number: str, *, hold_ms: int = 500, timeout: float = 15.0,
             dtmf: list[tuple[str, int]] | None = None, headers: tuple[str, ...] = ()) -> CallResult:
        """One call; ``dtmf``: keys sent after the answer as (digits, pause in ms after them); ``headers``:
        extra "Name: value" lines in the INVITE."""
        with tempfile.TemporaryDirectory(prefix="sipp-call-") as tmp:
            tmp = Path(tmp)
            started = time.monotonic()
            proc = subprocess.run(self._call_cmd(kamailio, number, hold_ms, timeout, tmp, dtmf, headers), cwd=tmp,
                                  capture_output=True, text=True, timeout=timeout + hold_ms / 1000 + 10)
            return self._result(proc.returncode, started, tmp, proc.stderr)

    @contextlib.contextmanager
    def calling(self, kamailio, number: str, *, hold_ms: int = 3000, timeout: float = 15.0,
                dtmf: list[tuple[str, int]] | None = None):
        """The call runs in the background while the block looks at the estate; ``.result`` after the block."""
        with tempfile.TemporaryDirectory(prefix="sipp-call-") as tmp:
            tmp = Path(tmp)
            handle = _Background()
            started = time.monotonic()
            proc = subprocess.Popen(self._call_cmd(kamailio, number, hold_ms, timeout, tmp, dtmf), cwd=tmp,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                yield handle
            finally:
                try:
                    _, stderr = proc.communicate(timeout=timeout + hold_ms / 1000 + 10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    _, stderr = proc.communicate()
                handle.result = self._result(proc.returncode, started, tmp, stderr or "")

    # -- answering
    @contextlib.contextmanager
    def answering(self, *, timeout: float = 15.0, ring_ms: int = 0):
        """Answers one call on this phone's address (as registered) and waits for the BYE (scenarios/answer.xml,
        which stops sipp after that call and answers OPTIONS meanwhile, as Kamailio probes a carrier it routes to).
        ``ring_ms``: rings that long (180) before answering (a busy lamp sees "early", then "confirmed")."""
        sipp = require_binary("sipp")
        with tempfile.TemporaryDirectory(prefix="sipp-uas-") as tmp:
            tmp = Path(tmp)
            handle = _Background()
            scenario = SCENARIOS / "answer.xml"
            if ring_ms:
                pause = f'  <pause milliseconds="{int(ring_ms)}"/>\n'
                text = scenario.read_text().replace('  <send retrans="500">', pause + '  <send retrans="500">', 1)
                scenario = tmp / "answer.xml"
                scenario.write_text(text)
            cmd = [sipp, "-sf", str(scenario), "-i", self.ip, "-p", str(self.port), "-mi", self.ip, "-nostdin",
                   "-timeout", f"{int(timeout)}s", "-timeout_error", "-trace_msg", "-message_file",
                   str(tmp / "messages.log")]
            started = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(0.2)  # bound and listening
            try:
                yield handle
            finally:
                try:
                    _, stderr = proc.communicate(timeout=timeout + 10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    _, stderr = proc.communicate()
                log = (tmp / "messages.log").read_text(errors="replace") if (tmp / "messages.log").exists() else ""
                handle.result = CallResult(200 if proc.returncode == 0 else None, proc.returncode,
                                           time.monotonic() - started, f"{stderr[-1500:]}\n{log[-6000:]}")
                handle.received = log


class _Background:
    result: CallResult | None = None
    received: str = ""


class Carrier:
    """A carrier (or an E1 line's far end) calling from its own address, with no digest auth: Kamailio trusts
    a carrier by its address, a node its line (scenarios/carrier_call.xml)."""

    def __init__(self, ip: str, port: int | None = None, *, caller: str = "+34600000042"):
        self.ip, self.port, self.caller = ip, port or _free_udp_port(ip), caller

    @contextlib.contextmanager
    def calling(self, host: str, port: int, number: str, *, caller: str | None = None, hold_ms: int = 500,
                timeout: float = 10.0, headers: tuple[str, ...] = ()):
        """The call runs in the background during the block; ``.result`` and ``.received`` after it.
        ``headers``: extra "Name: value" lines in the INVITE."""
        sipp = require_binary("sipp")
        with tempfile.TemporaryDirectory(prefix="sipp-carrier-") as tmp:
            tmp = Path(tmp)
            scenario = tmp / "carrier_call.xml"
            text = with_headers((SCENARIOS / "carrier_call.xml").read_text(),
                                "      Contact: <sip:[caller]@[local_ip]:[local_port]>\n", headers)
            scenario.write_text(text.replace("HOLD_MS", str(max(int(hold_ms), 1))))
            cmd = [sipp, f"{host}:{port}", "-sf", str(scenario), "-s", number,
                   "-key", "caller", caller or self.caller, "-i", self.ip, "-p", str(self.port),
                   "-mi", self.ip, "-m", "1", "-nostdin", "-timeout", f"{int(timeout)}s", "-timeout_error",
                   "-trace_msg", "-message_file", str(tmp / "messages.log")]
            handle = _Background()
            started = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                yield handle
            finally:
                try:
                    _, stderr = proc.communicate(timeout=timeout + hold_ms / 1000 + 10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    _, stderr = proc.communicate()
                log = (tmp / "messages.log").read_text(errors="replace") if (tmp / "messages.log").exists() else ""
                handle.received = log
                handle.result = CallResult(_final_status(log), proc.returncode, time.monotonic() - started,
                                           f"exit {proc.returncode}\n{(stderr or '')[-1500:]}\n{log[-6000:]}")

    def call(self, host: str, port: int, number: str, **kwargs) -> CallResult:
        with self.calling(host, port, number, **kwargs) as call:
            pass
        return call.result
