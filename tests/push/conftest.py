"""Fixtures for the push tests: nodes, AMI fakes on chosen ports, eager Celery, fast timings."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Iterator

import pytest

from tests.fakes.ami import AmiFake, _LoopThread, closed_port



@pytest.fixture
def dispatched(monkeypatch):
    """Record the nudges to the push workers instead of queueing them."""
    from push import tasks

    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks, "dispatch", lambda kind, node_id, **kw: calls.append((kind, node_id)))
    return calls


@pytest.fixture
def fast_push(settings):
    """Short timeouts and backoff so retry tests take fractions of a second; no rate limit."""
    settings.LIVE_RELOAD = True
    settings.PUSH_MIN_INTERVAL_SECONDS = {"asterisk": 0.0, "kamailio": 0.0}
    settings.PUSH_NODE_TIMEOUT_SECONDS = 1.0
    settings.PUSH_RETRY_BASE_SECONDS = 0.05
    settings.PUSH_RETRY_MAX_SECONDS = 0.2
    settings.PUSH_MAX_ATTEMPTS = 0
    return settings


@pytest.fixture
def eager(fast_push):
    """Run Celery tasks in-process (on_commit -> deliver runs right after the commit)."""
    from voipadmin.celery import app

    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = old


@pytest.fixture
def site(db):
    from sites.models import Site

    return Site.objects.create(name="Central", slug="central", kind="central", sip_domain="voip.example.test")


@pytest.fixture
def other_site(db):
    from sites.models import Site

    return Site.objects.create(name="Branch", slug="branch", sip_domain="branch.example.test")


# The nodes below are push targets only (AMI on ami_host, JSON-RPC at the URL). Their SIP addresses are names:
# a node known by an IP would be one of Kamailio's trusted peers (services projects address group 1), and
# creating it would queue the permissions.addressReload these tests do not expect.
def make_asterisk(site, name: str, port: int, *, username: str = "admin", secret: str = "secret",
                  enabled: bool = True):
    from sites.models import AsteriskNode

    return AsteriskNode.objects.create(site=site, name=name, host=f"{name}.push.test", ami_host="127.0.0.1",
                                       ami_port=port, ami_username=username, ami_secret=secret, enabled=enabled)


def make_kamailio(name: str, url: str, *, enabled: bool = True):
    from sites.models import KamailioNode

    return KamailioNode.objects.create(name=name, sip_address=f"{name}.push.test:5060", jsonrpc_url=url,
                                       enabled=enabled)


class FakeRunner:
    """AMI fakes on one background loop; ``start(port=...)`` can bring a fake up on a chosen port."""

    def __init__(self) -> None:
        self.loop = _LoopThread()
        self.fakes: list[AmiFake] = []

    def start(self, port: int = 0, **config) -> AmiFake:
        fake = AmiFake(**config)

        async def go() -> None:
            fake._server = await asyncio.start_server(fake._handle, "127.0.0.1", port)
            fake.port = fake._server.sockets[0].getsockname()[1]

        self.loop.run(go())
        self.fakes.append(fake)
        return fake

    def stop(self, fake: AmiFake) -> None:
        self.loop.run(fake.stop())

    def close(self) -> None:
        for fake in self.fakes:
            with contextlib.suppress(Exception):
                self.loop.run(fake.stop())
        self.loop.close()


@pytest.fixture
def ami_fakes() -> Iterator[FakeRunner]:
    runner = FakeRunner()
    yield runner
    runner.close()


@pytest.fixture
def free_port() -> int:
    return closed_port()
