"""A real browser (Playwright driving Debian's headless Chromium) logs in as each persona."""
from __future__ import annotations


import pytest
from django.core.management import call_command

from tests.browser_fixtures import SHOTS, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _nav(page) -> list[str]:
    return [t.strip() for t in page.locator("#main-nav a").all_inner_texts()]


def test_an_administrator_sees_the_whole_estate(browser, live_server, alice):
    call_command("load_demo_estate")
    page = login(browser, live_server, "alice")
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
    page = login(browser, live_server, "bob")
    assert _nav(page) == ["Users"]
    assert page.url.endswith("/users/")
    response = page.goto(f"{live_server.url}/sites/")
    assert response.status == 403
    page.close()
