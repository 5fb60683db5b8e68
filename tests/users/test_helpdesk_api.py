"""The helpdesk over the API with its browser session: finds users, resets a PIN (audited), sees no secret."""
from __future__ import annotations

import pytest

from users.models import SipUser
from voipadmin.models import ChangeLogEntry

pytestmark = pytest.mark.django_db

SECRET_KEYS = {"ha1", "ha1b", "password", "voicemail_pin"}


def test_helpdesk_session_does_not_browse_the_users_api(helpdesk_client, make_user):
    """Issue 12: the helpdesk finds users on the pages; the users API is for systems with a token."""
    user = make_user(1001, name="Ana", voicemail_pin="7391")
    assert helpdesk_client.get("/api/v1/users/", {"q": "Ana"}).status_code == 403
    assert helpdesk_client.get(f"/api/v1/users/{user.pk}/").status_code == 403


def test_no_sip_secret_in_the_users_api_for_a_read_token(client, make_user):
    from voipadmin.actors import Actor
    from voipadmin.api.tokens import create_token

    key = create_token(actor=Actor.command("tests"), name="reader")[1]
    user = make_user(1001, name="Ana", voicemail_pin="7391")
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
    listing = client.get("/api/v1/users/", {"q": "Ana"}, **headers)
    detail = client.get(f"/api/v1/users/{user.pk}/", **headers)
    assert listing.status_code == detail.status_code == 200
    [row] = listing.json()["results"]
    for body, response in ((row, listing), (detail.json(), detail)):
        assert body["extension"] == 1001
        assert not SECRET_KEYS & set(body) and body["new_password"] is None and body["new_voicemail_pin"] is None
        text = response.content.decode()
        assert user.ha1 not in text and user.ha1b not in text and "7391" not in text


def test_a_pin_reset_by_helpdesk_over_the_api_is_audited_without_the_pin(helpdesk_client, make_user, bob):
    user = make_user(1001)
    response = helpdesk_client.post(f"/api/v1/users/{user.pk}/reset-voicemail-pin/", {},
                                    content_type="application/json")
    assert response.status_code == 200
    pin = response.json()["voicemail_pin"]
    assert SipUser.objects.get(pk=user.pk).voicemail_pin == pin
    entry = ChangeLogEntry.objects.get(content_type__model="sipuser", object_id=str(user.pk),
                                       message="Voicemail PIN reset")
    assert entry.user == bob and pin not in str(entry.changes)
    for method in ("put", "patch", "delete"):
        assert getattr(helpdesk_client, method)(f"/api/v1/users/{user.pk}/", {"name": "x"},
                                                content_type="application/json").status_code == 403
    assert helpdesk_client.post("/api/v1/users/", {"extension": 1002, "name": "x"},
                                content_type="application/json").status_code == 403
    assert SipUser.objects.get(pk=user.pk).name == user.name
