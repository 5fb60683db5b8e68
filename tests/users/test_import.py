"""Bulk CSV import/export: all-or-nothing, errors by line, generated secrets to the operator only."""
import csv
import io
import os
import stat

import pytest
from django.core.management import CommandError, call_command

from users import actions, csvio
from users.models import SipUser
from voipadmin.actors import Actor
from voipadmin.kamailio import hashing
from voipadmin.kamailio.models import Subscriber
from voipadmin.models import ChangeLogEntry

pytestmark = pytest.mark.django_db

HEADER = "extension,name,email,site,password,voicemail_pin\n"
ACTOR = Actor.command("import_users")


def run(text: str, **kw):
    return csvio.import_csv(text.encode(), actor=ACTOR, **kw)


def test_a_valid_file_creates_users_subscribers_and_one_audit_entry_each(sites):
    plan, result = run(HEADER + "1001,Ana,ana@example.test,central,given-password-1234567,7391\n"
                                "4001,Elena,,branch1,,\n")
    assert plan.ok and (result.created, result.updated, result.unchanged) == (2, 0, 0)
    ana, elena = SipUser.objects.order_by("extension")
    assert ana.ha1 == hashing.ha1("1001", "voip.example.test", "given-password-1234567")
    assert ana.voicemail_pin == "7391" and ana.site == sites["central"] and ana.enabled
    assert Subscriber.objects.count() == 2
    assert ChangeLogEntry.objects.filter(content_type__model="sipuser", action="create").count() == 2
    # only the generated secrets go back to the operator
    assert result.secrets == [{"extension": "4001", "name": "Elena", "site": "branch1",
                               "sip_domain": "voip.example.test", "password": result.secrets[0]["password"],
                               "voicemail_pin": elena.voicemail_pin}]
    assert elena.ha1 == hashing.ha1("4001", "voip.example.test", result.secrets[0]["password"])


def test_every_bad_line_is_reported_with_its_number_and_nothing_is_written(sites):
    text = (HEADER +
            "1001,Ana,ana@example.test,central,,\n"       # 2 ok
            "1001,Dup,,central,,\n"                       # 3 repeated
            "4001,Wrong site,,central,,\n"                # 4 outside range
            "abc,Bad,,central,,\n"                        # 5 bad extension
            "1002,Bad mail,not-an-email,central,,\n"      # 6 bad email
            "1003,Weak pin,,central,,1234\n"              # 7 pin run
            "1004,Short pw,,central,short,\n"             # 8 password
            "1005,,,nowhere,,\n"                          # 9 no name, unknown site
            "1006,Too few\n")                             # 10 field count
    plan, result = run(text)
    assert result is None and not plan.ok
    lines = {}
    for line, reason in plan.errors:
        lines.setdefault(line, []).append(reason)
    assert sorted(lines) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "repeated (first on line 2)" in lines[3][0]
    assert "outside site central's ranges (1000-3999)" in lines[4][0]
    assert "not a positive number" in lines[5][0]
    assert "not an email address" in lines[6][0]
    assert "run of digits" in lines[7][0]
    assert "at least 16" in lines[8][0]
    assert {"unknown site 'nowhere'", "name is empty"} <= set(lines[9])
    assert "has 2 fields" in lines[10][0]
    assert not SipUser.objects.exists() and not Subscriber.objects.exists()


def test_lines_the_database_would_choke_on_are_reported_not_crashed_on(sites):
    plan, result = run(HEADER + "\u00b2,Superscript,,central,,\n"      # 2 "²".isdigit() but not a number
                                "1001,An\x00a,,central,,\n"           # 3 NUL: PostgreSQL text refuses it
                                "99999999999,Huge,,central,,\n"        # 4 beyond any integer column
                                "9999999999,Big,,central,,\n"          # 5 ten digits, past int4
                                "1002,Fine,,central,,\n")
    assert result is None
    reasons = dict(plan.errors)
    assert "not a positive number" in reasons[2]
    assert reasons[3] == "contains a NUL character"
    assert "not a positive number" in reasons[4]
    assert "outside site central's ranges" in reasons[5]
    assert sorted(reasons) == [2, 3, 4, 5] and not SipUser.objects.exists()


def test_an_extension_that_exists_is_updated_or_left_unchanged(make_user, sites):
    make_user(1001, name="Ana", email="ana@example.test", password="original-password-123")
    make_user(1002, name="Luis", email="luis@example.test")
    ha1 = SipUser.objects.get(extension=1001).ha1
    plan, result = run(HEADER + "1001,Ana García,ana@example.test,central,,\n1002,Luis,luis@example.test,central,,\n")
    assert [ln.action for ln in plan.lines] == ["update", "unchanged"]
    assert (result.created, result.updated, result.unchanged, result.secrets) == (0, 1, 1, [])
    ana = SipUser.objects.get(extension=1001)
    assert ana.name == "Ana García" and ana.ha1 == ha1  # empty password = keep
    entry = ChangeLogEntry.objects.filter(content_type__model="sipuser", object_id=str(ana.pk)).first()
    assert entry.changes["name"] == ["Ana", "Ana García"] and entry.message == "CSV import"


def test_a_dry_run_writes_nothing(sites):
    plan, result = run(HEADER + "1001,Ana,,central,,\n", dry_run=True)
    assert plan.ok and plan.count("create") == 1 and result is None
    assert not SipUser.objects.exists() and not ChangeLogEntry.objects.filter(content_type__model="sipuser").exists()


def test_optional_columns_set_enabled_voicemail_nat_and_codecs(sites):
    run("extension,name,email,site,enabled,voicemail,voicemail_email,caller_id,nat,codecs\n"
        "4001,Home,,branch1,no,yes,vm@example.test,Home worker,yes,\"g722,alaw\"\n"
        "4002,NoVM,,branch1,,no,,,,\n")
    home = SipUser.objects.get(extension=4001)
    assert (home.enabled, home.voicemail_enabled, home.voicemail_email, home.caller_id, home.nat, home.codecs) == \
        (False, True, "vm@example.test", "Home worker", True, "g722,alaw")
    assert not Subscriber.objects.filter(username="4001").exists()  # disabled: cannot register
    novm = SipUser.objects.get(extension=4002)
    assert novm.voicemail_enabled is False and novm.voicemail_pin == "" and novm.enabled


def test_an_exported_file_reimports_with_no_change(make_user, actor):
    make_user(1001, name='Ana "la jefa", García', email="ana@example.test", caller_id="Boss", codecs="g722")
    make_user(4001, site="branch1", name="Elena", nat=True, voicemail_email="vm@example.test")
    u = make_user(6001, site="branch2", name="Carmen", voicemail_enabled=False)
    actions.update_user(u, actor=actor, enabled=False)
    out = io.StringIO()
    assert csvio.export(SipUser.objects.select_related("site"), out) == 3
    before = list(SipUser.objects.values())
    entries = ChangeLogEntry.objects.count()

    plan, result = run(out.getvalue())

    assert [ln.action for ln in plan.lines] == ["unchanged"] * 3, [(ln.line, ln.changed) for ln in plan.lines]
    assert (result.created, result.updated, result.secrets) == (0, 0, [])
    assert list(SipUser.objects.values()) == before and ChangeLogEntry.objects.count() == entries
    assert "password" in out.getvalue().splitlines()[0] and "vm@example.test" in out.getvalue()


def test_the_header_must_name_known_columns(sites):
    with pytest.raises(csvio.ImportError_, match="missing column.*site.*unknown column.*sitio"):
        run("extension,name,email,sitio\n1001,Ana,,central\n")


def test_the_command_reports_lines_and_writes_nothing_on_error(sites, tmp_path, capsys):
    path = tmp_path / "users.csv"
    path.write_text(HEADER + "1001,Ana,,central,,\n9999,Out,,central,,\n")
    with pytest.raises(CommandError, match="1 error"):
        call_command("import_users", str(path))
    assert "line 3: extension 9999 is outside" in capsys.readouterr().err
    assert not SipUser.objects.exists()


def test_the_command_writes_generated_secrets_to_a_private_file(sites, tmp_path, capsys):
    path = tmp_path / "users.csv"
    path.write_text(HEADER + "".join(f"{1000 + i},User {i},,central,,\n" for i in range(1, 1201)))
    secrets_file = tmp_path / "secrets.csv"
    call_command("import_users", str(path), "--dry-run")
    assert not SipUser.objects.exists()
    call_command("import_users", str(path), "--secrets-file", str(secrets_file))
    captured = capsys.readouterr()
    assert "Imported: 1200 created" in captured.out and "validate: 1000/1200" in captured.err
    assert stat.S_IMODE(os.stat(secrets_file).st_mode) == 0o600
    secrets = list(csv.DictReader(secrets_file.open()))
    assert len(secrets) == 1200
    first = SipUser.objects.get(extension=int(secrets[0]["extension"]))
    assert first.ha1 == hashing.ha1(secrets[0]["extension"], "voip.example.test", secrets[0]["password"])
    assert secrets[0]["password"] not in captured.out + captured.err


def test_export_command_filters_by_site(make_user, capsys):
    make_user(1001)
    make_user(4001, site="branch1")
    call_command("export_users", "--site", "branch1")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ",".join(csvio.ALL_COLUMNS) and len(lines) == 2 and lines[1].startswith("4001,")


def test_imported_audit_entries_are_what_the_single_user_path_records(sites, alice):
    actor = Actor(user=alice, label="alice", source="ui")
    csvio.import_csv((HEADER + "1001,Ana,ana@example.test,central,,\n").encode(), actor=actor)
    user = SipUser.objects.get()
    from voipadmin import audit

    entry = ChangeLogEntry.objects.get(content_type__model="sipuser", object_id=str(user.pk))
    assert entry.changes == audit.diff({}, audit.snapshot(user))
    assert (entry.user, entry.actor, entry.source, entry.action, entry.object_repr) == \
        (alice, "alice", "ui", "create", str(user))
    assert entry.changes["ha1"] == [None, "********"] and entry.changes["voicemail_pin"] == [None, "********"]


def test_the_import_works_on_sqlite_too(sites, settings):
    from django.db import connection

    plan, result = run(HEADER + "1001,Ana,,central,,\n1002,Luis,,central,,\n")
    assert result.created == 2 and Subscriber.objects.count() == 2
    ids = set(SipUser.objects.values_list("id", flat=True))
    assert {int(e.object_id) for e in ChangeLogEntry.objects.filter(content_type__model="sipuser")} == ids
    assert connection.vendor in ("postgresql", "sqlite")
