"""Busy lamps on the real Kamailio (issue 15), no Asterisk: phones SUBSCRIBE to an extension's dialog state,
the calls Kamailio relays phone-to-phone itself light the lamp (pua_dialoginfo), only the estate's nodes may
PUBLISH, and the portal finds what Kamailio holds in presentity / active_watchers.

The estate: central (1000-3999, SIP domain voip.example.test) and branch1 (4000-5999, branch1.example.test,
its Asterisk ast-branch1 at 127.0.0.12 -- nothing listens there: its address is only a trusted PUBLISH source).
"""
from __future__ import annotations

import time

import pytest

from sites import actions as site_actions
from tests.sip import Phone
from tests.sip.watcher import Watcher, publish_dialog_info
from voipadmin.actors import Actor
from voipadmin.kamailio.hashing import credentials
from voipadmin.kamailio.models import ActiveWatcher, Presentity, Subscriber

pytestmark = [pytest.mark.kamailio, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ACTOR = Actor.command("tests")
CENTRAL, BRANCH = "voip.example.test", "branch1.example.test"
PASSWORD = "lamp-secret-2024"
ASTERISK_IP = "127.0.0.12"  # ast-branch1: address group 1 (GRP_TRUSTED_PEERS)
WATCHER_IP, CALLER_IP, CALLEE_IP = "127.0.0.150", "127.0.0.100", "127.0.0.101"


def explain(kamailio, *things) -> str:
    return "\n".join(str(t) for t in things) + "\n" + kamailio.log_tail(30)


@pytest.fixture
def lamps(kamailio_clean, require_postgres):
    """The two sites, ast-branch1 trusted, subscribers 1001 (the receptionist), 4003 and 4004; caches reloaded."""
    site_actions.create_site(actor=ACTOR, name="Central", slug="central", kind="central", sip_domain=CENTRAL,
                             ranges=[(1000, 3999)])
    branch = site_actions.create_site(actor=ACTOR, name="Branch 1", slug="branch1", sip_domain=BRANCH,
                                      ranges=[(4000, 5999)])
    site_actions.create_asterisk_node(actor=ACTOR, name="ast-branch1", site=branch, host=ASTERISK_IP,
                                      roles="pbx,voicemail")
    for user, domain in (("1001", CENTRAL), ("4003", BRANCH), ("4004", BRANCH)):
        Subscriber.objects.create(**credentials(user, domain, PASSWORD))
    kamailio_clean.rpc("dialplan.reload")
    kamailio_clean.rpc("permissions.addressReload")
    assert kamailio_clean.rpc("dialplan.translate", 5, "4003")["Output"] == BRANCH
    return kamailio_clean


def watcher(kamailio, user="1001", password=PASSWORD, domain=CENTRAL, ip=WATCHER_IP) -> Watcher:
    return Watcher(user, password, domain=domain, ip=ip, proxy=(kamailio.sip_ip, kamailio.sip_port))


def wait_for(predicate, timeout: float = 2.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def states(subscription) -> list[str | None]:
    return [n.state for n in subscription.notifies]


def test_a_direct_call_lights_the_lamp_early_confirmed_then_terminated(lamps):
    kamailio = lamps
    callee = Phone("4003", PASSWORD, domain=BRANCH, ip=CALLEE_IP)
    # (a phone calls <ext>@<its own domain>: Kamailio finds a callee of the same SIP domain directly)
    caller = Phone("4004", PASSWORD, domain=BRANCH, ip=CALLER_IP)
    assert callee.register(kamailio).status_code == 200
    with watcher(kamailio) as receptionist:
        lamp = receptionist.subscribe("4003")
        assert lamp.status == 200, explain(kamailio, lamp.response and lamp.response.text)
        lamp.wait_for("idle")  # nobody published yet: a NOTIFY without a body (presence_dialoginfo's way)
        caller_lamp = receptionist.subscribe(f"sip:4004@{CENTRAL}")  # any site's domain names the same lamp
        assert caller_lamp.status == 200
        caller_lamp.wait_for("idle")

        # what the portal reads: one active subscription per lamp, to the normalised presentity URI
        row = ActiveWatcher.objects.get(presentity_uri=f"sip:4003@{BRANCH}")
        assert (row.event, row.watcher_username, row.watcher_domain, row.status) == ("dialog", "1001", CENTRAL, 1)
        assert row.expires > time.time() + 500

        with callee.answering(ring_ms=800) as uas:
            result = caller.call(kamailio, "4003", hold_ms=1000)
        assert result.ok, result.output
        assert uas.result.exit_code == 0, uas.result.output

        early = lamp.wait_for("early")
        confirmed = lamp.wait_for("confirmed")
        ended = lamp.wait_for("terminated")
        assert early.at < confirmed.at < ended.at, states(lamp)
        assert confirmed.entity == f"sip:4003@{BRANCH}", confirmed.body
        assert 0.5 < confirmed.at - early.at < 2.0, "rings 0.8 s before it is answered"
        assert 0.8 < ended.at - confirmed.at < 3.0, "held 1 s"
        assert [d.direction for d in confirmed.dialogs] == ["recipient"]
        # the caller is a phone of the estate: its lamp lights too (as initiator)
        caller_confirmed = caller_lamp.wait_for("confirmed")
        caller_lamp.wait_for("terminated", after=caller_lamp.notifies.index(caller_confirmed))
        assert [d.direction for d in caller_confirmed.dialogs] == ["initiator"]

        # Kamailio's own publications are where the portal finds them
        assert wait_for(Presentity.objects.filter(username="4003", domain=BRANCH, event="dialog").exists)
        assert wait_for(Presentity.objects.filter(username="4004", domain=BRANCH, event="dialog").exists)

        # in-dialog re-SUBSCRIBE and un-SUBSCRIBE
        before = len(lamp.notifies)
        assert lamp.refresh(expires=300) == 200, explain(kamailio)
        lamp.wait_notifies(before + 1)
        assert lamp.unsubscribe() == 200, explain(kamailio)
        last = lamp.wait_notifies(before + 2)[-1]
        assert last.subscription_state.startswith("terminated"), last.message.text
        deadline = time.monotonic() + 2
        while ActiveWatcher.objects.filter(presentity_uri=f"sip:4003@{BRANCH}").exists():
            assert time.monotonic() < deadline, "the un-SUBSCRIBE left its active_watchers row"
            time.sleep(0.05)
        assert ActiveWatcher.objects.filter(presentity_uri=f"sip:4004@{BRANCH}").count() == 1


def test_only_the_estates_phones_subscribe_and_only_to_its_extensions(lamps):
    kamailio = lamps
    with watcher(kamailio, password=None) as anonymous:
        lamp = anonymous.subscribe("4003")
        assert lamp.status in (401, 407), lamp.response and lamp.response.text
        assert "Digest" in lamp.response.text
    with watcher(kamailio, password="not-the-password") as wrong:
        lamp = wrong.subscribe("4003")
        assert lamp.status == 403, lamp.response and lamp.response.text
    with watcher(kamailio, user="1999") as stranger:  # not a subscriber
        assert stranger.subscribe("4003").status == 403
    with watcher(kamailio) as receptionist:
        unknown = receptionist.subscribe("7999")  # in no site's range
        assert (unknown.status, unknown.reason) == (404, "Unknown Extension")
        other_event = receptionist.subscribe("4003", event="presence")  # a phone may ask for PIDF presence too
        assert other_event.status == 200
    assert not ActiveWatcher.objects.filter(event="dialog").exists()


def test_a_publish_from_outside_the_estates_nodes_is_refused_and_stores_nothing(lamps):
    kamailio = lamps
    with watcher(kamailio) as receptionist:
        lamp = receptionist.subscribe("4003")
        lamp.wait_for("idle")
        # a phone's address (not in the address table) pretending to be an Asterisk
        reply = publish_dialog_info(source_ip=CALLER_IP, proxy=(kamailio.sip_ip, kamailio.sip_port),
                                    extension="4003", state="confirmed")
        assert reply is not None and reply.status == 403, reply and reply.text
        assert reply.reason == "Forbidden - Publisher Not Trusted"
        time.sleep(0.3)
        assert not Presentity.objects.exists()
        assert states(lamp) == ["idle"]


def test_a_publish_from_a_trusted_node_notifies_the_watchers_and_is_stored(lamps):
    kamailio = lamps
    proxy = (kamailio.sip_ip, kamailio.sip_port)
    with watcher(kamailio) as receptionist:
        lamp = receptionist.subscribe("4003")
        lamp.wait_for("idle")

        sent = time.monotonic()
        reply = publish_dialog_info(source_ip=ASTERISK_IP, proxy=proxy, extension="4003", state="early",
                                    call_id="call-1", expires=60)
        assert reply is not None and reply.status == 200, explain(kamailio, reply and reply.text)
        etag = reply.get("sip-etag")
        assert etag and reply.get("expires") == "60"
        ringing = lamp.wait_for("early")
        assert ringing.at - sent < 0.3, f"NOTIFY {ringing.at - sent:.3f}s after the PUBLISH"

        # (the row is committed right after the NOTIFY goes out: a few milliseconds later)
        row = wait_for(lambda: Presentity.objects.filter(username="4003", domain=BRANCH, event="dialog").first())
        assert row is not None, list(Presentity.objects.values("username", "domain", "event", "sender"))
        assert row.etag == etag and row.expires > time.time() + 50
        assert row.sender.startswith(f"sip:{ASTERISK_IP}:"), row.sender  # which node published it
        assert b"<state>early</state>" in bytes(row.body)

        reply = publish_dialog_info(source_ip=ASTERISK_IP, proxy=proxy, extension="4003", state="confirmed",
                                    call_id="call-1", etag=etag, version=2)
        assert reply.status == 200, reply.text
        etag = reply.get("sip-etag")
        lamp.wait_for("confirmed")
        # hang-up: Asterisk publishes idle as its dialog "terminated", then updates that same publication with the
        # next call. (Kamailio 5.6 would drop every update of an all-terminated publication: the cfg stores idle
        # as a document without dialogs, so the next call's "early" lights the lamp and its update is no 412.)
        for version, state in enumerate(["terminated", "early", "confirmed", "terminated"], start=3):
            before = len(lamp.notifies)
            reply = publish_dialog_info(source_ip=ASTERISK_IP, proxy=proxy, extension="4003", state=state,
                                        call_id="4003", etag=etag, version=version)
            assert reply.status == 200, reply.text
            etag = reply.get("sip-etag")
            lamp.wait_for("idle" if state == "terminated" else state, after=before)
        assert wait_for(lambda: b"<dialog " not in bytes(Presentity.objects.get(username="4003").body))
        reply = publish_dialog_info(source_ip=ASTERISK_IP, proxy=proxy, extension="4003", state=None,
                                    etag=etag, version=7)
        assert reply.status == 200, reply.text
        assert Presentity.objects.filter(username="4003", domain=BRANCH).count() == 1

        # an extension of no site is no presentity
        reply = publish_dialog_info(source_ip=ASTERISK_IP, proxy=proxy, extension="7999", state="early")
        assert (reply.status, reply.reason) == (404, "Unknown Extension")
        assert not Presentity.objects.filter(username="7999").exists()


def test_a_publication_nobody_refreshes_puts_the_lamp_out_when_it_expires(lamps):
    """An Asterisk killed mid-call publishes nothing more: the lamp goes off within expiry + clean_period (2 s)."""
    kamailio = lamps
    with watcher(kamailio) as receptionist:
        lamp = receptionist.subscribe("4003")
        lamp.wait_for("idle")
        sent = time.monotonic()
        reply = publish_dialog_info(source_ip=ASTERISK_IP, proxy=(kamailio.sip_ip, kamailio.sip_port),
                                    extension="4003", state="confirmed", expires=2)
        assert reply.status == 200, reply.text
        lamp.wait_for("confirmed")
        off = lamp.wait_for("idle", timeout=8, after=1)
        assert 2 <= off.at - sent < 2 + 2 + 1, f"lamp off {off.at - sent:.1f}s after the last PUBLISH"
        assert wait_for(lambda: not Presentity.objects.exists())


def test_a_watcher_that_misses_a_notify_keeps_its_lamp(lamps):
    """A NOTIFY nobody answers within tm's fr_timer (3 s: a phone busy, or Kamailio's answers queued behind a burst
    of SUBSCRIBEs) does not end the subscription (timeout_rm_subs 0): the next change still reaches the phone."""
    kamailio = lamps
    proxy = (kamailio.sip_ip, kamailio.sip_port)
    with watcher(kamailio) as receptionist:
        lamp = receptionist.subscribe("4003")
        lamp.wait_for("idle")
        receptionist.answer_notifies = False
        reply = publish_dialog_info(source_ip=ASTERISK_IP, proxy=proxy, extension="4003", state="early")
        assert reply.status == 200, reply.text
        lamp.wait_for("early")
        time.sleep(3.5)  # Kamailio's NOTIFY transaction times out (408)
        receptionist.answer_notifies = True
        reply = publish_dialog_info(source_ip=ASTERISK_IP, proxy=proxy, extension="4003", state="confirmed",
                                    etag=reply.get("sip-etag"), version=2)
        assert reply.status == 200, reply.text
        lamp.wait_for("confirmed")
        assert ActiveWatcher.objects.filter(presentity_uri=f"sip:4003@{BRANCH}").count() == 1


def test_the_portal_turns_off_the_lamp_a_restarted_node_left_on_through_kamailio(lamps):
    """live.actions.turn_off_stale_lamps: Kamailio (pua_rpc pua.publish, SIP-If-Match the dead publication's
    ETag) updates a node's publication received before the node's new start to an idle document with a short
    expiry; the watcher is NOTIFYed idle at once. Publications newer than the start are the new instance's."""
    from datetime import datetime, timezone

    from live import actions as live_actions
    from live.presence import split_hostport
    from sites.models import AsteriskNode

    kamailio = lamps
    site_actions.create_kamailio_node(actor=ACTOR, name="kamailio-1", sip_address=kamailio.sip_address,
                                      jsonrpc_url=kamailio.rpc_url)
    with watcher(kamailio) as receptionist:
        lamp = receptionist.subscribe("4003")
        lamp.wait_for("idle")
        sent = publish_dialog_info(source_ip=ASTERISK_IP, proxy=(kamailio.sip_ip, kamailio.sip_port),
                                   extension="4003", state="confirmed", expires=120)
        assert sent is not None and sent.status == 200
        lamp.wait_for("confirmed")
        row = wait_for(lambda: Presentity.objects.filter(username="4003").first())
        # (the node publishes from its SIP socket: here the test's socket stands for it)
        AsteriskNode.objects.filter(host=ASTERISK_IP).update(sip_port=split_hostport(row.sender)[1])
        node = AsteriskNode.objects.get(host=ASTERISK_IP)
        before = datetime.fromtimestamp(row.received_time - 1, timezone.utc)
        assert live_actions.turn_off_stale_lamps(node.pk, started=before, actor=ACTOR) == 0  # the new instance's
        assert lamp.state == "confirmed"

        start = len(lamp.notifies)
        asked = time.monotonic()
        started = datetime.fromtimestamp(row.received_time + 3, timezone.utc)
        assert live_actions.turn_off_stale_lamps(node.pk, started=started, actor=ACTOR) == 1
        off = lamp.wait_for("idle", after=start, timeout=2)
        assert off.at - asked < 1, off.at - asked
        # the same publication, now an idle document from Kamailio itself, gone within its short expiry
        # (presence NOTIFYs before it writes the row: wait for the row, do not read it once)
        updated = wait_for(lambda: Presentity.objects.filter(pk=row.pk).exclude(etag=row.etag).first())
        assert updated is not None and b"<dialog " not in bytes(updated.body)
        assert updated.expires <= int(time.time()) + live_actions.STALE_LAMP_EXPIRES_SECONDS + 1
        assert split_hostport(updated.sender)[0] == kamailio.sip_ip
        assert live_actions.turn_off_stale_lamps(node.pk, started=started, actor=ACTOR) == 0  # nothing left on
