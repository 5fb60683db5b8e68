"""A record for every call: what Kamailio rings on a phone by itself, and what the Asterisks serve, once each.

Phones (sipp) call through the real Kamailio in front of the real Asterisks. A call between two phones (or
a carrier's call to a DDI rung on a phone) never reaches an Asterisk: Kamailio's acc module writes it into
``acc_cdrs`` (dialog-based CDR); a call to a service code is Asterisk's (``cdr``). Both are read back
through the billing API, which lists them together (view ``call_record``) — each call exactly once.
"""
from __future__ import annotations

import contextlib
import csv
import io
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from cdrs.models import Cdr, Cel
from services import actions as service_actions
from trunks import actions as trunk_actions
from users.models import SipUser
from voipadmin.api.tokens import create_token
from voipadmin.kamailio.models import AccCdr
from voipadmin.models import ApiToken

from tests.asterisk.harness import free_port
from tests.kamailio.harness import require_binary
from tests.sip import Carrier, Phone
from tests.asterisk.helpers import ACTOR, make_phone, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]


class Api:
    """The billing API as a read token sees it."""

    def __init__(self, client):
        self.client = client
        self.key = create_token(actor=ACTOR, name=f"billing-{time.monotonic_ns()}", scope=ApiToken.Scope.READ)[1]

    def get(self, path: str, **params):
        response = self.client.get(path, params, HTTP_AUTHORIZATION=f"Token {self.key}")
        assert response.status_code == 200, response.content
        return response

    def cdrs(self, **params) -> list[dict]:
        return self.get("/api/v1/cdrs/", **params).json()["results"]

    def export(self, **params) -> list[dict]:
        body = b"".join(self.get("/api/v1/cdrs/export.csv", **params).streaming_content).decode()
        return list(csv.DictReader(io.StringIO(body)))

    def totals(self, **params) -> dict:
        return self.get("/api/v1/cdrs/totals/", **params).json()


REJECT_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="reject one call">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="{ring_ms}"/>
  <send>
    <![CDATA[

      SIP/2.0 {code} {reason}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
  <timewait milliseconds="300"/>
</scenario>
"""


@contextlib.contextmanager
def refusing(phone: Phone, code: int = 486, reason: str = "Busy Here", ring_ms: int = 300):
    """The phone rings, then refuses the call with ``code`` (a busy or declining phone)."""
    sipp = require_binary("sipp")
    with tempfile.TemporaryDirectory(prefix="sipp-refuse-") as tmp:
        scenario = Path(tmp) / "refuse.xml"
        scenario.write_text(REJECT_XML.format(code=code, reason=reason, ring_ms=ring_ms))
        proc = subprocess.Popen([sipp, "-sf", str(scenario), "-i", phone.ip, "-p", str(phone.port), "-m", "1",
                                 "-nostdin", "-timeout", "15s", "-timeout_error"], cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.2)  # bound and listening
        try:
            yield proc
        finally:
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


CARRIER_IP = "127.0.0.131"  # an ITSP trusted by its address (Kamailio address group >= 2)
CARRIER_CALLER = "+34600000077"
#: the carrier's call: no digest auth (trusted by its address); INVITE, 200, ACK, hold (-d), BYE
def kamailio_record(**lookup) -> AccCdr:
    """acc writes when the dialog ends (the BYE's reply) or fails: wait for the row."""
    row = wait_for(lambda: AccCdr.objects.filter(**lookup).order_by("-id").first())
    assert row is not None, f"no acc_cdrs row {lookup}; have {list(AccCdr.objects.values())}"
    return row


def test_a_call_between_two_phones_is_recorded_once_by_kamailio(asterisk_estate, client):
    estate = asterisk_estate
    caller = make_phone(estate, 1001, "Ana García", "central")
    callee = make_phone(estate, 4001, "Elena Ruíz", "branch1", ip="127.0.0.101")
    assert callee.register(estate.kamailio).ok
    with callee.answering() as uas:
        result = caller.call(estate.kamailio, "4001", hold_ms=2200)
    assert result.ok, result.output
    assert uas.result.exit_code == 0, uas.result.output

    row = kamailio_record(src_user="1001")
    assert (row.dst_user, row.site, row.sip_code) == ("4001", "central", None), row.__dict__
    assert row.start_time <= row.answer_time <= row.end_time and 2.2 <= row.duration < 4, row.__dict__
    assert not Cdr.objects.exists()  # no Asterisk saw it

    api = Api(client)
    [record] = api.cdrs(src="1001")
    assert (record["source"], record["dst"], record["site"], record["disposition"]) == (
        "kamailio", "4001", "central", "ANSWERED")
    assert record["accountcode"] == "central" and record["trunk"] is None
    assert 2 <= record["billsec"] <= 3 and record["duration"] >= record["billsec"], record
    assert record["answer"] is not None and record["start"] <= record["answer"] <= record["end"]
    assert record["uniqueid"] == row.callid
    # the same record through every filter a billing system uses, the CSV and the totals
    assert [r["id"] for r in api.cdrs(site="central", dst="4001", disposition="ANSWERED", min_billsec=2,
                                      accountcode="central", uniqueid=row.callid, source="kamailio")] == [record["id"]]
    assert api.cdrs(site="branch1") == [] and api.cdrs(min_billsec=4) == []
    [line] = api.export(site="central")
    assert (line["src"], line["dst"], line["site"], line["source"], line["disposition"]) == (
        "1001", "4001", "central", "kamailio", "ANSWERED")
    sites = {r["name"]: r for r in api.totals(site="central")["sites"]}
    assert sites["central"]["calls"] == 1 and sites["central"]["answered"] == 1


def test_a_carriers_call_to_a_ddi_rung_on_a_phone_is_recorded_once_by_kamailio(asterisk_estate, client):
    """The ITSP's call goes straight to the registered user: no Asterisk, so Kamailio records it, with the
    trunk it came in by and the site of the user it rang."""
    estate = asterisk_estate
    trunk_actions.create_itsp_trunk(actor=ACTOR, name="itsp-carrier", host=CARRIER_IP,
                                    port=free_port(CARRIER_IP), ip_addresses=CARRIER_IP)
    callee = make_phone(estate, 4002, "Inés Vega", "branch1", ip="127.0.0.102")
    service_actions.create_inbound_number(actor=ACTOR, number="+34922000402", target="user",
                                          user=SipUser.objects.get(extension=4002))
    assert callee.register(estate.kamailio).ok
    with callee.answering() as uas:
        result = Carrier(CARRIER_IP, caller=CARRIER_CALLER).call(estate.kamailio.sip_ip, estate.kamailio.sip_port,
                                                                 "+34922000402", hold_ms=1500)
    assert result.ok, result.output + estate.kamailio.log_tail()
    assert uas.result.exit_code == 0, uas.result.output

    row = kamailio_record(src_user=CARRIER_CALLER)
    assert (row.dst_user, row.site, row.trunk) == ("4002", "branch1", "itsp-carrier"), row.__dict__
    assert not Cdr.objects.exists()
    [record] = Api(client).cdrs(trunk="itsp-carrier")
    assert (record["source"], record["src"], record["dst"], record["site"], record["trunk"]) == (
        "kamailio", CARRIER_CALLER, "4002", "branch1", "itsp-carrier")
    assert record["disposition"] == "ANSWERED" and 1 <= record["billsec"] <= 2, record


@pytest.mark.parametrize("code, reason, disposition", [(486, "Busy Here", "BUSY"), (480, "Temporarily Unavailable",
                                                                                     "NO ANSWER")])
def test_a_direct_call_the_callee_refuses_is_recorded_as_asterisk_records_unanswered_ones(
        asterisk_estate, client, code, reason, disposition):
    estate = asterisk_estate
    caller = make_phone(estate, 1002, "Luis Martín", "central")
    callee = make_phone(estate, 1003, "Recepción", "central", ip="127.0.0.101")
    assert callee.register(estate.kamailio).ok
    with refusing(callee, code, reason, ring_ms=600):
        result = caller.call(estate.kamailio, "1003", hold_ms=500, timeout=5)
    assert result.status == code, result.output

    row = kamailio_record(src_user="1002")
    assert (row.sip_code, row.sip_reason, row.answer_time, row.duration) == (str(code), reason, None, 0)
    [record] = Api(client).cdrs(src="1002")
    assert (record["source"], record["disposition"], record["billsec"], record["answer"]) == (
        "kamailio", disposition, 0, None), record
    assert (record["dst"], record["site"]) == ("1003", "central")
    assert not Cdr.objects.exists()


def test_a_call_through_an_asterisk_is_recorded_once_by_that_asterisk(asterisk_estate, client):
    estate = asterisk_estate
    phone = make_phone(estate, 1004, "Marta López", "central")
    result = phone.call(estate.kamailio, "*130", hold_ms=1200)
    assert result.ok, result.output
    wait_for(lambda: Cdr.objects.filter(src="1004").exists())
    time.sleep(0.3)  # anything else would have been written by now
    [record] = Api(client).cdrs(src="1004")
    assert (record["source"], record["dst"], record["site"], record["disposition"]) == (
        "asterisk", "*130", "central", "ANSWERED")
    assert not AccCdr.objects.exists()  # Kamailio left it to the Asterisk


@pytest.fixture(params=["estate", "site"])
def either_estate(request):
    """Nodes reading the estate-wide views, or each its own site's schema as its site's database role."""
    return request.getfixturevalue("asterisk_estate" if request.param == "estate" else "site_asterisk_estate")


def test_a_caller_who_stays_in_a_conference_room_is_billed_for_the_time_there(either_estate, client):
    """Asterisk's CDR of a ConfBridge leg stops when the caller enters the bridge (the join prompts, ~2 s, on
    22.10.1); the record billing reads takes the leg's talk time from its channel events (cel_pgsql)."""
    estate = either_estate
    phone = make_phone(estate, 1005, "Pablo Ortiz", "central")
    result = phone.call(estate.kamailio, "*125", hold_ms=4000)
    assert result.ok, result.output
    cdr = wait_for(lambda: Cdr.objects.filter(src="1005").first())
    assert cdr is not None and cdr.lastapp == "ConfBridge"
    assert wait_for(lambda: Cel.objects.filter(uniqueid=cdr.uniqueid, eventtype="HANGUP").exists()), \
        list(Cel.objects.values_list("eventtype", "uniqueid"))

    [record] = Api(client).cdrs(src="1005")
    assert (record["source"], record["dst"], record["site"], record["id"]) == ("asterisk", "*125", "central", cdr.id)
    assert 4 <= record["billsec"] <= 5, (record, cdr.billsec)  # held 4 s after the answer, then BYE
    assert record["duration"] >= record["billsec"] and record["end"] >= record["answer"]
    assert cdr.billsec <= record["billsec"]  # Asterisk's own row is left as it wrote it
    [line] = Api(client).export(src="1005")
    assert int(line["billsec"]) == record["billsec"] and line["end"] == record["end"]
    assert Api(client).totals(src="1005")["sites"][0]["billsec"] == record["billsec"]
