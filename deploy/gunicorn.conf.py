"""gunicorn settings of the voipadmin portal (``gunicorn -c deploy/gunicorn.conf.py``).

One file for every host: each knob reads an environment variable (``/etc/voipadmin/env`` under
systemd, see deploy/README.md), with a default that suits a small host behind nginx on the same
machine. gunicorn runs this file in its master process before it forks the workers, so what it
puts in ``os.environ`` (the metrics directory) is what every worker sees.
"""
from __future__ import annotations

import os
import tempfile


def _int(name: str, default: int, minimum: int = 1) -> int:
    """An integer setting; a typo stops gunicorn at start-up with the variable's name."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SystemExit(f"{name}={value} must be at least {minimum}")
    return value


wsgi_app = "voipadmin.wsgi:application"
proc_name = "voipadmin-portal"

# nginx on the same host proxies to this address; never expose it to the network (see forwarded_allow_ips).
bind = [b.strip() for b in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",") if b.strip()]

# gthread: each worker process runs a few threads. The threads matter for long answers (the CDR CSV
# export streams for many seconds): a sync worker would be busy for all of it and be killed at
# `timeout`, while a gthread worker's main thread keeps telling the master it is alive.
# Processes rather than threads for the rest (gunicorn's own advice, 2 x CPUs + 1): threads of one process
# share one interpreter lock, so a page's time grows with its neighbours' in the same process.
# Each thread may hold one PostgreSQL connection (CONN_MAX_AGE): workers x threads connections at most.
worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1)
threads = _int("GUNICORN_THREADS", 2)

# nginx on this host opens a connection per request (deploy/nginx: no upstream keepalive), so keep-alive
# buys nothing here, and without it a worker takes a connection only when it has a thread free for it
# (worker_connections = threads; gunicorn then closes each connection after its answer). The requests
# waiting meanwhile stay in the listening socket's queue, the host's one queue, for whichever worker frees
# a thread first. gunicorn's default instead lets every worker accept up to 1,000 connections at once: they
# are dealt out among the workers by chance and wait behind a busy worker's own requests while another
# has a thread idle (bench/production.py, users list at 10 clients on 2 cores, alternated: p95 178-202 ms
# that way with 2 workers x 4 threads, 116-142 ms this way with 5 x 2). A proxy that does keep connections
# open (GUNICORN_KEEPALIVE > 0) gets gunicorn's default back: kept connections need room of their own.
keepalive = _int("GUNICORN_KEEPALIVE", 0, minimum=0)
worker_connections = threads if keepalive == 0 else 1000

# A request that has not answered in `timeout` seconds has its worker restarted; the CDR export
# streams, so only a stuck worker reaches it. Workers are recycled now and then (a slow leak never
# grows for good), not all at once (jitter).
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000, minimum=0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200, minimum=0)

# The proxy's X-Forwarded-Proto is believed only from these addresses (nginx on this host). Django
# reads the same header (BEHIND_TLS_PROXY=true): the port in `bind` must be reachable by nginx only.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs to stdout/stderr: journald keeps them under systemd. The access log carries the client's
# address as nginx saw it and the time taken (ms).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%({x-forwarded-for}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'

# systemd's RuntimeDirectory= (/run/voipadmin-portal) holds the workers' heartbeat files and the metrics;
# without it (a test, a shell) a private temporary directory does.
_runtime = (os.environ.get("RUNTIME_DIRECTORY") or "").split(":")[0]
worker_tmp_dir = _runtime or None

# gunicorn's control socket (gunicornc) only when asked for: under ProtectSystem=strict its default
# place ($HOME/.gunicorn) is read-only.
_control = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
if _control:
    control_socket = _control
else:
    control_socket_disable = True

# /metrics counts API requests in every worker; prometheus_client's multiprocess mode sums them over
# the workers' files in this directory (the workers find it through the environment they inherit).
_metrics_dir_given = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
    _runtime or tempfile.gettempdir(), f"voipadmin-metrics-{os.getpid()}")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def _remove_metrics_files() -> None:
    for name in os.listdir(_metrics_dir):
        if name.endswith(".db"):  # prometheus_client's files only, whatever else the directory holds
            os.remove(os.path.join(_metrics_dir, name))


def on_starting(server) -> None:
    """Start counting from zero: files of a previous run would be summed as if their workers lived."""
    os.makedirs(_metrics_dir, mode=0o700, exist_ok=True)
    _remove_metrics_files()


def on_exit(server) -> None:
    """Leave no directory of ours behind in /tmp (systemd removes its RuntimeDirectory= itself)."""
    if not _metrics_dir_given and not _runtime and os.path.isdir(_metrics_dir):
        _remove_metrics_files()
        try:
            os.rmdir(_metrics_dir)
        except OSError:
            pass  # something else was put there: leave it


def child_exit(server, worker) -> None:
    """A worker that exits keeps its counts (counters only grow); drop its live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """Leave the loaded application out of the garbage collector's full passes: Django, the apps, the URLs and
    every view they import stay for the worker's life, yet without this a full pass walks all of them (about
    140,000 objects: tens of milliseconds, while the worker's other threads wait) every few hundred requests of
    a list page. ``gc.freeze()`` moves them to a generation that is never collected; whatever comes later
    (templates, catalogues read on first use) is collected as before."""
    import gc

    from django.urls import get_resolver

    try:
        get_resolver().url_patterns  # noqa: B018 (imported now, before the freeze, rather than on the first request)
    except Exception:  # noqa: BLE001 (a broken URLconf is the requests' to report, as without this hook)
        pass
    gc.freeze()
