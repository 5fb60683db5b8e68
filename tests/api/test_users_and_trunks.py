"""Users, trunks and push jobs over the API: secrets once or never, the helpdesk's one write."""
from __future__ import annotations

import json

from users.models import SipUser
from voipadmin.models import ChangeLogEntry

from .conftest import auth


def _post(client, url, key, body=None, method="POST"):
    return client.generic(method, url, json.dumps(body or {}), content_type="application/json", **auth(key))


def test_the_sip_password_is_answered_once_on_create_and_never_again(client, estate, write_key):
    response = _post(client, "/api/v1/users/", write_key,
                     {"extension": 2002, "name": "Bea Example", "site": estate["site"].pk})
    assert response.status_code == 201, response.content
    body = response.json()
    password, pin = body["new_password"], body["new_voicemail_pin"]
    assert password and pin and "password" not in body and "voicemail_pin" not in body
    user = SipUser.objects.get(extension=2002)
    for url in ("/api/v1/users/", f"/api/v1/users/{user.pk}/", "/api/v1/audit-log/"):
        text = client.get(url, **auth(write_key)).content.decode()
        assert password not in text and pin not in text and user.ha1 not in text
    again = client.get(f"/api/v1/users/{user.pk}/", **auth(write_key)).json()
    assert again["new_password"] is None and again["new_voicemail_pin"] is None


def test_a_password_reset_answers_the_new_password_once(client, estate, write_key):
    user = estate["user"]
    old_ha1 = user.ha1
    response = _post(client, f"/api/v1/users/{user.pk}/reset-password/", write_key)
    assert response.status_code == 200
    assert len(response.json()["password"]) >= 10
    assert SipUser.objects.get(pk=user.pk).ha1 != old_ha1
    assert ChangeLogEntry.objects.filter(object_id=str(user.pk), message="SIP password reset",
                                         actor="token:integration").exists()


def test_patch_of_a_user_changes_only_what_is_sent_and_keeps_its_password(client, estate, write_key):
    user = estate["user"]
    response = _post(client, f"/api/v1/users/{user.pk}/", write_key, {"email": "ann@example.test"}, "PATCH")
    assert response.status_code == 200, response.content
    fresh = SipUser.objects.get(pk=user.pk)
    assert fresh.email == "ann@example.test" and fresh.name == "Ann Example"
    assert (fresh.ha1, fresh.voicemail_pin) == (user.ha1, user.voicemail_pin)
    assert response.json()["new_password"] is None


def test_the_helpdesk_resets_a_voicemail_pin_and_nothing_else(client, estate, bob):
    client.force_login(bob)
    user = estate["user"]
    assert client.get("/api/v1/users/", {"q": "Ann"}).status_code == 403  # it finds users on the pages
    response = client.post(f"/api/v1/users/{user.pk}/reset-voicemail-pin/", {"pin": "739164"},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json() == {"voicemail_pin": "739164"}
    assert SipUser.objects.get(pk=user.pk).voicemail_pin == "739164"
    assert client.post(f"/api/v1/users/{user.pk}/reset-password/").status_code == 403
    assert client.patch(f"/api/v1/users/{user.pk}/", {"name": "x"}, content_type="application/json"
                        ).status_code == 403


def test_a_weak_pin_is_a_400_with_the_reason(client, estate, write_key):
    user = estate["user"]
    response = _post(client, f"/api/v1/users/{user.pk}/reset-voicemail-pin/", write_key, {"pin": "2001"})
    assert response.status_code == 400


def test_trunk_secrets_never_appear_in_any_answer(client, estate, read_key, write_key):
    trunk = estate["trunk"]
    bodies = [client.get(url, **auth(read_key)).content.decode()
              for url in ("/api/v1/trunks/itsp/", f"/api/v1/trunks/itsp/{trunk.pk}/", "/api/v1/audit-log/",
                          "/api/v1/routes/")]
    patched = _post(client, f"/api/v1/trunks/itsp/{trunk.pk}/", write_key,
                    {"auth_password": "another-secret-6"}, "PATCH")
    assert patched.status_code == 200, patched.content
    bodies.append(patched.content.decode())
    for body in bodies:
        assert "trunk-secret-value-5" not in body and "another-secret-6" not in body
    assert patched.json()["auth_password_set"] is True


def test_cdrs_are_attributed_to_the_trunk_they_used(client, estate, read_key):
    cdr = client.get("/api/v1/cdrs/", **auth(read_key)).json()["results"][0]
    assert (cdr["site"], cdr["trunk"]) == ("branch1", "itsp1")
    assert len(client.get("/api/v1/cdrs/", {"trunk": "itsp1"}, **auth(read_key)).json()["results"]) == 1
    totals = client.get("/api/v1/cdrs/totals/", **auth(read_key)).json()
    assert {"name": "itsp1", "calls": 1, "answered": 1, "duration": 70, "billsec": 60} in totals["trunks"]


def test_push_jobs_are_listed_read_only_for_billing(client, estate, read_key):
    response = client.get("/api/v1/push-jobs/", **auth(read_key))
    assert response.status_code == 200
    assert _post(client, "/api/v1/push-jobs/", read_key).status_code == 403


def test_an_e1_call_is_attributed_to_the_span_on_its_sites_node(client, estate, read_key):
    from django.utils import timezone

    from cdrs.models import Cdr

    Cdr.objects.create(start=timezone.now(), src="600111222", dst="2001", dcontext="site-branch1",
                       channel="DAHDI/i1/600111222-1", dstchannel="PJSIP/2001-00000009", billsec=5)
    Cdr.objects.create(start=timezone.now(), src="600111333", dst="3001", dcontext="site-elsewhere",
                       channel="DAHDI/i1/600111333-1", billsec=5)  # span 1 of another site's node
    rows = client.get("/api/v1/cdrs/", {"trunk": "e1-pstn"}, **auth(read_key)).json()["results"]
    assert [r["src"] for r in rows] == ["600111222"]
    assert rows[0]["trunk"] == "e1-pstn"
