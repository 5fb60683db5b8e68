"""/api/v1/push-jobs/: read the outbox, retry like the UI; tokens and permissions as everywhere."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from push import api, tasks
from push.models import PushJob, PushState
from voipadmin.actors import Actor
from voipadmin.api.tokens import create_token
from voipadmin.models import ApiToken

from .conftest import make_asterisk, make_kamailio

pytestmark = [pytest.mark.postgres]
URL = "/api/v1/push-jobs/"


@pytest.fixture
def keys(db):
    actor = Actor.command("tests")
    return {"read": create_token(actor=actor, name="ro", scope=ApiToken.Scope.READ)[1],
            "write": create_token(actor=actor, name="rw", scope=ApiToken.Scope.WRITE)[1]}


def auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


@pytest.fixture
def jobs(site, fast_push, monkeypatch):
    monkeypatch.setattr(tasks, "dispatch", lambda *a, **k: None)
    for i in range(3):
        make_kamailio(f"kam-{i}", f"http://127.0.0.1:{1000 + i}/RPC")
        make_asterisk(site, f"pbx-{i}", 2000 + i)
    api.request(api.KAMAILIO, api.DISPATCHER_RELOAD, reason="dest added")
    api.request(api.ASTERISK, api.PJSIP_RELOAD, reason="user added")
    PushJob.objects.filter(node_kind="asterisk").update(state=PushState.FAILED, last_error="permanent: auth")


def test_the_list_reads_jobs_with_filters_in_constant_queries(client, keys, jobs, require_postgres):
    client.get(URL, **auth(keys["read"]))  # (the token's first use is recorded once)
    with CaptureQueriesContext(connection) as many:
        body = client.get(URL, **auth(keys["read"])).json()
    assert body["count"] == 6
    job = next(j for j in body["results"] if j["node_kind"] == "kamailio")
    assert job["command"] == "dispatcher.reload" and job["state"] == "pending" and job["reasons"] == "dest added"
    assert job["node"] == PushJob.objects.get(pk=job["id"]).kamailio_node_id and job["held"] == ""
    with CaptureQueriesContext(connection) as one:
        client.get(URL, {"per_page": 1}, **auth(keys["read"]))
    assert len(one.captured_queries) == len(many.captured_queries)
    failed = client.get(URL, {"state": "failed", "node_kind": "asterisk"}, **auth(keys["read"])).json()
    assert failed["count"] == 3 and {j["last_error"] for j in failed["results"]} == {"permanent: auth"}


def test_retry_needs_a_write_token_and_requeues_the_job(client, keys, jobs):
    job = PushJob.objects.filter(state=PushState.FAILED).first()
    url = f"{URL}{job.pk}/retry/"
    assert client.post(url, **auth(keys["read"])).status_code == 403
    response = client.post(url, **auth(keys["write"]))
    assert response.status_code == 200 and response.json()["state"] == "pending"
    assert client.post(f"{URL}retry-failed/", **auth(keys["write"])).json()["queued"] == 2

    PushJob.objects.filter(pk=job.pk).update(state=PushState.SENT)
    response = client.post(url, **auth(keys["write"]))
    assert response.status_code == 400 and "already sent" in str(response.json())
    assert client.post(f"{URL}999999/retry/", **auth(keys["write"])).status_code == 404
