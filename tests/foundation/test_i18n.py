"""The portal speaks Spanish and English: the browser's language by default, a picker on every page (the log-in
page too), Spanish dates (30/11/2026) and numbers (1.234,5), and every moment shown with its zone.

The Spanish catalogue is compiled at build time from every area's messages; these tests compile a fragment of
their own (``FRAGMENT``, the frame's words) into a temporary ``LOCALE_PATHS``, so they hold before and after.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import zoneinfo
from datetime import datetime, timezone

import pytest
from django.core.exceptions import ValidationError
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone as tz
from django.utils import translation

#: a few of base.html's and the validators' words, as locale/es/LC_MESSAGES/django.po has them
FRAGMENT = {
    "Log in": "Iniciar sesión",
    "Log out": "Cerrar sesión",
    "Password": "Contraseña",
    "Language": "Idioma",
    "Dashboard": "Panel",
    "Audit log": "Registro de auditoría",
    "Move up": "Subir",
    "The port must be a number from 1 to 65535.": "El puerto debe ser un número de 1 a 65535.",
}
SPANISH_DATE = re.compile(r"\b\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2} [A-Z][A-Za-z0-9+-]*\b")


def _po(entries: dict[str, str]) -> str:
    header = ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
              '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n')
    body = "".join(f"\nmsgid {json.dumps(k, ensure_ascii=False)}\nmsgstr {json.dumps(v, ensure_ascii=False)}\n"
                   for k, v in entries.items())
    return header + body


@pytest.fixture
def spanish(settings, tmp_path):
    """The fragment compiled with ``msgfmt`` as the only project catalogue (the settings change resets
    Django's translation caches, both ways)."""
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "msgfmt (gettext) is needed to compile message catalogues"
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "django.po").write_text(_po(FRAGMENT), encoding="utf-8")
    subprocess.run([msgfmt, "-c", "-o", str(folder / "django.mo"), str(folder / "django.po")], check=True)
    settings.LOCALE_PATHS = [tmp_path]
    yield
    translation.activate(settings.LANGUAGE_CODE)


def _html_lang(body: str) -> str:
    return re.search(r'<html lang="([^"]*)"', body).group(1)


# --- the browser's language ------------------------------------------------------------------------------------


def test_the_login_page_is_english_by_default(client, spanish):
    body = client.get("/login/").content.decode()
    assert _html_lang(body) == "en"
    assert "Log in" in body and "Iniciar sesión" not in body


def test_a_spanish_browser_gets_the_login_page_in_spanish(client, spanish):
    body = client.get("/login/", HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9,en;q=0.5").content.decode()
    assert _html_lang(body) == "es"
    assert "Iniciar sesión" in body and "Contraseña" in body
    assert ">Log in<" not in body


def test_a_spanish_browser_gets_the_frame_in_spanish_when_signed_in(admin_client, spanish):
    body = admin_client.get("/audit/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert _html_lang(body) == "es"
    assert "Cerrar sesión" in body and "Panel" in body and "Registro de auditoría" in body


# --- the language picker -----------------------------------------------------------------------------------------


def test_the_login_page_has_the_language_picker(client):
    body = client.get("/login/").content.decode()
    picker = re.search(r'<form[^>]*id="language-picker".*?</form>', body, re.S).group(0)
    assert f'action="{reverse("set_language")}"' in picker
    assert re.findall(r'name="language" value="(\w+)"', picker) == ["en", "es"]
    assert 'value="/login/"' in picker  # back to the same page


def test_the_login_forms_button_stays_the_first_on_the_page(client):
    """Scripts and people press the page's first button to log in: the picker comes after the form."""
    body = client.get("/login/").content.decode()
    first = re.search(r'<button[^>]*type="submit"[^>]*>(.*?)</button>', body, re.S).group(1)
    assert first.strip() == "Log in"


def test_the_picker_switches_the_language(client, spanish):
    response = client.post(reverse("set_language"), {"language": "es", "next": "/login/"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    body = client.get("/login/").content.decode()
    assert _html_lang(body) == "es" and "Iniciar sesión" in body
    client.post(reverse("set_language"), {"language": "en", "next": "/login/"})
    body = client.get("/login/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert _html_lang(body) == "en" and "Log in" in body  # the choice wins over the browser's


def test_the_picker_marks_the_current_language(admin_client, spanish):
    body = admin_client.get("/audit/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert re.search(r'value="es"[^>]*aria-current="true"', body)


# --- the navigation's links to the accounts pages ----------------------------------------------------------------


def test_the_accounts_links_are_in_the_menu_for_estate_administrators(admin_client, alice):
    body = admin_client.get("/audit/").content.decode()
    assert 'id="nav-me"' in body and f'href="{reverse("accounts:me")}"' in body
    assert f'href="{reverse("accounts:user_list")}"><i class="bi bi-person-gear"></i> Accounts</a>' in body


def test_the_helpdesk_sees_no_accounts_link(helpdesk_client):
    body = helpdesk_client.get("/users/").content.decode()
    assert f'href="{reverse("accounts:user_list")}"' not in body and "person-gear" not in body


# --- the scripts' words -------------------------------------------------------------------------------------------


def test_the_scripts_words_are_in_the_page_language(admin_client, spanish):
    body = admin_client.get("/audit/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    words = json.loads(re.search(r'<script id="va-strings" type="application/json">(.*?)</script>', body,
                                 re.S).group(1))
    assert words["moveUp"] == "Subir"
    assert words["selected"] == "%(n)s selected:"  # not in the fragment: English, never missing


# --- dates, numbers and zones ------------------------------------------------------------------------------------

MOMENT = datetime(2026, 11, 30, 14, 5, 9, tzinfo=timezone.utc)


def _render(source: str, **context) -> str:
    return Template(source).render(Context(context))


def test_english_writes_a_moment_with_its_zone():
    with translation.override("en"), tz.override(zoneinfo.ZoneInfo("UTC")):
        assert _render("{{ m }}", m=MOMENT) == "2026-11-30 14:05:09 UTC"
    with translation.override("en"), tz.override(zoneinfo.ZoneInfo("Europe/Madrid")):
        assert _render('{{ m|date:"DATETIME_FORMAT" }}', m=MOMENT) == "2026-11-30 15:05:09 CET"


def test_spanish_writes_day_month_year_and_the_zone():
    with translation.override("es"), tz.override(zoneinfo.ZoneInfo("Europe/Madrid")):
        assert _render("{{ m }}|{{ m|date }}|{{ m|time }}", m=MOMENT) == "30/11/2026 15:05:09 CET|30/11/2026|15:05:09"
        assert _render('{{ m|date:"SHORT_DATETIME_FORMAT" }}', m=MOMENT) == "30/11/2026 15:05:09 CET"


def test_spanish_numbers_have_a_decimal_comma_and_a_thousands_point():
    with translation.override("es"):
        assert _render('{{ x }}|{{ x|floatformat:"2g" }}', x=1234567.5) == "1234567,5|1.234.567,50"
    with translation.override("en"):
        assert _render('{{ x|floatformat:"2g" }}', x=1234567.5) == "1,234,567.50"


def test_spanish_forms_read_iso_and_spanish_dates():
    from django import forms

    class Period(forms.Form):
        since = forms.DateTimeField()

    with translation.override("es"):
        for typed in ("2026-11-30 14:05", "2026-11-30T14:05", "30/11/2026 14:05"):
            form = Period({"since": typed})
            assert form.is_valid(), (typed, form.errors)
            assert tz.localtime(form.cleaned_data["since"]).strftime("%d %H:%M") == "30 14:05"


def test_a_page_shows_its_moments_in_the_page_language_with_the_zone(admin_client, alice, spanish):
    from voipadmin.lockout import alert

    alert(alice.username, 3, 1)  # (an audit log entry)
    english = admin_client.get("/audit/").content.decode()
    assert re.search(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\b", english)
    spanish_page = admin_client.get("/audit/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert SPANISH_DATE.search(spanish_page)


# --- messages from Python ----------------------------------------------------------------------------------------


def test_a_validators_message_is_said_in_the_active_language(spanish):
    from voipadmin.grammar import validate_hostport

    for language, expected in (("en", "The port must be a number from 1 to 65535."),
                               ("es", "El puerto debe ser un número de 1 a 65535.")):
        with translation.override(language), pytest.raises(ValidationError) as refused:
            validate_hostport("pbx.example.test:70000")
        assert refused.value.messages == [expected]
