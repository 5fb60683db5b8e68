"""Asterisk's realtime views never hand it a malformed value — even for rows stored before the field rules
existed (written here straight into the table, around every validation) — and a long name is cut inside the
quotes of ``ps_endpoints.callerid``, never its closing quote and ``<number>`` (issue 10)."""
from __future__ import annotations

import importlib
import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from hypothesis import example, given
from hypothesis import strategies as st

from users import actions, realtime
from users.models import SipUser

from . import estate as estate_module
from .strategies import budget, characters

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

stored_text = st.lists(characters.filter(lambda c: "\x00" not in c), max_size=90).map("".join)
numbers = st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True)
stored_caller_id = st.one_of(
    stored_text, numbers, st.just(""),
    st.builds(lambda n, d: f'"{n}" <{d}>', stored_text, numbers),
    st.builds(lambda n, d: f"{n} <{d}>", stored_text, numbers),
)


def view_row(table: str, key: str, value: str) -> dict:
    with connection.cursor() as cur:
        cur.execute(f"SELECT * FROM {table} WHERE {key} = %s", [value])
        names = [c.name for c in cur.description]
        return dict(zip(names, cur.fetchone()))


@budget(60)
@given(name=stored_text, caller_id=stored_caller_id, email=st.one_of(stored_text, st.just("ana@example.test")))
@example(name="Line1\r\nVia: SIP/2.0/UDP x.invalid", caller_id="", email="")
@example(name='Ana "la jefa" <1001>; \\', caller_id="", email='"a\x01"@example.test')
@example(name="\u202eAna\u200b", caller_id="Front\ndesk <+34911000001>", email="")
@example(name="é" * 80, caller_id="", email="")
def _stored_values_come_out_well_formed(user, name, caller_id, email):
    # the table itself takes what the columns hold: the rules are the fields', bypassed here on purpose
    SipUser.objects.filter(pk=user.pk).update(name=name[:80], caller_id=caller_id[:40], email=email[:80],
                                              voicemail_email="")
    endpoint = view_row("ps_endpoints", "id", str(user.extension))
    mailbox = view_row("voicemail", "mailbox", str(user.extension))
    assert estate_module.CALLERID.match(endpoint["callerid"]), endpoint["callerid"]
    assert endpoint["callerid"] == realtime.callerid(name[:80], caller_id[:40], user.extension)
    assert mailbox["fullname"] == realtime.clean_name(name[:80])
    assert mailbox["email"] is None or estate_module.MAIL.match(mailbox["email"])
    estate_module.assert_well_formed(f"name={name!r} caller_id={caller_id!r} email={email!r}")


def test_whatever_is_stored_the_views_are_well_formed(estate):
    _stored_values_come_out_well_formed(estate["user"])


# (a 10-digit extension would begin with 1 or 2: numbers of Central and Branch 1 — a prefix clash, refused)
@pytest.mark.parametrize("extension", [1500, 999_999_999])
def test_a_long_name_is_cut_inside_the_quotes_and_keeps_the_number(estate, actor, extension):
    site = estate["central"]
    if extension > 1999:
        from sites import actions as site_actions

        site = site_actions.create_site(actor=actor, name="Wide", slug="wide", sip_domain="wide.example.test",
                                        ranges=[(900_000_000, 999_999_999)])
    user = actions.create_user(actor=actor, extension=extension, site=site, name="Ñ" * 80)
    callerid = view_row("ps_endpoints", "id", str(extension))["callerid"]
    assert callerid.endswith(f'" <{extension}>') and len(callerid) == 40 and callerid.startswith('"ÑÑÑ')
    assert user.effective_caller_id == callerid
    assert view_row("voicemail", "mailbox", str(extension))["fullname"] == "Ñ" * 80


@pytest.mark.parametrize("caller_id, expected", [
    ("", '"Ana García" <1001>'),
    ("+34911000001", '"Ana García" <+34911000001>'),
    ("Front desk", '"Front desk" <1001>'),
    ('"Front desk" <+34911000001>', '"Front desk" <+34911000001>'),
    ("Front desk <555>", '"Front desk" <555>'),
])
def test_a_caller_id_is_a_name_a_number_or_both(estate, actor, caller_id, expected):
    actions.update_user(estate["user"], actor=actor, caller_id=caller_id)
    assert view_row("ps_endpoints", "id", "1001")["callerid"] == expected == \
        SipUser.objects.get(pk=estate["user"].pk).effective_caller_id


def test_a_pin_changed_from_the_phone_leaves_a_stored_name_alone(estate):
    """The view shows a cleaned name; Asterisk writing the row back must not store that copy."""
    user = estate["user"]
    SipUser.objects.filter(pk=user.pk).update(name="Old\tname")
    with connection.cursor() as cur:
        cur.execute("UPDATE voicemail SET password = '8642' WHERE mailbox = '1001'")
    user.refresh_from_db()
    assert (user.voicemail_pin, user.name) == ("8642", "Old\tname")
    with connection.cursor() as cur:  # a name Asterisk itself changes is stored cleaned
        cur.execute("UPDATE voicemail SET fullname = %s WHERE mailbox = '1001'", ["New\r\nname\u202e"])
    user.refresh_from_db()
    assert user.name == "New name"
    with connection.cursor() as cur:  # and one with nothing left once cleaned is not stored at all
        cur.execute("UPDATE voicemail SET fullname = %s WHERE mailbox = '1001'", ["\r\n\u202e"])
    user.refresh_from_db()
    assert user.name == "New name"


def test_the_migration_recreates_the_per_site_views_and_keeps_their_grants(estate, monkeypatch):
    call_command("asterisk_realtime_schemas", stdout=io.StringIO())
    schema = realtime.site_schema_name("central")
    # the views as an older release made them: no callerid at all
    with monkeypatch.context() as patched:
        patched.setattr(realtime, "vendor_expressions", lambda vendor: {})
        with connection.cursor() as cur:
            for sql in realtime.site_schema_sql("central"):
                cur.execute(sql)
            cur.execute(f"SELECT callerid FROM {schema}.ps_endpoints")
            assert cur.fetchall() == [(None,)]
    migration = importlib.import_module("users.migrations.0005_realtime_views_well_formed")
    with connection.schema_editor() as editor:
        migration.recreate_views(apps, editor)
    with connection.cursor() as cur:
        cur.execute(f"SELECT callerid FROM {schema}.ps_endpoints")
        assert cur.fetchall() == [('"Ana García" <1001>',)]
        cur.execute("SELECT has_table_privilege(%s, %s, 'SELECT'), has_table_privilege(%s, %s, 'UPDATE')",
                    [schema, f"{schema}.ps_endpoints", schema, f"{schema}.voicemail"])
        assert cur.fetchone() == (True, True)
