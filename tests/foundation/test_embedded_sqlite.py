"""The embedded mode (`make run`: SQLite, filesystem broker) runs without "database is locked".

Five processes share the SQLite file there: the portal, the push worker, the poll worker, beat and the
estate simulator. The test runs them as `bin/run-portal` does, with polls and push sweeps every second,
while four threads of another process write through the actions as fast as they can and the test reads
/healthz; then no log may show a locked database, and every write must have gone through.
"""
import os
import signal
import subprocess
import sys
import time

from tests.foundation.embedded import (ROOT, embedded_env, healthz, kill_everything, left_behind, start,
                                       wait_for_healthz)
from tests.kamailio.harness import free_port

SECONDS = 10

WRITERS = f"""
import threading, time, traceback
from django.db import connection
from users import actions
from users.models import SipUser
from voipadmin.actors import Actor

actor, errors, writes = Actor.command("test_embedded_sqlite"), [], []

def write(pk):
    try:
        deadline, turn = time.monotonic() + {SECONDS}, 0
        while time.monotonic() < deadline:
            actions.update_user(SipUser.objects.get(pk=pk), actor=actor, name=f"Writer {{pk}} turn {{turn % 2}}")
            writes.append(pk)
            turn += 1
    except Exception:
        errors.append(traceback.format_exc())
    finally:
        connection.close()

threads = [threading.Thread(target=write, args=(pk,)) for pk in SipUser.objects.values_list("pk", flat=True)[:4]]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("WRITES", len(writes))
print("ERRORS", len(errors))
print("".join(errors))
"""


def test_the_embedded_portal_writes_and_polls_for_10_seconds_without_a_locked_database(embedded_db, tmp_path):
    port = free_port(udp=False)
    env = embedded_env(tmp_path, port, VOIPADMIN_POLL_INTERVAL="1", VOIPADMIN_PUSH_SWEEP="1")
    portal = start([str(ROOT / "bin" / "run-portal")], env, tmp_path / "portal.log")
    writers = None
    try:
        wait_for_healthz(port, portal)
        writers = subprocess.Popen([sys.executable, "manage.py", "shell", "-c", WRITERS], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        answers = []
        while writers.poll() is None:
            answers.append(healthz(port, timeout=15))  # (a slow answer is the machine's load, not a lock)
            time.sleep(0.5)
        report = writers.stdout.read()
        os.killpg(portal.pid, signal.SIGINT)
        assert portal.wait(timeout=60) == 0
        assert left_behind(tmp_path) == []
    finally:
        if writers is not None and writers.poll() is None:
            writers.kill()
        kill_everything(tmp_path, portal)

    assert "ERRORS 0" in report, report
    writes = int(report.split("WRITES ", 1)[1].split()[0])
    assert writes >= 20, report
    assert len(answers) >= SECONDS // 2 and None not in answers, answers
    logs = {path.name: path.read_text(errors="replace") for path in tmp_path.glob("*.log")}
    assert {"portal.log", "celery-push.log", "celery-worker.log", "celery-beat.log", "simulator.log"} <= set(logs)
    assert "poll_estate" in logs["celery-worker.log"] or "live.tasks" in logs["celery-worker.log"]
    locked = {name: text.count("database is locked") for name, text in logs.items() if "database is locked" in text}
    assert locked == {}, locked
    assert "database is locked" not in report
