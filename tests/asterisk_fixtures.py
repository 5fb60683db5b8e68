"""Pytest fixtures that run real Asterisks (tests/asterisk/harness.py) against the test database.

``asterisk_prefix`` (session)
    The Asterisk installation (ASTERISK_PREFIX or ../shared/asterisk's build). Missing: a failure.
``estate_asterisks`` / ``site_asterisks`` (session)
    Two running Asterisks (central, branch1) configured by ``manage.py asterisk_config`` from
    :func:`tests.asterisk.estate.make_plan` — reading the database as the estate-wide role ``asterisk``,
    or each as its site's role ``asterisk_<slug>`` on its own schema. Started on first use, stopped
    before the test database is dropped.
``asterisk_estate`` / ``site_asterisk_estate`` (function)
    The matching estate built in the (transactional) test database through the portal's actions, the
    suite's Kamailio registered as its Kamailio node and every reload pushed: ready for calls.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.asterisk.estate import SITES, build_estate, make_plan
from tests.asterisk.harness import AsteriskError, AsteriskInstance, asterisk_prefix as _asterisk_prefix
from tests.asterisk.sounds import install_prompts

__all__ = ["asterisk_prefix", "estate_asterisks", "site_asterisks", "asterisk_estate", "site_asterisk_estate",
           "start_asterisks"]


#: how long Kamailio keeps the test nodes' busy-lamp PUBLISHes (ASTERISK_PUBLISH_EXPIRES_SECONDS while the nodes
#: run: their files and the estate check's rendering agree; the default, 60 s, would make the test of a node
#: killed mid-call wait a minute for the lamp to go off)
PUBLISH_EXPIRES = 10


class _Rollback(Exception):
    pass


@pytest.fixture(scope="session")
def asterisk_prefix():
    return _asterisk_prefix()


def start_asterisks(plan, *, kamailio, prefix, workdir, django_db_blocker) -> dict[str, AsteriskInstance]:
    """Give the plan's database roles their grants, write each node's files with ``asterisk_config`` from
    the plan's estate (built and rolled back), and start the nodes."""
    from django.core.management import call_command
    from django.db import transaction

    from nodeconf import database
    from sites.models import Site
    from voipadmin.actors import Actor

    actor = Actor.command("tests")
    instances = {n.site: AsteriskInstance(prefix, workdir / n.name, name=n.name) for n in plan.nodes}
    with django_db_blocker.unblock():
        statements = database.estate_sql()
        for slug, *_ in SITES:
            statements += database.site_sql(Site(slug=slug))
        database.apply(statements)
        try:
            with transaction.atomic():
                build_estate(plan, kamailio=kamailio, actor=actor)
                for n in plan.nodes:
                    node = instances[n.site]
                    call_command("asterisk_config", n.name, out=str(node.etc), prefix=str(prefix),
                                 state_dir=str(node.state), db_role=plan.db_role, ami_permit=["127.0.0.0/8"],
                                 stdout=open("/dev/null", "w"))
                    for name, text in plan.local_files(n.site).items():
                        (node.etc / name).write_text(text)
                    install_prompts(node.sounds)
                raise _Rollback
        except _Rollback:
            pass
    try:
        for node in instances.values():
            node.start()
    except AsteriskError as exc:
        for node in instances.values():
            node.stop()
        pytest.fail(f"Asterisk did not start: {exc}", pytrace=False)
    return instances


def _session_asterisks(db_role, first_host, request, kamailio, asterisk_prefix, tmp_path_factory,
                       django_db_blocker):
    from django.test.utils import override_settings

    expiry = override_settings(ASTERISK_PUBLISH_EXPIRES_SECONDS=PUBLISH_EXPIRES)
    expiry.enable()
    try:
        plan = make_plan(db_role, first_host)
        instances = start_asterisks(plan, kamailio=kamailio, prefix=asterisk_prefix,
                                    workdir=tmp_path_factory.mktemp(f"asterisk-{db_role}"),
                                    django_db_blocker=django_db_blocker)
        running = SimpleNamespace(plan=plan, nodes=instances)
        yield running
        for node in instances.values():
            node.stop()
    finally:
        expiry.disable()


@pytest.fixture(scope="session")
def estate_asterisks(request, django_db_setup, kamailio, asterisk_prefix, tmp_path_factory, django_db_blocker):
    yield from _session_asterisks("estate", 21, request, kamailio, asterisk_prefix, tmp_path_factory,
                                  django_db_blocker)


@pytest.fixture(scope="session")
def site_asterisks(request, django_db_setup, kamailio, asterisk_prefix, tmp_path_factory, django_db_blocker):
    yield from _session_asterisks("site", 31, request, kamailio, asterisk_prefix, tmp_path_factory,
                                  django_db_blocker)


def _estate(running, kamailio, settings):
    from voipadmin.actors import Actor
    from voipadmin.celery import app

    for node in running.nodes.values():  # a previous test may have stopped or killed one
        if not node.running:
            node.start()
    settings.LIVE_RELOAD = True
    settings.PUSH_MIN_INTERVAL_SECONDS = {"asterisk": 0.0, "kamailio": 0.0}
    settings.PUSH_NODE_TIMEOUT_SECONDS = 2.0
    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    try:
        estate = build_estate(running.plan, kamailio=kamailio, actor=Actor.command("tests"))
        estate.asterisks = running.nodes
        estate.kamailio = kamailio
        yield estate
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = old


@pytest.fixture
def asterisk_estate(kamailio_clean, estate_asterisks, settings):
    """Two real Asterisks reading the estate-wide views, the real Kamailio in front, the estate built."""
    yield from _estate(estate_asterisks, kamailio_clean, settings)


@pytest.fixture
def site_asterisk_estate(kamailio_clean, site_asterisks, settings):
    """The same with each Asterisk reading its own site's schema as its site's database role."""
    yield from _estate(site_asterisks, kamailio_clean, settings)
