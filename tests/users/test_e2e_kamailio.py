"""End to end: a user saved through the portal registers on a real Kamailio with the password shown once."""
from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from tests.kamailio.harness import sip_register
from users.models import SipUser

pytestmark = [pytest.mark.kamailio, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DOMAIN = "voip.example.test"


def shown_password(client, user) -> str:
    page = client.get(user.get_absolute_url()).content.decode()
    return re.search(r'id="shown-password">([^<]+)<', page).group(1)


def explain(result, kamailio) -> str:
    return f"{result}\n{result.output[-2000:]}\n{kamailio.log_tail(20)}"


def test_a_portal_user_registers_and_only_with_its_current_password(kamailio_clean, admin_client, sites,
                                                                    require_postgres):
    response = admin_client.post(reverse("users:sipuser_add"), {
        "extension": "1001", "name": "Ana", "email": "", "site": sites["central"].pk, "enabled": "on",
        "voicemail_enabled": "on", "caller_id": "", "codecs": "", "voicemail_email": "", "password": "",
        "voicemail_pin": ""})
    saved = time.monotonic()
    assert response.status_code == 302
    user = SipUser.objects.get(extension=1001)
    password = shown_password(admin_client, user)

    ok = sip_register(kamailio_clean, "1001", DOMAIN, password)
    assert ok.status_code == 200, explain(ok, kamailio_clean)
    assert time.monotonic() - saved < 1.0, "REGISTER must succeed within 1 s of the save"

    wrong = sip_register(kamailio_clean, "1001", DOMAIN, password + "x")
    assert wrong.status_code in (401, 403), explain(wrong, kamailio_clean)

    # disabled: refused, even with the right password
    disabled = admin_client.post(reverse("users:sipuser_edit", args=[user.pk]), {
        "extension": "1001", "name": "Ana", "email": "", "site": sites["central"].pk, "enabled": "",
        "voicemail_enabled": "on", "caller_id": "", "codecs": "", "voicemail_email": ""})
    assert disabled.status_code == 302 and not SipUser.objects.get(pk=user.pk).enabled
    refused = sip_register(kamailio_clean, "1001", DOMAIN, password)
    assert refused.status_code in (401, 403, 404), explain(refused, kamailio_clean)
    admin_client.post(reverse("users:sipuser_edit", args=[user.pk]), {
        "extension": "1001", "name": "Ana", "email": "", "site": sites["central"].pk, "enabled": "on",
        "voicemail_enabled": "on", "caller_id": "", "codecs": "", "voicemail_email": ""})
    assert sip_register(kamailio_clean, "1001", DOMAIN, password).status_code == 200

    # reset: the old password is refused, the new one accepted
    assert admin_client.post(reverse("users:sipuser_reset_password", args=[user.pk])).status_code == 302
    reset_at = time.monotonic()
    new_password = shown_password(admin_client, user)
    assert new_password != password
    new = sip_register(kamailio_clean, "1001", DOMAIN, new_password)
    assert new.status_code == 200, explain(new, kamailio_clean)
    assert time.monotonic() - reset_at < 1.0
    old = sip_register(kamailio_clean, "1001", DOMAIN, password)
    assert old.status_code in (401, 403), explain(old, kamailio_clean)


def test_an_imported_user_registers_with_the_generated_password(kamailio_clean, sites, require_postgres):
    from users import csvio
    from voipadmin.actors import Actor

    _, result = csvio.import_csv(b"extension,name,email,site\n4001,Elena,,branch1\n",
                                 actor=Actor.command("import_users"))
    password = result.secrets[0]["password"]
    ok = sip_register(kamailio_clean, "4001", DOMAIN, password)
    assert ok.status_code == 200, explain(ok, kamailio_clean)
