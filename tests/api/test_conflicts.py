"""A write another one beat is a 409 that says why — in the API, on the edit page and on every other page.

The race is real: a user's new extension re-projects the DDI that rings it, which queues a dialplan reload for
every Kamailio node (a ``PushJob`` row referring to the node). While that request's transaction is still open,
a second connection deletes the Kamailio node and commits. PostgreSQL checks the job's foreign key at COMMIT
(Django's constraints are DEFERRABLE INITIALLY DEFERRED), so the request's commit fails with an IntegrityError
— a 500 before. Nothing of the request may be left behind, and trying again must work.
"""
from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client, RequestFactory

from push import api as push_api
from push.intents import KAMAILIO
from push.models import PushJob
from sites.models import KamailioNode
from users.models import SipUser
from voipadmin.middleware import ConflictMiddleware
from voipadmin.models import ChangeLogEntry

from .conftest import auth

pytestmark = pytest.mark.django_db(transaction=True)


def _delete_in_another_connection(node_id: int) -> None:
    """What a second administrator's "delete node" does, committed before the first request commits."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            KamailioNode.objects.filter(pk=node_id).delete()
        except BaseException as exc:  # reported below, in the test's thread
            failure.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "the node delete waited on the request's transaction"
    assert not failure, failure


@pytest.fixture
def node_deleted_mid_request(monkeypatch, estate):
    """Delete the Kamailio node the moment the request has queued its reload (once)."""
    node_id = estate["kamailio"].pk
    # The node owes one open job per command, which a request joins (row-locked until it commits, so a delete
    # would wait for it): start with none, so the request opens its own, the row whose foreign key is raced.
    PushJob.objects.filter(state="pending").delete()
    original = push_api.add_job

    def add_job(kind, node, command, reason=""):
        job = original(kind, node, command, reason)
        if kind == KAMAILIO and node.pk == node_id and KamailioNode.objects.filter(pk=node_id).exists():
            _delete_in_another_connection(node_id)
        return job

    monkeypatch.setattr(push_api, "add_job", add_job)
    return node_id


def _unchanged(user: SipUser) -> None:
    stored = SipUser.objects.get(pk=user.pk)
    assert stored.extension == 2001
    assert not ChangeLogEntry.objects.filter(object_id=str(user.pk), action="update").exists()


def test_an_api_patch_racing_a_node_delete_is_a_409_that_saves_nothing(estate, write_key, node_deleted_mid_request,
                                                                         require_postgres):
    user = estate["user"]
    client = Client(raise_request_exception=False)
    response = client.patch(f"/api/v1/users/{user.pk}/", {"extension": 2002}, content_type="application/json",
                            **auth(write_key))
    assert response.status_code == 409, response.content
    assert response.json() == {"detail": "The Kamailio node it refers to (kamailio_node "
                                         f"{node_deleted_mid_request}) was deleted meanwhile. "
                                         "Nothing was saved: reload and try again."}
    _unchanged(user)
    again = client.patch(f"/api/v1/users/{user.pk}/", {"extension": 2002}, content_type="application/json",
                         **auth(write_key))
    assert again.status_code == 200 and SipUser.objects.get(pk=user.pk).extension == 2002


def test_the_edit_page_racing_a_node_delete_is_a_409_that_keeps_the_form(estate, alice, node_deleted_mid_request,
                                                                         require_postgres):
    user = estate["user"]
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.post(f"/users/{user.pk}/edit/", {
        "extension": "2002", "name": "Ann Typed This", "email": "", "site": user.site_id, "enabled": "on",
        "caller_id": "", "codecs": user.codecs, "voicemail_email": ""})
    body = response.content.decode()
    assert response.status_code == 409, body[:2000]
    assert "was deleted meanwhile. Nothing was saved: reload and try again." in body
    assert 'value="Ann Typed This"' in body  # what was typed is still there
    _unchanged(user)


def test_any_other_page_answers_a_conflict_with_a_409_page(estate, alice, require_postgres):
    """The middleware, for pages that are not the generic edit view: a real refusal from PostgreSQL."""
    try:
        with transaction.atomic():
            KamailioNode.objects.create(name=estate["kamailio"].name, sip_address="127.0.0.1:5070",
                                        jsonrpc_url="http://127.0.0.1:1/RPC")
    except IntegrityError as exc:
        refusal = exc
    request = RequestFactory().post("/users/1/reset-password/")
    request.user = alice
    response = ConflictMiddleware(lambda r: None).process_exception(request, refusal)
    body = response.content.decode()
    assert response.status_code == 409
    assert f"Another change saved the same name ({estate['kamailio'].name}) first." in body
    assert ConflictMiddleware(lambda r: None).process_exception(request, ValueError("a bug")) is None
    api = RequestFactory().post("/api/v1/users/")
    assert ConflictMiddleware(lambda r: None).process_exception(api, refusal) is None  # the API answers itself
