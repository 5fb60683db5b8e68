"""kamailio.cfg really routes with what the portal wrote: SIP INVITEs sent to the suite's Kamailio arrive
at the Asterisk (a UDP socket standing in for it) the dialplan rules and dispatcher sets name.

Only loopback: the "phone" and the "Asterisks" are UDP sockets on 127.0.0.1.
"""
from __future__ import annotations

import socket
import time
import uuid

import pytest

from services import actions
from trunks import actions as trunk_actions

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio]


class Udp:
    """A UDP endpoint on loopback that records the SIP requests it receives and can answer them. Like the
    Asterisk or carrier it stands in for, it answers Kamailio's OPTIONS keepalives (200) while it listens."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()

    def receive(self, method: str = "INVITE", timeout: float = 2.0) -> tuple[str, tuple] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                return None
            text = data.decode(errors="replace")
            if text.startswith(method + " "):
                return text, addr
            if text.startswith("OPTIONS "):
                self.reply(text, addr, code=200, reason="OK")
        return None

    def reply(self, request: str, addr, code: int = 503, reason: str = "Service Unavailable") -> None:
        headers = [line for line in request.split("\r\n")
                   if line.split(":", 1)[0].lower() in ("via", "from", "call-id", "cseq")]
        to = next(line for line in request.split("\r\n") if line.lower().startswith("to:"))
        message = "\r\n".join([f"SIP/2.0 {code} {reason}", *headers, f"{to};tag=udp{self.port}",
                               "Content-Length: 0", "", ""])
        self.sock.sendto(message.encode(), addr)


@pytest.fixture
def udp():
    endpoints = []

    def make() -> Udp:
        endpoints.append(Udp())
        return endpoints[-1]

    yield make
    for endpoint in endpoints:
        endpoint.close()


def send_invite(phone: Udp, kamailio, user: str, *, from_user: str = "1001") -> str:
    call_id = uuid.uuid4().hex
    ruri = f"sip:{user}@{kamailio.sip_address}"
    message = "\r\n".join([
        f"INVITE {ruri} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{phone.port};branch=z9hG4bK{call_id[:16]}",
        "Max-Forwards: 70",
        f"From: <sip:{from_user}@voip.example.test>;tag=a{call_id[:8]}",
        f"To: <{ruri}>",
        f"Call-ID: {call_id}@127.0.0.1",
        "CSeq: 1 INVITE",
        f"Contact: <sip:{from_user}@127.0.0.1:{phone.port}>",
        "Content-Length: 0", "", ""])
    phone.sock.sendto(message.encode(), ("127.0.0.1", kamailio.sip_port))
    return call_id


def _node(actor, site, name: str, port: int):
    from sites import actions as site_actions

    return site_actions.create_asterisk_node(actor=actor, name=name, site=site, host="127.0.0.1", sip_port=port,
                                             roles="pbx,voicemail")


def _trust_loopback(kamailio, group: int = 1) -> None:
    """The test's phone sends from 127.0.0.1: make it a trusted peer (group 1 is not the portal's)."""
    from voipadmin.kamailio.models import Address

    Address.objects.create(grp=group, ip_addr="127.0.0.1", mask=32, port=0, tag="test-phone")
    kamailio.rpc("permissions.addressReload")


def _request_line(text: str) -> str:
    return text.split("\r\n", 1)[0]


def test_a_dialled_service_code_reaches_a_node_of_its_dispatcher_set(live_kamailio, eager_push, estate, actor,
                                                                     udp):
    phone, media = udp(), udp()
    node = _node(actor, estate["central"], "ast-media-test", media.port)
    dset = actions.create_dispatcher_set(actor=actor, setid=7, name="media", algorithm=4,
                                         destinations=[{"node": node}])
    actions.create_service_code(actor=actor, code="*125", name="Conference rooms", kind="conference",
                                route_to="set", dispatcher_set=dset)
    _trust_loopback(live_kamailio)

    send_invite(phone, live_kamailio, "*125")
    received = media.receive()
    assert received, live_kamailio.log_tail()
    assert _request_line(received[0]).startswith("INVITE sip:*125@")


def test_voicemail_goes_to_the_callers_home_site(live_kamailio, eager_push, estate, actor, udp):
    phone, central, branch = udp(), udp(), udp()
    from sites.models import AsteriskNode

    AsteriskNode.objects.filter(name__in=["ast-central", "ast-media", "ast-branch1"]).update(enabled=False)
    _node(actor, estate["central"], "ast-central-test", central.port)
    _node(actor, estate["branch1"], "ast-branch1-test", branch.port)
    actions.create_service_code(actor=actor, code="*123", name="Voicemail", kind="voicemail", route_to="home")
    _trust_loopback(live_kamailio)

    send_invite(phone, live_kamailio, "*123", from_user="4321")
    assert branch.receive(), live_kamailio.log_tail()
    send_invite(phone, live_kamailio, "*123", from_user="1001")
    assert central.receive(), live_kamailio.log_tail()


def test_a_pstn_call_takes_the_itsp_first_and_the_e1_when_the_itsp_fails(live_kamailio, eager_push, estate, actor,
                                                                          udp):
    phone, carrier, gateway = udp(), udp(), udp()
    e1_node = _node(actor, estate["central"], "ast-gateway-test", gateway.port)
    itsp = trunk_actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host="127.0.0.1", port=carrier.port,
                                           ip_addresses="127.0.0.2")
    e1 = trunk_actions.create_e1_trunk(actor=actor, name="e1-pstn", asterisk_node=e1_node, span=1)
    trunk_actions.create_route(actor=actor, name="international", pattern="^00[1-9][0-9]{4,}$", strip=2,
                               prepend="+", trunks=[itsp, e1])
    _trust_loopback(live_kamailio)

    send_invite(phone, live_kamailio, "0049301234567")
    first = carrier.receive()
    assert first, live_kamailio.log_tail()
    assert _request_line(first[0]).startswith("INVITE sip:+49301234567@")
    carrier.reply(*first, code=503)
    backup = gateway.receive()
    assert backup, live_kamailio.log_tail()
    assert _request_line(backup[0]).startswith("INVITE sip:+49301234567@")


def test_a_call_from_the_itsp_to_a_ddi_reaches_the_service_it_maps_to(live_kamailio, eager_push, estate, actor,
                                                                     udp):
    itsp_side, pbx = udp(), udp()
    node = _node(actor, estate["central"], "ast-ivr-test", pbx.port)
    # the ITSP's calls come from 127.0.0.1 (the test's socket), authenticated by IP in group 2
    trunk_actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host="127.0.0.1", ip_addresses="127.0.0.1")
    ivr = actions.create_service_code(actor=actor, code="*140", name="Auto-attendant", kind="ivr",
                                      parameter="ivr-main", route_to="node", node=node)
    actions.create_inbound_number(actor=actor, number="+34911000000", target="service", service_code=ivr)

    send_invite(itsp_side, live_kamailio, "+34911000000", from_user="+34600000000")
    received = pbx.receive()
    assert received, live_kamailio.log_tail()
    assert _request_line(received[0]).startswith("INVITE sip:*140@")


@pytest.mark.parametrize("presentation, header", [
    ({"caller_id_presentation": "restricted"}, "Privacy: id"),
    ({"caller_id_presentation": "trunk_number", "caller_id_number": "+34911000000"},
     "P-Asserted-Identity: <sip:+34911000000@"),
])
def test_the_itsp_gets_the_caller_id_presentation_of_its_trunk(live_kamailio, eager_push, estate, actor, udp,
                                                               presentation, header):
    phone, carrier = udp(), udp()
    itsp = trunk_actions.create_itsp_trunk(actor=actor, name="itsp-carrier", host="127.0.0.1", port=carrier.port,
                                           ip_addresses="127.0.0.2", **presentation)
    trunk_actions.create_route(actor=actor, name="national", pattern="^9[0-9]{8}$", trunks=[itsp])
    _trust_loopback(live_kamailio)

    send_invite(phone, live_kamailio, "912345678")
    received = carrier.receive()
    assert received, live_kamailio.log_tail()
    assert header in received[0]
