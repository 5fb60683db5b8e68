"""A broken node is marked down with its reason within its own timeout; the others stay fresh."""
from __future__ import annotations

import time

import pytest

from live import actions
from live.choices import Health
from live.models import ActiveCall, NodeState
from tests.fakes.ami import closed_port, running_ami_fake, running_ami_fakes
from tests.fakes.kamailio_rpc import running_kamailio_fake

from .conftest import ACTOR

pytestmark = pytest.mark.django_db
TIMEOUT = 0.5


@pytest.fixture
def healthy(make_site, make_asterisk):
    """A healthy node on its own site, polled alongside the broken one."""
    with running_ami_fake(channels=2) as fake:
        yield make_asterisk(make_site("branch1", 4000, 4999), fake)


def _cycle():
    started = time.perf_counter()
    actions.poll_estate(actor=ACTOR, timeout=TIMEOUT)
    return time.perf_counter() - started


def _assert_healthy_is_fresh(node):
    state = NodeState.objects.get(asterisk_node=node)
    assert state.state == Health.UP and state.age_seconds() < 5
    assert ActiveCall.objects.filter(node=node).count() == 2


def test_a_node_that_refuses_connections_is_down(make_site, make_asterisk, healthy):
    broken = make_asterisk(make_site(), None, port=closed_port())

    elapsed = _cycle()

    state = NodeState.objects.get(asterisk_node=broken)
    assert state.state == Health.DOWN and state.reason == "connection refused"
    assert state.last_seen is None and elapsed < TIMEOUT + 1
    _assert_healthy_is_fresh(healthy)


def test_a_node_that_hangs_is_down_after_its_own_timeout(make_site, make_asterisk, healthy):
    with running_ami_fake(fault="hang") as fake:
        broken = make_asterisk(make_site(), fake)
        elapsed = _cycle()

    state = NodeState.objects.get(asterisk_node=broken)
    assert state.state == Health.DOWN and "timed out after 0.5s" in state.reason
    assert TIMEOUT <= elapsed < TIMEOUT + 1
    _assert_healthy_is_fresh(healthy)


def test_a_node_that_answers_garbage_is_down_with_what_it_said(make_site, make_asterisk, healthy):
    with running_ami_fake(fault="garbage") as fake:
        broken = make_asterisk(make_site(), fake)
        elapsed = _cycle()

    state = NodeState.objects.get(asterisk_node=broken)
    assert state.state == Health.DOWN and state.reason.startswith("garbage reply: SSH-2.0-OpenSSH")
    assert elapsed < TIMEOUT + 1
    _assert_healthy_is_fresh(healthy)


def test_a_node_that_goes_silent_after_login_is_down(make_site, make_asterisk, healthy):
    with running_ami_fake(fault="silent_after_login") as fake:
        broken = make_asterisk(make_site(), fake)
        _cycle()
    state = NodeState.objects.get(asterisk_node=broken)
    assert state.state == Health.DOWN and "timed out" in state.reason
    _assert_healthy_is_fresh(healthy)


def test_a_node_with_a_wrong_secret_is_down_with_the_login_refusal(make_site, make_asterisk, healthy):
    with running_ami_fake(secret="other") as fake:
        broken = make_asterisk(make_site(), None, port=fake.port)
        _cycle()
    state = NodeState.objects.get(asterisk_node=broken)
    assert state.state == Health.DOWN and state.reason == "authentication failed"


@pytest.mark.parametrize("fault, reason", [("refused", "connection refused"), ("hang", "timed out"),
                                           ("garbage", "garbage reply")])
def test_a_broken_kamailio_is_down_and_the_asterisks_stay_fresh(make_kamailio, healthy, fault, reason):
    if fault == "refused":
        node = make_kamailio(f"http://127.0.0.1:{closed_port()}/RPC")
        elapsed = _cycle()
    else:
        with running_kamailio_fake(fault=fault) as fake:
            node = make_kamailio(fake.url)
            elapsed = _cycle()
    state = NodeState.objects.get(kamailio_node=node)
    assert state.state == Health.DOWN and reason in state.reason
    assert elapsed < TIMEOUT + 1
    _assert_healthy_is_fresh(healthy)


def test_a_down_node_keeps_its_last_seen_and_version_but_loses_its_calls(make_site, make_asterisk):
    site = make_site()
    with running_ami_fakes(1, channels=2) as [fake]:
        node = make_asterisk(site, fake)
        actions.poll_estate(actor=ACTOR)
    seen = NodeState.objects.get(asterisk_node=node)
    actions.poll_estate(actor=ACTOR, timeout=TIMEOUT)  # the fake is gone: refused
    state = NodeState.objects.get(asterisk_node=node)
    assert state.state == Health.DOWN and state.last_seen == seen.last_seen and state.version == seen.version
    assert state.state_since > seen.state_since
    assert not ActiveCall.objects.filter(node=node).exists()


def test_a_slow_node_is_degraded_not_down(make_site, make_asterisk, monkeypatch):
    monkeypatch.setattr("live.poller.SLOW_MS", 0.0)
    with running_ami_fake(channels=2, reply_delay=0.01) as fake:
        node = make_asterisk(make_site(), fake)
        _cycle()
    state = NodeState.objects.get(asterisk_node=node)
    assert state.state == Health.DEGRADED and state.reason.startswith("slow: ") and "ms round trip" in state.reason
    assert ActiveCall.objects.filter(node=node).count() == 2  # its data is still recorded


def test_results_of_a_node_deleted_during_its_poll_are_dropped(make_site, make_asterisk):
    from live import poller

    with running_ami_fake(channels=2) as fake:
        node = make_asterisk(make_site(), fake)
        results = poller.run_poll([actions.asterisk_target(node)], TIMEOUT)
    node.delete()
    actions.record_poll_cycle(results, actor=ACTOR)
    assert not NodeState.objects.exists() and not ActiveCall.objects.exists()


def test_a_node_seen_answering_again_gets_its_backed_off_reloads_at_once(make_site, make_asterisk):
    """The push queue backs off up to minutes; the poller is the first to know the node is back."""
    from datetime import timedelta

    from django.utils import timezone

    from live.poller import NodeResult
    from push.models import PushJob, PushState

    node = make_asterisk(make_site(), None, port=closed_port())
    later = timezone.now() + timedelta(minutes=5)
    job = PushJob.objects.create(node_kind="asterisk", node_name=node.name, asterisk_node=node, command="module reload res_pjsip.so", attempts=6,
                                 next_attempt_at=later)

    def poll(state: str) -> None:
        actions.record_poll_cycle([NodeResult(kind="asterisk", node_id=node.pk, name=node.name, state=state)],
                                  actor=ACTOR)

    poll(Health.DOWN)
    poll(Health.DOWN)
    job.refresh_from_db()
    assert job.next_attempt_at == later, "still down: the back-off stands"
    poll(Health.UP)
    job.refresh_from_db()
    assert job.state == PushState.PENDING and job.next_attempt_at <= timezone.now()
