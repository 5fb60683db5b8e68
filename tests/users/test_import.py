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
    assert "email: Enter a valid email address." in lines[6]  # (the model's own message, as in the form)
    assert "run of digits" in lines[7][0]
    assert "at least 16" in lines[8][0]
    assert {"unknown site 'nowhere'", "name: This field cannot be blank."} <= set(lines[9])
    assert "has 2 fields" in lines[10][0]
    assert not SipUser.objects.exists() and not Subscriber.objects.exists()


def test_lines_the_database_would_choke_on_are_reported_not_crashed_on(sites):
    plan, result = run(HEADER + "\u00b2,Superscript,,central,,\n"      # 2 "²".isdigit() but not a number
                                "1001,An\x00a,,central,,\n"           # 3 NUL: PostgreSQL text refuses it
                                "99999999999,Huge,,central,,\n"        # 4 beyond any integer column
                                "9999999999,Big,,central,,\n"          # 5 ten digits, past int4
                                "1002,Fine,,central,,\n")
    assert result is None
    reasons: dict[int, list[str]] = {}
    for line, reason in plan.errors:
        reasons.setdefault(line, []).append(reason)
    assert "not a positive number" in reasons[2][0]
    assert reasons[3] == ["contains a NUL character"]
    assert "not a positive number" in reasons[4][0]
    assert "outside site central's ranges" in reasons[5][0]
    assert sorted(reasons) == [2, 3, 4, 5] and not SipUser.objects.exists()


def test_an_extension_that_exists_is_updated_or_left_unchanged(make_user, sites):
    make_user(1001, name="Ana", email="ana@example.test", password="original-password-123")
    make_user(1002, name="Luis", email="luis@example.test")
    ha1 = SipUser.objects.get(extension=1001).ha1
    plan, result = run(HEADER + "1001,Ana García,ana@example.test,central,,\n1002,Luis,luis@example.test,central,,\n")
    assert [ln.action for ln in plan.preview] == ["update", "unchanged"]
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
    make_user(1001, name="Ana (la jefa), García", email="ana@example.test", caller_id="Boss", codecs="g722")
    make_user(4001, site="branch1", name="Elena", nat=True, voicemail_email="vm@example.test")
    u = make_user(6001, site="branch2", name="Carmen", voicemail_enabled=False)
    actions.update_user(u, actor=actor, enabled=False)
    out = io.StringIO()
    assert csvio.export(SipUser.objects.select_related("site"), out) == 3
    before = list(SipUser.objects.values())
    entries = ChangeLogEntry.objects.count()

    plan, result = run(out.getvalue())

    assert [ln.action for ln in plan.preview] == ["unchanged"] * 3, [(ln.line, ln.changed) for ln in plan.preview]
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


# --- one write path: the import is users.actions.import_users ---------------------------------------------------


def _entry(user: SipUser) -> ChangeLogEntry:
    return ChangeLogEntry.objects.get(content_type__model="sipuser", object_id=str(user.pk))


def test_the_import_writes_what_create_user_writes_audit_and_subscriber_alike(sites, alice):
    """The same user, once through the single write path and once through the CSV import: the same row shape,
    the same subscriber row, the same audit entry (secrets masked alike)."""
    from voipadmin import audit

    actor = Actor(user=alice, label="alice", source="ui")
    single = actions.create_user(actor=actor, extension=1001, name="Ana", email="ana@example.test",
                                 site=sites["central"], password="given-password-1234567", voicemail_pin="7391",
                                 caller_id="Reception", nat=True, codecs="g722")
    csvio.import_csv((HEADER.rstrip() + ",caller_id,nat,codecs\n"
                      "1002,Ana,ana@example.test,central,given-password-1234567,7391,Reception,yes,g722\n").encode(),
                     actor=actor)
    bulk = SipUser.objects.get(extension=1002)

    def row(u):
        return {k: v for k, v in SipUser.objects.filter(pk=u.pk).values().get().items()
                if k not in ("id", "extension", "ha1", "ha1b", "created", "updated")}

    assert row(bulk) == row(single)
    assert bulk.ha1 == hashing.ha1("1002", "voip.example.test", "given-password-1234567")
    subs = {s.username: s for s in Subscriber.objects.all()}
    assert (subs["1002"].domain, subs["1002"].password, subs["1002"].ha1, subs["1002"].ha1b) == \
        (subs["1001"].domain, "", bulk.ha1, bulk.ha1b)
    one, many = _entry(single), _entry(bulk)
    assert (many.user, many.actor, many.source, many.action) == (one.user, one.actor, one.source, one.action)
    differs = {"id", "extension"}
    assert {k: v for k, v in many.changes.items() if k not in differs} == \
        {k: v for k, v in one.changes.items() if k not in differs}
    assert many.changes == audit.diff({}, audit.snapshot(bulk)) and many.object_repr == str(bulk)
    assert one.message == "" and many.message == "CSV import"


def test_an_updating_import_logs_and_reprojects_like_update_user(make_user, sites, actor):
    user = make_user(1001, name="Ana", email="ana@example.test")
    csvio.import_csv((HEADER + "1001,Ana,ana@example.test,branch2,,\n").encode(), actor=actor)  # no: 1001 ∉ branch2
    assert SipUser.objects.get().site == sites["central"]
    report, result = csvio.import_csv(
        ("extension,name,email,site,enabled\n1001,Ana B,ana@example.test,central,no\n").encode(), actor=actor)
    assert result.updated == 1
    user.refresh_from_db()
    assert not user.enabled and not Subscriber.objects.exists()  # disabled: its subscriber row is gone
    entry = ChangeLogEntry.objects.filter(content_type__model="sipuser", object_id=str(user.pk)).first()
    assert entry.changes == {"name": ["Ana", "Ana B"], "enabled": [True, False]} and entry.message == "CSV import"


def test_the_import_goes_through_users_actions_import_users(sites, monkeypatch):
    calls = []
    real = actions.import_users

    def spy(batches, **kwargs):
        calls.append(kwargs["message"])
        return real(batches, **kwargs)

    monkeypatch.setattr(actions, "import_users", spy)
    run(HEADER + "1001,Ana,,central,,\n")
    assert calls == ["CSV import"] and SipUser.objects.count() == 1


def test_the_import_validates_with_the_models_own_field_rules(sites, monkeypatch):
    """A validator added to a model field reaches the import with no change to it (crud.field_errors)."""
    from django.core.exceptions import ValidationError

    field = SipUser._meta.get_field("caller_id")

    def no_pirates(value):
        if "arr" in value:
            raise ValidationError("No pirates.")

    monkeypatch.setattr(field, "validators", [*field.validators, no_pirates])
    plan, result = run("extension,name,email,site,caller_id\n1001,Ana,,central,Captain arr\n1002,Luis,,central,ok\n")
    assert result is None and plan.errors == [(2, "caller_id: No pirates.")]


def test_a_bad_line_after_written_batches_rolls_everything_back(sites, monkeypatch):
    monkeypatch.setattr(csvio, "BATCH", 3)
    lines = "".join(f"{1001 + i},User {i},,central,,\n" for i in range(10)) + "1011,Bad,,nowhere,,\n"
    plan, result = run(HEADER + lines)
    assert result is None and plan.errors == [(12, "unknown site 'nowhere'")]
    assert plan.count("create") == 10  # every line was checked
    assert not SipUser.objects.exists() and not Subscriber.objects.exists()
    assert not ChangeLogEntry.objects.filter(content_type__model="sipuser").exists()


def test_every_error_is_reported_not_only_the_first_ones(sites):
    errors = []
    text = HEADER + "".join(f"{9000 + i},Out {i},,branch1,,\n" for i in range(csvio.PREVIEW + 700))
    report = csvio.run(text, actor=ACTOR, on_error=lambda line, reason: errors.append((line, reason)))
    assert report.error_count == len(errors) == csvio.PREVIEW + 700
    assert len(report.errors) == csvio.PREVIEW and len(report.preview) == csvio.PREVIEW
    assert errors[-1][0] == csvio.PREVIEW + 701 and "outside site branch1" in errors[-1][1]


def test_the_file_is_read_as_it_is_checked_never_whole(sites, monkeypatch):
    """Memory is one batch's: when the first 1,000 lines are checked, the reader is not far past them."""
    monkeypatch.setattr(csvio, "BATCH", 500)
    data = (HEADER + "".join(f"{1000 + i},User {i},,central,,\n" for i in range(3000))
            + "".join(f"{4000 + i},User {i},,branch1,,\n" for i in range(2000))).encode()
    source = io.BytesIO(data)
    positions = []
    csvio.run(source, actor=ACTOR, dry_run=True,
              progress=lambda stage, done, total: positions.append((done, source.tell())))
    first = positions[0]
    assert first[0] == 1000 and first[1] < len(data) / 3, positions


def test_cells_a_spreadsheet_would_run_round_trip_through_export_and_import(make_user, actor):
    """The export neutralises formula-looking cells with a leading quote; the import takes it off again."""
    make_user(1001, name="=Ana", email="ana@example.test", caller_id="+Reception")
    make_user(1002, name="-Luis", caller_id="@home")
    make_user(1003, name="'quoted", caller_id="''twice")
    make_user(1004, name="+34600111222")  # a plain number stays as it is
    out = io.StringIO()
    csvio.export(SipUser.objects.select_related("site").order_by("extension"), out)
    cells = list(csv.reader(io.StringIO(out.getvalue())))
    assert [r[1] for r in cells[1:]] == ["'=Ana", "'-Luis", "''quoted", "+34600111222"]
    assert [r[9] for r in cells[1:]] == ["'+Reception", "'@home", "'''twice", ""]
    before = list(SipUser.objects.values())
    plan, result = run(out.getvalue())
    assert [ln.action for ln in plan.preview] == ["unchanged"] * 4, [(ln.line, ln.changed) for ln in plan.preview]
    assert list(SipUser.objects.values()) == before


def test_the_command_streams_a_file_and_prints_progress_and_every_error(sites, tmp_path, capsys):
    path = tmp_path / "users.csv"
    path.write_text(HEADER + "".join(f"{1000 + i},User {i},,central,,\n" for i in range(1, 2401))
                    + "".join(f"{9000 + i},Out,,central,,\n" for i in range(600)))
    secrets_file = tmp_path / "secrets.csv"
    with pytest.raises(CommandError, match="600 error"):
        call_command("import_users", str(path), "--secrets-file", str(secrets_file))
    err = capsys.readouterr().err
    assert "import: 1000/3000 (33%)" in err and "import: 2000/3000 (66%)" in err
    assert err.count("is outside site central's ranges") == 600 and "line 3001: extension 9599" in err
    assert not SipUser.objects.exists()
    assert not secrets_file.exists() and not tmp_path.joinpath("secrets.csv.part").exists()


@pytest.mark.parametrize("extensions", [(1001, 1003), (1001, 3999)], ids=["a short range", "spread out"])
def test_existing_users_are_found_however_the_extensions_spread(make_user, sites, extensions):
    for ext in (*extensions, 1002):
        make_user(ext, name=f"Old {ext}")
    text = HEADER + "".join(f"{ext},New {ext},{ext}@example.test,central,,\n" for ext in extensions)
    plan, result = run(text)
    assert [ln.action for ln in plan.preview] == ["update", "update"] and result.updated == 2
    assert sorted(SipUser.objects.values_list("name", flat=True)) == sorted(
        [f"New {ext}" for ext in extensions] + ["Old 1002"])  # a user in the range but not in the file stays
