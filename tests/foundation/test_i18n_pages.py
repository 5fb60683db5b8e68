"""Every page of the portal, in English and in Spanish: nothing of the UI left in English (issue 12).

The pages come from the URLconf (tests/foundation/test_personas.py's walk, on the demo estate), so a page
added later is checked without anybody listing it; tests/foundation/untranslated.py says what counts.
"""
from __future__ import annotations

import pytest
from django.core.management import call_command

from .test_personas import _get_pages
from .untranslated import data_words, texts, untranslated

# Pages that are not the portal's UI: the API's own browsable pages and Django's admin
NOT_UI = ("api", "admin:", "logout", "set_language")


@pytest.fixture
def estate(db):
    call_command("load_demo_estate")


def test_no_page_shows_english_to_a_spanish_reader(admin_client, estate):
    data = data_words() | {"alice"}
    problems = {}
    for name, url in _get_pages(estate):
        if name.startswith(NOT_UI):
            continue
        english = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        spanish = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="es")
        if english.status_code != 200 or "text/html" not in english.get("Content-Type", ""):
            continue
        assert spanish.status_code == 200, (name, spanish.status_code)
        assert spanish["Content-Language"] == "es"
        body = spanish.content.decode()
        left = untranslated(texts(english.content.decode()), texts(body), data)
        if left:  # each with where it stands on the Spanish page, to find the string that was missed
            problems[f"{name} {url}"] = [(text, body[max(0, body.find(text) - 160):body.find(text)])
                                         for text in left]
    assert not problems, "\n".join(f"{page}: {left}" for page, left in problems.items())


def test_the_catalogue_is_compiled_and_spanish_is_offered(admin_client, estate):
    from django.utils import translation

    with translation.override("es"):
        assert translation.gettext("Users") != "Users"
    page = admin_client.get("/users/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="es"' in page
