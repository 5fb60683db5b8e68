from __future__ import annotations

import pytest
from django.db import connection, transaction

from . import estate as estate_module


@pytest.fixture(scope="module")
def module_estate(django_db_setup, django_db_blocker):
    """The estate, built once per test module inside a transaction rolled back after the module's last test.

    Each test still runs in its own savepoint (``db``), and each Hypothesis example in one more: a build costs
    half a second, and these modules run some forty tests on it.
    """
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.fail("the property tests need PostgreSQL: run them with DATABASE_URL=postgres://...")
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = estate_module.build()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture
def estate(module_estate, db, require_postgres):
    """Every kind of object with every text field set (the values the strategies start from)."""
    for obj in module_estate.values():
        obj.refresh_from_db()  # (a previous test may have changed the copy in memory; its rows were rolled back)
    return module_estate


@pytest.fixture
def write_client(client, estate):
    """An API client with a write token (the way an integration writes)."""
    from voipadmin.api.tokens import create_token
    from voipadmin.models import ApiToken

    key = create_token(actor=estate_module.SYSTEM, name="properties", scope=ApiToken.Scope.WRITE)[1]
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return client


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The personas' portal passwords need not be PBKDF2-hard here (it was a third of the forms' time)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
