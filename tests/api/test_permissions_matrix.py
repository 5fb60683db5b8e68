"""Role × endpoint × method: every call that must be refused is refused.

Principals: a read-write token, a billing (read) token, an expired token, an administrator's
session, a billing user's session, a helpdesk session and nobody at all.
"""
from __future__ import annotations

import pytest

from .conftest import auth

# (list URL, fixture key of an object for the detail URL, read-only?)
RESOURCES = [
    ("/api/v1/sites/", "site", False),
    ("/api/v1/nodes/asterisk/", "node", False),
    ("/api/v1/nodes/kamailio/", "kamailio", False),
    ("/api/v1/audit-log/", None, True),
    ("/api/v1/cdrs/", "cdr", True),
]
GET_ONLY = ["/api/v1/cdrs/totals/", "/api/v1/cdrs/export.csv", "/api/schema/", "/api/docs/"]
PRINCIPALS = ["anonymous", "expired_token", "read_token", "write_token", "admin_session", "billing_session",
              "helpdesk_session"]
WRITES = ["POST", "PUT", "PATCH", "DELETE"]


def _calls():
    for url, key, read_only in RESOURCES:
        yield url, key, read_only, "GET", "list"
        yield url, key, read_only, "POST", "list"
        for method in ["GET", "PUT", "PATCH", "DELETE"]:
            yield url, key, read_only, method, "detail"


def _client(principal, request, client):
    headers = {}
    if principal == "expired_token":
        headers = auth(request.getfixturevalue("expired_key"))
    elif principal == "read_token":
        headers = auth(request.getfixturevalue("read_key"))
    elif principal == "write_token":
        headers = auth(request.getfixturevalue("write_key"))
    elif principal == "admin_session":
        client.force_login(request.getfixturevalue("alice"))
    elif principal == "billing_session":
        client.force_login(request.getfixturevalue("dora"))
    elif principal == "helpdesk_session":
        client.force_login(request.getfixturevalue("bob"))
    return headers


def _send(client, method, url, headers):
    return client.generic(method, url, data=b"{}" if method in WRITES else b"", content_type="application/json",
                          **headers)


def expected(principal: str, method: str) -> set[int] | str:
    """The statuses a refusal must have, or "allowed"."""
    if principal in ("anonymous", "expired_token"):
        return {401}
    if principal == "helpdesk_session":
        return {403}
    if principal in ("read_token", "billing_session"):
        return "allowed" if method == "GET" else {403}
    return "allowed"


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("url,key,read_only,method,kind", list(_calls()),
                         ids=[f"{m} {u}{'{id}' if k == 'detail' else ''}" for u, _, _, m, k in _calls()])
def test_every_endpoint_refuses_whom_it_must(principal, url, key, read_only, method, kind, estate, request,
                                             client):
    headers = _client(principal, request, client)
    if kind == "detail":
        url = f"{url}{estate[key].pk if key else 1}/"
    response = _send(client, method, url, headers)
    want = expected(principal, method)
    if want == "allowed":
        assert response.status_code not in (401, 403), response.content[:300]
        assert response.status_code < 500
        if read_only and method != "GET":
            assert response.status_code == 405
    else:
        assert response.status_code in want, (response.status_code, response.content[:300])


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("url", GET_ONLY)
def test_reports_schema_and_docs_refuse_whom_they_must(principal, url, estate, request, client):
    headers = _client(principal, request, client)
    response = client.get(url, **headers)
    want = expected(principal, "GET")
    if url.startswith("/api/schema") or url.startswith("/api/docs"):
        want = {401, 403} if principal in ("anonymous", "expired_token") else "allowed"
    if want == "allowed":
        assert response.status_code == 200, response.content[:300]
    else:
        assert response.status_code in want


def test_a_refused_anonymous_call_says_how_to_authenticate(client, db):
    response = client.get("/api/v1/sites/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
