"""End to end: a Subscriber row written through the ORM is what a real Kamailio authenticates REGISTERs with."""
from __future__ import annotations

import pytest

from tests.kamailio.harness import KamailioRPCError, register_with_sipp, sip_register
from voipadmin.kamailio.hashing import credentials, ha1, ha1b
from voipadmin.kamailio.models import Location, Subscriber

pytestmark = [pytest.mark.kamailio, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DOMAIN = "voip.example.test"


def add_subscriber(username: str, password: str, domain: str = DOMAIN) -> Subscriber:
    return Subscriber.objects.create(**credentials(username, domain, password))


def explain(result, kamailio) -> str:
    return f"{result}\n{result.output[-3000:]}\n{kamailio.log_tail(25)}"


def test_hashes_are_kamailio_ha1_and_ha1b():
    import hashlib

    assert ha1("1001", DOMAIN, "pw") == hashlib.md5(b"1001:voip.example.test:pw").hexdigest()
    assert ha1b("1001", DOMAIN, "pw") == hashlib.md5(b"1001@voip.example.test:voip.example.test:pw").hexdigest()
    row = credentials("1001", DOMAIN, "pw")
    assert row["password"] == "" and row["ha1"] == ha1("1001", DOMAIN, "pw")


def test_register_succeeds_and_contact_is_in_usrloc(kamailio_clean, require_postgres):
    add_subscriber("1001", "s3cret-1001")

    result = sip_register(kamailio_clean, "1001", DOMAIN, "s3cret-1001")

    assert result.status_code == 200, explain(result, kamailio_clean)
    assert result.elapsed < 2.0
    contacts = kamailio_clean.contacts(f"1001@{DOMAIN}")
    assert len(contacts) == 1 and contacts[0].startswith("sip:1001@127.0.0.1:"), contacts
    assert f"1001@{DOMAIN}" in kamailio_clean.registered_aors()
    # usrloc db_mode 1 writes through: the portal sees the registration in `location` at once
    row = Location.objects.get(username="1001", domain=DOMAIN)
    assert row.contact == contacts[0] and row.user_agent == "voipadmin-tests sipp"


def test_wrong_password_is_refused(kamailio_clean, require_postgres):
    add_subscriber("1001", "s3cret-1001")

    result = sip_register(kamailio_clean, "1001", DOMAIN, "not-the-password")

    assert result.status_code in (401, 403), explain(result, kamailio_clean)
    assert result.status_code == 403  # the cfg answers bad credentials with 403, not another challenge
    assert kamailio_clean.contacts(f"1001@{DOMAIN}") == []
    assert not Location.objects.filter(username="1001").exists()


def test_unknown_and_deleted_subscribers_are_refused(kamailio_clean, require_postgres):
    assert sip_register(kamailio_clean, "1002", DOMAIN, "whatever").status_code == 403

    subscriber = add_subscriber("1002", "s3cret-1002")
    assert sip_register(kamailio_clean, "1002", DOMAIN, "s3cret-1002").status_code == 200
    subscriber.delete()

    result = sip_register(kamailio_clean, "1002", DOMAIN, "s3cret-1002")
    assert result.status_code == 403, explain(result, kamailio_clean)


def test_password_change_applies_to_the_next_register(kamailio_clean, require_postgres):
    subscriber = add_subscriber("1003", "old-password")
    assert sip_register(kamailio_clean, "1003", DOMAIN, "old-password").ok

    subscriber.set_password("new-password")
    subscriber.save()

    assert sip_register(kamailio_clean, "1003", DOMAIN, "old-password").status_code == 403
    assert sip_register(kamailio_clean, "1003", DOMAIN, "new-password").status_code == 200


def test_same_username_in_two_domains(kamailio_clean, require_postgres):
    add_subscriber("1004", "password-a", domain="a.example.test")
    add_subscriber("1004", "password-b", domain="b.example.test")

    assert sip_register(kamailio_clean, "1004", "a.example.test", "password-a").status_code == 200
    assert sip_register(kamailio_clean, "1004", "b.example.test", "password-a").status_code == 403
    assert sip_register(kamailio_clean, "1004", "b.example.test", "password-b").status_code == 200
    assert sorted(kamailio_clean.registered_aors()) == ["1004@a.example.test", "1004@b.example.test"]


def test_register_with_sipp_helper(kamailio_clean, require_postgres):
    add_subscriber("1005", "s3cret-1005")
    ok, elapsed = register_with_sipp(kamailio_clean, "1005", DOMAIN, "s3cret-1005")
    assert ok and 0 < elapsed < 2.0
    assert register_with_sipp(kamailio_clean, "1005", DOMAIN, "wrong")[0] is False


def test_register_with_sipsak(kamailio_clean, require_postgres):
    # sipsak resolves the SIP domain even with -p, so this one uses a domain that resolves (to loopback)
    add_subscriber("1006", "s3cret-1006", domain="localhost")
    result = sip_register(kamailio_clean, "1006", "localhost", "s3cret-1006", client="sipsak")
    assert result.status_code == 200, explain(result, kamailio_clean)
    bad = sip_register(kamailio_clean, "1006", "localhost", "wrong", client="sipsak")
    assert bad.status_code == 403, explain(bad, kamailio_clean)


def test_rpc_errors_and_restart_keeps_registrations(kamailio_clean, require_postgres):
    add_subscriber("1007", "s3cret-1007")
    assert sip_register(kamailio_clean, "1007", DOMAIN, "s3cret-1007").ok
    with pytest.raises(KamailioRPCError):
        kamailio_clean.rpc("no.such.method")
    old_pid = kamailio_clean.pid

    kamailio_clean.stop()
    assert not kamailio_clean.running
    kamailio_clean.start()

    assert kamailio_clean.pid != old_pid
    assert kamailio_clean.rpc("core.uptime")["uptime"] >= 0
    # usrloc db_mode 1 reloads registrations from `location` at start-up
    assert len(kamailio_clean.contacts(f"1007@{DOMAIN}")) == 1
