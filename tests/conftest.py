"""Shared fixtures: personas (Alice the administrator, Bob the helpdesk, Charlie with no role)."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection

pytest_plugins = ["tests.kamailio_fixtures"]


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
