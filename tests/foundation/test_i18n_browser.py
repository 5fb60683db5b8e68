"""In Chromium: an administrator logs in with a password and a TOTP code, then walks the main pages in English
and in Spanish (its own language setting); a page fails if it shows English to the Spanish reader (issue 12).

The README's Spanish screenshot is taken here (``users-es.png``, ``dashboard-es.png``).
"""
from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import AccountProfile
from sites.models import AsteriskNode, Site
from tests.accounts.twofactor_helpers import enrol, unused_code
from tests.browser_fixtures import HTMX_SETTLED, PASSWORD, shot
from users.models import SipUser

from .untranslated import data_words, texts, untranslated

pytestmark = pytest.mark.django_db(transaction=True)


def _main_pages() -> list[tuple[str, str]]:
    user, site, node = SipUser.objects.get(extension=1001), Site.objects.get(slug="central"), \
        AsteriskNode.objects.order_by("pk").first()
    return [("dashboard", "/dashboard/"), ("users", "/users/"), ("user", user.get_absolute_url()),
            ("user edit", f"{user.get_absolute_url()}edit/"), ("sites", "/sites/"),
            ("site", site.get_absolute_url()), ("node", node.get_absolute_url()), ("trunks", "/trunks/"),
            ("routes", "/trunks/routes/"), ("services", "/services/"), ("dispatcher sets", "/services/dispatcher-sets/"),
            ("trace", "/services/trace/"), ("call records", "/cdrs/"), ("calls", "/live/calls/"),
            ("push jobs", "/push/jobs/"), ("audit log", "/audit/"), ("accounts", "/accounts/"),
            ("my account", "/accounts/me/"), ("two-factor", "/two-factor/"), ("API tokens", "/api-tokens/")]


def _log_in_with_a_code(browser, live_server, account):
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="en-GB")
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", account.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/code/**")
    page.fill("#id_code", unused_code(account))
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/")
    return page


def test_an_administrator_logs_in_with_totp_and_reads_every_main_page_in_spanish(
        browser, live_server, django_user_model):
    from django.contrib.auth.models import Group

    call_command("load_demo_estate")
    marta = django_user_model.objects.create_user(username="marta", password=PASSWORD, first_name="Marta")
    marta.groups.add(Group.objects.get(name="Administrator"))
    enrol(marta)
    page = _log_in_with_a_code(browser, live_server, marta)
    data = data_words() | {"marta"}
    problems = {}
    for name, url in _main_pages():
        rendered = {}
        for language in ("en", "es"):
            AccountProfile.objects.filter(user=marta).update(language=language)
            response = page.goto(f"{live_server.url}{url}")
            assert response.status == 200, (name, language, response.status)
            screenshot = language == "es" and name in ("users", "dashboard", "user")
            if screenshot:  # (the dashboard's chart too, fetched outside htmx)
                page.wait_for_load_state("networkidle")
            else:
                page.wait_for_function(HTMX_SETTLED)
            assert page.get_attribute("html", "lang") == language, (name, language)
            if name == "user":  # its live panel, loaded by htmx, is part of what is read
                assert page.locator("#user-live-panel #user-live").count() == 1, language
            rendered[language] = texts(page.content())
            if screenshot:
                shot(page, f"{name.replace(' ', '-')}-es.png")
        left = untranslated(rendered["en"], rendered["es"], data)
        if left:
            problems[f"{name} {url}"] = left
    page.close()
    assert not problems, "\n".join(f"{p}: {left}" for p, left in problems.items())


def test_the_browser_language_is_the_default_and_the_account_setting_wins(browser, live_server, django_user_model):
    from django.contrib.auth.models import Group

    call_command("load_demo_estate")
    nuria = django_user_model.objects.create_user(username="nuria", password=PASSWORD)
    nuria.groups.add(Group.objects.get(name="Administrator"))
    enrol(nuria)
    spanish_browser = browser.new_page(locale="es-ES")
    spanish_browser.goto(f"{live_server.url}/login/")
    assert spanish_browser.get_attribute("html", "lang") == "es"
    assert "Contraseña" in spanish_browser.content()
    spanish_browser.close()
    page = _log_in_with_a_code(browser, live_server, nuria)  # an English browser...
    assert page.get_attribute("html", "lang") == "en"
    AccountProfile.objects.filter(user=nuria).update(language="es")  # ...and an account that reads Spanish
    page.goto(f"{live_server.url}/users/")
    assert page.get_attribute("html", "lang") == "es"
    page.close()
