"""API tokens: hashed, shown once, scoped, expiring, bound to networks, revocable, last use recorded."""
from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from voipadmin.api.tokens import create_token, hash_key, revoke_token
from voipadmin.models import ApiToken, ChangeLogEntry

from .conftest import SYSTEM, auth


def test_the_key_is_stored_only_as_a_hash(read_key):
    token = ApiToken.objects.get(name="billing")
    assert token.key_hash == hash_key(read_key) and read_key not in (token.key_hash, token.prefix)
    assert read_key.startswith(token.prefix)


def test_the_command_prints_the_key_once_and_it_works(client, db):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "--name", "erp", "--scope", "write", "--networks", "127.0.0.0/8",
                 stdout=out, stderr=err)
    key = out.getvalue().strip()
    token = ApiToken.objects.get(name="erp")
    assert token.scope == "write" and token.allowed_networks == ["127.0.0.0/8"]
    assert "shown only this once" in err.getvalue()
    assert client.get("/api/v1/sites/", **auth(key)).status_code == 200
    assert ChangeLogEntry.objects.filter(object_id=str(token.pk), actor="manage.py create_api_token").exists()


def test_the_command_refuses_a_bad_network_or_a_duplicate_name(db):
    with pytest.raises(CommandError, match="not a network"):
        call_command("create_api_token", "--name", "x", "--networks", "10.0.0.300/8", stdout=io.StringIO())
    call_command("create_api_token", "--name", "dup", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_api_token", "--name", "dup", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token wrong-key", "Token va_" + "x" * 43])
def test_a_malformed_or_unknown_key_is_refused(client, db, header):
    assert client.get("/api/v1/sites/", HTTP_AUTHORIZATION=header).status_code == 401


def test_an_expired_token_is_refused(client, expired_key):
    response = client.get("/api/v1/cdrs/", **auth(expired_key))
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_a_revoked_token_is_refused(client, read_key):
    assert client.get("/api/v1/cdrs/", **auth(read_key)).status_code == 200
    revoke_token(ApiToken.objects.get(name="billing"), actor=SYSTEM)
    response = client.get("/api/v1/cdrs/", **auth(read_key))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_a_token_bound_to_networks_is_refused_from_elsewhere(client, db):
    _token, key = create_token(actor=SYSTEM, name="billing-host", allowed_networks="127.0.0.2/32, ::1")
    assert client.get("/api/v1/cdrs/", REMOTE_ADDR="127.0.0.1", **auth(key)).status_code == 401
    assert client.get("/api/v1/cdrs/", REMOTE_ADDR="127.0.0.2", **auth(key)).status_code == 200
    assert client.get("/api/v1/cdrs/", REMOTE_ADDR="::1", **auth(key)).status_code == 200


def test_an_expiry_in_the_past_is_refused_when_making_a_token(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        create_token(actor=SYSTEM, name="late", expires_at=timezone.now() - datetime.timedelta(days=1))


def test_last_use_is_recorded_at_most_once_a_minute(client, read_key):
    client.get("/api/v1/cdrs/", REMOTE_ADDR="127.0.0.1", **auth(read_key))
    token = ApiToken.objects.get(name="billing")
    assert token.last_used_ip == "127.0.0.1" and token.last_used_at is not None
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/cdrs/", **auth(read_key))
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - datetime.timedelta(minutes=2))
    client.get("/api/v1/cdrs/", **auth(read_key))
    assert ApiToken.objects.get(pk=token.pk).last_used_at > timezone.now() - datetime.timedelta(seconds=30)


def test_administrators_make_a_token_in_the_ui_and_see_its_key_once(admin_client):
    response = admin_client.post("/api-tokens/",
                                 {"name": "billing-ui", "scope": "read", "allowed_networks": "127.0.0.0/8"})
    assert response.status_code == 200
    token = ApiToken.objects.get(name="billing-ui")
    body = response.content.decode()
    key = body.split('<code class="user-select-all fs-6">')[1].split("</code>")[0]
    assert hash_key(key) == token.key_hash and "no-store" in response["Cache-Control"]
    listing = admin_client.get("/api-tokens/").content.decode()
    assert key not in listing and token.prefix in listing
    admin_client.post(f"/api-tokens/{token.pk}/revoke/")
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_only_administrators_reach_the_token_pages(client, dora, bob):
    for user in (dora, bob):
        client.force_login(user)
        assert client.get("/api-tokens/").status_code == 403
        assert client.post("/api-tokens/", {"name": "sneaky", "scope": "write"}).status_code == 403
    assert not ApiToken.objects.filter(name="sneaky").exists()


def test_a_write_token_cannot_reach_the_token_pages(client, write_key):
    assert client.get("/api-tokens/", **auth(write_key)).status_code == 302  # to the login page
