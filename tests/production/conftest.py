"""Fixtures of the scale-out, backup and upgrade tests (test_workers*, test_backup*, test_upgrade*).

The worker, beat and portal processes and the ``broker`` parametrization are in tests/process_fixtures.py
(the push outage tests use them too); here: a counting JSON-RPC proxy in front of the real Kamailio, and a
record of every push job's state changes written by the database itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

import pytest

from .rpcproxy import RpcProxy


@pytest.fixture
def rpc_proxy(kamailio_clean) -> Iterator[RpcProxy]:
    """The session's real Kamailio behind a counting proxy: point a node's ``jsonrpc_url`` at ``rpc_proxy.url``."""
    proxy = RpcProxy(kamailio_clean.rpc_url).start()
    yield proxy
    proxy.stop()


@dataclass
class Transition:
    job_id: int
    old_state: str | None
    new_state: str
    old_sent_at: datetime | None
    new_sent_at: datetime | None


class JobTransitions:
    """Every INSERT of a push job, and every UPDATE that changed its state or ``sent_at``, in commit order
    of the rows (an AFTER trigger: whoever wrote it, from whichever process)."""

    TABLE = "test_push_job_transition"

    def all(self) -> list[Transition]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"SELECT job_id, old_state, new_state, old_sent_at, new_sent_at FROM {self.TABLE} "
                           "ORDER BY id")
            return [Transition(*row) for row in cursor.fetchall()]


@pytest.fixture
def job_transitions(transactional_db) -> Iterator[JobTransitions]:
    from django.db import connection

    table = JobTransitions.TABLE
    with connection.cursor() as cursor:
        cursor.execute(f"""
            CREATE TABLE {table} (id bigserial PRIMARY KEY, job_id bigint NOT NULL, old_state text,
                                  new_state text NOT NULL, old_sent_at timestamptz, new_sent_at timestamptz);
            CREATE FUNCTION {table}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'INSERT' THEN
                INSERT INTO {table} (job_id, new_state, new_sent_at) VALUES (NEW.id, NEW.state, NEW.sent_at);
              ELSIF NEW.state IS DISTINCT FROM OLD.state OR NEW.sent_at IS DISTINCT FROM OLD.sent_at THEN
                INSERT INTO {table} (job_id, old_state, new_state, old_sent_at, new_sent_at)
                VALUES (NEW.id, OLD.state, NEW.state, OLD.sent_at, NEW.sent_at);
              END IF;
              RETURN NULL;
            END $$;
            CREATE TRIGGER {table} AFTER INSERT OR UPDATE ON push_pushjob FOR EACH ROW EXECUTE FUNCTION {table}();
        """)
    try:
        yield JobTransitions()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS {table} ON push_pushjob; DROP FUNCTION IF EXISTS {table}();"
                           f"DROP TABLE IF EXISTS {table}")
