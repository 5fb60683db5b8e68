"""End to end on the real Kamailio the suite starts: changes become live through push, and an outage loses nothing."""
from __future__ import annotations

import random
import time

import pytest
from django.conf import settings
from django.db import transaction

from push import api, tasks
from push.api import KAMAILIO
from push.models import PushJob, PushState
from voipadmin.connectors.kamailio import KamailioRpc, dispatcher_targets
from voipadmin.kamailio.models import Address, DialplanRule, Dispatcher

from .conftest import make_kamailio

pytestmark = [pytest.mark.kamailio, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def live_destinations(kamailio) -> set[str]:
    with KamailioRpc(kamailio.rpc_url) as rpc:  # the connector reads "No Destination Sets" as empty
        return {t["uri"] for t in dispatcher_targets(rpc.dispatcher_list())}


def test_each_kamailio_reload_makes_its_table_live_right_after_commit(eager, kamailio_clean, require_postgres):
    make_kamailio("kam-test", kamailio_clean.rpc_url)
    with transaction.atomic():
        Dispatcher.objects.create(setid=1, destination="sip:127.0.0.1:5080", description="pbx-central")
        api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason="pbx-central added")
        DialplanRule.objects.create(dpid=1, pr=1, match_op=DialplanRule.MATCH_REGEX, match_exp="^0(.*)$",
                                    match_len=0, subst_exp="^0(.*)$", repl_exp="\\1", attrs="outbound")
        api.request(KAMAILIO, api.DIALPLAN_RELOAD, reason="outbound prefix")
        Address.objects.create(grp=1, ip_addr="127.0.0.2", mask=32, port=0, tag="pbx-central")
        api.request(KAMAILIO, api.ADDRESS_RELOAD, reason="pbx-central trusted")
        assert live_destinations(kamailio_clean) == set(), "nothing is pushed before commit"

    assert live_destinations(kamailio_clean) == {"sip:127.0.0.1:5080"}
    assert kamailio_clean.rpc("dialplan.translate", 1, "0612345678")["Output"] == "612345678"
    assert [a["item"]["ip"] for a in kamailio_clean.rpc("permissions.addressDump")] == ["127.0.0.2"]
    assert set(PushJob.objects.values_list("command", "state", "attempts")) == {
        (api.DISPATCHER_RELOAD, "sent", 1), (api.DIALPLAN_RELOAD, "sent", 1), (api.ADDRESS_RELOAD, "sent", 1)}


@pytest.fixture
def real_worker(fast_push, processes):
    """Two real push workers (``celery -A voipadmin worker`` processes) on the broker under test: each test
    using it runs on Redis and on RabbitMQ (tests/process_fixtures.py). The test process publishes to them.

    Timings: backoff from 2 s (the production default) with its ceiling lowered to 3 s (production: 300 s),
    sweep every 5 s (the production default).
    """
    fast_push.PUSH_RETRY_BASE_SECONDS, fast_push.PUSH_RETRY_MAX_SECONDS = 1.0, 3.0
    fast_push.PUSH_SWEEP_SECONDS = 5
    timings = {"VOIPADMIN_PUSH_NODE_TIMEOUT_MS": "1000", "VOIPADMIN_PUSH_RETRY_MAX": "3",
               "VOIPADMIN_PUSH_KAMAILIO_INTERVAL_MS": "0", "VOIPADMIN_PUSH_SWEEP": "5"}
    processes.wait_ready(*[processes.worker(f"push{n}", "push", **timings) for n in (1, 2)])
    from voipadmin.celery import app

    return app


class Beat:
    """What celery beat does with the ``push-sweep`` entry: send ``sweep`` every ``period`` seconds.

    Started at a random phase of the period (beat's own phase is unrelated to the outage).
    """

    def __init__(self, app, period: float) -> None:
        self.app, self.period = app, period
        self.next = time.monotonic() + random.uniform(0, period)

    def tick(self) -> None:
        if time.monotonic() >= self.next:
            self.app.send_task("push.tasks.sweep")
            self.next += self.period


def test_a_kamailio_outage_loses_none_of_100_changes_and_a_real_worker_makes_them_live_within_10s(
        real_worker, kamailio_clean):
    """Kamailio down, 100 changes, Kamailio back: real workers (Redis, RabbitMQ) and beat's sweep do the rest."""
    make_kamailio("kam-test", kamailio_clean.rpc_url)
    kamailio_clean.stop()

    for i in range(100):
        with transaction.atomic():
            Dispatcher.objects.create(setid=1, destination=f"sip:127.0.0.1:{20000 + i}", description=f"dest {i}")
            api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason=f"destination {i} added")

    jobs = PushJob.objects.filter(command=api.DISPATCHER_RELOAD)
    deadline = time.monotonic() + 10
    while jobs.filter(attempts=0).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = jobs.count()
    assert rows == 1, f"100 changes coalesced into one job per (node, command), not {rows} rows (was 100)"
    assert jobs.get().requests == 100
    assert set(jobs.values_list("state", flat=True)) == {PushState.PENDING}
    errors = set(jobs.values_list("attempts", "last_error"))
    assert all("connection refused" in e for _, e in errors), errors
    attempts_during = jobs.order_by("id").first().attempts
    assert attempts_during >= 1

    kamailio_clean.start()
    started = time.monotonic()
    wanted = {f"sip:127.0.0.1:{20000 + i}" for i in range(100)}
    beat = Beat(real_worker, period=settings.PUSH_SWEEP_SECONDS)
    while time.monotonic() - started < 10:
        if not jobs.exclude(state=PushState.SENT).exists() and live_destinations(kamailio_clean) == wanted:
            break
        beat.tick()
        time.sleep(0.1)
    elapsed = time.monotonic() - started

    assert live_destinations(kamailio_clean) == wanted, f"not all 100 destinations live after {elapsed:.1f}s"
    assert set(jobs.values_list("state", flat=True)) == {PushState.SENT}, f"after {elapsed:.1f}s"
    assert elapsed < 10
    first = jobs.order_by("id").first()
    assert first.attempts > attempts_during and "connection refused" in first.last_error
    print(f"\noutage: 100 changes in {rows} push row(s) (one per change before coalescing: 100), "
          f"{first.attempts} attempts; all live {elapsed:.2f}s after Kamailio came back")


def test_the_sweep_sends_what_a_lost_nudge_left_behind(eager, kamailio_clean, monkeypatch):
    """Broker down at commit time (the nudge is lost): the row is there and the sweep sends it."""
    make_kamailio("kam-test", kamailio_clean.rpc_url)

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    eager.conf.task_always_eager = False  # a real broker call, which fails (restored by the fixture)
    with monkeypatch.context() as patch:
        patch.setattr(tasks.deliver, "apply_async", broker_down)
        with transaction.atomic():
            Dispatcher.objects.create(setid=2, destination="sip:127.0.0.1:5090")
            api.request(KAMAILIO, api.DISPATCHER_RELOAD)
    assert PushJob.objects.get().state == PushState.PENDING  # commit succeeded, nothing raised
    eager.conf.task_always_eager = True

    assert tasks.sweep() == 1
    assert PushJob.objects.get().state == PushState.SENT
    assert live_destinations(kamailio_clean) == {"sip:127.0.0.1:5090"}


def test_an_outage_during_100_portal_changes_loses_none_and_the_push_jobs_tell_the_story(
        real_worker, kamailio_clean):
    """The same outage through the portal's write path: 100 trunk changes made by the trunks actions."""
    from trunks import actions as trunk_actions
    from voipadmin.actors import Actor
    from voipadmin.models import ChangeLogEntry

    actor = Actor.command("tests")
    make_kamailio("kam-test", kamailio_clean.rpc_url)
    kamailio_clean.stop()

    ips = [f"127.0.{2 + i // 200}.{1 + i % 200}" for i in range(100)]
    for i, ip in enumerate(ips):
        trunk_actions.create_itsp_trunk(actor=actor, name=f"itsp-{i}", host=ip, ip_addresses=ip)

    jobs = PushJob.objects.filter(command=api.ADDRESS_RELOAD)
    deadline = time.monotonic() + 10
    while jobs.filter(attempts=0).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = jobs.count()
    assert rows == 1 and jobs.get().requests == 100, f"one job for 100 changes, not {rows} rows (was 100)"
    assert set(jobs.values_list("state", flat=True)) == {PushState.PENDING}
    assert all("connection refused" in e for e in jobs.values_list("last_error", flat=True))
    assert set(PushJob.objects.values_list("command", flat=True)) == {api.ADDRESS_RELOAD}, "only what they need"
    assert ChangeLogEntry.objects.filter(object_repr__startswith="itsp-").count() == 100

    kamailio_clean.start()
    started = time.monotonic()
    beat = Beat(real_worker, period=settings.PUSH_SWEEP_SECONDS)

    def live_ips() -> set[str]:
        return {a["item"]["ip"] for a in kamailio_clean.rpc("permissions.addressDump") or []}

    while time.monotonic() - started < 10:
        if not jobs.exclude(state=PushState.SENT).exists() and live_ips() == set(ips):
            break
        beat.tick()
        time.sleep(0.1)
    elapsed = time.monotonic() - started

    assert live_ips() == set(ips), f"not all 100 trunks live after {elapsed:.1f}s"
    assert set(jobs.values_list("state", flat=True)) == {PushState.SENT}, f"after {elapsed:.1f}s"
    assert elapsed < 10
    first = jobs.order_by("id").first()
    assert first.attempts >= 1 and "connection refused" in first.last_error and first.sent_at is not None
    assert "ITSP trunk itsp-0 created" in first.reasons and "ITSP trunk itsp-99 created" in first.reasons
    print(f"\noutage: 100 trunk changes in {rows} push row(s) (was 100); all live {elapsed:.2f}s after restart")
