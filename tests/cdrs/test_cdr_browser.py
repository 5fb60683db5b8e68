"""In a real browser: Dora (billing) picks a period on the call records page and sees its totals and charts."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from tests.api.conftest import build_estate
from tests.browser_fixtures import SHOTS

from .test_cdr_page import hand_made_day

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dora(db, django_user_model):
    user = django_user_model.objects.create_user(username="dora", password="correct horse battery")
    user.groups.add(Group.objects.get(name="Billing"))
    return user


def test_billing_picks_a_period_and_sees_its_totals_and_charts(browser, live_server, dora):
    build_estate()
    hand_made_day()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "dora")
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/cdrs/")
    assert page.locator("#cdr-no-period").is_visible() and page.locator("#cdr-totals").count() == 0
    page.fill("#id_since", "2026-03-10T00:00")
    page.fill("#id_until", "2026-03-11T00:00")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#total-calls").inner_text() == "5"
    assert page.locator("#total-answered").inner_text() == "3"
    assert "3.0 min" in page.locator("#total-billsec").inner_text()
    for chart in ("#cdr-site-chart", "#cdr-trunk-chart"):
        canvas = page.locator(chart)
        assert canvas.is_visible() and canvas.get_attribute("data-drawn") == "yes"
        assert canvas.bounding_box()["height"] > 50
    assert page.locator("#object-list a.va-user-link").first.inner_text() == "2001"
    assert "since=2026-03-10T00" in page.locator("#cdr-export").get_attribute("href")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "cdrs-period-totals.png"), full_page=True)
    page.close()
