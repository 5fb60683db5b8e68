"""An import's files — the upload, the generated secrets, the errors — are sealed: encrypted at rest, expiring,
gone at logout, purged by beat, taken by their one download; big imports run as a Celery task with progress;
one-time passwords and PINs are never cached."""
from __future__ import annotations

import csv
import io
import re
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from users import importjobs, tasks
from users.models import SipUser
from voipadmin import sealed
from voipadmin.kamailio import hashing

pytestmark = pytest.mark.django_db

HEADER = "extension,name,email,site\n"
IMPORT = "/users/import/"


@pytest.fixture
def var(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.IMPORT_FILES_MINUTES = 15
    return tmp_path / importjobs.AREA


@pytest.fixture
def eager():
    from voipadmin.celery import app

    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = old


def _files(var) -> list[str]:
    return sorted(p.name for p in var.iterdir()) if var.exists() else []


def _upload(client, text: str, name: str = "u.csv"):
    return client.post(IMPORT, {"file": SimpleUploadedFile(name, text.encode())})


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()


# --- sealed files ---------------------------------------------------------------------------------------------


def test_a_sealed_file_holds_no_clear_byte_and_reads_back_in_chunks(var, monkeypatch):
    monkeypatch.setattr(sealed, "CHUNK", 1000)
    data = b"".join(b"1%04d,Secret-password-%04d\n" % (i, i) for i in range(500))
    token = sealed.write_bytes(importjobs.AREA, data)
    path = var / f"{token}.sealed"
    on_disk = path.read_bytes()
    assert b"Secret-password" not in on_disk and len(on_disk.splitlines()) == len(data) // 1000 + 1
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(var.stat().st_mode & 0o777) == "0o700"
    reader = sealed.open_(importjobs.AREA, token)
    assert io.BufferedReader(reader).read() == data  # (streamed: one chunk in memory at a time)


def test_a_sealed_file_expires_and_a_download_takes_it(var):
    token = sealed.write_bytes(importjobs.AREA, b"secret")
    later = time.time() + 16 * 60
    assert sealed.read_bytes(importjobs.AREA, token, now=later) is None
    assert _files(var) == []  # an expired file is removed when met
    token = sealed.write_bytes(importjobs.AREA, b"secret")
    assert sealed.read_bytes(importjobs.AREA, token, remove=True) == b"secret"
    assert sealed.read_bytes(importjobs.AREA, token, remove=True) is None and _files(var) == []


def test_of_two_requests_racing_for_a_download_one_gets_it(var):
    for _ in range(20):
        token = sealed.write_bytes(importjobs.AREA, b"secret")
        got, start = [], threading.Barrier(2)

        def take():
            start.wait()
            got.append(sealed.read_bytes(importjobs.AREA, token, remove=True))

        threads = [threading.Thread(target=take) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got, key=lambda g: g is None) == [b"secret", None]


def test_a_writer_that_fails_leaves_nothing_behind(var):
    with pytest.raises(RuntimeError):
        with sealed.Writer(importjobs.AREA) as out:
            out.write(b"half")
            raise RuntimeError
    assert _files(var) == []


def test_beat_purges_expired_import_files(var, settings):
    import os

    old = sealed.write_bytes(importjobs.AREA, b"old")
    fresh = sealed.write_bytes(importjobs.AREA, b"fresh")
    then = time.time() - 16 * 60
    os.utime(var / f"{old}.sealed", (then, then))
    assert "users-purge-import-files" in settings.CELERY_BEAT_SCHEDULE
    assert settings.CELERY_BEAT_SCHEDULE["users-purge-import-files"]["task"] == "users.tasks.purge_import_files"
    assert tasks.purge_import_files() == 1
    assert _files(var) == [f"{fresh}.sealed"]


# --- the import page ------------------------------------------------------------------------------------------


def test_the_upload_waits_sealed_and_the_secrets_leave_once_never_cached(admin_client, sites, var):
    r = _upload(admin_client, HEADER + "1001,Ana Secretname,,central\n4001,Elena,,branch1\n")
    assert r.status_code == 200 and "<strong>2</strong> to create" in r.content.decode()
    assert "no-store" in r["Cache-Control"]
    upload = next(var.glob("*-upload.sealed"))
    assert b"Secretname" not in upload.read_bytes()
    token = re.search(r'name="confirm" value="([^"]+)"', r.content.decode()).group(1)
    r = admin_client.post(IMPORT, {"confirm": token})
    assert "2 created" in r.content.decode() and 'id="secrets-download"' in r.content.decode()
    assert not list(var.glob("*-upload.sealed"))  # imported: the upload is gone
    secrets_file = next(var.glob("*-secrets.sealed"))
    assert b"voip.example.test" not in secrets_file.read_bytes()

    download = admin_client.get(reverse("users:sipuser_import_secrets"))
    assert download.status_code == 200 and "no-store" in download["Cache-Control"]
    rows = list(csv.DictReader(io.StringIO(_body(download))))
    assert len(rows) == 2 and not list(var.glob("*-secrets.sealed"))
    user = SipUser.objects.get(extension=int(rows[0]["extension"]))
    assert user.ha1 == hashing.ha1(rows[0]["extension"], rows[0]["sip_domain"], rows[0]["password"])
    assert admin_client.get(reverse("users:sipuser_import_secrets")).status_code == 302  # once


def test_every_error_of_a_refused_file_downloads_as_csv_with_line_numbers(admin_client, sites, var):
    text = HEADER + "1001,Ana,,central\n" + "".join(f"{9000 + i},Out {i},,central\n" for i in range(700))
    r = _upload(admin_client, text)
    page = r.content.decode()
    assert r.status_code == 400 and "700 error(s)" in page and page.count("<li>Line ") == 500
    assert not list(var.glob("*-upload.sealed"))  # a refused file is not kept
    download = admin_client.get(reverse("users:sipuser_import_errors"))
    assert download.status_code == 200 and "no-store" in download["Cache-Control"]
    rows = list(csv.reader(io.StringIO(_body(download))))
    assert rows[0] == ["line", "error"] and len(rows) == 701
    assert rows[1] == ["3", "extension 9000 is outside site central's ranges (1000-3999)"]
    assert rows[-1][0] == "702"
    assert admin_client.get(reverse("users:sipuser_import_errors")).status_code == 302  # taken


def test_logging_out_removes_every_file_the_session_left(admin_client, sites, var):
    _upload(admin_client, HEADER + "1001,Ana,,central\n")  # a preview never confirmed
    assert any(name.endswith("-upload.sealed") for name in _files(var))
    assert admin_client.post(reverse("logout")).status_code == 302
    assert _files(var) == []


def test_a_second_upload_drops_the_files_of_the_first(admin_client, sites, var):
    _upload(admin_client, HEADER + "1001,Ana,,central\n")
    first = _files(var)
    _upload(admin_client, HEADER + "1002,Luis,,central\n")
    assert not set(first) & set(_files(var))


def test_a_confirmation_after_the_files_expired_imports_nothing(admin_client, sites, var):
    r = _upload(admin_client, HEADER + "1001,Ana,,central\n")
    token = re.search(r'name="confirm" value="([^"]+)"', r.content.decode()).group(1)
    for path in var.iterdir():
        path.unlink()  # (what purge does to them after IMPORT_FILES_MINUTES)
    r = admin_client.post(IMPORT, {"confirm": token})
    assert r.status_code == 302 and not SipUser.objects.exists()


# --- big imports: the Celery task ----------------------------------------------------------------------------


def test_a_big_file_is_checked_and_imported_by_the_task_with_progress(admin_client, sites, var, monkeypatch,
                                                                      alice):
    """The task path, step by step: the page queues it and polls; the task runs it; the page shows the end."""
    queued = []
    monkeypatch.setattr(importjobs, "SYNC_LINES", 10)
    monkeypatch.setattr(tasks.run_import, "delay", lambda *args, **kwargs: queued.append((args, kwargs)))
    text = HEADER + "".join(f"{1000 + i},User {i},,central\n" for i in range(1, 31))
    r = _upload(admin_client, text)
    page = r.content.decode()
    assert r.status_code == 200 and 'id="import-running"' in page and "users/import.js" in page
    status = admin_client.get(reverse("users:sipuser_import_status")).json()
    assert status == {"state": "queued", "stage": "queued", "done": 0, "total": 30, "dry_run": True}

    (token,), kwargs = queued.pop()
    assert kwargs["user_id"] == alice.pk and kwargs["dry_run"] is True and kwargs["lines"] == 30
    assert tasks.run_import(token, **kwargs) == "done"  # what the worker runs
    assert admin_client.get(reverse("users:sipuser_import_status")).json()["state"] == "done"
    r = admin_client.get(IMPORT + "?job")
    assert r.status_code == 200 and "<strong>30</strong> to create" in r.content.decode()

    r = admin_client.post(IMPORT, {"confirm": token})
    assert 'id="import-running"' in r.content.decode() and not SipUser.objects.exists()
    (token2,), kwargs = queued.pop()
    assert token2 == token and kwargs["dry_run"] is False
    assert tasks.run_import(token, **kwargs) == "done"
    assert SipUser.objects.count() == 30
    r = admin_client.get(IMPORT + "?job")
    assert "30 created" in r.content.decode() and 'id="secrets-download"' in r.content.decode()
    entry = SipUser.objects.get(extension=1001)
    from voipadmin.models import ChangeLogEntry

    log = ChangeLogEntry.objects.get(content_type__model="sipuser", object_id=str(entry.pk))
    assert (log.user, log.actor, log.message) == (alice, "alice", "CSV import u.csv")


def test_with_celery_eager_the_task_runs_through_delay(admin_client, sites, var, monkeypatch, eager):
    monkeypatch.setattr(importjobs, "SYNC_LINES", 0)
    r = _upload(admin_client, HEADER + "1001,Ana,,central\n1002,Luis,,central\n")
    assert "<strong>2</strong> to create" in r.content.decode()
    token = re.search(r'name="confirm" value="([^"]+)"', r.content.decode()).group(1)
    r = admin_client.post(IMPORT, {"confirm": token})
    assert "2 created" in r.content.decode() and SipUser.objects.count() == 2


def test_the_status_of_a_job_is_only_its_sessions(client, admin_client, sites, var, django_user_model):
    from django.contrib.auth.models import Group

    _upload(admin_client, HEADER + "1001,Ana,,central\n")
    other = django_user_model.objects.create_user("zoe", password="correct horse battery")
    other.groups.add(Group.objects.get(name="Administrator"))
    client.force_login(other)
    assert client.get(reverse("users:sipuser_import_status")).json() == {"state": "none"}
    assert client.get(reverse("users:sipuser_import_errors")).status_code == 302


def test_an_unreadable_upload_is_a_form_error(admin_client, sites, var):
    r = admin_client.post(IMPORT, {"file": SimpleUploadedFile("u.csv", b"\xff\xfe not utf-8")})
    assert r.status_code == 400 and "not UTF-8" in r.content.decode()
    assert not list(var.glob("*-upload.sealed"))


# --- one-time secrets are never cached ---------------------------------------------------------------------


def test_pages_and_answers_carrying_a_one_time_secret_say_no_store(admin_client, sites, alice, bob):
    from django.test import Client
    from rest_framework.test import APIClient

    helpdesk_client = Client()
    helpdesk_client.force_login(bob)
    r = admin_client.post(reverse("users:sipuser_add"), {
        "extension": "1001", "name": "Ana", "email": "", "site": sites["central"].pk, "enabled": "on",
        "voicemail_enabled": "on", "caller_id": "", "codecs": "", "voicemail_email": "", "password": "",
        "voicemail_pin": ""})
    assert r.status_code == 302, r.content.decode()[:2000]
    user = SipUser.objects.get()
    page = admin_client.get(r["Location"])
    assert 'id="shown-password"' in page.content.decode() and "no-store" in page["Cache-Control"]
    admin_client.post(reverse("users:sipuser_reset_password", args=[user.pk]))
    page = admin_client.get(user.get_absolute_url())
    assert 'id="shown-password"' in page.content.decode() and "no-store" in page["Cache-Control"]
    helpdesk_client.post(reverse("users:sipuser_reset_pin", args=[user.pk]), {"pin": ""})
    page = helpdesk_client.get(user.get_absolute_url())
    assert 'id="shown-pin"' in page.content.decode() and "no-store" in page["Cache-Control"]

    api = APIClient()
    api.force_authenticate(alice)
    created = api.post("/api/v1/users/", {"extension": 1002, "name": "Luis", "site": sites["central"].pk}, format="json")
    assert created.status_code == 201, created.content
    assert "no-store" in created["Cache-Control"]
    pk = created.json()["id"]
    for path in (f"/api/v1/users/{pk}/reset-password/", f"/api/v1/users/{pk}/reset-voicemail-pin/"):
        answer = api.post(path, {}, format="json")
        assert answer.status_code == 200 and "no-store" in answer["Cache-Control"], path
    moved = api.patch(f"/api/v1/users/{pk}/", {"extension": 1003}, format="json")
    assert moved.status_code == 200 and "no-store" in moved["Cache-Control"]


def test_the_upload_is_sealed_as_it_arrives_never_a_clear_temporary_file(admin_client, sites, var, settings,
                                                                          monkeypatch):
    """Django keeps an upload above FILE_UPLOAD_MAX_MEMORY_SIZE in a clear temporary file: the import's own
    upload handler writes it sealed instead, chunk by chunk."""
    from django.core.files import uploadedfile

    def no_clear_copies(*args, **kwargs):
        raise AssertionError("the upload went to a clear temporary file")

    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    monkeypatch.setattr(uploadedfile.tempfile, "NamedTemporaryFile", no_clear_copies)
    r = _upload(admin_client, HEADER + "".join(f"{1000 + i},User {i},,central\n" for i in range(1, 300)))
    assert r.status_code == 200 and "<strong>299</strong> to create" in r.content.decode()


def test_a_file_over_the_limit_is_refused_and_leaves_nothing(admin_client, sites, var, monkeypatch):
    from users import views

    monkeypatch.setattr(views, "MAX_UPLOAD", 1000)
    r = _upload(admin_client, HEADER + "".join(f"{1000 + i},User {i},,central\n" for i in range(1, 300)))
    assert r.status_code == 400 and "larger than" in r.content.decode()
    assert _files(var) == []


def test_the_upload_still_needs_the_csrf_token(client, alice, sites, var):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    r = strict.post(IMPORT, {"file": SimpleUploadedFile("u.csv", (HEADER + "1001,Ana,,central\n").encode())})
    assert r.status_code == 403 and _files(var) == []
