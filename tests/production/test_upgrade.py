"""Upgrades while the estate keeps running (deploy/backup.md, "Upgrades").

The upgrade test takes a database to the earliest state that holds users (``users.0001`` and Kamailio's tables,
``kamailio.0001``), loads 10,000 users in it (users and Kamailio subscribers, with COPY), starts a real
Kamailio on it and a sipp loop that keeps REGISTERing users with digest auth, and then applies every remaining
migration with the documented command (``lock_timeout`` set) -- asserting that no REGISTER failed, and that
no migration held a lock that blocks what Kamailio and Asterisk do on every call for longer than a second (the
database's ``pg_locks``, sampled while it ran).

The rules test reads the SQL of every migration (as ``sqlmigrate`` prints it) and refuses, on the tables read or
written on every call, what rewrites or scans them under a lock that blocks calls: a column type change, SET NOT
NULL, a constraint added without NOT VALID, an index built without CONCURRENTLY.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.kamailio.harness import KamailioInstance, free_port, require_binary

from .commands import drop_database, manage, pg, scratch_database

pytestmark = [pytest.mark.kamailio, pytest.mark.postgres]

SCENARIO = Path(__file__).resolve().parents[1] / "kamailio" / "scenarios" / "register.xml"
DOMAIN = "voip.example.test"
USERS = 10_000
FIRST = 100_000  # extensions FIRST .. FIRST + USERS - 1
LOOPED = 4  # how many of them keep registering (one sipp process each)
EARLIEST = [("users", "0001_initial"), ("kamailio", "0001_kamailio_schema")]

#: Read on every call or registration: only ACCESS EXCLUSIVE blocks a read.
READ_PER_CALL = {"subscriber", "users_sipuser", "sites_site", "ps_endpoints", "ps_auths", "ps_aors", "voicemail",
                 "extensions", "services_asteriskextension"}
#: Written on every call or registration: SHARE and stronger block a write.
WRITTEN_PER_CALL = {"location", "location_attrs", "acc_cdrs", "acc", "missed_calls", "cdr", "cel", "ps_contacts"}
BLOCKS_READS = {"AccessExclusiveLock"}
BLOCKS_WRITES = {"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}


def password(extension: int) -> str:
    return f"upg-{extension}-secret-0123"


def ha1(user: str, realm: str, secret: str) -> str:
    return hashlib.md5(f"{user}:{realm}:{secret}".encode()).hexdigest()  # noqa: S324 - SIP digest is MD5


def load_users(url: str) -> None:
    """10,000 users as the portal stores them at ``users.0001``: ``users_sipuser`` + Kamailio's ``subscriber``."""
    import psycopg

    with psycopg.connect(url, autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO sites_site (name, slug, kind, sip_domain, address, time_zone, notes, created, "
                    "updated) VALUES ('Central', 'central', 'central', %s, '', 'UTC', '', now(), now()) RETURNING id",
                    [DOMAIN])
        site_id = cur.fetchone()[0]
        with cur.copy("COPY users_sipuser (extension, name, email, enabled, caller_id, nat, codecs, ha1, ha1b, "
                      "voicemail_enabled, voicemail_pin, voicemail_email, created, updated, site_id) "
                      "FROM STDIN") as copy:
            for ext in range(FIRST, FIRST + USERS):
                user, secret = str(ext), password(ext)
                copy.write_row([ext, f"User {ext}", "", True, "", False, "", ha1(user, DOMAIN, secret),
                                ha1(f"{user}@{DOMAIN}", DOMAIN, secret), False, "", "", "now", "now", site_id])
        with cur.copy("COPY subscriber (username, domain, password, ha1, ha1b) FROM STDIN") as copy:
            for ext in range(FIRST, FIRST + USERS):
                user, secret = str(ext), password(ext)
                copy.write_row([user, DOMAIN, "", ha1(user, DOMAIN, secret), ha1(f"{user}@{DOMAIN}", DOMAIN, secret)])
        conn.commit()


class SippLoop:
    """sipp REGISTERing ``LOOPED`` users (one sipp each: digest credentials are per process) at ``rate`` per
    second each, with digest auth, until ``stop()``; failures and successes are sipp's own statistics."""

    def __init__(self, kamailio: KamailioInstance, workdir: Path, *, rate: int = 10) -> None:
        self.workdir = workdir
        self.runs = []
        for ext in range(FIRST, FIRST + USERS, USERS // LOOPED):
            users = workdir / f"user-{ext}.csv"
            users.write_text(f"SEQUENTIAL\n{ext};{DOMAIN}\n")
            stats = workdir / f"stats-{ext}.csv"
            command = [require_binary("sipp"), f"127.0.0.1:{kamailio.sip_port}", "-sf", str(SCENARIO), "-inf",
                       str(users), "-au", str(ext), "-ap", password(ext), "-key", "expires", "300",
                       "-i", "127.0.0.1", "-p", str(free_port()), "-r", str(rate), "-l", "20", "-m", "1000000",
                       "-nostdin", "-recv_timeout", "2000", "-trace_stat", "-stf", str(stats), "-fd", "1",
                       "-trace_err", "-error_file", str(workdir / f"errors-{ext}.log")]
            self.runs.append((command, stats, workdir / f"errors-{ext}.log"))
        self.processes: list[subprocess.Popen] = []

    def start(self) -> "SippLoop":
        for command, _, _ in self.runs:
            self.processes.append(subprocess.Popen(command, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return self

    @property
    def running(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def counts(self) -> tuple[int, int]:
        """(successful, failed) REGISTERs so far, from sipp's statistics files."""
        ok = failed = 0
        for _, stats, _ in self.runs:
            try:
                rows = list(csv.DictReader(io.StringIO(stats.read_text()), delimiter=";"))
            except OSError:
                continue
            if rows:
                ok += int(rows[-1]["SuccessfulCall(C)"])
                failed += int(rows[-1]["FailedCall(C)"])
        return ok, failed

    def stop(self) -> None:
        """SIGUSR1: no new calls, finish those under way, write the final statistics, exit."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGUSR1)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(5)

    def errors(self) -> str:
        return "".join(path.read_text(errors="replace")[-1500:] for _, _, path in self.runs if path.exists())


class LockWatch:
    """Samples, every 20 ms, the relation locks the migrating session holds (``application_name``), and every
    lock a session of the database waits for."""

    def __init__(self, url: str, application_name: str) -> None:
        self.url, self.application_name = url, application_name
        self.held: dict[tuple[str, str], list[float]] = {}  # (relation, mode) -> [first seen, last seen]
        self.max_waiting = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "LockWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                now = time.monotonic()
                rows = conn.execute(
                    "SELECT c.relname, l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "JOIN pg_class c ON c.oid = l.relation WHERE l.granted AND l.locktype = 'relation' "
                    "AND a.application_name = %s", [self.application_name]).fetchall()
                for relation, mode in rows:
                    self.held.setdefault((relation, mode), [now, now])[1] = now
                waiting = conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]
                self.max_waiting = max(self.max_waiting, waiting)
                self._stop.wait(0.02)

    def blocking(self) -> dict[tuple[str, str], float]:
        """Locks that block a per-call read or write, with how long they were seen held (seconds)."""
        out = {}
        for (relation, mode), (first, last) in self.held.items():
            if (relation in READ_PER_CALL and mode in BLOCKS_READS) or (relation in WRITTEN_PER_CALL
                                                                         and mode in BLOCKS_WRITES):
                out[(relation, mode)] = round(last - first, 3)
        return out


@pytest.fixture
def upgrade_database(transactional_db):
    db = scratch_database("upgrade")
    yield db
    drop_database(db.name)


def test_every_migration_applies_on_10000_users_while_sipp_keeps_registering_through_kamailio(
        upgrade_database, tmp_path, require_postgres):
    db = upgrade_database
    t0 = time.monotonic()
    pg("psql", "-d", "postgres", "-qc", f'CREATE DATABASE "{db.name}"')
    for app, migration in EARLIEST:
        manage(db.url, "migrate", "--noinput", app, migration)
    load_users(db.url)
    pending = manage(db.url, "showmigrations", "--plan").stdout.count("[ ]")
    assert pending > 10
    prepared = time.monotonic() - t0

    kamailio = KamailioInstance(db.url, tmp_path / "kamailio", defines={"UAC_REG_GC_INTERVAL": "2"})
    sipp = SippLoop(kamailio, tmp_path)
    try:
        kamailio.start()
        sipp.start()
        deadline = time.monotonic() + 20
        while sipp.counts()[0] < 40 and time.monotonic() < deadline and sipp.running:
            time.sleep(0.1)
        before = sipp.counts()
        assert before[0] >= 40 and before[1] == 0, f"the loop does not register: {before}\n{sipp.errors()}"

        started = time.monotonic()
        with LockWatch(db.url, "voipadmin-migrate") as locks:
            # the documented command: a migration that cannot get its lock within 5 s fails (and is run again)
            # instead of queueing every query of Kamailio and Asterisk behind it
            result = manage(db.url, "migrate", "--noinput",
                            env={"PGOPTIONS": "-c lock_timeout=5s", "PGAPPNAME": "voipadmin-migrate"})
        migrated = time.monotonic() - started
        time.sleep(1)  # the loop goes on a little after the last migration
        sipp.stop()
        ok, failed = sipp.counts()
    finally:
        sipp.kill()
        kamailio.stop()

    assert manage(db.url, "showmigrations", "--plan").stdout.count("[ ]") == 0, result.stdout
    assert failed == 0, f"{failed} REGISTER(s) failed while migrating\n{sipp.errors()}"
    assert ok - before[0] >= 20, "the loop must keep registering during the migrations"
    blocking = locks.blocking()
    assert all(seconds < 1.0 for seconds in blocking.values()), blocking
    applied = len(re.findall(r"^\s+Applying ", result.stdout, flags=re.M))
    print(f"\nupgrade: {USERS} users loaded and Kamailio up in {prepared:.1f}s; {applied} migrations applied in "
          f"{migrated:.1f}s while sipp registered ({ok} REGISTERs OK, {failed} failed, over {LOOPED} users); "
          f"locks blocking per-call work seen held: {blocking or 'none'}; at most {locks.max_waiting} "
          f"lock request(s) waiting at once")


# --- the rules, for every migration ---------------------------------------------------------------------------

#: Reviewed exceptions: (app, migration) -> why it is acceptable. Keep this empty if you can.
REVIEWED: dict[tuple[str, str], str] = {}
_TABLE = r'"?(?P<table>\w+)"?'
RULES = [
    (re.compile(rf"ALTER TABLE {_TABLE} ALTER COLUMN \S+ (SET DATA )?TYPE", re.I),
     "changes a column's type: the table is rewritten under ACCESS EXCLUSIVE"),
    (re.compile(rf"ALTER TABLE {_TABLE} ALTER COLUMN \S+ SET NOT NULL", re.I),
     "SET NOT NULL scans the table under ACCESS EXCLUSIVE (add a CHECK ... NOT VALID, VALIDATE it, then SET)"),
    (re.compile(rf"ALTER TABLE {_TABLE} ADD CONSTRAINT (?!.*NOT VALID)", re.I),
     "adds a constraint that is checked against every row under lock (add it NOT VALID, then VALIDATE)"),
    (re.compile(rf"CREATE (UNIQUE )?INDEX (?!CONCURRENTLY)\S+ ON {_TABLE}", re.I),
     "builds an index without CONCURRENTLY: writes wait for the whole build (AddIndexConcurrently, atomic=False)"),
]


def migration_sql() -> dict[tuple[str, str], list[str]]:
    """Each migration's SQL as ``sqlmigrate`` prints it (RunPython parts are not SQL and are left out)."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection, replace_migrations=False)
    out = {}
    for key in loader.disk_migrations:
        statements = loader.collect_sql([(loader.graph.nodes[key], False)])
        out[key] = [s for s in statements if not s.lstrip().startswith("--")]
    return out


def test_no_migration_rewrites_or_blocks_a_table_that_kamailio_or_asterisk_use_on_every_call(require_postgres):
    hot = READ_PER_CALL | WRITTEN_PER_CALL
    problems = []
    for (app, name), statements in sorted(migration_sql().items()):
        created = {m.group("table") for s in statements for m in [re.match(rf"CREATE TABLE {_TABLE}", s, re.I)] if m}
        for sql in statements:
            for pattern, why in RULES:
                match = pattern.search(sql)
                if match and match.group("table") in hot and match.group("table") not in created \
                        and (app, name) not in REVIEWED:
                    problems.append(f"{app}.{name}: {why}\n    {sql[:200]}")
    assert not problems, "\n".join(problems)
