"""Role × endpoint × method: every call that must be refused is refused.

The endpoints are read from the API router itself, so a resource added later is covered
without editing this file. Principals: a read-write token, a billing (read) token, an
expired token, an administrator's session, a billing user's session, a helpdesk session and
nobody at all.
"""
from __future__ import annotations

import pytest

from voipadmin.api.nodes import NodeViewSet
from voipadmin.api_urls import router

from .conftest import auth

PRINCIPALS = ["anonymous", "expired_token", "read_token", "write_token", "admin_session", "billing_session",
              "helpdesk_session"]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# What the helpdesk may do over the API with its session: reset a voicemail PIN (it finds users on the pages).
# Nothing else (issue 12: not the whole users API unless given a token).
HELPDESK_ALLOWED = {
                    ("users", "POST", "reset-voicemail-pin")}


def _calls():
    for prefix, viewset, _basename in router.registry:
        read_only = not hasattr(viewset, "create")
        yield prefix, read_only, "GET", "list", viewset
        yield prefix, read_only, "POST", "list", viewset
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            yield prefix, read_only, method, "detail", viewset
        for extra in viewset.get_extra_actions():
            for method in extra.mapping:
                yield prefix, read_only, method.upper(), extra.url_path if not extra.detail else \
                    f"detail:{extra.url_path}", viewset
    yield "cdrs", True, "GET", "export.csv", None
    for method in ("GET", "POST"):  # both kinds of node in one read-only list (outside the router)
        yield "nodes", True, method, "list", NodeViewSet


CALLS = list(_calls())


def _url(prefix: str, kind: str, viewset) -> str:
    if kind == "list":
        return f"/api/v1/{prefix}/"
    if kind == "export.csv":
        return "/api/v1/cdrs/export.csv"
    if kind.startswith("detail"):
        obj = viewset.queryset.model.objects.order_by("pk").first()
        tail = f"{kind.split(':', 1)[1]}/" if ":" in kind else ""
        return f"/api/v1/{prefix}/{obj.pk if obj else 1}/{tail}"
    return f"/api/v1/{prefix}/{kind}/"


def _login(principal, request, client) -> dict:
    keys = {"expired_token": "expired_key", "read_token": "read_key", "write_token": "write_key"}
    users = {"admin_session": "alice", "billing_session": "dora", "helpdesk_session": "bob"}
    if principal in keys:
        return auth(request.getfixturevalue(keys[principal]))
    if principal in users:
        client.force_login(request.getfixturevalue(users[principal]))
    return {}


def expected(principal: str, prefix: str, method: str, kind: str) -> str:
    """"allowed", "unauthenticated" (401) or "forbidden" (403, or 405 where the method does not exist)."""
    if principal in ("anonymous", "expired_token"):
        return "unauthenticated"
    if principal == "helpdesk_session":
        action = kind.split(":", 1)[1] if ":" in kind else kind
        return "allowed" if (prefix, method, action) in HELPDESK_ALLOWED else "forbidden"
    if principal in ("read_token", "billing_session"):
        return "allowed" if method == "GET" else "forbidden"
    return "allowed"


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("prefix,read_only,method,kind,viewset", CALLS,
                         ids=[f"{m} {p} {k}" for p, _, m, k, _ in CALLS])
def test_every_endpoint_refuses_whom_it_must(principal, prefix, read_only, method, kind, viewset, request,
                                             client, db):
    want = expected(principal, prefix, method, kind)
    if want == "allowed":
        request.getfixturevalue("estate")  # objects to act on, only where the call goes through
    headers = _login(principal, request, client)
    url = _url(prefix, kind, viewset)
    response = client.generic(method, url, data=b"{}" if method in WRITES else b"",
                              content_type="application/json", **headers)
    status = response.status_code
    if want == "unauthenticated":
        assert status == 401, (status, response.content[:200])
    elif want == "forbidden":
        assert status in ((403, 405) if read_only and method in WRITES and kind in ("list", "detail") else (403,)), \
            (status, response.content[:200])
    else:
        assert status not in (401, 403) and status < 500, (status, response.content[:300])
        if read_only and method in WRITES and kind in ("list", "detail"):
            assert status == 405
        if method == "GET":
            exists = viewset is None or viewset.queryset.model.objects.exists()
            assert status == 200 or (status == 404 and not exists), (status, response.content[:200])


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_docs_need_a_login_or_a_token(principal, url, request, client, db):
    headers = _login(principal, request, client)
    response = client.get(url, **headers)
    if principal in ("anonymous", "expired_token"):
        assert response.status_code in (401, 403)
    elif principal == "helpdesk_session":  # no API role (tests/api/test_api_index_access.py)
        assert response.status_code == 403
    else:
        assert response.status_code == 200


def test_a_refused_anonymous_call_says_how_to_authenticate(client, db):
    response = client.get("/api/v1/sites/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_the_docs_page_loads_swagger_ui_from_our_own_static_files(admin_client):
    body = admin_client.get("/api/docs/").content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in body
    assert "cdn" not in body.lower() and "https://" not in body
