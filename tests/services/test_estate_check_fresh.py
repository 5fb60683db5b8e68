"""The estate check on a fresh `make run`: the demo estate with the simulator answering for its nodes is green;
a Kamailio that answers a method with an error is reported as that method's failure, not as unreachable; a
port nobody listens on is unreachable."""
from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from tests.fakes.ami import closed_port
from tests.fakes.kamailio_rpc import KamailioFake, running_kamailio_fake
from voipadmin.connectors.errors import NodeError, RpcFault
from voipadmin.connectors.kamailio import KamailioRpc


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


def _check(capsys, *args: str) -> tuple[int, str]:
    try:
        call_command("check_estate", *args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().out


@pytest.fixture
def demo_estate_with_simulator(transactional_db, settings, tmp_path):
    """`make run`: load_demo_estate, then the simulator answering for every node (on free loopback ports, so
    that tests running side by side never meet on the demo's fixed ones)."""
    from sites.models import AsteriskNode, KamailioNode

    settings.DEBUG = True
    settings.LIVE_RELOAD = False  # (what `make run`'s worker does after commit is not under test here)
    call_command("load_demo_estate")
    for node in AsteriskNode.objects.all():  # (test setup, not a change through the portal)
        AsteriskNode.objects.filter(pk=node.pk).update(
            ami_port=closed_port(), ari_url=_with_port(node.ari_url, closed_port()) if node.ari_url else "")
    for node in KamailioNode.objects.all():
        KamailioNode.objects.filter(pk=node.pk).update(jsonrpc_url=_with_port(node.jsonrpc_url, closed_port()))
    kamailio = KamailioNode.objects.get(name="kamailio-1")

    errors: list[BaseException] = []
    stop_file = tmp_path / "stop-simulator"

    def simulate():
        try:
            call_command("simulate_estate", "--seconds", "60", "--tick", "0.5", "--seed", "13",
                         "--stop-file", str(stop_file))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=simulate, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not errors:
        try:
            with KamailioRpc(kamailio.jsonrpc_url, timeout=0.5) as rpc:
                rpc.core_version()
            break
        except NodeError:
            time.sleep(0.1)
    assert not errors, errors
    time.sleep(0.5)  # (the AMI and ARI fakes start on the same loop, right after the RPC one)
    yield kamailio
    stop_file.touch()
    thread.join(20)
    assert not errors, errors


def test_a_fresh_demo_estate_with_the_simulator_running_is_green(demo_estate_with_simulator, capsys):
    code, out = _check(capsys, "--timeout", "3")
    assert code == 0, out
    assert "kamailio-1: in sync (dispatcher, address, dialplan, uacreg)." in out
    assert "Estate in sync." in out and "unreachable" not in out and "failed" not in out


def test_the_estate_check_page_of_a_fresh_demo_estate_is_green(demo_estate_with_simulator, client, alice):
    client.force_login(alice)
    body = client.get(reverse("services:estate_check")).content.decode()
    assert 'id="estate-status" class="alert alert-success"' in body and "Estate in sync." in body


def test_the_simulator_answers_every_method_the_check_and_the_poller_call(demo_estate_with_simulator):
    from voipadmin.kamailio.models import Address

    with KamailioRpc(demo_estate_with_simulator.jsonrpc_url, timeout=2) as rpc:
        for method in ("core.uptime", "core.version", "ul.dump", "uac.reg_dump", "dispatcher.list",
                       "permissions.addressDump", "permissions.subnetDump", "stats.get_statistics"):
            rpc.call(method)
        rpc.dialplan_dump(1)
        hosts = {(e["group"], e["item"]["ip"]) for e in rpc.address_dump()}
    assert hosts == {(a.grp, a.ip_addr) for a in Address.objects.all() if a.mask in (32, 128)}


class _NoSubnetDump(KamailioFake):
    """A Kamailio whose permissions module does not answer ``subnetDump`` (the old simulator's gap)."""

    def dispatch(self, method, params):
        if method == "permissions.subnetDump":
            return 500, "Method Not Found", None
        return super().dispatch(method, params)


def test_a_method_the_kamailio_does_not_have_is_reported_as_that_methods_failure_not_as_unreachable(
        db, actor, capsys, client, alice):
    from sites.actions import create_kamailio_node

    fake = _NoSubnetDump().start()
    try:
        create_kamailio_node(actor=actor, name="kamailio-nosubnet", sip_address="127.0.0.1:5060",
                             jsonrpc_url=fake.url)
        code, out = _check(capsys, "--timeout", "1")
        client.force_login(alice)
        body = client.get(reverse("services:estate_check")).content.decode()
    finally:
        fake.stop()
    assert code == 1
    assert ("kamailio-nosubnet: permissions.subnetDump failed: Method Not Found "
            "(is the permissions module loaded?)") in out
    assert "unreachable" not in out
    assert "permissions.subnetDump failed: Method Not Found (is the permissions module loaded?)" in body
    assert "kamailio-nosubnet unreachable" not in body


def test_a_loopback_port_nobody_listens_on_is_unreachable(db, actor, capsys, client, alice):
    from sites.actions import create_kamailio_node

    create_kamailio_node(actor=actor, name="kamailio-down", sip_address="127.0.0.1:5060",
                         jsonrpc_url=f"http://127.0.0.1:{closed_port()}/RPC")
    code, out = _check(capsys, "--timeout", "0.5")
    client.force_login(alice)
    body = client.get(reverse("services:estate_check")).content.decode()
    assert code == 1 and "kamailio-down: unreachable (connection refused)" in out
    assert "kamailio-down: unreachable" in body and "Unreachable (connection refused)" in body


# -- the connector tells the two apart -------------------------------------------------------------------------


def test_the_connector_raises_an_rpc_fault_for_an_error_answer_and_a_plain_error_for_no_answer():
    with running_kamailio_fake() as fake, KamailioRpc(fake.url) as rpc:
        with pytest.raises(RpcFault) as fault:
            rpc.call("permissions.subnetDump.nope")
    err = fault.value
    assert (err.method, err.code, err.message) == ("permissions.subnetDump.nope", 500, "Method Not Found")
    assert err.answered and err.permanent and err.method_missing
    assert err.reason == "unknown method permissions.subnetDump.nope", "the reason callers match on is unchanged"
    assert err.describe() == ("permissions.subnetDump.nope failed: Method Not Found "
                              "(is the permissions module loaded?)")

    with KamailioRpc(f"http://127.0.0.1:{closed_port()}/RPC", timeout=0.5) as rpc, pytest.raises(NodeError) as down:
        rpc.core_uptime()
    assert not isinstance(down.value, RpcFault) and not down.value.answered
    assert down.value.describe() == "unreachable (connection refused)"


def test_a_transient_error_answer_is_a_fault_too_and_survives_pickling():
    import pickle

    with running_kamailio_fake() as fake, KamailioRpc(fake.url) as rpc:
        rpc.dispatcher_reload()
        with pytest.raises(RpcFault) as fault:
            rpc.dispatcher_reload()  # within 5 s: "Ongoing reload"
    assert not fault.value.permanent and fault.value.describe() == "dispatcher.reload failed: Ongoing reload"
    copy = pickle.loads(pickle.dumps(fault.value))
    assert (copy.method, copy.message, copy.reason) == ("dispatcher.reload", "Ongoing reload", fault.value.reason)


def test_a_wrong_password_is_not_unreachable_either():
    with running_kamailio_fake(username="kam", password="pw") as fake:
        with KamailioRpc(fake.url, username="kam", password="nope") as rpc, pytest.raises(NodeError) as err:
            rpc.core_version()
    assert err.value.answered and err.value.describe() == "authentication failed (HTTP 401)"
