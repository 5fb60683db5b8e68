"""Every query the schema allows is answered, and every answer is the one the schema documents.

The same rules schemathesis holds the API to (tests/api/test_schemathesis.py), asserted directly over every
list endpoint of the router, so an endpoint or filter added later is covered without editing this file.
"""
from __future__ import annotations

import django_filters
import pytest
from drf_spectacular.generators import SchemaGenerator

from voipadmin.api_urls import router

from .conftest import auth

LISTS = [(prefix, viewset) for prefix, viewset, _ in router.registry if getattr(viewset, "filterset_class", None)]
ALL_LISTS = [prefix for prefix, _viewset, _ in router.registry] + ["nodes"]


def _object_filters():
    for prefix, viewset in LISTS:
        for name, flt in viewset.filterset_class.base_filters.items():
            if isinstance(flt, django_filters.ModelChoiceFilter):
                yield prefix, name, flt


OBJECT_FILTERS = list(_object_filters())


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize("url", ["/api/v1/users/1.5/", "/api/v1/nowhere/", "/api/v2/", "/api/v1/users/1/x/"])
def test_a_url_no_route_matches_is_a_json_404(client, write_key, url):
    response = client.get(url, **auth(write_key))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and response.json() == {"detail": "Not found."}


def test_a_page_that_does_not_exist_is_still_a_page(admin_client):
    response = admin_client.get("/sites/no-such-page/")
    assert response.status_code == 404 and "There is nothing at this address." in response.content.decode()


@pytest.mark.parametrize("prefix,name,flt", OBJECT_FILTERS, ids=[f"{p}?{n}" for p, n, _ in OBJECT_FILTERS])
def test_a_filter_naming_an_object_that_does_not_exist_answers_an_empty_list(client, estate, read_key, prefix,
                                                                             name, flt):
    model = flt.field.queryset.model
    target = model._meta.get_field(flt.field.to_field_name) if flt.field.to_field_name else model._meta.pk
    integer = target.get_internal_type() in ("AutoField", "BigAutoField", "IntegerField", "BigIntegerField")
    response = client.get(f"/api/v1/{prefix}/", {name: 987654321 if integer else "no-such-thing"}, **auth(read_key))
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []
    if integer:  # the wrong shape is still the client's mistake
        response = client.get(f"/api/v1/{prefix}/", {name: "abc"}, **auth(read_key))
        assert response.status_code == 400 and name in response.json()


@pytest.mark.parametrize("prefix", ["audit-log", "cdrs"])
@pytest.mark.parametrize("since,until,everything", [
    ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", True),  # year 0 and year 10000 in UTC
    ("0605-05-24T16:12:00+19:01", "0614-08-04T07:29:28-04:31", False),
    ("9999-12-31T23:00:00Z", "9999-12-31T23:59:59Z", False),  # year 10000 in the CDRs' +14:00
])
def test_a_time_past_the_ends_of_the_calendar_is_a_bound_not_an_error(client, estate, read_key, settings, prefix,
                                                                      since, until, everything):
    settings.CDR_TIME_ZONE = "Pacific/Kiritimati"
    response = client.get(f"/api/v1/{prefix}/", {"since": since, "until": until}, **auth(read_key))
    assert response.status_code == 200, response.content
    assert bool(response.json()["results"]) is everything


def test_an_empty_query_parameter_is_documented_and_answered_as_not_given(client, estate, read_key, schema):
    for path, operations in schema["paths"].items():
        operation = operations.get("get")
        if operation is None or "{" in path:
            continue
        params = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        assert all(p.get("allowEmptyValue") for p in params), path
        response = client.get(path, {p["name"]: "" for p in params}, **auth(read_key))
        assert response.status_code == 200, (path, response.content[:300])


def test_choices_a_function_gives_are_documented_as_an_enum(schema):
    params = {p["name"]: p for p in schema["paths"]["/api/v1/push-jobs/"]["get"]["parameters"]}
    assert "dialplan.reload" in params["command"]["schema"]["enum"]


def test_a_format_the_endpoint_does_not_give_is_a_400_naming_the_ones_it_does(client, estate, read_key):
    response = client.get("/api/v1/cdrs/export.csv", {"format": "xml"}, **auth(read_key))
    assert response.status_code == 400 and response.json() == {"format": ["Choose csv or json."]}


@pytest.mark.parametrize("prefix", ALL_LISTS)
def test_a_page_size_or_yes_no_the_schema_refuses_is_a_400_not_another_answer(client, estate, read_key, prefix):
    size = "limit" if prefix == "cdrs" else "per_page"
    for bad in ("0", "-1", "1.5", "1e3", "٥", "null", "100001"):
        response = client.get(f"/api/v1/{prefix}/", {size: bad}, **auth(read_key))
        assert response.status_code == 400 and size in response.json(), (prefix, bad)
    if prefix in ("nodes", "users", "trunks"):
        response = client.get(f"/api/v1/{prefix}/", {"enabled": "null"}, **auth(read_key))
        assert response.status_code == 400 and response.json() == {"enabled": "Give true or false."}
