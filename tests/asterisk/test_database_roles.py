"""What each Asterisk's database role may do: exactly what the node needs, on its own site only.

Checked by connecting as the role itself (as the node does), against the database the suite's
real Asterisks use. ``asterisk_realtime_schemas`` creates the roles; views keep their grants when a
migration re-creates them.
"""
from __future__ import annotations

from types import SimpleNamespace

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from nodeconf import database
from users import actions as user_actions
from users import realtime
from users.models import AsteriskContact, SipUser
from voipadmin.actors import Actor
from voipadmin.models import ChangeLogEntry

from tests.sip import Phone

pytestmark = [pytest.mark.django_db(transaction=True)]

ACTOR = Actor.command("tests")
PASSWORD = "correct-horse-battery-4001"


@pytest.fixture
def two_sites(require_postgres):
    from sites import actions as site_actions

    central = site_actions.create_site(actor=ACTOR, name="Central", slug="central", kind="central",
                                       sip_domain="voip.example.test", ranges=[(1000, 3999)])
    branch = site_actions.create_site(actor=ACTOR, name="Branch 1", slug="branch1", sip_domain="voip.example.test",
                                      ranges=[(4000, 5999)])
    user_actions.create_user(actor=ACTOR, extension=1001, name="Ana García", site=central, voicemail_pin="2468")
    user_actions.create_user(actor=ACTOR, extension=4001, name="Elena Ruíz", site=branch, voicemail_pin="1357")
    from services import actions as service_actions

    service_actions.create_service_code(actor=ACTOR, code="*123", name="Voicemail", kind="voicemail", route_to="home")
    call_command("asterisk_realtime_schemas", stdout=open("/dev/null", "w"))
    return SimpleNamespace(central=central, branch1=branch)


def connect_as(role: str) -> psycopg.Connection:
    """A connection as the node makes it: the role's own login, the role's search_path."""
    settings = connection.settings_dict
    return psycopg.connect(host=settings.get("HOST") or "127.0.0.1", port=settings.get("PORT") or 5432,
                           dbname=settings["NAME"], user=role, password=database.role_password(role),
                           autocommit=True)


def refused(conn: psycopg.Connection, sql: str) -> bool:
    """No privilege — or, for a write to a read-only view, PostgreSQL says the view cannot be written."""
    try:
        conn.execute(sql)
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState):
        return True
    return False


def test_a_site_role_reads_its_own_site_and_nothing_else(two_sites):
    with connect_as("asterisk_branch1") as conn:
        assert conn.execute("SHOW search_path").fetchone()[0] == "asterisk_branch1"
        assert [r[0] for r in conn.execute("SELECT id FROM ps_endpoints")] == ["4001"]
        assert [r[0] for r in conn.execute("SELECT id FROM ps_auths")] == ["4001"]
        assert [r[0] for r in conn.execute("SELECT mailbox FROM voicemail")] == ["4001"]
        assert {r[0] for r in conn.execute("SELECT context FROM extensions")} == {"site-branch1"}
        for sql in ("SELECT * FROM public.users_sipuser", "SELECT * FROM public.ps_endpoints",
                    "SELECT * FROM asterisk_central.ps_endpoints", "SELECT * FROM public.subscriber",
                    "SELECT * FROM public.cdr", "SELECT * FROM public.voipadmin_changelogentry",
                    "DELETE FROM cdr", "UPDATE ps_endpoints SET context = 'x'"):
            assert refused(conn, sql), sql


def test_a_site_role_writes_cdrs_contacts_and_pins_as_its_node_does(two_sites):
    with connect_as("asterisk_branch1") as conn:
        # cdr_pgsql: the columns it finds, no id (the table numbers the row)
        conn.execute("INSERT INTO cdr (src, dst, dcontext, clid, start, billsec) "
                     "VALUES ('4001', '*123', 'site-branch1', '\"Elena Ruíz\" <4001>', '2026-11-02 10:00:00', 5)")
        # res_pjsip's sorcery realtime: contacts of phones registering straight to the node
        conn.execute("INSERT INTO ps_contacts (id, uri, expiration_time, endpoint) "
                     "VALUES ('4001;@abc', 'sip:4001@127.0.0.101:5060', 1900000000, '4001')")
        conn.execute("DELETE FROM ps_contacts WHERE id = '4001;@abc'")
        # VoiceMailMain's password change: ast_update2_realtime on context + mailbox
        updated = conn.execute("UPDATE voicemail SET password = '8642' WHERE context = 'branch1' AND mailbox = '4001'")
        assert updated.rowcount == 1
        other = conn.execute("UPDATE voicemail SET password = '0000' WHERE context = 'central' AND mailbox = '1001'")
        assert other.rowcount == 0  # another site's mailbox is not there to change
    from cdrs.models import Cdr

    assert Cdr.objects.get(src="4001").clid == '"Elena Ruíz" <4001>'
    assert SipUser.objects.get(extension=4001).voicemail_pin == "8642"
    assert SipUser.objects.get(extension=1001).voicemail_pin == "2468"
    entry = ChangeLogEntry.objects.get(message="Voicemail PIN changed from the phone")
    assert entry.object_id == str(SipUser.objects.get(extension=4001).pk) and "8642" not in str(entry.changes)


def test_the_estate_role_reads_every_site_through_the_public_views_only(two_sites):
    with connect_as("asterisk") as conn:
        assert conn.execute("SHOW search_path").fetchone()[0] == "public"
        assert sorted(r[0] for r in conn.execute("SELECT id FROM ps_endpoints")) == ["1001", "4001"]
        assert {r[0] for r in conn.execute("SELECT context FROM extensions")} == {"site-branch1", "site-central"}
        conn.execute("INSERT INTO cdr (src, dst) VALUES ('1001', '*130')")
        for sql in ("SELECT * FROM users_sipuser", "SELECT * FROM subscriber", "SELECT * FROM cdr",
                    "SELECT * FROM asterisk_branch1.ps_endpoints"):
            assert refused(conn, sql), sql


def test_roles_keep_their_grants_when_a_migration_recreates_the_views(two_sites):
    with connection.schema_editor() as editor:  # what users/0004 and any later view migration run
        realtime.create(editor)
    with transaction.atomic(), connection.cursor() as cursor:  # and asterisk_realtime_schemas, run again
        for sql in database.site_sql(two_sites.branch1):
            cursor.execute(sql)
    with connect_as("asterisk") as conn:
        assert conn.execute("SELECT count(*) FROM ps_endpoints").fetchone()[0] == 2
    with connect_as("asterisk_branch1") as conn:
        assert conn.execute("SELECT count(*) FROM voicemail").fetchone()[0] == 1


@pytest.mark.kamailio
@pytest.mark.asterisk
@pytest.mark.parametrize("setup", ["asterisk_estate", "site_asterisk_estate"])
def test_a_phone_registering_straight_to_its_asterisk_is_stored_in_ps_contacts(setup, request):
    """Phones normally register at Kamailio; a device pointed at a node directly must be kept too."""
    estate = request.getfixturevalue(setup)
    user_actions.create_user(actor=ACTOR, extension=4001, name="Elena Ruíz", site=estate.sites["branch1"],
                             password=PASSWORD)
    node = estate.plan.node("branch1")
    phone = Phone("4001", PASSWORD, ip="127.0.0.102")
    result = phone.register(SimpleNamespace(sip_ip=node.host, sip_port=node.sip_port), expires=120)
    assert result.ok, result.output
    schema = "public" if setup == "asterisk_estate" else "asterisk_branch1"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT endpoint, uri, user_agent FROM {schema}.ps_contacts")
        rows = cursor.fetchall()
    # Asterisk's realtime escapes ";" in values as "^3B"
    assert [(r[0], r[1].split("^3B")[0]) for r in rows] == [("4001", f"sip:4001@127.0.0.102:{phone.port}")]
    assert "voipadmin-tests sipp" in rows[0][2]
    assert "4001" in estate.asterisks["branch1"].cli("pjsip show contacts")
    if setup == "asterisk_estate":
        assert AsteriskContact.objects.get().endpoint == "4001"
