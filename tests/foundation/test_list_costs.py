"""What the list pages' cheaper paths must keep: the same choices, cells and escaping as Django's own code
(bench/production.py: the users list of 10,000 users at <= 150 ms p95 with 10 clients)."""
from __future__ import annotations

import gc
import os
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


def _gunicorn_conf(monkeypatch, tmp_path, **env) -> dict:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # (what the file would otherwise create)
    for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_KEEPALIVE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))


def test_gunicorn_workers_freeze_the_loaded_application(tmp_path, monkeypatch):
    conf = _gunicorn_conf(monkeypatch, tmp_path)
    assert gc.get_freeze_count() == 0
    try:
        conf["post_worker_init"](None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_gunicorn_workers_take_a_connection_only_with_a_thread_free(tmp_path, monkeypatch):
    """Behind nginx (a connection per request) the listening socket is the host's one queue: a worker accepts only
    as many connections as it has threads, and closes each after its answer (gunicorn's gthread worker does both
    when ``worker_connections`` equals ``threads``); processes rather than threads: 2 x CPUs + 1 of them."""
    conf = _gunicorn_conf(monkeypatch, tmp_path)
    assert (conf["worker_class"], conf["threads"], conf["keepalive"]) == ("gthread", 2, 0)
    assert conf["worker_connections"] == conf["threads"]
    assert conf["workers"] == 2 * (os.cpu_count() or 1) + 1
    conf = _gunicorn_conf(monkeypatch, tmp_path, GUNICORN_WORKERS="3", GUNICORN_THREADS="4")
    assert (conf["workers"], conf["threads"], conf["worker_connections"]) == (3, 4, 4)
    # a proxy that keeps connections open gets room for them (gunicorn's own default)
    conf = _gunicorn_conf(monkeypatch, tmp_path, GUNICORN_KEEPALIVE="5")
    assert (conf["keepalive"], conf["worker_connections"]) == (5, 1000)
    with pytest.raises(SystemExit, match="GUNICORN_KEEPALIVE"):
        _gunicorn_conf(monkeypatch, tmp_path, GUNICORN_KEEPALIVE="-1")


# --- every page's fixed costs -----------------------------------------------------------------------------------


def test_a_session_is_read_with_one_plain_statement_and_holds_what_django_wrote(db):
    from datetime import timedelta

    from django.contrib.sessions.backends.db import SessionStore as DjangoStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from accounts.sessions import SessionStore

    written = DjangoStore()
    written.update({"_auth_user_id": "7", "language": "es", "n": [1, 2]})
    written.save()
    store = SessionStore(written.session_key)
    with CaptureQueriesContext(connection) as queries:
        assert store.load() == {"_auth_user_id": "7", "language": "es", "n": [1, 2]}
    assert len(queries) == 1 and "LIMIT" not in queries[0]["sql"].upper()
    assert store.session_key == written.session_key

    Session.objects.filter(session_key=written.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    expired = SessionStore(written.session_key)
    assert expired.load() == {} and expired.session_key is None  # a new key when saved, as Django's store does
    unknown = SessionStore("x" * 32)
    assert unknown.load() == {} and unknown.session_key is None
    assert SessionStore(None).load() == {}


def test_the_portal_uses_that_session_store_for_logins(client, django_user_model):
    from django.conf import settings

    assert settings.SESSION_ENGINE == "accounts.sessions"
    django_user_model.objects.create_user("reader", password="a long password 1")
    assert client.post(reverse("login"), {"username": "reader", "password": "a long password 1"}).status_code == 302
    assert client.get(reverse("accounts:me")).status_code == 200  # the next request is signed in from it


def test_the_navigation_and_the_scripts_words_are_built_once_per_kind_of_page(admin_client, estate):
    from voipadmin import context_processors

    context_processors._nav_html.cache_clear()
    first = admin_client.get(reverse("users:sipuser_list")).content.decode()
    again = admin_client.get(reverse("users:sipuser_list") + "?page=2").content.decode()
    assert context_processors._nav_html.cache_info().hits >= 1
    users_url, sites_url = reverse("users:sipuser_list"), reverse("sites:site_list")
    for html in (first, again):
        assert f'<a class="nav-link active" href="{users_url}"><i class="bi bi-people"></i> Users</a>' in html
        assert f'<a class="nav-link" href="{sites_url}"><i class="bi bi-buildings"></i> Sites</a>' in html
        assert '<script id="va-strings" type="application/json">{"selected": "%(n)s selected:"' in html
    spanish = admin_client.get(users_url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert f'<a class="nav-link active" href="{users_url}"><i class="bi bi-people"></i> Usuarios</a>' in spanish
    assert '"selected": "%(n)s seleccionadas:"' in spanish


def test_the_language_buttons_mark_the_pages_language(admin_client):
    from django.test import Client

    response = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="es")  # (admin_client is pytest-django's client, signed in)
    assert response.status_code == 200, response.headers
    signed_out = response.content.decode()
    assert ('<button type="submit" name="language" value="es" lang="es" class="btn btn-sm btn-secondary active" '
            'aria-current="true">Español</button>') in signed_out
    assert ('<button type="submit" name="language" value="en" lang="en" class="btn btn-sm btn-outline-secondary">'
            'English</button>') in signed_out
    signed_in = admin_client.get(reverse("dashboard")).content.decode()
    assert ('<button type="submit" name="language" value="es" lang="es" class="btn btn-sm btn-outline-light">'
            'Español</button>') in signed_in


def test_static_addresses_are_looked_up_once_and_a_missing_file_still_fails(tmp_path, settings, monkeypatch):
    import json

    from whitenoise.storage import CompressedManifestStaticFilesStorage

    from voipadmin.staticstorage import PortalStaticFilesStorage

    (tmp_path / "staticfiles.json").write_text(json.dumps(
        {"paths": {"css/a.css": "css/a.0123456789ab.css"}, "version": "1.1", "hash": "x"}))
    storage = PortalStaticFilesStorage(location=str(tmp_path), base_url="/static/")
    looked_up = []
    parent_url = CompressedManifestStaticFilesStorage.url
    monkeypatch.setattr(CompressedManifestStaticFilesStorage, "url",
                        lambda self, name, force=False: looked_up.append(name) or parent_url(self, name, force))
    assert storage.url("css/a.css") == storage.url("css/a.css") == "/static/css/a.0123456789ab.css"
    assert looked_up == ["css/a.css"]
    for _ in range(2):
        with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
            storage.url("css/missing.css")
