"""Every call path of the estate (issue 16), on the real Kamailio in front of the two real Asterisks.

Phones (sipp, 127.0.0.100-119) register and authenticate at Kamailio; the ITSP is 127.0.0.130, trusted by
its address (Kamailio ``address`` group >= 2): a sipp UAC calls DDIs from there, and a small UDP UAS answers
there for the calls the estate sends out (it also answers Kamailio's OPTIONS keepalive, which a sipp UAS
would take for an unexpected call). The E1 line is the sipp stand-in the central node dials
(``PJSIP/{number}@e1-sim``), and a sipp UAC calling the central node from the line's address. Where an
Asterisk carried the call, its CDR is read back through the billing API; calls only Kamailio relays are
accounted by Kamailio (not asserted here).
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid

import pytest

from cdrs.models import Cdr
from services import actions as service_actions
from trunks import actions as trunk_actions
from voipadmin.api.tokens import create_token
from voipadmin.kamailio.models import Address
from voipadmin.models import ApiToken

from tests.asterisk.estate import SIP_DOMAIN
from tests.asterisk.harness import free_port
from tests.sip import Carrier, Phone
from tests.asterisk.helpers import ACTOR, channels, make_phone, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]

CARRIER_IP = "127.0.0.130"
CARRIER_CALLER = "+34600000042"

class CarrierUas:
    """The ITSP's side of calls the estate sends out, on a UDP socket: answers every INVITE with ``status``
    (200 with SDP, then the BYE; or e.g. 503; None: never) and, unlike a sipp UAS, Kamailio's dispatcher
    keepalive (OPTIONS, any time) with 200. ``invites`` keeps the INVITEs it received."""

    def __init__(self, ip: str = CARRIER_IP, *, status: int | None = 200):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.sock.settimeout(0.1)
        self.ip, self.port = ip, self.sock.getsockname()[1]
        self.status = status
        self.invites: list[str] = []
        self.byes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "CarrierUas":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            text = data.decode(errors="replace")
            method = text.split(" ", 1)[0]
            if method == "INVITE":
                if not any(_call_id(text) == _call_id(seen) for seen in self.invites):
                    self.invites.append(text)
                if self.status is not None:
                    self._reply(text, addr, self.status)
            elif method in ("OPTIONS", "BYE"):
                self.byes += method == "BYE"
                self._reply(text, addr, 200)

    def _reply(self, request: str, addr, status: int) -> None:
        lines = request.split("\r\n")
        keep = [line for line in lines if line.split(":", 1)[0].lower() in ("via", "from", "call-id", "cseq",
                                                                              "record-route")]
        to = next(line for line in lines if line.lower().startswith("to:"))
        to += "" if ";tag=" in to else f";tag=itsp{self.port}"
        reason = {200: "OK", 503: "Service Unavailable"}.get(status, "Failed")
        body = ""
        if status == 200 and request.startswith("INVITE "):
            body = (f"v=0\r\no=itsp 1 1 IN IP4 {self.ip}\r\ns=-\r\nc=IN IP4 {self.ip}\r\nt=0 0\r\n"
                    f"m=audio {self.port + 1} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")
            keep.append(f"Contact: <sip:itsp@{self.ip}:{self.port}>")
            keep.append("Content-Type: application/sdp")
        message = "\r\n".join([f"SIP/2.0 {status} {reason}", *keep, to, f"Content-Length: {len(body)}", "",
                                body])
        self.sock.sendto(message.encode(), addr)


def _call_id(message: str) -> str:
    return header(message, "Call-ID")


# --- the estate, users, trunks ----------------------------------------------------------------------------------


def make_user(estate, extension: int, site: str, *, ip: str = "127.0.0.100", **fields) -> Phone:
    return make_phone(estate, extension, f"User {extension}", site, ip=ip, **fields)


def itsp_trunk(estate, *, port: int):
    """The carrier at CARRIER_IP: it sends from there (address group 2) and answers there on ``port``."""
    return trunk_actions.create_itsp_trunk(actor=ACTOR, name="itsp-carrier", host=CARRIER_IP, port=port,
                                           ip_addresses=CARRIER_IP)


def written_cdr(**lookup) -> Cdr:
    """cdr_pgsql writes at hang-up, from its own thread: wait for the row."""
    row = wait_for(lambda: Cdr.objects.filter(**lookup).order_by("-id").first())
    assert row is not None, f"no CDR {lookup}; have {list(Cdr.objects.values('src', 'dst', 'dcontext'))}"
    return row


def api_cdrs(client, **params) -> list[dict]:
    key = create_token(actor=ACTOR, name=f"billing-{time.monotonic_ns()}", scope=ApiToken.Scope.READ)[1]
    response = client.get("/api/v1/cdrs/", params, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def first_line(received: str, method: str = "INVITE") -> str:
    return next((line.strip() for line in received.splitlines() if line.startswith(f"{method} ")), "")


def header(received: str, name: str) -> str:
    return next((line.split(":", 1)[1].strip() for line in received.splitlines()
                 if line.lower().startswith(name.lower() + ":")), "")


@pytest.fixture(params=["estate", "site"])
def either_estate(request):
    """The two ways a node reads the database (tests/asterisk/estate.py)."""
    return request.getfixturevalue("asterisk_estate" if request.param == "estate" else "site_asterisk_estate")


# --- 1. trust between the estate's own nodes --------------------------------------------------------------------


def test_every_node_of_the_estate_is_a_trusted_peer_in_kamailios_memory(asterisk_estate):
    estate = asterisk_estate
    expected = {("127.0.0.1", "kamailio:kamailio-test")} | {
        (n.host, f"asterisk:{n.name}") for n in estate.plan.nodes}
    assert set(Address.objects.filter(grp=1).values_list("ip_addr", "tag")) == expected
    dumped = {(e["item"]["ip"], e["item"]["tag"]) for e in estate.kamailio.rpc("permissions.addressDump")
              if e["group"] == 1}
    assert dumped == expected


def _raw_invite(host: str, port: int, *, source: str, user: str, number: str = "*130") -> str:
    """An INVITE without credentials (and with an X-VA-* header) from ``source``: the final reply's first line."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        own = sock.getsockname()[1]
        call_id = uuid.uuid4().hex
        message = "\r\n".join([
            f"INVITE sip:{number}@{host}:{port} SIP/2.0",
            f"Via: SIP/2.0/UDP {source}:{own};branch=z9hG4bK{call_id[:16]};rport",
            "Max-Forwards: 70",
            f"From: <sip:{user}@{SIP_DOMAIN}>;tag={call_id[:8]}",
            f"To: <sip:{number}@{SIP_DOMAIN}>",
            f"Call-ID: {call_id}@{source}",
            "CSeq: 1 INVITE",
            f"Contact: <sip:{user}@{source}:{own}>",
            "X-VA-Trunk: e1-pstn",
            "X-VA-Inbound: e1-pstn",
            "Content-Length: 0", "", ""])
        sock.sendto(message.encode(), (host, port))
        sock.settimeout(3.0)
        while True:
            reply = sock.recv(65535).decode(errors="replace")
            status = reply.split("\r\n", 1)[0]
            if not status.startswith("SIP/2.0 1"):
                return status


@pytest.mark.parametrize("user", ["1001", "nobody"])
def test_a_node_refuses_an_invite_that_does_not_come_from_a_kamailio_of_the_estate(asterisk_estate, user):
    """A known user without credentials is challenged, an unknown one too (PJSIP does not say which is which);
    neither reaches from-kamailio, even with an X-VA-* header."""
    estate = asterisk_estate
    make_user(estate, 1001, "central")
    node = estate.plan.node("central")
    status = _raw_invite(node.host, node.sip_port, source="127.0.0.105", user=user)
    assert status.split()[1] in ("401", "403"), status
    assert not channels(estate.asterisks["central"])


def test_a_call_from_an_asterisk_to_a_user_who_is_not_registered_is_never_sent_back_to_an_asterisk(asterisk_estate):
    """Kamailio answers 480 instead of relaying to a node (which would be a loop), without a challenge."""
    estate = asterisk_estate
    make_user(estate, 1002, "central")
    node = estate.plan.node("central")
    carrier = Carrier(node.host)  # (sends from the node's own address: a trusted peer)
    result = carrier.call(estate.kamailio.sip_ip, estate.kamailio.sip_port, "1002", caller="1000")
    assert result.status == 480, result.output
    result = carrier.call(estate.kamailio.sip_ip, estate.kamailio.sip_port, "77", caller="1000")
    assert result.status == 404, result.output


def test_an_asterisk_originated_call_reaches_a_registered_phone_without_a_challenge(asterisk_estate, client):
    estate = asterisk_estate
    phone = make_user(estate, 1003, "central", ip="127.0.0.101")
    assert phone.register(estate.kamailio).ok
    node, plan = estate.nodes["central"], estate.plan.node("central")

    async def originate():
        from voipadmin.connectors.ami import AmiSession

        async with AmiSession(plan.host, plan.ami_port, "voipadmin", plan.ami_secret, timeout=8) as ami:
            # (synchronous: Asterisk answers once the phone has; an async one would wait for OriginateResponse,
            # an event this session does not ask for)
            await ami.action("Originate", Channel=f"PJSIP/kamailio-1/sip:1003@{SIP_DOMAIN}", Application="Wait",
                             Data="1", CallerID='"Reception" <1000>', Account="central", Timeout="5000",
                             Async="false")

    with phone.answering(timeout=8) as uas:
        asyncio.run(originate())
    assert uas.result.exit_code == 0, uas.result.output + estate.kamailio.log_tail()
    assert first_line(uas.received).startswith(f"INVITE sip:1003@{phone.ip}:{phone.port}")
    cdr = written_cdr(channel__startswith="PJSIP/kamailio-1-", lastapp="Wait")
    assert (cdr.accountcode, cdr.disposition) == ("central", "ANSWERED"), node
    assert [r["site"] for r in api_cdrs(client, accountcode="central")] == ["central"]


# --- 2. PSTN out ------------------------------------------------------------------------------------------------


def test_a_phone_calls_a_phone_of_its_own_site_through_kamailio(asterisk_estate):
    estate = asterisk_estate
    caller = make_user(estate, 1004, "central")
    callee = make_user(estate, 1005, "central", ip="127.0.0.101")
    assert callee.register(estate.kamailio).ok
    with callee.answering() as uas:
        result = caller.call(estate.kamailio, "1005", hold_ms=300)
    assert result.ok, result.output
    assert first_line(uas.received).startswith(f"INVITE sip:1005@{callee.ip}:{callee.port}")
    assert not [c for node in estate.asterisks.values() for c in channels(node)]


def test_a_pstn_number_leaves_by_the_itsp_authenticated_by_its_address(asterisk_estate):
    estate = asterisk_estate
    caller = make_user(estate, 1006, "central")
    with CarrierUas() as itsp:
        trunk_actions.create_route(actor=ACTOR, name="mobile", pattern="^0[67][0-9]{8}$", strip=1, prepend="+34",
                                   trunks=[itsp_trunk(estate, port=itsp.port), estate.e1])
        result = caller.call(estate.kamailio, "0712345678", hold_ms=300)
    assert result.ok, result.output
    [invite] = itsp.invites
    assert first_line(invite) == f"INVITE sip:+34712345678@{CARRIER_IP}:{itsp.port} SIP/2.0"
    assert "X-VA-" not in invite and itsp.byes == 1


@pytest.mark.parametrize("itsp_status", [503, None], ids=["itsp-503", "itsp-silent"])
def test_with_the_itsp_down_the_call_is_answered_on_the_e1_line(asterisk_estate, client, itsp_status):
    """The route's set tries the ITSP first; a 5xx, or no answer within Kamailio's carrier timer, moves the
    call to the E1 line (never a 404)."""
    estate = asterisk_estate
    caller = make_user(estate, 1007, "central")
    host, port = estate.plan.e1_sim
    line = Phone("e1", "", ip=host, port=port)
    with CarrierUas(status=itsp_status) as itsp, line.answering() as uas:
        trunk_actions.create_route(actor=ACTOR, name="mobile", pattern="^0[67][0-9]{8}$", strip=1, prepend="+34",
                                   trunks=[itsp_trunk(estate, port=itsp.port), estate.e1])
        result = caller.call(estate.kamailio, "0712345679", hold_ms=500)
    assert result.ok, result.output + estate.kamailio.log_tail()
    [invite] = itsp.invites
    assert first_line(invite).startswith("INVITE sip:+34712345679@")
    assert first_line(uas.received) == f"INVITE sip:+34712345679@{host}:{port} SIP/2.0"
    cdr = written_cdr(src="1007", dst="+34712345679")
    assert (cdr.accountcode, cdr.peeraccount, cdr.disposition) == ("central", "e1-pstn", "ANSWERED")
    [row] = api_cdrs(client, trunk="e1-pstn", dst="+34712345679")
    assert (row["site"], row["trunk"]) == ("central", "e1-pstn")


def test_the_routes_strip_and_prefix_are_applied_once_in_kamailios_dialplan(asterisk_estate, client):
    """Kamailio's dialplan dpid 2 rewrites the number (strip 1, prepend 0034); the node dials what it gets."""
    estate = asterisk_estate
    caller = make_user(estate, 1008, "central")
    trunk_actions.create_route(actor=ACTOR, name="national-0", pattern="^0[89][0-9]{8}$", strip=1,
                               prepend="0034", trunks=[estate.e1])
    assert estate.kamailio.rpc("dialplan.translate", 2, "0912345678")["Output"] == "0034912345678"
    host, port = estate.plan.e1_sim
    line = Phone("e1", "", ip=host, port=port)
    with line.answering() as uas:
        result = caller.call(estate.kamailio, "0912345678", hold_ms=300)
    assert result.ok, result.output
    assert first_line(uas.received) == f"INVITE sip:0034912345678@{host}:{port} SIP/2.0"
    cdr = written_cdr(src="1008", dcontext="va-trunk-e1-pstn")
    assert cdr.dst == "0034912345678" and cdr.dstchannel.startswith("PJSIP/e1-sim-")
    assert [r["dst"] for r in api_cdrs(client, trunk="e1-pstn")] == ["0034912345678"]


# --- 3. inbound -------------------------------------------------------------------------------------------------


def test_a_ddi_from_the_carrier_rings_the_registered_user_with_the_carriers_caller_id(asterisk_estate):
    estate = asterisk_estate
    itsp_trunk(estate, port=free_port(CARRIER_IP))
    user = make_user(estate, 1009, "central", ip="127.0.0.102")
    service_actions.create_inbound_number(actor=ACTOR, number="+34911000109", target="user",
                                          user=user_actions_user(1009))
    assert user.register(estate.kamailio).ok
    with user.answering() as uas:
        result = Carrier(CARRIER_IP, caller=CARRIER_CALLER).call(estate.kamailio.sip_ip, estate.kamailio.sip_port, "+34911000109")
    assert result.ok, result.output + estate.kamailio.log_tail()
    assert first_line(uas.received).startswith(f"INVITE sip:1009@{user.ip}:{user.port}")
    assert f"<sip:{CARRIER_CALLER}@{CARRIER_IP}>" in header(uas.received, "From")
    assert "X-VA-" not in uas.received


def user_actions_user(extension: int):
    from users.models import SipUser

    return SipUser.objects.get(extension=extension)


def test_a_ddi_from_the_carrier_to_a_user_who_is_not_registered_reaches_the_mailbox_on_the_home_node(
        either_estate, client):
    estate = either_estate
    itsp_trunk(estate, port=free_port(CARRIER_IP))
    make_user(estate, 4009, "branch1")
    service_actions.create_inbound_number(actor=ACTOR, number="+34922000409", target="user",
                                          user=user_actions_user(4009))
    home = estate.asterisks["branch1"]
    with Carrier(CARRIER_IP, caller=CARRIER_CALLER).calling(estate.kamailio.sip_ip, estate.kamailio.sip_port,
                                                             "+34922000409", hold_ms=1500) as call:
        running = wait_for(lambda: [c for c in channels(home) if c[5] == "VoiceMail"])
        assert running, (channels(home), home.log_tail(20))
        assert running[0][6] == "4009@branch1,u"
    assert call.result.ok, call.result.output
    cdr = written_cdr(dst="4009", lastapp="VoiceMail")
    assert (cdr.src, cdr.dcontext, cdr.accountcode) == (CARRIER_CALLER, "site-branch1", "branch1")
    assert cdr.uniqueid.startswith(estate.plan.node("branch1").name)
    [row] = api_cdrs(client, site="branch1", dst="4009")
    assert row["src"] == CARRIER_CALLER


def test_a_phone_calling_a_user_of_another_site_who_is_not_registered_reaches_the_mailbox_on_its_home_node(
        either_estate):
    """The caller's site names the context (X-VA-Site); a per-site node that does not serve it runs the call in
    its own site's context, where its users' mailboxes are."""
    estate = either_estate
    caller = make_user(estate, 1014, "central")
    make_user(estate, 4014, "branch1")
    home = estate.asterisks["branch1"]
    with caller.calling(estate.kamailio, "4014", hold_ms=1500) as call:
        running = wait_for(lambda: [c for c in channels(home) if c[5] == "VoiceMail"])
        assert running, (channels(home), home.log_tail(20))
        assert running[0][6] == "4014@branch1,u"
    assert call.result.ok, call.result.output
    cdr = written_cdr(src="1014", dst="4014")
    expected_context = "site-central" if estate.plan.db_role == "estate" else "site-branch1"
    assert (cdr.dcontext, cdr.accountcode, cdr.lastapp) == (expected_context, "central", "VoiceMail")


def test_a_ddi_to_a_user_without_a_mailbox_who_is_not_registered_is_480(asterisk_estate):
    estate = asterisk_estate
    itsp_trunk(estate, port=free_port(CARRIER_IP))
    make_user(estate, 1010, "central", voicemail_enabled=False)
    service_actions.create_inbound_number(actor=ACTOR, number="+34911000110", target="user",
                                          user=user_actions_user(1010))
    result = Carrier(CARRIER_IP, caller=CARRIER_CALLER).call(estate.kamailio.sip_ip, estate.kamailio.sip_port, "+34911000110")
    assert result.status == 480, result.output
    assert "VoiceMail" not in estate.asterisks["central"].log_tail(40)


def test_a_ddi_from_the_carrier_reaches_the_service_code_it_maps_to(asterisk_estate, client):
    estate = asterisk_estate
    itsp_trunk(estate, port=free_port(CARRIER_IP))
    service_actions.create_inbound_number(actor=ACTOR, number="+34911000130", target="service",
                                          service_code=estate.codes["*130"])
    result = Carrier(CARRIER_IP, caller=CARRIER_CALLER).call(estate.kamailio.sip_ip, estate.kamailio.sip_port, "+34911000130",
                                   hold_ms=1000)
    assert result.ok, result.output + estate.kamailio.log_tail()
    cdr = written_cdr(dst="*130", disposition="ANSWERED")
    assert (cdr.src, cdr.clid) == (CARRIER_CALLER, f'"" <{CARRIER_CALLER}>'), cdr.clid  # the carrier's, as sent
    [row] = api_cdrs(client, dst="*130")
    assert row["src"] == CARRIER_CALLER and row["site"] in ("central", "branch1")


def test_a_ddi_from_the_e1_line_rings_the_registered_user(asterisk_estate, client):
    """The line calls the central node (context va-e1-in-e1-pstn), which hands the DDI to Kamailio with
    X-VA-Inbound; Kamailio trusts that only from the estate's own nodes and runs its DDI map."""
    estate = asterisk_estate
    user = make_user(estate, 1011, "central", ip="127.0.0.103")
    service_actions.create_inbound_number(actor=ACTOR, number="911000111", target="user",
                                          user=user_actions_user(1011))
    assert user.register(estate.kamailio).ok
    node = estate.plan.node("central")
    line = Carrier(estate.plan.e1_sim[0])
    with user.answering() as uas:
        result = line.call(node.host, node.sip_port, "911000111", caller="912345678", hold_ms=500)
    assert result.ok, result.output + estate.kamailio.log_tail() + estate.asterisks["central"].log_tail(20)
    assert first_line(uas.received).startswith(f"INVITE sip:1011@{user.ip}:{user.port}")
    assert "sip:912345678@" in header(uas.received, "From") and "X-VA-" not in uas.received
    cdr = written_cdr(src="912345678", dst="911000111")
    assert (cdr.dcontext, cdr.accountcode, cdr.peeraccount, cdr.disposition) == (
        "va-e1-in-e1-pstn", "central", "e1-pstn", "ANSWERED")
    assert cdr.channel.startswith("PJSIP/e1-sim-") and cdr.dstchannel.startswith("PJSIP/kamailio-1-")
    [row] = api_cdrs(client, trunk="e1-pstn", src="912345678")
    assert (row["site"], row["trunk"]) == ("central", "e1-pstn")


def test_only_the_estates_own_nodes_may_hand_kamailio_a_ddi(asterisk_estate):
    """X-VA-Inbound from anyone else is no key: the request is challenged like any other, and a phone that
    authenticates and dials a DDI is not a carrier (no DDI map: the number is not routed)."""
    estate = asterisk_estate
    caller = make_user(estate, 1012, "central")
    make_user(estate, 1013, "central")
    service_actions.create_inbound_number(actor=ACTOR, number="911000113", target="user",
                                          user=user_actions_user(1013))
    status = _raw_invite(estate.kamailio.sip_ip, estate.kamailio.sip_port, source="127.0.0.104", user="1012",
                         number="911000113")
    assert status.startswith("SIP/2.0 407 "), status
    result = caller.call(estate.kamailio, "911000113", hold_ms=200)
    assert result.status == 404, result.output
