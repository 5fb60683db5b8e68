"""Every API write with bad data is a 400 naming the field, never a 500.

schemathesis fuzzes within the schema's limits; this walks every writable field of every
resource with values from outside them (over-long text, wrong types, huge numbers), sent as
a create and as a PATCH of an existing object.
"""
from __future__ import annotations

import json

import pytest

from voipadmin.api_urls import router

from .conftest import auth

BAD_VALUES = [None, -1, 10**20, "x", "a" * 5000, [], {}, [1, "a"], True, 1.5, "\u202e"]
WRITABLE = [(prefix, viewset) for prefix, viewset, _ in router.registry if hasattr(viewset, "create")]


@pytest.mark.parametrize("prefix, viewset", WRITABLE, ids=[p for p, _ in WRITABLE])
def test_no_bad_value_in_any_writable_field_is_a_500(client, estate, write_key, prefix, viewset):
    fields = [name for name, field in viewset.serializer_class().fields.items() if not field.read_only]
    obj = viewset.queryset.model.objects.order_by("pk").first()
    failures = []
    for name in fields:
        for bad in BAD_VALUES:
            for method, url in (("POST", f"/api/v1/{prefix}/"), ("PATCH", f"/api/v1/{prefix}/{obj.pk}/")):
                response = client.generic(method, url, json.dumps({name: bad}), content_type="application/json",
                                          **auth(write_key))
                if response.status_code >= 500 or (method == "PATCH" and response.status_code not in (200, 400)):
                    failures.append((method, name, repr(bad)[:20], response.status_code))
    assert not failures, failures


@pytest.mark.parametrize("body, content_type", [
    (b"{not json", "application/json"), (b"[]", "application/json"), (b'"text"', "application/json"),
    (b"\xff\xfe", "application/json"), (b"a=b", "application/x-www-form-urlencoded")])
def test_a_malformed_body_is_a_400_everywhere(client, estate, write_key, body, content_type):
    for prefix, viewset in WRITABLE:
        response = client.generic("POST", f"/api/v1/{prefix}/", body, content_type=content_type, **auth(write_key))
        # (dispatcher sets, menus and AGI applications read JSON only: their nested lists would not survive a form
        # body, which is refused as a media type, 415, before it is read)
        json_only = [p.media_type for p in viewset.parser_classes] == ["application/json"]
        expected = 415 if json_only and content_type != "application/json" else 400
        assert response.status_code == expected, (prefix, response.status_code, response.content[:200])
