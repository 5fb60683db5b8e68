"""The one Celery app. Each domain app keeps its tasks in tasks.py (autodiscovered).

It also holds what makes running more than one of everything safe (deploy/scaling.md):

* ``advisory_lock(name)``: a non-blocking PostgreSQL advisory lock for work that must never run twice at
  once whoever starts it (a poll cycle sent by beat, by a second beat, by a backlog);
* ``LeaderScheduler``: beat that sends its schedule only while it holds the estate's beat lock, so a
  second beat (another host, for failover) is a hot standby instead of a double.
"""
from __future__ import annotations

import hashlib
import logging
import os
from contextlib import contextmanager
from typing import Iterator

from celery import Celery
from celery.beat import PersistentScheduler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipadmin.settings")

app = Celery("voipadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_*advisory_lock(bigint)`` (per database, like the locks)."""
    return int.from_bytes(hashlib.sha256(f"voipadmin:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def advisory_lock(name: str) -> Iterator[bool]:
    """Hold the session-level advisory lock ``name`` for the block if nobody else does; yields whether we do.

    Session-level (not transaction-level) because the work it guards spans several short transactions
    and network waits in between. A process that dies releases it with its connection. Without
    PostgreSQL (the embedded SQLite of ``make run``: one worker, one beat) it always yields True.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        yield True
        return
    key = lock_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except Exception:  # noqa: BLE001 - a broken connection has released the lock already
                log.warning("advisory lock %s: unlock failed; the connection is gone, and the lock with it", name)


class BeatLock:
    """The beat lock: a session-level advisory lock on a connection of beat's own, held while beat runs.

    ``held()`` is asked before every send. The leader pings its connection (the lock lives as long as
    the session); a standby tries to take the lock. When the leader's process dies, PostgreSQL ends its
    session and the lock goes with it, so the standby's next try wins. When the leader loses its
    database connection it stops sending at once; PostgreSQL releases the lock only when it notices the
    session is gone, which is never before the leader noticed, so two beats never send together.
    """

    NAME = "celery-beat"

    def __init__(self) -> None:
        self._conn = None
        self._leader = False

    def held(self) -> bool:
        from django.db import DatabaseError, InterfaceError

        try:
            conn = self._connection()
            if conn.vendor != "postgresql":
                return True
            with conn.cursor() as cursor:
                if self._leader:
                    cursor.execute("SELECT 1")
                else:
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_key(self.NAME)])
                    if cursor.fetchone()[0]:
                        self._leader = True
                        log.info("beat: this beat holds the beat lock and sends the schedule")
            return self._leader
        except (DatabaseError, InterfaceError) as exc:
            if self._leader:
                log.error("beat: lost the database connection holding the beat lock (%s); standing by", exc)
            self._leader = False
            self.close()
            return False

    def _connection(self):
        if self._conn is None:
            from django.db import DEFAULT_DB_ALIAS, connections

            # a connection of its own, outside Django's per-thread handler: nothing else may close it
            self._conn = connections.create_connection(DEFAULT_DB_ALIAS)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self._conn = None
            self._leader = False


class LeaderScheduler(PersistentScheduler):
    """Beat's persistent scheduler that sends a due entry only while it holds the beat lock.

    A standby beat keeps its schedule moving (entries fall due and are skipped), so when it takes
    over it carries on at the normal pace instead of firing a backlog. Run each beat with its own
    schedule file (``-s``). The tasks stay safe to run twice anyway (per-node push lease, poll lock).
    """

    def __init__(self, *args, **kwargs) -> None:
        self.lock = BeatLock()
        self._was_leader: bool | None = None
        super().__init__(*args, **kwargs)

    def apply_entry(self, entry, producer=None):
        leader = self.lock.held()
        if leader != self._was_leader:
            if not leader:
                log.warning("beat: another beat holds the beat lock; this one stands by")
            self._was_leader = leader
        if leader:
            return super().apply_entry(entry, producer=producer)
        log.debug("beat: standing by, not sending %s", entry.name)
        return None

    def close(self) -> None:
        super().close()
        self.lock.close()
