"""`PORT=… make run` serves the portal on that port, and Ctrl-C stops everything with no make error.

Ctrl-C in a terminal is SIGINT to the foreground process group (make, and the script make runs): the
tests send exactly that to a process group they started, and then look in /proc for anything left over.
"""
import os
import signal
import subprocess

from tests.foundation.embedded import ROOT, embedded_env, kill_everything, left_behind, start, wait_for_healthz
from tests.kamailio.harness import free_port


def _interrupt(process: subprocess.Popen, timeout: float = 60) -> int:
    os.killpg(process.pid, signal.SIGINT)
    return process.wait(timeout=timeout)


def test_make_run_serves_on_the_port_given_and_ctrl_c_stops_it_without_a_make_error(embedded_db, tmp_path):
    port = free_port(udp=False)
    env = embedded_env(tmp_path, port)
    # -o: the virtualenv the suite runs in is the one make would build; never reinstall it from here
    make = start(["make", "--no-print-directory", "-o", ".venv/.installed", "run"], env, tmp_path / "make.log")
    try:
        assert wait_for_healthz(port, make) in (200, 503)
        children = left_behind(tmp_path)
        assert len(children) >= 6, children  # make, the script, the portal, two workers, beat, the media apps
        assert any("run_media_apps" in command for command in children), children
        _interrupt(make)
        output = (tmp_path / "make.log").read_text()
        # make dies of the SIGINT itself, as it should; it reports an error only for a recipe that failed
        assert make.returncode in (0, -signal.SIGINT), output
        assert "***" not in output and not [line for line in output.splitlines() if line.startswith("make")], output
        assert f"http://127.0.0.1:{port}/" in output
        assert left_behind(tmp_path) == []
    finally:
        kill_everything(tmp_path, make)


def test_the_portal_script_exits_0_on_sigterm_too(embedded_db, tmp_path):
    port = free_port(udp=False)
    env = embedded_env(tmp_path, port, VOIPADMIN_SIMULATOR="0")
    portal = start([str(ROOT / "bin" / "run-portal")], env, tmp_path / "portal.log")
    try:
        wait_for_healthz(port, portal)
        portal.send_signal(signal.SIGTERM)  # a service manager's stop: to the script only
        assert portal.wait(timeout=60) == 0, (tmp_path / "portal.log").read_text()  # (Ctrl-C: the make test)
        assert left_behind(tmp_path) == []
    finally:
        kill_everything(tmp_path, portal)


def test_the_portal_script_refuses_a_port_that_is_not_one(tmp_path):
    result = subprocess.run([str(ROOT / "bin" / "run-portal")], cwd=ROOT, capture_output=True, text=True,
                            env=embedded_env(tmp_path, 0, PORT="80a"), timeout=30)
    assert result.returncode == 2
    assert "PORT must be a number from 1 to 65535, not '80a'" in result.stderr
    assert left_behind(tmp_path) == []


def test_the_portal_script_stops_everything_and_fails_when_its_port_is_taken(embedded_db, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = embedded_env(tmp_path, port, VOIPADMIN_SIMULATOR="0")
        portal = start([str(ROOT / "bin" / "run-portal")], env, tmp_path / "portal.log")
        try:
            status = portal.wait(timeout=120)
            output = (tmp_path / "portal.log").read_text()
            assert status != 0, output
            assert "a process ended" in output and "already in use" in output, output
            assert left_behind(tmp_path) == []
        finally:
            kill_everything(tmp_path, portal)
