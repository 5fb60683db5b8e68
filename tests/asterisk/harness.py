"""Run real Asterisk processes for tests, configured by the portal's own ``manage.py asterisk_config``.

    prefix = asterisk_prefix()           # ASTERISK_PREFIX, or ../shared/asterisk's build unpacked once
    node = AsteriskInstance(prefix, workdir, name="ast-central")
    call_command("asterisk_config", "ast-central", out=node.etc, prefix=prefix, state_dir=node.state)
    node.start()                         # waits for FullyBooted; raises AsteriskError with the log tail
    node.cli("core show channels")       # asterisk -rx
    node.stop()

Only loopback addresses are used (the nodes' hosts are 127.0.0.x; see tests/asterisk/estate.py). A
missing Asterisk is a test failure (``pytest.fail``), never a skip.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from tests.kamailio.harness import _die_with_parent, free_port  # noqa: F401  (free_port: re-exported)

REPO = Path(__file__).resolve().parents[2]
#: the upstream build shipped beside the repository (see its README); ASTERISK_PREFIX overrides it
SHARED = REPO.parent / "shared" / "asterisk"
CACHE = REPO / "var" / "asterisk-dist"
#: what a relocatable Asterisk needs at run time (Debian 12 package names, installed by .ci/run)
RUNTIME_PACKAGES = ("libjansson4", "libpq5", "libedit2", "libxml2", "libxslt1.1", "libsqlite3-0", "libuuid1",
                    "libssl3", "libcurl4", "libsrtp2-1")


class AsteriskError(AssertionError):
    """Asterisk did not start / answer; the message carries the tail of its log."""


def _fail(message: str) -> None:
    pytest.fail(message, pytrace=False)


def asterisk_prefix() -> Path:
    """The Asterisk installation the suite runs: ``ASTERISK_PREFIX`` (a machine's own Asterisk 20/22:
    a directory with ``sbin/asterisk`` and ``lib/asterisk/modules``), else the build in
    ``../shared/asterisk``, unpacked once into ``var/asterisk-dist/<sha>/asterisk``."""
    given = os.environ.get("ASTERISK_PREFIX")
    if given:
        prefix = Path(given)
        if not (prefix / "sbin" / "asterisk").exists():
            _fail(f"ASTERISK_PREFIX={given} has no sbin/asterisk")
        return prefix
    tarballs = sorted(SHARED.glob("asterisk-*.tar.xz"))
    if not tarballs:
        _fail(f"no Asterisk: set ASTERISK_PREFIX or provide {SHARED}/asterisk-*.tar.xz (see its README)")
    tarball = tarballs[-1]
    full = hashlib.sha256(tarball.read_bytes()).hexdigest()
    expected = tarball.with_name(tarball.name + ".sha256")
    if expected.exists() and full not in expected.read_text():
        _fail(f"{tarball} does not match {expected.name}: a damaged or partial copy")
    digest = full[:16]
    target = CACHE / digest
    prefix = target / "asterisk"
    if (prefix / "sbin" / "asterisk").exists():
        return prefix
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="unpack-", dir=CACHE))
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp, filter="tar")
    try:
        tmp.rename(target)  # atomic: a concurrent unpack (xdist) loses the race harmlessly
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return prefix


def _ldd_missing(prefix: Path) -> list[str]:
    env = {**os.environ, "LD_LIBRARY_PATH": str(prefix / "lib")}
    out = subprocess.run(["ldd", str(prefix / "sbin" / "asterisk")], capture_output=True, text=True, env=env)
    return [line.split()[0] for line in out.stdout.splitlines() if "not found" in line]


class AsteriskInstance:
    """One Asterisk process: configuration in ``etc`` (written by asterisk_config), its own files in ``state``."""

    def __init__(self, prefix: Path, workdir: Path, *, name: str, startup_timeout: float = 30.0):
        self.prefix = Path(prefix)
        self.name = name
        self.workdir = Path(workdir)
        self.etc = self.workdir / "etc"
        self.state = self.workdir / "state"
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.starts = 0
        missing = _ldd_missing(self.prefix)
        if missing:
            _fail(f"Asterisk at {self.prefix} misses libraries {missing}: "
                  f"apt-get install {' '.join(RUNTIME_PACKAGES)}")
        self._prepare_state()

    def _prepare_state(self) -> None:
        """The node's own var/ tree, seeded from the installation (documentation, rest-api, ...)."""
        self.etc.mkdir(parents=True, exist_ok=True)
        var = self.state / "var"
        if not var.exists():
            shutil.copytree(self.prefix / "var", var, symlinks=True,
                            ignore=shutil.ignore_patterns("astdb.sqlite3", "*.pid", "*.ctl"))
        for sub in ("lib/asterisk/agi-bin", "lib/asterisk/sounds/en", "spool/asterisk", "run/asterisk",
                    "log/asterisk", "cache/asterisk"):
            (var / sub).mkdir(parents=True, exist_ok=True)

    # -- paths
    @property
    def conf(self) -> Path:
        return self.etc / "asterisk.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "asterisk.out"

    @property
    def messages_log(self) -> Path:
        return self.state / "var" / "log" / "asterisk" / "messages.log"

    @property
    def sounds(self) -> Path:
        return self.state / "var" / "lib" / "asterisk" / "sounds" / "en"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _env(self) -> dict[str, str]:
        # TZ=UTC: nothing in a node's files may depend on the machine's zone (cdr_pgsql is told its zone)
        return {**os.environ, "LD_LIBRARY_PATH": str(self.prefix / "lib"), "TZ": "UTC"}

    def _binary(self) -> list[str]:
        return [str(self.prefix / "sbin" / "asterisk"), "-C", str(self.conf)]

    # -- lifecycle
    def start(self) -> "AsteriskInstance":
        if self.running:
            return self
        if not self.conf.exists():
            raise AsteriskError(f"{self.conf} is missing: run asterisk_config with --prefix first")
        self._remove_stale_control_socket()
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}\n".encode())
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.process = subprocess.Popen(self._binary() + ["-f", "-n"], cwd=self.workdir, env=self._env(),
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            preexec_fn=_die_with_parent)
        finally:
            log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise AsteriskError(f"Asterisk {self.name} exited with {self.process.returncode} during start-up\n"
                                    f"{self.log_tail()}")
            result = subprocess.run(self._binary() + ["-rx", "core waitfullybooted"], env=self._env(),
                                    capture_output=True, text=True, timeout=self.startup_timeout)
            if result.returncode == 0 and "fully booted" in result.stdout.lower():
                return self
            time.sleep(0.1)
        self.stop()
        raise AsteriskError(f"Asterisk {self.name} not fully booted within {self.startup_timeout:.0f}s\n"
                            f"{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            subprocess.run(self._binary() + ["-rx", "core stop now"], env=self._env(), capture_output=True,
                           timeout=timeout)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout)
        self.process = None

    def _remove_stale_control_socket(self) -> None:
        """A killed Asterisk leaves its control socket behind and the next one cannot bind it ("Address already
        in use": it never becomes reachable). Asterisk binds the path cut to sun_path (107 bytes) but unlinks
        the full path, so under a deep test directory (pytest-xdist's popen-gwN/) both must go."""
        full = str(self.state / "var" / "run" / "asterisk" / "asterisk.ctl")
        for path in {full, full[:107]}:
            try:
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    os.unlink(path)
            except FileNotFoundError:
                pass

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean shutdown, no goodbye to anyone."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def restart(self) -> "AsteriskInstance":
        self.stop()
        return self.start()

    # -- talking to it
    def cli(self, command: str, timeout: float = 10.0) -> str:
        """``asterisk -rx command`` (the node's CLI over its control socket)."""
        result = subprocess.run(self._binary() + ["-rx", command], env=self._env(), capture_output=True,
                                text=True, timeout=timeout)
        if result.returncode != 0:
            raise AsteriskError(f"asterisk -rx {command!r} failed ({result.returncode}): {result.stderr}")
        return result.stdout

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for path in (self.log_path, self.messages_log):
            try:
                text = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            parts.append(f"--- last {lines} lines of {path} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(parts) or "(no Asterisk log)"

    def __repr__(self) -> str:
        return f"<Asterisk {self.name} {'pid %s' % self.process.pid if self.running else 'stopped'}>"
