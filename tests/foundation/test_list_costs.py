"""What the list pages' cheaper paths must keep: the same choices, cells and escaping as Django's own code
(bench/production.py: the users list of 10,000 users at <= 150 ms p95 with 10 clients)."""
from __future__ import annotations

import gc
import runpy
from pathlib import Path

import django_filters
import pytest
from django.core.management import call_command
from django.db import connection
from django.forms.models import ModelChoiceIterator
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from sites.models import Site
from users.filtersets import SipUserFilterSet
from users.models import SipUser
from voipadmin.templatetags.portal_tables import table_rows
from voipadmin.views import Column, ListedChoiceIterator, _listed_choices

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def estate(db):
    call_command("load_demo_estate")


def test_the_filters_site_choices_are_one_plain_query_and_the_same_options(admin_client, estate):
    with CaptureQueriesContext(connection) as queries:
        html = admin_client.get(reverse("users:sipuser_list")).content.decode()
    assert not [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("DECLARE")]  # no server cursor
    django_own = SipUserFilterSet(None, queryset=SipUser.objects.all()).form["site"]
    assert str(django_own) in html  # Django's iterator renders the very same <select>
    assert [label for _, label in django_own.field.choices][1:] == [str(s) for s in Site.objects.all()]


class WithNull(django_filters.FilterSet):
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.order_by("name"), null_label="No site")

    class Meta:
        model = SipUser
        fields = ["site"]


def test_django_filters_null_choice_stays_where_it_was(estate):
    form = WithNull(None, queryset=SipUser.objects.all()).form
    before = [(str(v), str(label)) for v, label in form.fields["site"].choices]
    _listed_choices(form)
    field = form.fields["site"]
    assert field.iterator is ListedChoiceIterator
    assert [(str(v), str(label)) for v, label in field.choices] == before
    assert before[1] == ("null", "No site") and len(field.choices) == len(before)


def test_a_plain_model_choice_field_lists_the_same_choices(estate):
    from django import forms

    class F(forms.Form):
        site = forms.ModelChoiceField(queryset=Site.objects.order_by("name"))

    form = F()
    before = [(str(v), str(label)) for v, label in form.fields["site"].choices]
    assert form.fields["site"].iterator is ModelChoiceIterator
    _listed_choices(form)
    assert [(str(v), str(label)) for v, label in form.fields["site"].choices] == before
    assert len(form.fields["site"].choices) == len(before) == Site.objects.count() + 1


def test_a_column_reads_choices_by_their_label_and_follows_dotted_paths(estate):
    user = SipUser.objects.select_related("site").first()
    assert Column("Kind", "site.kind").value(user) == user.site.get_kind_display() != user.site.kind
    assert Column("Site", "site.name").value(user) == user.site.name
    assert Column("Extension", "extension").value(user) == user.extension
    assert Column("Nothing", "site.no_such_field").value(user) == ""
    assert Column("Text", str).value(user) == str(user)


def test_rows_are_escaped_exactly_as_the_template_escapes_a_cell(estate):
    user = SipUser.objects.select_related("site").first()
    values = ["<b>Tom & \"Jerry\"</b>'s", mark_safe("<i>kept</i>"), gettext_lazy("Users"), 1234, None, 2.5]
    html = table_rows([(user, ["x", *values])])
    cell = Template("{{ v }}")
    for v in values:
        assert f"<td>{cell.render(Context({'v': '' if v is None else v}))}</td>" in html


def test_the_state_badges_ask_for_the_pages_extensions_in_order(admin_client, estate):
    html = admin_client.get(reverse("users:sipuser_list")).content.decode()
    shown = [u.extension for u in SipUser.objects.order_by("extension")[:50]]
    query = "".join(f"ext={e}&" for e in shown)
    assert f'hx-get="{reverse("live:extension_state_badges")}?{query}"' in html


def test_gunicorn_workers_freeze_the_loaded_application(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # (what the file would otherwise create)
    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert gc.get_freeze_count() == 0
    try:
        conf["post_worker_init"](None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
