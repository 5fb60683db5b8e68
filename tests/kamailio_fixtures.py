"""Pytest fixtures that run a real Kamailio 5.6 against the pytest-django test database.

Register once for the whole suite by adding to ``tests/conftest.py``::

    pytest_plugins = ["tests.kamailio_fixtures"]

(``tests/kamailio/conftest.py`` imports these fixtures itself when that line is absent.)

Fixtures
--------
``kamailio`` (session)
    A running :class:`tests.kamailio.harness.KamailioInstance` on free loopback ports, connected to the
    test database. Started after pytest-django created (and migrated) the test database and stopped
    before it is dropped. Tests that use it need committed rows: ``@pytest.mark.django_db(transaction=True)``.
``kamailio_clean`` (function)
    The same instance, (re)started if a previous test stopped it. Before the test: no registrations
    (usrloc memory and ``location`` emptied). After the test: also every Kamailio data table emptied
    (all but ``version``, ids restarted; the transactional flush of the portal's tables follows) and the
    dispatcher, dialplan, permissions and uac caches reloaded. Implies ``transactional_db``. Use this one
    unless you manage Kamailio's state yourself.
    Note: pytest-django's flush skips unmanaged tables, so Kamailio rows written by tests that do
    not use this fixture stay in the test database until the session ends.
"""
from __future__ import annotations

import pytest

from tests.kamailio.harness import KamailioError, KamailioInstance, dburl_from_settings

__all__ = ["kamailio", "kamailio_clean"]


@pytest.fixture(scope="session")
def kamailio(django_db_setup, django_db_blocker, tmp_path_factory):
    """One Kamailio for the session, on the test database (depends on django_db_setup: stops before the DB drop)."""
    from django.db import connection

    instance = KamailioInstance(
        dburl_from_settings(connection.settings_dict),
        tmp_path_factory.mktemp("kamailio"),
        # uac.reg_reload refuses to run again within reg_gc_interval seconds (150 in production)
        # presence removes expired publications (a dead Asterisk's lamp goes off) every PRESENCE_CLEAN_PERIOD s
        defines={"UAC_REG_GC_INTERVAL": "2", "PRESENCE_CLEAN_PERIOD": "2"},
    )
    try:
        instance.start()
    except KamailioError as exc:
        pytest.fail(f"Kamailio did not start: {exc}", pytrace=False)
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def kamailio_clean(kamailio, transactional_db):
    """The session's Kamailio, running, with empty Kamailio tables and usrloc before and after the test."""
    from django.db import connection

    if not kamailio.running:
        kamailio.start()
    # before: registrations only, so rows other fixtures of this test already created survive
    kamailio.reset(connection, tables=False)
    yield kamailio
    if not kamailio.running:  # e.g. an outage test stopped it
        kamailio.start()
    kamailio.reset(connection)
