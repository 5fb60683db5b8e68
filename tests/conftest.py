"""Shared fixtures: personas (Alice the administrator, Bob the helpdesk, Charlie with no role)."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection

pytest_plugins = ["tests.kamailio_fixtures", "tests.asterisk_fixtures", "tests.routing_fixtures",
                  "tests.process_fixtures", "tests.browser_fixtures"]


def pytest_sessionstart(session):
    """The Spanish catalogue compiled from its .po, as ``make test`` does (a bare ``pytest`` run too)."""
    from django.core.management import call_command

    call_command("compile_catalogues", verbosity=0)


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Each test starts in the default language: a request in Spanish leaves it active in its thread (Django's
    LocaleMiddleware activates a language per request and never resets it), which would otherwise reach the
    forms and texts the next test builds outside a request."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def require_postgres(db):
    """Tests of the shared database run on PostgreSQL; anything else is a failure, not a skip."""
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL: run it with DATABASE_URL=postgres://... (make test does)")


def _make_user(django_user_model, username: str, group: str | None, **extra):
    user = django_user_model.objects.create_user(username=username, password="correct horse battery", **extra)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def alice(db, django_user_model):
    return _make_user(django_user_model, "alice", "Administrator", email="alice@example.test")


@pytest.fixture
def bob(db, django_user_model):
    return _make_user(django_user_model, "bob", "Helpdesk", email="bob@example.test")


@pytest.fixture
def charlie(db, django_user_model):
    return _make_user(django_user_model, "charlie", None)


@pytest.fixture
def admin_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def helpdesk_client(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def actor(alice):
    from voipadmin.actors import Actor

    return Actor(user=alice, label="alice", source="ui")


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or (len(marker.args) > 0 and marker.args[0])):
        return True
    return bool({"transactional_db", "live_server", "kamailio_clean"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _empty_kamailio_tables_after_transactional_tests(request, django_db_blocker):
    """pytest-django's flush skips unmanaged models, i.e. Kamailio's own tables: empty them here so a
    transactional test never leaves subscribers, dispatchers or dialplan rules to the next one."""
    yield
    if not _is_transactional(request):
        return
    from tests.kamailio.harness import KAMAILIO_DATA_TABLES

    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("TRUNCATE " + ", ".join(KAMAILIO_DATA_TABLES) + " RESTART IDENTITY CASCADE")
            else:
                for table in KAMAILIO_DATA_TABLES:
                    cursor.execute(f"DELETE FROM {table}")
