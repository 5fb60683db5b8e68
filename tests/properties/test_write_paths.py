"""Whatever an operator types into any writable field — through the form, the API or the CSV import — is either
refused (a form error, a 400, a CSV error naming the line) or what reaches Kamailio's tables and Asterisk's
views is well-formed, and no stored value breaks its own field's rules (issue 10).

Nothing here lists fields: the API resources come from the router and their writable fields from the
serializers, the forms from every edit page in the URLconf, the CSV columns from ``users.csvio``. A field
added tomorrow is covered by these tests the day it is added. Each field gets a few generated strings
(control characters, quotes, CR/LF, bidi marks, other Unicode categories, 0-500 characters; see
``strategies``) and every example runs in a savepoint rolled back afterwards, so the estate stays the one
``estate.build`` made.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from hypothesis import example, given
from hypothesis import strategies as st
from rest_framework import serializers

from voipadmin.api_urls import router
from voipadmin.views import ObjectEditView

from . import estate as estate_module
from .strategies import attack, budget, long, typed

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

#: generated examples per field and write path, on top of the explicit ones every field gets (a line break in
#: its valid value; PATCH and CSV: the value at the field's full width too). Small, so the whole tests/properties
#: tree stays well under a minute on two workers; VOIPADMIN_HYPOTHESIS=explore draws ten times as many.
PER_FIELD = {"patch": 3, "create": 1, "edit": 2, "add": 0, "add-only": 1, "csv": 4}


@contextlib.contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def check_accepted(model, context: str) -> None:
    """What an accepted write left behind: well-formed for Kamailio and Asterisk, valid by the field rules."""
    estate_module.assert_well_formed(context)
    problems = estate_module.field_problems([model])
    assert not problems, f"{context}: {problems[:3]}"


# --- the API ----------------------------------------------------------------------------------------------------

API = [(prefix, viewset) for prefix, viewset, _ in router.registry if hasattr(viewset, "create")]


def _is_list_field(field) -> bool:
    annotation = getattr(type(field), "_spectacular_annotation", None) or {}
    return isinstance(field, serializers.ListField) or annotation.get("type") == "array"


def api_targets(viewset) -> list[tuple[str, ...]]:
    """Every writable field of the resource, and every writable field of its nested lists (``destinations.attrs``)."""
    targets = []
    for name, field in viewset.serializer_class().fields.items():
        if field.read_only:
            continue
        if isinstance(field, serializers.ListSerializer):
            targets += [(name, child) for child, f in field.child.fields.items() if not f.read_only]
        else:
            targets.append((name,))
    return targets


def _writable(viewset, representation: dict) -> dict:
    fields = viewset.serializer_class().fields
    return {k: v for k, v in representation.items() if k in fields and not fields[k].read_only}


def _base(target: tuple[str, ...], representation: dict) -> str:
    value = representation.get(target[0])
    if len(target) == 2:
        value = (value or [{}])[0].get(target[1])
    elif isinstance(value, list):
        value = value[0] if value else ""
    return "" if value is None else str(value)


def _body(viewset, target: tuple[str, ...], value: str, representation: dict) -> dict:
    field = viewset.serializer_class().fields[target[0]]
    if len(target) == 2:
        items = [_writable_child(field, item) for item in representation.get(target[0]) or []] or [{}]
        items[0] = {**items[0], target[1]: value}
        return {target[0]: items}
    return {target[0]: [value] if _is_list_field(field) else value}


def _max_length(viewset, target: tuple[str, ...]) -> int | None:
    field = viewset.serializer_class().fields[target[0]]
    if len(target) == 2:
        field = field.child.fields[target[1]]
    return getattr(field, "max_length", None)


def _writable_child(field, item: dict) -> dict:
    return {k: v for k, v in item.items() if k in field.child.fields and not field.child.fields[k].read_only}


def _uploads(data: dict) -> dict:
    """``data`` with its bytes values (estate.FRESH's sound files) as uploaded files, each post a new one."""
    return {k: SimpleUploadedFile(f"{k}.wav", v) if isinstance(v, bytes) else v for k, v in data.items()}


def _exercise_api(client, viewset, url: str, method: str, body: dict, context: str) -> None:
    if any(isinstance(v, bytes) for v in body.values()):  # (a file goes multipart, as an integration sends it)
        multipart = {k: "" if v is None else v for k, v in _uploads(body).items()}
        response = client.generic(method, url, encode_multipart(BOUNDARY, multipart), MULTIPART_CONTENT)
    else:
        response = client.generic(method, url, json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201, 400), f"{context}: {response.status_code} {response.content[:300]!r}"
    if response.status_code == 400:
        assert response.json(), f"{context}: a 400 must say what is wrong"
    else:
        check_accepted(viewset.queryset.model, context)


@pytest.mark.parametrize("prefix, viewset", API, ids=[p for p, _ in API])
def test_every_api_field_refuses_or_stays_well_formed_on_patch(write_client, estate, prefix, viewset):
    obj = viewset.queryset.model.objects.order_by("pk").first()
    url = f"/api/v1/{prefix}/{obj.pk}/"
    representation = write_client.get(url).json()
    for target in api_targets(viewset):
        base = _base(target, representation)

        @budget(PER_FIELD["patch"])
        @given(value=typed(base))
        @example(value=attack(base))
        @example(value=long(base, _max_length(viewset, target)))
        def patch(value):
            with rolled_back():
                _exercise_api(write_client, viewset, url, "PATCH", _body(viewset, target, value, representation),
                              f"PATCH {prefix} {'.'.join(target)}={value!r}")
        patch()


@pytest.mark.parametrize("prefix, viewset", API, ids=[p for p, _ in API])
def test_every_api_field_refuses_or_stays_well_formed_on_create(write_client, estate, prefix, viewset):
    model = viewset.queryset.model
    assert model._meta.label_lower in estate_module.FRESH, f"say in estate.FRESH how to create a new {model}"
    obj = model.objects.order_by("pk").first()
    representation = write_client.get(f"/api/v1/{prefix}/{obj.pk}/").json()
    fresh = {**_writable(viewset, representation), **estate_module.FRESH[model._meta.label_lower]}
    for target in api_targets(viewset):
        base = _base(target, fresh)

        @budget(PER_FIELD["create"])
        @given(value=typed(base))
        @example(value=attack(base))
        def create(value):
            with rolled_back():
                body = {**fresh, **_body(viewset, target, value, representation)}
                _exercise_api(write_client, viewset, f"/api/v1/{prefix}/", "POST", body,
                              f"POST {prefix} {'.'.join(target)}={value!r}")
        create()


# --- the forms --------------------------------------------------------------------------------------------------


def _edit_pages(patterns=None, namespace: str = "") -> list[tuple[str, type]]:
    """(URL name, view) of every add and edit page in the URLconf."""
    found = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            found += _edit_pages(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            view = getattr(pattern.callback, "view_class", None)
            if isinstance(view, type) and issubclass(view, ObjectEditView) and view.form_class is not None:
                found.append((namespace + pattern.name, view))
    return sorted(set(found), key=lambda x: x[0])


PAGES = _edit_pages()


def _form_data(form) -> dict:
    """What a browser would post back for an unchanged form."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, (list, tuple)):
            data[name] = [str(v) for v in value]
        elif value is not None:
            data[name] = str(value)
    return data


def _text(value) -> str:
    """A posted value as the text the strategies start from (a list: its first item; a file: none)."""
    return "" if isinstance(value, bytes) else value if isinstance(value, str) else value[0]


def test_every_model_an_operator_edits_has_an_add_and_an_edit_page():
    models = {view.model for _name, view in PAGES}
    assert {m._meta.label_lower for m in models} >= set(estate_module.FRESH), "a model lost its pages?"
    assert len(PAGES) >= 2 * len(estate_module.FRESH)


@pytest.mark.parametrize("name, view", PAGES, ids=[n for n, _ in PAGES])
def test_every_form_field_refuses_or_stays_well_formed(admin_client, estate, name, view):
    obj = view.model.objects.order_by("pk").first()
    adding = name.endswith("_add")
    url = reverse(name) if adding else reverse(name, args=[obj.pk])
    stored = _form_data(view.form_class(instance=obj))
    form = view.form_class(instance=None if adding else obj)
    base = {**stored, **({k: v if isinstance(v, bytes) else str(v)
                          for k, v in estate_module.FRESH[view.model._meta.label_lower].items()
                          if k in form.fields} if adding else {})}
    edit_fields = set(view.form_class(instance=obj).fields)
    for field in form.fields:
        stored_value = _text(base.get(field, ""))

        @budget(PER_FIELD["edit" if not adding else "add" if field in edit_fields else "add-only"])
        @given(value=typed(stored_value))
        @example(value=attack(stored_value))
        def post(value):
            with rolled_back():
                response = admin_client.post(url, _uploads({**base, field: value}))
                context = f"POST {url} {field}={value!r}"
                assert response.status_code in (200, 302, 400), f"{context}: {response.status_code}"
                if response.status_code == 400:
                    assert response.context["form"].errors, f"{context}: a 400 without a form error"
                else:
                    check_accepted(view.model, context)
        post()


# --- the CSV import ---------------------------------------------------------------------------------------------

BASE_LINE = {"extension": "1002", "name": "Luis Pérez", "email": "luis@example.test", "site": "central",
             "password": "", "voicemail_pin": "", "enabled": "yes", "voicemail": "yes",
             "voicemail_email": "vm.luis@example.test", "caller_id": "Luis <+34911000002>", "nat": "no",
             "codecs": "alaw,ulaw", "blf": "1001:Front desk"}


def _csv_columns() -> list[str]:
    from users import csvio

    columns = list(getattr(csvio, "ALL_COLUMNS", BASE_LINE))
    new = set(columns) - set(BASE_LINE)
    assert not new, f"give BASE_LINE a value for the new column(s) {new}"
    return columns


def _column_width(column: str) -> int | None:
    from django.core.exceptions import FieldDoesNotExist

    from users.models import SipUser

    try:
        return getattr(SipUser._meta.get_field(column), "max_length", None)
    except FieldDoesNotExist:
        return None


def _import(path: Path, secrets: Path) -> tuple[bool, str]:
    """Run ``manage.py import_users``: (imported?, what it said)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_users", str(path), f"--secrets-file={secrets}", stdout=out, stderr=err)
    except CommandError as exc:
        return False, f"{exc}\n{err.getvalue()}"
    return True, out.getvalue() + err.getvalue()


def test_every_csv_column_refuses_with_its_line_number_or_stays_well_formed(estate, tmp_path):
    from users.models import SipUser

    columns = _csv_columns()
    counter = iter(range(10**6))
    for column in columns:
        @budget(PER_FIELD["csv"])
        @given(value=typed(BASE_LINE[column]), extension=st.sampled_from(["1002", "1001"]))
        @example(value=attack(BASE_LINE[column]), extension="1002")
        @example(value=long(BASE_LINE[column], _column_width(column)), extension="1001")
        def run(value, extension):
            n = next(counter)
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(columns)
            writer.writerow([{**BASE_LINE, "extension": extension, column: value}[c] for c in columns])
            path, secrets = tmp_path / f"users-{n}.csv", tmp_path / f"secrets-{n}.csv"
            path.write_text(buffer.getvalue(), encoding="utf-8")
            with rolled_back():
                imported, said = _import(path, secrets)
                context = f"CSV {column}={value!r} (extension {extension})"
                if imported:
                    check_accepted(SipUser, context)
                else:  # (a quoted cell may hold line breaks: the record spans lines 2 to the file's last)
                    last = len(re.findall(r"\r\n|\r|\n", buffer.getvalue()))
                    named = {int(n) for n in re.findall(r"line (\d+)", said, re.IGNORECASE)}
                    assert named and named <= set(range(2, last + 1)), f"{context}: refused without naming its line: " \
                                                                      f"{said[:300]}"
        run()
