"""No cell of any CSV the portal writes is a spreadsheet formula, and the importer reads back exactly what was
exported (voipadmin/csvsafe.py): every text column of every export, for every character a spreadsheet reads
as the start of a formula."""
from __future__ import annotations

import csv
import datetime
import io

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from voipadmin import csvsafe

STARTS = ["=", "+", "-", "@", "\t", "\r", "\n", "\uff1d"]
PAYLOAD = "HYPERLINK(\"http://evil.invalid\")"


def _is_safe(cell: str) -> bool:
    return not cell or cell[0] not in csvsafe.TRIGGERS or bool(csvsafe._PLAIN_NUMBER.match(cell))


@given(st.text(max_size=40))
@hsettings(max_examples=500, deadline=None)
def test_any_text_is_written_safe_and_read_back_exactly(value):
    written = csvsafe.cell(value)
    assert _is_safe(written)
    assert csvsafe.uncell(written) == value
    out = io.StringIO()
    csvsafe.Writer(out).writerow([value, 7, None])
    (cells,) = list(csv.reader(io.StringIO(out.getvalue())))
    assert csvsafe.uncell(cells[0]) == value and cells[1:] == ["7", ""]


@pytest.mark.parametrize("start", STARTS)
def test_a_formula_start_is_quoted_and_a_plain_number_is_not(start):
    assert csvsafe.cell(start + PAYLOAD) == "'" + start + PAYLOAD
    assert csvsafe.cell("+34600111222") == "+34600111222" and csvsafe.cell("-5") == "-5"
    assert csvsafe.cell("-1+2") == "'-1+2"


# --- the users export (UI and manage.py export_users), the import's secrets and errors files -------------------

USER_TEXT_COLUMNS = ["name", "email", "site", "voicemail_email", "caller_id", "codecs"]


@pytest.fixture
def one_user(db):
    from sites import actions as site_actions
    from users import actions
    from voipadmin.actors import Actor

    actor = Actor.command("tests")
    site = site_actions.create_site(actor=actor, name="Central", slug="central", kind="central",
                                    sip_domain="voip.example.test", ranges=[(1000, 1999)])
    return actions.create_user(actor=actor, extension=1001, name="Ana", email="ana@example.test", site=site)


def _set(user, column: str, value: str) -> None:
    """Store a value as it is, past every validator (the export must be safe whatever the database holds)."""
    from sites.models import Site
    from users.models import SipUser

    if column == "site":
        Site.objects.filter(pk=user.site_id).update(slug=value)
    else:
        SipUser.objects.filter(pk=user.pk).update(**{column: value})


def _export_rows(source: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(source)))


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("column", USER_TEXT_COLUMNS)
def test_every_text_column_of_the_users_export_is_neutralised(one_user, admin_client, column, start, capsys):
    from django.core.management import call_command
    from django.urls import reverse

    from users import csvio

    value = start + PAYLOAD
    _set(one_user, column, value)
    page = admin_client.get(reverse("users:sipuser_export"))
    call_command("export_users")
    for source in (page.content.decode(), capsys.readouterr().out):
        header, row = _export_rows(source)
        assert header == csvio.ALL_COLUMNS
        cell = row[header.index(column)]
        assert cell == "'" + value and all(_is_safe(c) for c in row)
        assert csvsafe.uncell(cell) == value  # what the importer reads


@pytest.mark.parametrize("start", STARTS)
def test_the_import_secrets_and_errors_files_are_neutralised(start):
    from users import csvio

    value = start + PAYLOAD
    out = io.StringIO()
    csvio.write_secrets([{"extension": "1001", "name": value, "site": value, "sip_domain": "voip.example.test",
                          "password": value, "voicemail_pin": "7391"}], out)
    header, row = _export_rows(out.getvalue())
    assert header == csvio.SECRETS_COLUMNS and all(_is_safe(c) for c in row) and row[1] == "'" + value
    out = io.StringIO()
    csvio.errors_writer(out).writerow([3, value])
    assert _export_rows(out.getvalue())[1] == ["3", "'" + value]


# --- the CDR export (/api/v1/cdrs/export.csv) -------------------------------------------------------------------


def _cdr_columns():
    from cdrs.api import views

    return [*views.EXPORT_COLUMNS, "site", "trunk", *views.EXPORT_TAIL]


@pytest.mark.parametrize("start", STARTS)
def test_every_column_of_the_cdr_export_is_neutralised(start):
    """Every cell the export writes goes through csvsafe, whatever column it is in (site and trunk names too)."""
    from cdrs.api import views

    columns = _cdr_columns()
    value = start + PAYLOAD
    row = [value] * len(columns)
    for i in views._TIME_COLUMNS:
        row[i] = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.timezone.utc)
    header, got = _export_rows(b"".join(views._csv_chunks([tuple(row)])).decode())
    assert header == columns
    for name, cell in zip(columns, got):
        if columns.index(name) not in views._TIME_COLUMNS:
            assert cell == "'" + value, name


CDR_TEXT = ["clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "disposition",
            "accountcode", "peeraccount", "userfield", "uniqueid", "linkedid"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_text_column_of_a_stored_cdr_is_neutralised_in_the_export(client, db, start):
    from cdrs.models import Cdr
    from voipadmin.actors import Actor
    from voipadmin.api.tokens import create_token

    _, key = create_token(actor=Actor.command("tests"), name="billing", scope="read")
    value = start + "cmd|' /C calc'!A0"
    when = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.timezone.utc)
    Cdr.objects.create(start=when, **{name: value for name in CDR_TEXT})
    response = client.get("/api/v1/cdrs/export.csv", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    header, row = _export_rows(b"".join(response.streaming_content).decode())
    for name in CDR_TEXT:
        assert row[header.index(name)] == "'" + value, name
    assert all(_is_safe(cell) for cell in row)


def test_no_module_writes_csv_but_through_csvsafe():
    """One rule for every export: a new CSV anywhere in the portal must use csvsafe's writers."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    apps = ("voipadmin", "sites", "push", "users", "trunks", "services", "cdrs", "live", "nodeconf", "ops")
    offenders = [p.relative_to(root).as_posix() for app in apps for p in (root / app).rglob("*.py")
                 if p.relative_to(root).as_posix() != "voipadmin/csvsafe.py"
                 and ("csv.writer(" in p.read_text() or "csv.DictWriter(" in p.read_text())]
    assert offenders == []
