"""The API's index, schema and docs are for tokens and for accounts whose role uses the API (Administrator,
Billing); the helpdesk and role-less accounts get 403, nobody at all 401. Every role × every such URL."""
from __future__ import annotations

import pytest

from voipadmin.roles import ROLES

from .conftest import auth

URLS = ["/api/v1/", "/api/schema/", "/api/docs/"]
PRINCIPALS = {  # principal → expected status
    "anonymous": 401, "read_token": 200, "write_token": 200, "expired_token": 401,
    "Administrator": 200, "Billing": 200, "Helpdesk": 403, "no role": 403, "superuser": 200,
}
assert set(ROLES) <= set(PRINCIPALS)  # a role added later must be given its expected answer here


@pytest.fixture
def sign_in(request, client, django_user_model):
    def as_(principal: str) -> dict:
        if principal in ("read_token", "write_token", "expired_token"):
            return auth(request.getfixturevalue(principal.replace("_token", "_key")))
        if principal == "anonymous":
            return {}
        from django.contrib.auth.models import Group

        user = django_user_model.objects.create_user(username=principal.replace(" ", "-"), password="x" * 12,
                                                     is_superuser=principal == "superuser")
        if principal in ROLES:
            user.groups.add(Group.objects.get(name=principal))
        client.force_login(user)
        return {}
    return as_


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("principal", PRINCIPALS)
def test_the_api_index_schema_and_docs_answer_only_api_roles(client, sign_in, principal, url):
    headers = sign_in(principal)
    response = client.get(url, **headers)
    assert response.status_code == PRINCIPALS[principal], (principal, url, response.content[:200])


def test_the_helpdesk_session_reaches_only_the_endpoint_made_for_it(client, django_user_model, estate):
    """Issue 12: the helpdesk finds users on the portal's pages, not through the whole users API; its
    browser session may still call the voicemail PIN reset, the one endpoint that names its permission."""
    from django.contrib.auth.models import Group

    from users.models import SipUser

    bob = django_user_model.objects.create_user(username="bob", password="x" * 12)
    bob.groups.add(Group.objects.get(name="Helpdesk"))
    client.force_login(bob)
    assert client.get("/api/v1/").status_code == 403
    assert client.get("/api/v1/users/").status_code == 403
    user = SipUser.objects.filter(voicemail_enabled=True).first()
    reset = client.post(f"/api/v1/users/{user.pk}/reset-voicemail-pin/", {}, content_type="application/json")
    assert reset.status_code == 200, reset.content[:200]
