"""In a real browser: Bob (helpdesk) finds a user and resets its PIN; Alice creates one and imports a file."""
from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from tests.browser_fixtures import SHOTS, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_helpdesk_finds_a_user_and_resets_its_pin(browser, live_server, bob):
    from users.models import SipUser

    call_command("load_demo_estate")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = login(browser, live_server, "bob")
    page.goto(f"{live_server.url}/users/?q=garc")
    assert "1001" in page.locator("#object-list").inner_text()
    assert page.locator("text=Add user").count() == 0 and page.locator("text=Import CSV").count() == 0
    page.screenshot(path=str(SHOTS / "users-helpdesk-search.png"), full_page=True)
    page.click("#object-list >> text=1001")
    assert page.locator("text=Reset SIP password").count() == 0 and page.locator("text=Edit").count() == 0
    page.click("text=Reset voicemail PIN")
    page.fill("#id_pin", "")
    page.click("button:has-text('Reset PIN')")
    page.wait_for_load_state("networkidle")
    pin = page.locator("#shown-pin").inner_text()
    assert pin == SipUser.objects.get(extension=1001).voicemail_pin
    page.screenshot(path=str(SHOTS / "users-helpdesk-pin-reset.png"), full_page=True)
    page.reload()
    assert page.locator("#shown-pin").count() == 0
    page.close()


def test_an_administrator_creates_a_user_and_previews_an_import(browser, live_server, alice, tmp_path):
    call_command("load_demo_estate")
    page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/users/add/")
    page.fill("#id_extension", "1010")
    page.fill("#id_name", "New Person")
    page.select_option("#id_site", label="Central")
    page.click("button:has-text('Save')")
    page.wait_for_load_state("networkidle")
    password = page.locator("#shown-password").inner_text()
    assert len(password) == 20
    page.screenshot(path=str(SHOTS / "users-created-password-once.png"), full_page=True)
    csv = tmp_path / "users.csv"
    csv.write_text("extension,name,email,site\n1011,Ok,,central\n4999,Fine,,branch1\n1012,Bad,,branch1\n")
    page.goto(f"{live_server.url}/users/import/")
    page.set_input_files("#id_file", str(csv))
    page.wait_for_function("document.querySelector('#import-progress').innerText.includes('3 line(s)')")
    page.click("button:has-text('Preview')")
    page.wait_for_load_state("networkidle")
    assert re.search(r"Line 4: extension 1012 is outside", page.locator("#import-errors").inner_text())
    page.screenshot(path=str(SHOTS / "users-import-preview-errors.png"), full_page=True)
    page.goto(f"{live_server.url}/users/")
    page.screenshot(path=str(SHOTS / "users-list.png"), full_page=True)
    page.close()


def test_a_big_import_shows_its_progress_and_then_its_outcome(browser, live_server, alice, tmp_path, monkeypatch,
                                                              settings):
    """The page of a file checked by the Celery task polls its status (static/users/import.js), moves the bar
    and opens the outcome when the task is done. The "worker" here is a thread that waits a little first."""
    import threading
    import time

    from django.db import connection

    from users import importjobs, tasks

    settings.VAR_DIR = tmp_path
    call_command("load_demo_estate")
    monkeypatch.setattr(importjobs, "SYNC_LINES", 5)

    def worker(*args, **kwargs):
        def run():
            time.sleep(1.5)
            try:
                tasks.run_import(*args, **kwargs)
            finally:
                connection.close()

        threading.Thread(target=run).start()

    monkeypatch.setattr(tasks.run_import, "delay", worker)
    csv = tmp_path / "users.csv"
    csv.write_text("extension,name,email,site\n" + "".join(f"{1100 + i},Person {i},,central\n" for i in range(40)))
    page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/users/import/")
    page.set_input_files("#id_file", str(csv))
    page.click("button:has-text('Preview')")
    page.wait_for_selector("#import-running [data-progress-bar]")
    page.wait_for_selector("#import-summary", timeout=20000)  # the JS went on to the outcome by itself
    assert "40 to create" in page.locator("#import-summary").inner_text()
    page.close()
