"""The estate end to end: phones (sipp) → the real Kamailio → real Asterisks configured by the portal.

Every test runs twice: with the nodes reading the estate-wide views (role ``asterisk``) and with each
node reading its own site's schema as its site's role (``asterisk_<slug>``). After each call the CDR
that Asterisk's own cdr_pgsql wrote is read back through the billing API.
"""
from __future__ import annotations

import csv
import io
import time

import pytest

from cdrs.models import Cdr
from users.models import SipUser
from voipadmin.api.tokens import create_token
from voipadmin.models import ApiToken, ChangeLogEntry

from tests.sip import Phone
from tests.asterisk.helpers import ACTOR, make_phone, wait_for, channels

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]


@pytest.fixture(params=["estate", "site"])
def estate(request):
    """The two ways a node reads the database (see tests/asterisk/estate.py)."""
    return request.getfixturevalue("asterisk_estate" if request.param == "estate" else "site_asterisk_estate")


def api_cdrs(client, **params) -> list[dict]:
    key = create_token(actor=ACTOR, name=f"billing-{time.monotonic_ns()}", scope=ApiToken.Scope.READ)[1]
    response = client.get("/api/v1/cdrs/", params, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def written_cdr(**lookup) -> Cdr:
    """cdr_pgsql writes at hang-up, from its own thread: wait for the row."""
    row = wait_for(lambda: Cdr.objects.filter(**lookup).order_by("-id").first())
    assert row is not None, f"no CDR {lookup}; have {list(Cdr.objects.values('src', 'dst', 'dcontext'))}"
    return row


def test_a_user_created_in_the_portal_registers_and_the_echo_test_answers(estate, client):
    phone = make_phone(estate, 1001, "Ana García", "central")
    registered = phone.register(estate.kamailio)
    assert registered.ok, registered.output
    result = phone.call(estate.kamailio, "*130", hold_ms=1200)
    assert result.ok, result.output  # 200 OK, held, BYE answered: torn down cleanly

    cdr = written_cdr(src="1001", dst="*130")
    assert (cdr.dcontext, cdr.disposition, cdr.accountcode) == ("site-central", "ANSWERED", "central")
    assert cdr.billsec >= 1 and cdr.uniqueid.startswith(estate.plan.node("central").name[:20].split("-")[0])
    [row] = api_cdrs(client, site="central", dst="*130")
    assert row["site"] == "central" and row["clid"] == '"Ana García" <1001>'
    key = create_token(actor=ACTOR, name="export", scope=ApiToken.Scope.READ)[1]
    export = client.get("/api/v1/cdrs/export.csv", {"site": "central"}, HTTP_AUTHORIZATION=f"Token {key}")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8"))))
    assert [(r["dst"], r["clid"], r["site"]) for r in rows] == [("*130", '"Ana García" <1001>', "central")]


def test_star_123_reaches_the_callers_own_mailbox_on_its_home_node(estate, client):
    phone = make_phone(estate, 4001, "Elena Ruíz", "branch1")
    home = estate.asterisks["branch1"]
    with phone.calling(estate.kamailio, "*123", hold_ms=2500) as call:
        running = wait_for(lambda: [c for c in channels(home) if c[5] == "VoiceMailMain"])
        assert running, channels(home)
        assert running[0][6] == "4001@branch1"  # ${CALLERID(num)}@<site>: the caller's own mailbox
    assert call.result.ok, call.result.output
    cdr = written_cdr(src="4001", dst="*123")
    assert cdr.dcontext == "site-branch1" and cdr.uniqueid.startswith(estate.plan.node("branch1").name)
    assert [r["site"] for r in api_cdrs(client, site="branch1", dst="*123")] == ["branch1"]


def test_star_125_joins_the_conference_bridge(estate):
    phone = make_phone(estate, 1002, "Luis Martín", "central")
    node = estate.asterisks["central"]
    with phone.calling(estate.kamailio, "*125", hold_ms=2500) as call:
        listing = wait_for(lambda: "estate" in node.cli("confbridge list") and node.cli("confbridge list"))
        assert listing, node.cli("confbridge list")
        members = node.cli("confbridge list estate")
        assert "PJSIP/kamailio-1-" in members
    assert call.result.ok, call.result.output
    assert written_cdr(src="1002", dst="*125").lastapp == "ConfBridge"


def test_a_user_calls_a_user_of_another_site_through_kamailio(estate):
    caller = make_phone(estate, 1001, "Ana García", "central")
    callee = make_phone(estate, 4001, "Elena Ruíz", "branch1", ip="127.0.0.101")
    assert callee.register(estate.kamailio).ok
    with callee.answering() as uas:
        result = caller.call(estate.kamailio, "4001", hold_ms=500)
    assert result.ok, result.output
    assert uas.result.exit_code == 0, uas.result.output
    assert "INVITE sip:4001@127.0.0.101" in uas.received  # Kamailio's location lookup found the phone


def test_a_pstn_number_leaves_by_the_e1_lines_asterisk_and_is_billed_to_the_trunk(estate, client):
    caller = make_phone(estate, 1003, "Recepción", "central")
    host, port = estate.plan.e1_sim
    line = Phone("e1", "", ip=host, port=port)  # the stand-in for span 1
    with line.answering() as uas:
        result = caller.call(estate.kamailio, "600123456", hold_ms=800)
    assert result.ok, result.output
    assert f"INVITE sip:600123456@{host}:{port}" in uas.received  # the routed number, once, on the line
    cdr = written_cdr(src="1003", dst="600123456")
    assert (cdr.accountcode, cdr.peeraccount, cdr.disposition) == ("central", "e1-pstn", "ANSWERED")
    assert cdr.dstchannel.startswith("PJSIP/e1-sim-")
    [row] = api_cdrs(client, trunk="e1-pstn")
    assert (row["site"], row["trunk"], row["dst"], row["clid"]) == ("central", "e1-pstn", "600123456",
                                                                    '"Recepción" <1003>')


def test_a_pin_changed_in_voicemailmain_reaches_the_user_and_its_audit_log(estate):
    """The caller dials *123, types the PIN, then 0 (mailbox options), 5 (change password), the new PIN twice:
    Asterisk's VoiceMailMain updates its realtime row, the view's trigger writes it back."""
    phone = make_phone(estate, 1004, "Marta López", "central", voicemail_pin="2468")
    result = phone.call(estate.kamailio, "*123", hold_ms=1500, timeout=40,
                        dtmf=[("", 1500), ("2468#", 2500), ("0", 2000), ("5", 2000), ("7391#", 2000),
                              ("7391#", 2500)])
    assert result.status == 200, result.output
    user = wait_for(lambda: SipUser.objects.filter(extension=1004, voicemail_pin="7391").first(), timeout=5)
    assert user is not None, (SipUser.objects.get(extension=1004).voicemail_pin,
                              estate.asterisks["central"].log_tail(30))
    entry = ChangeLogEntry.objects.get(object_id=str(user.pk), message="Voicemail PIN changed from the phone")
    assert entry.actor == "asterisk (phone)" and "7391" not in str(entry.changes)
