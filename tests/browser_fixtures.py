"""The browser tests' Chromium (Playwright driving Debian's headless Chromium), their log-in and screenshots.

A pytest plugin (tests/conftest.py): ``browser`` is one Chromium per test module; Chromium missing is a
failure, never a skip.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("VOIPADMIN_SCREENSHOTS", Path(__file__).resolve().parents[1] / "var" / "screenshots"))
PASSWORD = "correct horse battery"  # the personas' (tests/conftest.py)


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    # Playwright's loop runs in this thread; ORM calls from the test are safe. Set only while we need it
    # (a leaked DJANGO_ALLOW_ASYNC_UNSAFE makes `check --deploy` fail in later tests).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            yield chromium
        finally:
            chromium.close()
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


#: after a page's load event, the fragments it asked htmx for (hx-trigger "load", sent while htmx processed the
#: page) are in: no request in flight, nothing swapping or settling. (networkidle waits 0.5 s more per page.)
HTMX_SETTLED = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


def login(browser, live_server, username: str):
    """A new page, logged in as ``username`` through the log-in form, the page it lands on loaded and settled."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_function(HTMX_SETTLED)
    return page


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)
