"""The Asterisk realtime views: Asterisk 20's exact shape, and the rows each user gets."""
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from users import actions, realtime
from users.models import SipUser
from voipadmin.models import ChangeLogEntry

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CONTRACT = json.loads((Path(__file__).parent / "asterisk_realtime.json").read_text())["tables"]
VIEWS = ["ps_endpoints", "ps_auths", "ps_aors", "voicemail"]


def view_columns(name: str, schema: str = "public") -> list[tuple[str, str]]:
    with connection.cursor() as cur:
        cur.execute("""SELECT a.attname, format_type(a.atttypid, a.atttypmod)
                         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                         JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE c.relname = %s AND n.nspname = %s AND a.attnum > 0 AND NOT a.attisdropped
                        ORDER BY a.attnum""", [name, schema])
        return [(n, t.removeprefix("public.")) for n, t in cur.fetchall()]


def rows(sql: str, params=()) -> list[dict]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        names = [c.name for c in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def enum_values(type_name: str) -> list[str]:
    return [r["enumlabel"] for r in rows(
        "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = %s "
        "ORDER BY e.enumsortorder", [type_name])]


@pytest.mark.parametrize("view", VIEWS)
def test_the_view_has_every_column_of_asterisks_schema_with_its_type(view, require_postgres):
    expected = [(c["name"], c["type"]) for c in CONTRACT[view]["columns"]]
    assert view_columns(view) == expected
    for col in CONTRACT[view]["columns"]:
        if "values" in col:
            assert enum_values(col["type"]) == col["values"], col["type"]


def test_the_repo_copy_of_the_contract_is_the_shared_one():
    shared = Path("/work/shared/contracts/asterisk_realtime.json")
    if shared.exists():
        assert json.loads(shared.read_text())["tables"] == CONTRACT


def test_a_user_appears_in_every_view_on_its_site(make_user, require_postgres):
    user = make_user(4001, site="branch1", name="Elena Ruiz", nat=True, voicemail_pin="7391",
                     email="elena@example.test")
    ep = rows("SELECT * FROM ps_endpoints WHERE id = '4001'")[0]
    required = CONTRACT["ps_endpoints"]["required"]
    assert all(ep[c] is not None for c in required), {c: ep[c] for c in required}
    assert (ep["aors"], ep["auth"], ep["context"], ep["mailboxes"]) == ("4001", "4001", "site-branch1", "4001@branch1")
    assert (ep["callerid"], ep["rtp_symmetric"], ep["force_rport"], ep["rewrite_contact"], ep["direct_media"]) == \
        ('"Elena Ruiz" <4001>', "yes", "yes", "yes", "no")
    assert (ep["disallow"], ep["allow"]) == ("all", "alaw,ulaw,g722")
    auth = rows("SELECT * FROM ps_auths WHERE id = '4001'")[0]
    assert (auth["auth_type"], auth["md5_cred"], auth["realm"], auth["username"], auth["password"]) == \
        ("md5", user.ha1, "voip.example.test", "4001", None)
    aor = rows("SELECT * FROM ps_aors WHERE id = '4001'")[0]
    assert all(aor[c] is not None for c in CONTRACT["ps_aors"]["required"])
    assert aor["mailboxes"] == "4001@branch1"
    vm = rows("SELECT * FROM voicemail WHERE mailbox = '4001'")[0]
    assert all(vm[c] is not None for c in CONTRACT["voicemail"]["required"])
    assert (vm["uniqueid"], vm["context"], vm["password"], vm["fullname"], vm["email"], vm["attach"]) == \
        (user.pk, "branch1", "7391", "Elena Ruiz", "elena@example.test", "yes")


def test_disabling_or_deleting_a_user_removes_its_rows(make_user, actor, require_postgres):
    user = make_user(1001)
    make_user(1002)

    def present(ext):
        return [v for v, key in [("ps_endpoints", "id"), ("ps_auths", "id"), ("ps_aors", "id"),
                                 ("voicemail", "mailbox")]
                if rows(f"SELECT 1 FROM {v} WHERE {key} = %s", [str(ext)])]

    assert present(1001) == VIEWS
    actions.update_user(user, actor=actor, enabled=False)
    assert present(1001) == [] and present(1002) == VIEWS
    actions.update_user(user, actor=actor, enabled=True)
    actions.update_user(user, actor=actor, voicemail_enabled=False)
    assert present(1001) == ["ps_endpoints", "ps_auths", "ps_aors"]
    assert rows("SELECT mailboxes FROM ps_aors WHERE id = '1001'")[0]["mailboxes"] is None
    actions.delete_user(user, actor=actor)
    assert present(1001) == [] and present(1002) == VIEWS


def test_a_pin_changed_from_the_phone_persists(make_user, require_postgres):
    user = make_user(1001, voicemail_pin="2468")
    with connection.cursor() as cur:
        cur.execute("UPDATE voicemail SET password='7391' WHERE mailbox='1001' AND context='central'")
        assert cur.rowcount == 1
    assert SipUser.objects.get(pk=user.pk).voicemail_pin == "7391"
    # looked up by message, not by time: the trigger stamps the database's clock, the portal its own
    entry = ChangeLogEntry.objects.get(content_type__model="sipuser", object_id=str(user.pk),
                                       message="Voicemail PIN changed from the phone")
    assert entry.actor == "asterisk (phone)" and "7391" not in str(entry.changes)
    # and by uniqueid, the way app_voicemail usually addresses the row
    with connection.cursor() as cur:
        cur.execute("UPDATE voicemail SET password='5820' WHERE uniqueid = %s", [user.pk])
    assert SipUser.objects.get(pk=user.pk).voicemail_pin == "5820"


def test_each_site_can_get_a_schema_of_its_own_users_only(make_user, sites, require_postgres):
    make_user(1001)
    make_user(4001, site="branch1")
    call_command("asterisk_realtime_schemas", stdout=open("/dev/null", "w"))
    schema = realtime.site_schema_name("branch1")
    assert [r["id"] for r in rows(f"SELECT id FROM {schema}.ps_endpoints")] == ["4001"]
    assert view_columns("ps_endpoints", schema) == [(c["name"], c["type"]) for c in CONTRACT["ps_endpoints"]["columns"]]
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {schema}.voicemail SET password='8642' WHERE mailbox='4001'")
    assert SipUser.objects.get(extension=4001).voicemail_pin == "8642"
