"""A real browser (Playwright driving Debian's headless Chromium) logs in as each persona."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("VOIPADMIN_SCREENSHOTS", Path(__file__).resolve().parents[2] / "var" / "screenshots"))
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls the fixtures make are
    # still synchronous and safe, so allow them while (and only while) the browser is open.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _browser()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


def _login(browser, live_server, username: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def _nav(page) -> list[str]:
    return [t.strip() for t in page.locator("#main-nav a").all_inner_texts()]


def test_an_administrator_sees_the_whole_estate(browser, live_server, alice):
    call_command("load_demo_estate")
    page = _login(browser, live_server, "alice")
    assert page.url.endswith("/dashboard/")
    assert {"Dashboard", "Sites", "Nodes", "Users", "Audit log"} <= set(_nav(page))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    page.click("#main-nav >> text=Sites")
    assert page.locator("#object-list").inner_text().count("voip.example.test") == 4
    page.screenshot(path=str(SHOTS / "sites.png"), full_page=True)
    page.click("#main-nav >> text=Nodes")
    assert "ast-central" in page.locator("#object-list").inner_text()
    page.close()


def test_helpdesk_sees_only_user_search(browser, live_server, bob):
    call_command("load_demo_estate")
    page = _login(browser, live_server, "bob")
    assert _nav(page) == ["Users"]
    assert page.url.endswith("/users/")
    response = page.goto(f"{live_server.url}/sites/")
    assert response.status == 403
    page.close()
