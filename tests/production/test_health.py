"""/healthz and /metrics: each check and its threshold, the token, the exposition format, constant queries.

The broker is the suite's Redis (CELERY_BROKER_URL); "unreachable" is a loopback port nobody listens on.
"""
from __future__ import annotations

import socket
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from live.models import ActiveCall, NodeState, Registration
from ops import signals
from ops.actions import record_task_run
from ops.metrics import API_REQUESTS
from ops.middleware import ProxiedClientAddressMiddleware
from ops.models import ScheduledTaskRun
from push.models import PushJob
from sites.models import AsteriskNode, KamailioNode, Site

pytestmark = pytest.mark.postgres
TOKEN = "metrics-token-for-tests-0123456789"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ran(task: str, *, ago: float, seconds: float = 0.4, ok: bool = True) -> None:
    finished = timezone.now() - timedelta(seconds=ago)
    record_task_run(task=task, started=finished - timedelta(seconds=seconds), finished=finished, succeeded=ok,
                    worker="live@test")


@pytest.fixture
def healthy(db, settings):
    """Beat and the workers ran a moment ago; nothing is owed to any node."""
    assert settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://")), \
        "these tests need the real broker: CELERY_BROKER_URL=redis://127.0.0.1:6379/15 (make test sets it)"
    settings.LIVE_RELOAD = True
    ran("push.tasks.sweep", ago=2, seconds=0.01)
    ran("live.tasks.poll_estate", ago=5)
    return settings


def estate(n_sites: int = 1, *, calls: int = 1, jobs: int = 1) -> list[AsteriskNode]:
    """Sites with one polled Asterisk each, a Kamailio, calls, registrations and pending push jobs."""
    now = timezone.now()
    first = Site.objects.count()
    nodes = []
    kam = KamailioNode.objects.get_or_create(name="kamailio-1", defaults={
        "sip_address": "127.0.0.1:5060", "jsonrpc_url": "http://127.0.0.1:1/RPC"})[0]
    NodeState.objects.get_or_create(kind="kamailio", kamailio_node=kam,
                                    defaults={"state": "up", "last_polled": now, "latency_ms": 2.0})
    for i in range(first, first + n_sites):
        site = Site.objects.create(name=f"Site {i}", slug=f"site{i}", sip_domain=f"site{i}.example.test")
        node = AsteriskNode.objects.create(site=site, name=f"ast-site{i}", host=f"ast{i}.health.test",
                                           ami_host="127.0.0.1", ami_port=1)
        NodeState.objects.create(kind="asterisk", asterisk_node=node, state="down" if i % 2 else "up",
                                 last_polled=now, latency_ms=3.5)
        for c in range(calls):
            for leg in ("a", "b"):  # two channels of one call
                ActiveCall.objects.create(node=node, site=site, channel=f"PJSIP/{c}{leg}", linkedid=f"{i}.{c}",
                                          seen_at=now)
        Registration.objects.create(kamailio_node=kam, user=f"{i}001", contact=f"sip:{i}001@127.0.0.1",
                                    seen_at=now)
        for j in range(jobs):
            PushJob.objects.create(node_kind="asterisk", asterisk_node=node, node_name=node.name,
                                   command="dialplan reload", next_attempt_at=now,
                                   in_flight=j > 0)  # (one open job per node and command; the rest on the wire)
        nodes.append(node)
    return nodes


# --- /healthz ---------------------------------------------------------------------------------------------


def test_healthz_is_200_when_every_check_passes(client, healthy):
    estate()
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert list(body["checks"]) == ["database", "broker", "beat", "poll", "push"]
    assert body["checks"]["poll"]["threshold_seconds"] == healthy.HEALTH_POLL_MAX_AGE_SECONDS
    assert "no-store" in response["Cache-Control"]


def test_healthz_needs_no_login_and_costs_three_queries_whatever_the_estate(client, healthy,
                                                                            django_assert_num_queries):
    estate(1)
    with django_assert_num_queries(3):
        assert client.get("/healthz").status_code == 200
    estate(5, calls=3, jobs=4)
    with django_assert_num_queries(3):
        assert client.get("/healthz").status_code == 200


def test_healthz_names_the_broker_when_it_does_not_answer(client, healthy):
    healthy.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert "refused" in body["checks"]["broker"]["detail"].lower()


def test_healthz_names_beat_and_the_poll_when_nothing_ran_for_too_long(client, healthy):
    ScheduledTaskRun.objects.all().delete()
    ran("push.tasks.sweep", ago=600)
    ran("live.tasks.poll_estate", ago=900)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["beat", "poll"]
    assert body["checks"]["beat"]["age_seconds"] >= 600 and "push.tasks.sweep" in body["checks"]["beat"]["detail"]


def test_healthz_names_the_poll_alone_when_beat_runs_but_no_cycle_completes(client, healthy):
    ran("live.tasks.poll_estate", ago=1, ok=False)  # the latest cycle raised; the last good one is older
    ScheduledTaskRun.objects.filter(task="live.tasks.poll_estate").update(
        last_success=timezone.now() - timedelta(seconds=healthy.HEALTH_POLL_MAX_AGE_SECONDS + 30))
    body = client.get("/healthz").json()
    assert body["failing"] == ["poll"] and "the latest one failed" in body["checks"]["poll"]["detail"]


def test_healthz_before_any_beat_task_ran_says_so(client, healthy):
    ScheduledTaskRun.objects.all().delete()
    body = client.get("/healthz").json()
    assert body["failing"] == ["beat", "poll"]
    assert "no beat-scheduled task has run yet" in body["checks"]["beat"]["detail"]


def test_healthz_names_the_push_when_a_due_job_waits_too_long(client, healthy):
    (node,) = estate(1, jobs=0)
    due = timezone.now() - timedelta(seconds=healthy.HEALTH_PUSH_MAX_AGE_SECONDS + 60)
    PushJob.objects.create(node_kind="asterisk", asterisk_node=node, node_name=node.name, command="dialplan reload",
                           next_attempt_at=due)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["failing"] == ["push"]


def test_a_job_backing_off_or_held_is_not_overdue(client, healthy):
    (node,) = estate(1, jobs=0)
    PushJob.objects.create(node_kind="asterisk", asterisk_node=node, node_name=node.name, command="dialplan reload",
                           attempts=7, next_attempt_at=timezone.now() + timedelta(seconds=3))
    assert client.get("/healthz").status_code == 200
    PushJob.objects.update(next_attempt_at=timezone.now() - timedelta(hours=1))
    AsteriskNode.objects.update(enabled=False)  # held: disabled nodes are not pushed to
    assert client.get("/healthz").status_code == 200
    AsteriskNode.objects.update(enabled=True)
    healthy.LIVE_RELOAD = False  # held: live reload off
    assert client.get("/healthz").json()["checks"]["push"]["detail"].startswith("live reload is off")


def test_healthz_runs_only_the_checks_asked_for(client, healthy):
    ScheduledTaskRun.objects.all().delete()
    response = client.get("/healthz?check=database,broker")
    assert response.status_code == 200 and list(response.json()["checks"]) == ["database", "broker"]
    assert client.get("/healthz?check=nonsense").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_healthz_names_the_database_when_it_does_not_answer(client, settings):
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port()))
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    body = response.json()
    assert body["failing"][0] == "database" and {"beat", "poll", "push"} <= set(body["failing"])
    assert body["checks"]["push"]["detail"] == "not checked: the database does not answer"
    assert "OperationalError" in body["checks"]["database"]["detail"]


# --- /metrics ---------------------------------------------------------------------------------------------


def _scrape(client, token: str = TOKEN):
    return client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_metrics_are_off_without_a_token_and_need_it_when_set(client, healthy):
    healthy.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    healthy.METRICS_TOKEN = TOKEN
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    assert _scrape(client, "not-the-token").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 401
    assert _scrape(client).status_code == 200


def test_metrics_parse_and_carry_the_estate(client, healthy):
    healthy.METRICS_TOKEN = TOKEN
    estate(2, calls=3, jobs=2)
    client.get("/api/v1/sites/")  # an API answer to count (401: no session)
    response = _scrape(client)
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}

    def value(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("voipadmin_node_up", kind="asterisk", node="ast-site0", site="site0") == 1
    assert value("voipadmin_node_up", kind="asterisk", node="ast-site1", site="site1") == 0
    assert value("voipadmin_node_state", kind="asterisk", node="ast-site1", site="site1", state="down") == 1
    assert value("voipadmin_calls_active", site="site0") == 3
    assert value("voipadmin_registrations", kind="kamailio", node="kamailio-1") == 2
    assert value("voipadmin_push_jobs", kind="asterisk", node="ast-site0", state="pending") == 2
    assert value("voipadmin_push_oldest_pending_age_seconds", kind="asterisk", node="ast-site0") >= 0
    assert value("voipadmin_push_jobs", kind="kamailio", node="kamailio-1", state="pending") == 0
    assert value("voipadmin_poll_duration_seconds") == pytest.approx(0.4)
    assert value("voipadmin_health_check_ok", check="broker") == 1
    assert value("voipadmin_api_requests_total", method="GET", view="api:site-list", status="401") >= 1
    for name in ("voipadmin_node_poll_latency_seconds", "voipadmin_node_last_poll_timestamp_seconds",
                 "voipadmin_scheduled_task_last_success_timestamp_seconds", "voipadmin_health_check_age_seconds"):
        assert name in families, name


def test_metrics_cost_the_same_queries_for_a_bigger_estate(client, healthy):
    healthy.METRICS_TOKEN = TOKEN
    estate(1)
    with CaptureQueriesContext(connection) as small:
        assert _scrape(client).status_code == 200
    estate(6, calls=4, jobs=3)
    with CaptureQueriesContext(connection) as big:
        assert _scrape(client).status_code == 200
    assert len(big) == len(small), [q["sql"] for q in big.captured_queries]


# --- what feeds them --------------------------------------------------------------------------------------


def _task(name: str, *, eager: bool = False):
    return SimpleNamespace(name=name, request=SimpleNamespace(is_eager=eager, hostname="live@host1"))


def test_a_worker_records_each_run_of_a_beat_task_and_nothing_else(db):
    signals._on_prerun(task_id="1", task=_task("live.tasks.poll_estate"))
    signals._on_postrun(task_id="1", task=_task("live.tasks.poll_estate"), state="SUCCESS")
    run = ScheduledTaskRun.objects.get()
    assert run.task == "live.tasks.poll_estate" and run.last_succeeded and run.worker == "live@host1"
    first_success = run.last_success

    signals._on_prerun(task_id="2", task=_task("live.tasks.poll_estate"))
    signals._on_postrun(task_id="2", task=_task("live.tasks.poll_estate"), state="FAILURE")
    run.refresh_from_db()
    assert not run.last_succeeded and run.last_success == first_success  # a failed run is no success

    signals._on_prerun(task_id="5", task=_task("live.tasks.poll_estate"))
    signals._on_postrun(task_id="5", task=_task("live.tasks.poll_estate"), state="SUCCESS",
                        retval="skipped: another poll cycle is running")
    run.refresh_from_db()
    assert run.last_succeeded and run.last_success == first_success  # it ran (beat is alive) but polled nothing
    assert run.last_started > first_success

    for task_id, task in (("3", _task("push.tasks.deliver")), ("4", _task("push.tasks.sweep", eager=True))):
        signals._on_prerun(task_id=task_id, task=task)  # not beat's / an eager run in a test: not recorded
        signals._on_postrun(task_id=task_id, task=task, state="SUCCESS")
    assert ScheduledTaskRun.objects.count() == 1


def test_behind_the_proxy_the_client_address_is_the_one_nginx_wrote(settings):
    settings.PROXY_ADDRESSES = ["127.0.0.1", "::1"]
    seen = {}
    middleware = ProxiedClientAddressMiddleware(lambda request: seen.setdefault("addr", request.META["REMOTE_ADDR"]))
    factory = RequestFactory()

    def addr(remote: str, forwarded: str | None) -> str:
        seen.clear()
        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
        middleware(factory.get("/", REMOTE_ADDR=remote, **extra))
        return seen["addr"]

    assert addr("127.0.0.1", "203.0.113.9, 192.0.2.7") == "192.0.2.7"  # the last entry: nginx's own
    assert addr("::1", "2001:db8::7") == "2001:db8::7"
    assert addr("192.0.2.50", "198.51.100.1") == "192.0.2.50"  # not from the proxy: the header is the client's word
    assert addr("127.0.0.1", "garbage") == "127.0.0.1"
    assert addr("127.0.0.1", None) == "127.0.0.1"


def test_pages_are_never_stored_by_a_cache_and_api_answers_are_counted(admin_client, healthy):
    counter = API_REQUESTS.labels("GET", "api:site-list", "200")
    before = counter._value.get()
    response = admin_client.get("/api/v1/sites/")
    assert response.status_code == 200 and counter._value.get() == before + 1
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert "no-store" in admin_client.get("/sites/")["Cache-Control"]


def test_a_secret_comes_from_its_file_and_never_from_both(monkeypatch, tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    from voipadmin.env import envsecret

    secret = tmp_path / "broker_url"
    secret.write_text("redis://:s3cret@127.0.0.1:6379/0\n")
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setenv("CELERY_BROKER_URL_FILE", str(secret))
    assert envsecret("CELERY_BROKER_URL", "filesystem://") == "redis://:s3cret@127.0.0.1:6379/0"
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/1")
    with pytest.raises(ImproperlyConfigured, match="CELERY_BROKER_URL and CELERY_BROKER_URL_FILE are both set"):
        envsecret("CELERY_BROKER_URL")
