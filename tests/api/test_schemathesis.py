"""schemathesis against the API schema, every check enabled: no 5xx, every answer (404s and errors included)
documented and matching the schema, every schema-valid query answered.

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
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from voipadmin.actors import Actor
from voipadmin.api.tokens import create_token
from voipadmin.wsgi import application

from .conftest import auth, build_estate

MAX_EXAMPLES = 12


def _served_schema() -> dict:
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


# Every check schemathesis has, on examples and fuzzing (bounded; the exhaustive "coverage" phase would take
# minutes on 60 operations).
#
# One allowance, the one schemathesis documents for rules a schema cannot express (ST202, "Schema-valid request
# rejected"): a *write* may be refused with a 400 naming the field. A body can be well-formed and still name a
# site that does not exist, a code or extension taken, an ITSP by IP with no address, a NUL PostgreSQL cannot
# store — the estate decides, and a client must be told which field is wrong. Reads get no allowance: any query
# the schema allows is answered (an unknown id in a filter is an empty list, a far-off time a bound).
WRITES = {"include-method": ["POST", "PUT", "PATCH"],
          "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", "400", "401", "403", "404",
                                                                          "409", "429", "5xx"]}}}
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}},
                                       "checks": {"max_response_time": 10.0}, "operations": [WRITES]})
schema = schemathesis.openapi.from_dict(_served_schema(), config=CONFIG)
schema.app = application


@pytest.fixture(scope="module")
def shared_estate(django_db_setup, django_db_blocker):
    """The small estate, built once for the module in a transaction rolled back at its end.

    Each operation's test runs in a savepoint of it (pytest-django's ``db``), so every one starts from the
    same estate and leaves nothing behind — and the estate is not rebuilt 76 times (half the file's time).
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build_estate()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def api_key(shared_estate, db):
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
    case.validate_response(response, headers={"Authorization": f"Token {api_key}"})
