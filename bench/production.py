#!/usr/bin/env python
"""Production stack (gunicorn) vs runserver: requests/s and p95 of three pages at 1 and 10 concurrent clients.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voipadmin CELERY_BROKER_URL=redis://127.0.0.1:6379/15 \\
        .venv/bin/python bench/production.py [--workers N] [--seconds S] [--clients 1,10]

The pages: the dashboard, the users list (first page of 10,000 users) and /api/v1/cdrs/ (first page of
1,000,000 Asterisk CDRs + 100,000 Kamailio records, with a read token). Database <name>_bench (created,
migrated and filled on the first run, kept for later ones): the demo estate, 10,000 users in a site of their
own (90000-99999, Branch 3 keeping 8000-8999; imported by ``manage.py import_users``), the CDRs made as
bench/cdr_api.py makes them.

Both servers get the same production environment (deploy/voipadmin.env.example, DEBUG=false, secrets in
files; tests/production/stack.py): gunicorn as deploy/systemd/voipadmin-portal.service starts it
(deploy/gunicorn.conf.py, N workers x its threads), and ``manage.py runserver`` (threaded; what ``make run``
serves), both up at once and their cells alternated. Each client is a thread that sends its next request
when the last one answered, for S seconds per cell: to gunicorn on a new connection each time, as nginx in
front of it does (deploy/nginx: no upstream keepalive), to runserver on a keep-alive one (a browser on
``make run``); clients, servers and PostgreSQL share the machine, so the table also gives each
server's CPU per request (its process group's user + system time over the cell) and the load average; on a
machine shared with other work, run it under ``nice -n -10`` (as root: the servers' and the bench's scheduling
groups get that niceness too; PostgreSQL keeps its own).
Goal: the users list at <= 150 ms p95 with 10 clients on gunicorn.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import callrecords  # noqa: E402
from tests.production.crawler import Browser  # noqa: E402
from tests.production.stack import HOST, VENV_BIN, ProductionStack, free_port, with_database  # noqa: E402

USERS = 10_000
CDRS, KAMAILIO_RECORDS = 1_000_000, 100_000
# The demo estate numbers 1000-9999; a longer number begins with one of them, and sites' ranges may not begin
# one another (sites.actions: digit-by-digit routing). So Branch 3 gives up 9000-9999 and the bench site takes
# the five-digit numbers that begin with them.
BENCH_SITE, FIRST_EXTENSION = "bench", 90_000
BRANCH_GIVING_WAY, ITS_RANGE = "branch3", (8000, 8999)
GOAL_P95_MS = 150
PAGES = {"dashboard": ("dashboard", "/dashboard/", "session"),  # --pages name: (label, path, authentication)
         "users": (f"users list ({USERS:,} users)", "/users/", "session"),
         "cdrs": ("/api/v1/cdrs/ (1.1M rows)", "/api/v1/cdrs/", "token")}


def prepare(stack: ProductionStack) -> None:
    """Migrate and fill the bench database once (kept between runs)."""
    import psycopg

    with psycopg.connect(stack.admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [stack.database_name]).fetchone():
            conn.execute(f'CREATE DATABASE "{stack.database_name}"')
    stack.manage("migrate", "--noinput")
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        bench_site = conn.execute("SELECT 1 FROM sites_site WHERE slug = %s", [BENCH_SITE]).fetchone()
    if not bench_site:  # (once: loaded again, the demo would take back the numbers the bench site holds)
        stack.manage("load_demo_estate")
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        users = conn.execute("SELECT count(*) FROM users_sipuser u JOIN sites_site s ON s.id = u.site_id "
                             "WHERE s.slug = %s", [BENCH_SITE]).fetchone()[0]
        cdrs = conn.execute("SELECT (SELECT count(*) FROM cdr), (SELECT count(*) FROM acc_cdrs)").fetchone()
    if users < USERS:
        t0 = time.perf_counter()
        stack.manage("shell", "-c", (
            "from sites import actions; from sites.models import Site; from voipadmin.actors import Actor\n"
            "actor = Actor.command('bench/production.py')\n"
            f"if not Site.objects.filter(slug='{BENCH_SITE}').exists():\n"
            f"    actions.update_site(Site.objects.get(slug='{BRANCH_GIVING_WAY}'), actor=actor, "
            f"ranges=[{ITS_RANGE}])\n"
            f"    actions.create_site(actor=actor, name='Bench', slug='{BENCH_SITE}', "
            f"sip_domain='bench.example.test', ranges=[({FIRST_EXTENSION}, {FIRST_EXTENSION + USERS - 1})])"))
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "users.csv"
            with csv.open("w") as out:
                out.write("extension,name,email,site\n")
                for i in range(USERS):
                    out.write(f"{FIRST_EXTENSION + i},Bench user {i},u{i}@example.test,{BENCH_SITE}\n")
            stack.manage("import_users", str(csv), "--secrets-file", str(Path(tmp) / "secrets.csv"))
        print(f"imported {USERS:,} users in {time.perf_counter() - t0:.1f} s")
    if tuple(cdrs) != (CDRS, KAMAILIO_RECORDS):
        t0 = time.perf_counter()
        make_cdrs(stack.database_url)
        print(f"generated {CDRS:,} CDRs and {KAMAILIO_RECORDS:,} Kamailio records in {time.perf_counter() - t0:.1f} s")
    if users < USERS or tuple(cdrs) != (CDRS, KAMAILIO_RECORDS):
        # what autovacuum does to a live database in the minutes after a bulk load: statistics for the planner and
        # a visibility map (index-only scans), so the first run measures the tables as later runs find them
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    stack.manage("collectstatic", "--noinput")


def make_cdrs(url: str) -> None:
    """The rows of bench/cdr_api.py (bench/callrecords.py)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        callrecords.fill(conn.execute, CDRS, KAMAILIO_RECORDS)


# --- load ----------------------------------------------------------------------------------------------------


class Cell:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: dict[int, int] = {}
        self.lock = threading.Lock()


def client(port: int, path: str, headers: dict, until: float, cell: Cell, *, one_per_request: bool = False) -> None:
    """One client: the next request as soon as the last one answered, on a keep-alive connection or, as nginx
    in front of gunicorn does (deploy/nginx: no upstream keepalive), on a new connection each time."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    mine, errors = [], {}
    while time.perf_counter() < until:
        t0 = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if one_per_request:
                conn.close()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status = 0
        elapsed = time.perf_counter() - t0
        if status == 200:
            mine.append(elapsed)
        else:
            errors[status] = errors.get(status, 0) + 1
    conn.close()
    with cell.lock:
        cell.latencies += mine
        for status, n in errors.items():
            cell.errors[status] = cell.errors.get(status, 0) + n


def reference_loop_ms() -> float:
    """The machine's speed at this moment: one core summing a million integers in Python (best of 5). The
    machines here are virtual and shared; the same code has been seen to take 12 and 24 ms of CPU per users-list
    request on two of them, and this loop to take 17 to 31 ms on one within a minute. Printed beside the figures
    so two runs can be told apart by the machine as well as by the code."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        sum(range(1_000_000))
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def run_cell(port: int, path: str, headers: dict, clients: int, seconds: float, *, one_per_request: bool) -> dict:
    for _ in range(3):  # warm-up: connections, caches, the first request of each thread
        client(port, path, headers, time.perf_counter() + 0.001, Cell(), one_per_request=one_per_request)
    cell = Cell()
    started = time.perf_counter()
    until = started + seconds
    threads = [threading.Thread(target=client, args=(port, path, headers, until, cell),
                                kwargs={"one_per_request": one_per_request}) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    lat = sorted(cell.latencies)
    p95 = lat[max(0, int(round(0.95 * len(lat))) - 1)] * 1000 if lat else float("nan")
    return {"rps": len(lat) / wall, "p50": statistics.median(lat) * 1000 if lat else float("nan"), "p95": p95,
            "n": len(lat), "errors": cell.errors}


# --- servers ---------------------------------------------------------------------------------------------------


def start_runserver(stack: ProductionStack, port: int) -> subprocess.Popen:
    log = open(stack.log_dir / "runserver.log", "ab")
    proc = subprocess.Popen([str(VENV_BIN / "python"), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                            cwd=ROOT, env=stack.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stack.processes["runserver"] = proc
    return proc


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz?check=database", headers={"Host": HOST})
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answers on port {port}")


def share_niceness(pid: int) -> None:
    """Give ``pid``'s scheduling group the bench's niceness: with the kernel's autogroups each session (a
    server started in its own session, the bench's shell) shares the CPU as one group, and a process's own
    niceness only counts inside its group. Best effort (a negative value needs root)."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(os.nice(0)))
    except OSError:
        pass


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every process in the server's process group (gunicorn's master and workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields 5 (pgrp), 14-17 (utime, stime, and of reaped children: recycled workers)
            total += sum(int(f) for f in fields[11:15])
    return total / ticks


def enrol_two_factor(stack: ProductionStack, browser: Browser) -> None:
    """The enrolment page's key typed into an authenticator: the code comes from accounts.twofactor.totp in a
    ``manage.py shell`` (this process has no Django set up; the code is good for a minute and more)."""
    page = browser.get("/two-factor/")
    secret = re.search(r'id="twofactor-secret">([^<]+)<', page.text)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert page.status_code == 200 and secret and token, f"enrolment page: {page.status_code}"
    out = stack.manage("shell", "-c", f"from accounts.twofactor import totp; print(totp({secret.group(1)!r}))")
    code = re.findall(r"^\d{6}$", out, re.M)[-1]
    enrolled = browser.post("/two-factor/", {"csrfmiddlewaretoken": token.group(1), "code": code},
                            referer=f"https://{HOST}/two-factor/")
    assert enrolled.status_code == 200, f"bench two-factor enrolment failed: {enrolled.status_code}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn worker processes (default: deploy/gunicorn.conf.py's, 2 x CPUs + 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per gunicorn worker (default: deploy/gunicorn.conf.py's)")
    parser.add_argument("--keepalive", type=int, default=None,
                        help="gunicorn's keep-alive seconds (default: deploy/gunicorn.conf.py's, 0: a connection per "
                             "request, as behind nginx)")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", default="1,10")
    parser.add_argument("--pages", default="dashboard,users,cdrs",
                        help="which pages, comma-separated (default: all three)")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    threads = args.threads or int(re.search(r'_int\("GUNICORN_THREADS", (\d+)\)',
                                            (ROOT / "deploy" / "gunicorn.conf.py").read_text()).group(1))
    unknown = set(args.pages.split(",")) - set(PAGES)
    if unknown:
        sys.exit(f"--pages: no page called {', '.join(sorted(unknown))} (choose among {', '.join(PAGES)})")
    pages = [page for name, page in PAGES.items() if name in args.pages.split(",")]

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voipadmin")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/production.py needs DATABASE_URL=postgres://… (it creates <name>_bench beside it)")
    name = (urlsplit(base).path.lstrip("/") or "voipadmin") + "_bench"
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    workdir = Path(tempfile.mkdtemp(prefix="voipadmin-bench-"))
    # the bench database is kept between runs: its node secrets need the same key every run (a bench key,
    # derived from the database's name; never a production one)
    key = base64.urlsafe_b64encode(hashlib.sha256(f"voipadmin-bench:{name}".encode()).digest()).decode()
    workers = args.workers or 2 * (os.cpu_count() or 1) + 1
    keeping = f" keep-alive {args.keepalive} s" if args.keepalive else ""
    overrides = {"GUNICORN_WORKERS": str(workers)} | ({"GUNICORN_THREADS": str(threads)} if args.threads else {}) \
        | ({"GUNICORN_KEEPALIVE": str(args.keepalive)} if args.keepalive is not None else {})
    stack = ProductionStack(workdir, database_url=base, broker_url=broker, database_name=name, overrides=overrides,
                            credentials_key=key)
    stack.write_configuration()
    print(f"database {with_database(base, name)}; work directory {workdir}")
    prepare(stack)
    user = f"bench-admin-{os.getpid()}"
    password = re.search(r"password: (\S+)", stack.manage("ensure_admin", "--username", user)).group(1)
    token = re.search(r"\bva_\S+", stack.manage("create_api_token", "--name", f"bench-{os.getpid()}",
                                                "--scope", "read")).group(0)

    base_headers = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"}
    results: dict[tuple[str, str, int], dict] = {}
    servers = {}
    loads = [os.getloadavg()[0]]
    speeds = [reference_loop_ms()]
    try:
        # both servers up at once, their cells alternated: a change in the machine's other load hits both alike
        runserver_port = free_port()
        servers["gunicorn"] = (stack.start("voipadmin-portal.service"), stack.port)
        servers["runserver"] = (start_runserver(stack, runserver_port), runserver_port)
        for proc in [*(p for p, _ in servers.values()), None]:
            share_niceness(proc.pid if proc else os.getpid())
        for _, port in servers.values():
            wait_port(port)
        # one session for both servers (same database and secret key); the guide's environment requires
        # administrators to enrol in two-factor login first, as test_stack's crawler does
        browser = Browser(f"http://127.0.0.1:{stack.port}", HOST)
        assert browser.log_in(user, password).status_code == 302, "bench login failed"
        if browser.get("/dashboard/").headers.get("location", "").endswith("/two-factor/"):
            enrol_two_factor(stack, browser)
        assert browser.get("/dashboard/").status_code == 200, "bench session sees no dashboard"
        session = {"Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items())}
        browser.close()
        sessions = {server: session for server in servers}
        for page, path, auth in pages:
            for n in clients:
                for server, (proc, port) in servers.items():
                    headers = base_headers | (sessions[server] if auth == "session"
                                              else {"Authorization": f"Token {token}"})
                    cpu_before = group_cpu_seconds(proc.pid)
                    r = run_cell(port, path, headers, n, args.seconds, one_per_request=server == "gunicorn")
                    r["cpu_ms"] = (group_cpu_seconds(proc.pid) - cpu_before) * 1000 / max(1, r["n"])
                    loads.append(os.getloadavg()[0])
                    speeds.append(reference_loop_ms())
                    results[(server, page, n)] = r
                    label = f"gunicorn {workers}x{threads}{keeping}" if server == "gunicorn" else server
                    print(f"  {label:14} {page:28} {n:>2} client(s): {r['rps']:7.1f} req/s  p50 {r['p50']:7.1f} ms  "
                          f"p95 {r['p95']:7.1f} ms  server CPU {r['cpu_ms']:5.1f} ms/req  n={r['n']}"
                          + (f"  errors {r['errors']}" if r["errors"] else ""), flush=True)
    finally:
        stack.stop()
        stack.purge_broker()  # the changes the bench made queued push nudges under its own queue names
        stack.manage("shell", "-c", (
            "from django.contrib.auth import get_user_model; from voipadmin.models import ApiToken\n"
            f"get_user_model().objects.filter(username='{user}').delete(); "
            f"ApiToken.objects.filter(name='bench-{os.getpid()}').delete()"))

    print()
    print(f"production stack (gunicorn, {workers} workers x {threads} threads{keeping}) vs runserver: "
          f"{os.cpu_count()} cores, {args.seconds:g} s per cell, same database, DEBUG=false for both; "
          f"1-min load average {min(loads):.1f}-{max(loads):.1f} during the run, bench and servers at niceness "
          f"{os.nice(0)}; Python reference loop (bench.production.reference_loop_ms) "
          f"{min(speeds):.1f}-{max(speeds):.1f} ms")
    print(f"{'page':28} {'clients':>7} | {'gunicorn req/s':>14} {'p95 ms':>8} {'CPU ms/req':>10} | "
          f"{'runserver req/s':>15} {'p95 ms':>8} {'CPU ms/req':>10}")
    for page, _, _ in pages:
        for n in clients:
            g, d = results[("gunicorn", page, n)], results[("runserver", page, n)]
            print(f"{page:28} {n:>7} | {g['rps']:>14.1f} {g['p95']:>8.1f} {g['cpu_ms']:>10.1f} | "
                  f"{d['rps']:>15.1f} {d['p95']:>8.1f} {d['cpu_ms']:>10.1f}")
    users = results.get(("gunicorn", PAGES["users"][0], 10))
    if users:
        verdict = "met" if users["p95"] <= GOAL_P95_MS else "NOT met"
        print(f"users list p95 at 10 clients on gunicorn: {users['p95']:.1f} ms (goal <= {GOAL_P95_MS} ms: {verdict})")


if __name__ == "__main__":
    main()
