"""kamailio.cfg route[APP_RELAY]: an Asterisk of the estate relays a conference room's caller to the room's home
node through the real Kamailio (UDP sockets on loopback stand in for the nodes and a phone).

A node (an address of group 1) sends X-VA-Node: <host:port>, X-VA-App: room=<pk>, X-VA-Site: <site>: the INVITE
reaches that node with X-VA-App and X-VA-Site, without X-VA-Node; a node that is not the estate's is refused
(403), a malformed header too (400); a phone's X-VA-Node is nothing (it is challenged, like any phone).
"""
from __future__ import annotations

import socket
import uuid

import pytest

from sites import actions as site_actions

from tests.services.test_kamailio_routing import Udp, udp  # noqa: F401 - the fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio]


def invite(sock: socket.socket, kamailio, user: str, headers: list[str]) -> str:
    """An INVITE from ``sock`` to Kamailio with ``headers``; returns its Call-ID."""
    host, port = sock.getsockname()
    call_id = uuid.uuid4().hex
    ruri = f"sip:{user}@{kamailio.sip_address}"
    sock.sendto("\r\n".join([
        f"INVITE {ruri} SIP/2.0", f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{call_id[:16]}",
        "Max-Forwards: 70", f"From: <sip:4001@voip.example.test>;tag=a{call_id[:8]}", f"To: <{ruri}>",
        f"Call-ID: {call_id}@{host}", "CSeq: 1 INVITE", f"Contact: <sip:4001@{host}:{port}>", *headers,
        "Content-Length: 0", "", ""]).encode(), ("127.0.0.1", kamailio.sip_port))
    return call_id


def reply_status(sock: socket.socket, timeout: float = 2.0) -> int | None:
    """The first final reply's status (100 Trying skipped)."""
    sock.settimeout(timeout)
    try:
        while True:
            line = sock.recvfrom(65535)[0].decode(errors="replace").split("\r\n", 1)[0]
            if line.startswith("SIP/2.0 ") and not line.startswith("SIP/2.0 1"):
                return int(line.split()[1])
    except TimeoutError:
        return None


def header_values(message: str, name: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in message.split("\r\n") if line.lower().startswith(name.lower() + ":")]


@pytest.fixture
def home(live_kamailio, eager_push, estate, actor, udp):  # noqa: F811
    """A node of the estate on a loopback socket: the room's home (127.0.0.1 is then in address group 1)."""
    node = udp()
    site_actions.create_asterisk_node(actor=actor, name="ast-home", site=estate["central"], host="127.0.0.1",
                                      sip_port=node.port, roles="pbx")
    return node


def test_a_node_relays_a_caller_to_the_rooms_home_node_with_the_application_header(live_kamailio, home, udp):  # noqa: F811
    sender = udp()
    invite(sender.sock, live_kamailio, "800", [f"X-VA-Node: 127.0.0.1:{home.port}", "X-VA-App: room=7",
                                               "X-VA-Site: branch1"])
    received = home.receive()
    assert received, live_kamailio.log_tail()
    message = received[0]
    assert message.startswith("INVITE sip:800@")
    assert header_values(message, "X-VA-App") == ["room=7"]
    assert header_values(message, "X-VA-Site") == ["branch1"]
    assert header_values(message, "X-VA-Node") == []


@pytest.mark.parametrize("headers, status", [
    (["X-VA-Node: 127.0.0.99:5060", "X-VA-App: room=7"], 403),  # not a node of the estate
    (["X-VA-Node: [::1]:5060", "X-VA-App: room=7"], 403),
    (["X-VA-Node: 127.0.0.1:5060", "X-VA-App: menu=7"], 400),
    (["X-VA-Node: node.example.test:5060", "X-VA-App: room=7"], 400),
])
def test_a_relay_to_anything_but_a_node_of_the_estate_is_refused(live_kamailio, home, udp, headers, status):  # noqa: F811
    sender = udp()
    invite(sender.sock, live_kamailio, "800", headers)
    assert reply_status(sender.sock) == status, live_kamailio.log_tail()
    assert home.receive(timeout=0.3) is None


def test_a_phones_relay_headers_are_nothing(live_kamailio, home):
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone.bind(("127.0.0.105", 0))  # not an address of the estate's nodes
    try:
        invite(phone, live_kamailio, "800", [f"X-VA-Node: 127.0.0.1:{home.port}", "X-VA-App: room=7"])
        assert reply_status(phone) == 407  # challenged like any phone
    finally:
        phone.close()
    assert home.receive(timeout=0.3) is None
