"""schemathesis against the API schema: no 5xx, every answer matches the schema.

The schema is the one /api/schema/ serves (asserted below); it is built at collection time
because schemathesis' lazy fixture loader does not run under pytest 9. Bounded (a few
examples per operation) so the whole file stays well under a minute and a half. Every
operation is called through the real WSGI application with a read-write token on a small
estate; writes happen inside the test's transaction and are rolled back.
"""
from __future__ import annotations

import json

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from voipadmin.actors import Actor
from voipadmin.api.tokens import create_token
from voipadmin.wsgi import application

from .conftest import auth

MAX_EXAMPLES = 12


def _served_schema() -> dict:
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


# Examples and fuzzing, bounded; the exhaustive "coverage" phase would take minutes on 60 operations.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(_served_schema(), config=CONFIG)
schema.app = application


@pytest.fixture
def api_key(estate):
    # Like Django's test client: a request must not close the test's connection (and transaction).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield create_token(actor=Actor.command("schemathesis"), name="schemathesis", scope="write")[1]
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_the_fuzzed_schema_is_the_one_api_schema_serves(client, write_key):
    response = client.get("/api/schema/?format=json", **auth(write_key))
    assert response.status_code == 200
    assert json.loads(response.content)["paths"].keys() == _served_schema()["paths"].keys()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_never_fails_and_always_answers_as_documented(case, api_key):
    response = case.call(headers={"Authorization": f"Token {api_key}"})
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
