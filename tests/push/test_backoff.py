"""A node that does not answer is tried less and less often, with jitter, up to a ceiling; the sweep only
picks jobs whose next attempt is due."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models.functions import Now

from push import api, conf, delivery, gateway, tasks
from push.api import KAMAILIO
from push.models import PushJob
from voipadmin.connectors.errors import NodeError

from .conftest import make_kamailio

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def production_backoff(settings):
    settings.PUSH_RETRY_BASE_SECONDS, settings.PUSH_RETRY_MAX_SECONDS = 2.0, 300.0
    return settings


def test_the_delay_doubles_from_a_few_seconds_up_to_the_ceiling(production_backoff):
    production_backoff.PUSH_RETRY_JITTER = 0
    assert [conf.backoff(n) for n in range(1, 11)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert conf.backoff(10_000) == 300, "a node down for a year is still tried every five minutes"


def test_jitter_shortens_each_delay_by_up_to_a_fifth_and_never_passes_the_ceiling(production_backoff):
    production_backoff.PUSH_RETRY_JITTER = 0.2
    rng = random.Random(13)
    delays = [conf.backoff(12, rng=rng) for _ in range(200)]
    assert all(240 <= d <= 300 for d in delays)
    assert len({round(d, 3) for d in delays}) > 150, "nodes that failed together do not retry together"
    assert all(1.6 <= conf.backoff(1, rng=rng) <= 2 for _ in range(50))


def test_the_defaults_are_a_few_seconds_up_to_five_minutes():
    from django.conf import settings

    assert settings.PUSH_RETRY_BASE_SECONDS == 2.0 and settings.PUSH_RETRY_MAX_SECONDS == 300


@pytest.fixture
def down(fast_push, monkeypatch, free_port):
    """A Kamailio that refuses every reload (no nudges: the test delivers by hand)."""
    fast_push.PUSH_RETRY_BASE_SECONDS, fast_push.PUSH_RETRY_MAX_SECONDS, fast_push.PUSH_RETRY_JITTER = 2, 300, 0
    monkeypatch.setattr(tasks, "dispatch", lambda *a, **k: None)
    monkeypatch.setattr(gateway, "send", lambda *a, **k: (_ for _ in ()).throw(NodeError("connection refused")))
    return make_kamailio("kam-down", f"http://127.0.0.1:{free_port}/RPC")


def _fail_once_more(node) -> PushJob:
    """Make the job due (as if its backoff had run out) and let a worker try it."""
    PushJob.objects.update(next_attempt_at=Now() - timedelta(seconds=1))
    delivery.deliver_node("kamailio", node.pk)
    return PushJob.objects.get()


@pytest.mark.django_db(transaction=True)
def test_each_failure_stores_the_next_attempt_further_away(down):
    with transaction.atomic():
        api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason="change")
    delivery.deliver_node("kamailio", down.pk)
    waits = []
    for _ in range(10):
        job = PushJob.objects.get()
        waits.append(round((job.next_attempt_at - job.updated).total_seconds()))
        job = _fail_once_more(down)
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert job.attempts == 11 and "connection refused" in job.last_error


@pytest.mark.django_db(transaction=True)
def test_the_sweep_only_picks_jobs_whose_next_attempt_is_due(down, free_port):
    up = make_kamailio("kam-new", f"http://127.0.0.1:{free_port}/RPC")
    with transaction.atomic():
        api.request(KAMAILIO, api.DISPATCHER_RELOAD, node_ids=[down.pk])
    delivery.deliver_node("kamailio", down.pk)  # fails: backed off 2 s
    with transaction.atomic():
        api.request(KAMAILIO, api.DIALPLAN_RELOAD, node_ids=[up.pk])  # never tried: due at once

    assert delivery.due_nodes() == [("kamailio", up.pk)]
    PushJob.objects.filter(kamailio_node=down).update(next_attempt_at=Now() - timedelta(seconds=1))
    assert delivery.due_nodes() == [("kamailio", down.pk), ("kamailio", up.pk)]


@pytest.mark.django_db(transaction=True)
def test_changes_joining_a_backed_off_job_wait_for_it_instead_of_each_trying_at_once(down):
    with transaction.atomic():
        api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason="first")
    delivery.deliver_node("kamailio", down.pk)
    for i in range(20):
        with transaction.atomic():
            api.request(KAMAILIO, api.DISPATCHER_RELOAD, reason=f"more {i}")
        outcome = delivery.deliver_node("kamailio", down.pk)  # as the commit's nudge would
        assert outcome.reloads == 0
    job = PushJob.objects.get()
    assert (job.requests, job.attempts) == (21, 1)


@pytest.mark.django_db(transaction=True)
def test_retry_now_and_retry_node_skip_the_wait(down, actor):
    from push import actions

    with transaction.atomic():
        api.request(KAMAILIO, api.DISPATCHER_RELOAD)
    delivery.deliver_node("kamailio", down.pk)
    assert delivery.due_nodes() == []
    actions.retry_now(PushJob.objects.get(), actor=actor)
    assert delivery.due_nodes() == [("kamailio", down.pk)]
    delivery.deliver_node("kamailio", down.pk)
    assert delivery.due_nodes() == []
    assert api.retry_node(KAMAILIO, down.pk) == 1
    assert delivery.due_nodes() == [("kamailio", down.pk)]
