"""The portal's form renderer writes every widget of every form exactly as Django's widget templates do."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.forms.renderers import DjangoTemplates

from tests.foundation.test_labels import _filtersets, _forms
from voipadmin.formrender import FormRenderer

pytestmark = pytest.mark.django_db

# A few values of every kind, so that selected options, checked boxes and escaped text are compared too.
SAMPLE = {"q": '<b>"García" & 1</b>', "enabled": "true", "voicemail_enabled": "false", "site": "1",
          "name": "Ana <García>", "extension": "1001", "kind": "itsp", "auth_mode": "registration",
          "disposition": "ANSWERED", "action": "update", "since": "2026-05-04T12:00"}


def _widgets(form) -> list[tuple[str, str, str]]:
    out = []
    for bound in form:
        fast = bound.as_widget()
        form.renderer = DjangoTemplates()
        slow = bound.as_widget()
        form.renderer = FormRenderer()
        out.append((bound.html_name, fast, slow))
    return out


@pytest.fixture
def estate():
    call_command("load_demo_estate")


def _all_forms():
    for name, form in _forms():
        yield name, type(form)
    for name, filterset in _filtersets():
        yield name, type(filterset.form)


def test_every_widget_of_every_form_is_written_as_djangos_templates_write_it(estate):
    compared = 0
    for name, form_class in _all_forms():
        for data in (None, SAMPLE):
            try:
                form = form_class(data) if data is not None else form_class()
            except TypeError:
                continue  # (a form that needs more than its data: covered by its own page tests)
            form.renderer = FormRenderer()
            for field, fast, slow in _widgets(form):
                assert fast == slow, f"{name}.{field}:\n{fast}\n!=\n{slow}"
                compared += 1
    assert compared > 100


def test_a_list_page_uses_it(admin_client, estate):
    from django.forms.renderers import get_default_renderer

    assert isinstance(get_default_renderer(), FormRenderer)
    page = admin_client.get("/users/", {"enabled": "true"}).content.decode()
    assert '<select name="site"' in page and '<option value="true" selected>' in page
