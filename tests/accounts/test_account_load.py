"""Every signed-in request loads its account with one plain statement (accounts.backends.account_with_profile):
the objects must be the ORM's own, field for field, with the profile (or its absence) known without a query."""
from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.backends import AccountBackend, account_with_profile
from accounts.models import AccountProfile

from .twofactor_helpers import enrol

pytestmark = pytest.mark.django_db
User = get_user_model()


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


@pytest.fixture
def enrolled():
    user = User.objects.create_user("ines", "ines@example.test", "a long pass phrase", first_name="Inés",
                                    last_login=datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.timezone.utc))
    enrol(user, recovery_codes=["abcde-fghjk"])
    AccountProfile.objects.filter(user=user).update(language="es", time_zone="Atlantic/Canary", site_limited=True,
                                                    totp_last_step=12345)
    return user


def test_an_account_and_its_profile_are_what_the_orm_reads_in_one_query(enrolled):
    expected = User.objects.select_related("profile").get(pk=enrolled.pk)
    with CaptureQueriesContext(connection) as queries:
        loaded = account_with_profile(enrolled.pk)
        profile = loaded.profile
        assert profile.user is loaded
    assert len(queries) == 1
    assert _fields(loaded) == _fields(expected)
    assert _fields(profile) == _fields(expected.profile)
    # the converters ran: the secret decrypted, the codes a list, the dates aware
    assert profile.totp_secret == expected.profile.totp_secret and profile.two_factor_enabled
    assert isinstance(profile.recovery_codes, list) and len(profile.recovery_codes) == 1
    assert loaded.last_login.tzinfo is not None and loaded.date_joined.tzinfo is not None
    assert not loaded._state.adding and loaded._state.db == "default"
    assert AccountBackend().get_user(enrolled.pk) == enrolled


def test_an_account_without_a_profile_knows_it_without_a_query():
    user = User.objects.create_user("joan", password="a long pass phrase")
    loaded = account_with_profile(user.pk)
    assert _fields(loaded) == _fields(User.objects.get(pk=user.pk))
    with CaptureQueriesContext(connection) as queries:
        with pytest.raises(User.profile.RelatedObjectDoesNotExist):
            loaded.profile  # noqa: B018
    assert len(queries) == 0


def test_an_unknown_or_inactive_account_is_no_account():
    user = User.objects.create_user("kim", password="a long pass phrase", is_active=False)
    assert AccountBackend().get_user(user.pk) is None  # (Django's rule: an inactive account is signed out)
    assert account_with_profile(user.pk) is not None
    assert AccountBackend().get_user(user.pk + 1000) is None
    assert AccountBackend().get_user("not a number") is None


def test_a_signed_in_page_loads_the_account_once(client, enrolled, settings):
    settings.VOIPADMIN_REQUIRE_TWO_FACTOR = False
    client.force_login(enrolled)
    with CaptureQueriesContext(connection) as queries:
        client.get("/accounts/me/")
    accounts = [q["sql"] for q in queries if 'FROM "auth_user"' in q["sql"]]
    assert len(accounts) == 1 and "LEFT OUTER JOIN" in accounts[0]
