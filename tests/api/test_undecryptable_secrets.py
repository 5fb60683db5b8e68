"""A node or trunk secret the portal's keys cannot decrypt (``SECRET_KEY`` changed without
``VOIPADMIN_CREDENTIALS_KEY``) shows as "cannot be decrypted — re-enter it", is logged once, and takes no page
down; the poller, the pusher and the estate check report the node as misconfigured; nothing is lost."""
from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from live import actions as live_actions
from live.choices import Health
from push import gateway
from push.intents import ASTERISK, KAMAILIO
from services import estate as estate_check
from sites import actions as site_actions
from sites.models import AsteriskNode, KamailioNode
from trunks import projection as trunk_projection
from trunks.models import ItspTrunk
from voipadmin.actors import Actor
from voipadmin.connectors.errors import NodeError
from voipadmin.fields import UNDECRYPTABLE
from voipadmin.kamailio.models import UacReg

from .conftest import auth

SYSTEM = Actor.command("tests")
SECRETS = ("ami-secret-value-1", "ari-secret-value-2", "rpc-secret-value-3", "trunk-secret-value-5")


@pytest.fixture
def keys_changed(estate, settings):
    """The estate's secrets were written with the old key; the portal now runs with another one."""
    old = list(settings.CREDENTIALS_KEYS)
    settings.CREDENTIALS_KEYS = [Fernet.generate_key()]
    return old


def _stored(model, column: str, pk: int) -> str:
    """The column as stored (the ciphertext)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE {model._meta.pk.column} = %s", [pk])
        return cursor.fetchone()[0]


def test_pages_show_the_marker_and_stay_up(admin_client, estate, keys_changed, caplog):
    node, kam, trunk = estate["node"], estate["kamailio"], estate["trunk"]
    caplog.set_level(logging.WARNING, logger="voipadmin.fields")
    for url in ["/dashboard/", "/live/fragments/estate/", f"/nodes/asterisk/{node.pk}/", f"/nodes/kamailio/{kam.pk}/",
                f"/trunks/itsp/{trunk.pk}/", f"/live/nodes/asterisk/{node.pk}/", f"/live/nodes/kamailio/{kam.pk}/",
                "/nodes/asterisk/", "/trunks/itsp/", "/audit/"]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
    for url in [f"/nodes/asterisk/{node.pk}/", f"/nodes/kamailio/{kam.pk}/", f"/trunks/itsp/{trunk.pk}/",
                f"/nodes/asterisk/{node.pk}/edit/", f"/nodes/kamailio/{kam.pk}/edit/",
                f"/trunks/itsp/{trunk.pk}/edit/"]:
        body = admin_client.get(url).content.decode()
        assert UNDECRYPTABLE in body, url
        assert _stored(ItspTrunk, "auth_password", trunk.pk) not in body
    warnings = [r for r in caplog.records if "cannot be decrypted" in r.getMessage()]
    assert sorted(r.getMessage().split(" of a stored")[0] for r in warnings) == [  # once each, however many pages
        "AsteriskNode.ami_secret", "AsteriskNode.ari_password", "ItspTrunk.auth_password",
        "KamailioNode.jsonrpc_password"]


def test_the_api_marks_each_secret_that_must_be_sent_again(client, estate, keys_changed, read_key):
    node, kam, trunk = estate["node"], estate["kamailio"], estate["trunk"]
    answers = {f"/api/v1/nodes/asterisk/{node.pk}/": {"ami_secret": UNDECRYPTABLE, "ari_password": UNDECRYPTABLE},
               f"/api/v1/nodes/kamailio/{kam.pk}/": {"jsonrpc_password": UNDECRYPTABLE},
               f"/api/v1/trunks/itsp/{trunk.pk}/": {"auth_password": UNDECRYPTABLE}}
    for url, marked in answers.items():
        response = client.get(url, **auth(read_key))
        assert response.status_code == 200, url
        assert response.json()["undecryptable_secrets"] == marked
        listing = client.get(url.rsplit("/", 2)[0] + "/", **auth(read_key))
        assert listing.status_code == 200 and listing.json()["results"][0]["undecryptable_secrets"] == marked
    for url in ["/api/v1/nodes/", "/api/v1/trunks/"]:
        assert client.get(url, **auth(read_key)).status_code == 200


def test_the_api_marks_nothing_while_the_keys_read_them(client, estate, read_key):
    body = client.get(f"/api/v1/nodes/asterisk/{estate['node'].pk}/", **auth(read_key)).json()
    assert body["undecryptable_secrets"] == {} and body["ami_secret_set"] is True


def test_the_poller_the_pusher_and_the_estate_check_call_the_node_misconfigured(estate, keys_changed):
    node = AsteriskNode.objects.get(pk=estate["node"].pk)
    kam = KamailioNode.objects.get(pk=estate["kamailio"].pk)
    result = live_actions.test_node_connection(node, actor=SYSTEM, timeout=0.2)
    assert result.state == Health.DOWN
    assert result.reason == ("misconfigured: AMI secret, ARI password cannot be decrypted — re-enter it on the "
                             "Asterisk node's page")
    assert live_actions.test_node_connection(kam, actor=SYSTEM, timeout=0.2).reason.startswith(
        "misconfigured: JSON-RPC password cannot be decrypted")
    for kind, target, command in [(ASTERISK, node, "dialplan reload"), (KAMAILIO, kam, "dispatcher.reload")]:
        with pytest.raises(NodeError) as refused:
            gateway.send(kind, target, command, timeout=0.2)
        assert refused.value.permanent and refused.value.reason.startswith("misconfigured: ")
    assert estate_check.check_node(kam, timeout=0.2).error.startswith("misconfigured: JSON-RPC password")


def test_nothing_is_lost_and_re_entering_the_secret_mends_it(estate, keys_changed, settings):
    node, trunk = estate["node"], estate["trunk"]
    ciphertext = _stored(AsteriskNode, "ami_secret", node.pk)
    kamailio_password = UacReg.objects.get(l_uuid=trunk.name).auth_password
    node = site_actions.update_asterisk_node(AsteriskNode.objects.get(pk=node.pk), actor=SYSTEM, notes="moved rack")
    assert _stored(AsteriskNode, "ami_secret", node.pk) == ciphertext  # left as it was
    assert trunk_projection.sync_uacreg() is False  # Kamailio keeps registering with what it has
    assert UacReg.objects.get(l_uuid=trunk.name).auth_password == kamailio_password == SECRETS[3]
    site_actions.update_asterisk_node(node, actor=SYSTEM, ami_secret="a-new-ami-secret")
    fresh = AsteriskNode.objects.get(pk=node.pk)
    assert fresh.ami_secret == "a-new-ami-secret" and live_actions.asterisk_target(fresh).misconfigured == (
        "misconfigured: ARI password cannot be decrypted — re-enter it on the Asterisk node's page")
    settings.CREDENTIALS_KEYS = [*settings.CREDENTIALS_KEYS, *keys_changed]  # the old key back, second
    assert ItspTrunk.objects.get(pk=trunk.pk).auth_password == SECRETS[3]
    assert AsteriskNode.objects.get(pk=node.pk).ari_password == SECRETS[1]
