"""Shared fixtures: personas (Alice the administrator, Bob the helpdesk, Charlie with no role)."""
from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import override_settings

pytest_plugins = ["tests.kamailio_fixtures", "tests.asterisk_fixtures", "tests.routing_fixtures",
                  "tests.process_fixtures", "tests.browser_fixtures",
                  "tests.foundation.embedded"]  # (one migrated SQLite per worker, whichever directory asks)


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """The production hasher, ``pbkdf2_sha256``, at 1,000 iterations instead of 1,000,000 (~0.25 s a password,
    paid by every test that makes a persona). Its hashes are ordinary PBKDF2 ones (the iterations are in the
    hash), so the portals and workers the tests start as processes, on the production settings, check them."""

    iterations = 1000


override_settings(PASSWORD_HASHERS=[f"{__name__}.FastPBKDF2PasswordHasher", *settings.PASSWORD_HASHERS]).enable()


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
    from tests.kamailio.harness import empty_kamailio_tables

    with django_db_blocker.unblock():
        empty_kamailio_tables(connection)


#: rows that only migrations make and no test changes: kept by the flush after a transactional test
_KEPT_BY_FLUSH = ("django_content_type", "auth_permission")


def _flush_by_delete() -> None:
    """The flush after each transactional test (pytest-django's TransactionTestCase) on PostgreSQL: DELETE
    from the portal's tables instead of TRUNCATE, then the roles re-made, instead of the whole post_migrate.

    The same rows go (Django's foreign keys are deferrable; sequences are not reset either way) and the roles
    come back as migrate leaves them; content types and permissions stay, with the same ids. But a TRUNCATE of
    ~60 nearly empty tables costs ~0.7 s (a new file per table) and post_migrate re-creating ~150 content
    types and permissions ~0.5 s, after each of ~200 tests; this costs ~0.1 s. Any other flush: Django's."""
    from django.db import connections, transaction
    from django.test import TransactionTestCase

    django_teardown = TransactionTestCase._fixture_teardown

    def _fixture_teardown(self):
        names = self._databases_names(include_mirrors=False)
        if (self.available_apps is not None or self.serialized_rollback or names != ["default"]
                or connections["default"].vendor != "postgresql"):
            return django_teardown(self)
        from django.contrib.auth.models import Group, Permission

        from voipadmin.roles import sync_role_permissions

        db = connections["default"]
        tables = [t for t in db.introspection.django_table_names(only_existing=True, include_views=False)
                  if t not in _KEPT_BY_FLUSH]
        with transaction.atomic(), db.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for table in tables:
                cursor.execute(f"DELETE FROM {db.ops.quote_name(table)}")
        sync_role_permissions(Group, Permission)

    TransactionTestCase._fixture_teardown = _fixture_teardown


_flush_by_delete()
