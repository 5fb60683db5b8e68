"""Call control from a user's page against the real estate: sipp phones → the real Kamailio → real Asterisks.

An administrator hangs up a call in progress (the caller's sipp receives the BYE), rings a chosen extension
and then the user (click-to-call: both sipp phones are rung, in that order, by the node serving the
chosen extension) and listens in on a call (a ChanSpy channel on the node that carries it). Each through
the portal's pages, as a browser posts them, and each in the user's audit trail.
"""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from live import actions as live_actions
from users.models import SipUser
from voipadmin.models import ChangeLogEntry

from tests.asterisk.helpers import ACTOR, channels, make_phone, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]


@pytest.fixture
def estate(asterisk_estate):
    """The estate-wide plan: *125 (the conference) is served by the central node."""
    return asterisk_estate


def invited_at(log: str) -> str:
    """When a sipp UAS received its first INVITE (the ``----- 2026-11-30 05:41:56.365446`` header above it)."""
    match = re.search(r"-{20,} (\S+ \S+)\nUDP message received \[\d+\] bytes :\s*\nINVITE ", log)
    assert match, log[:3000]
    return match.group(1)


def conference_channel(node, caller: str) -> str | None:
    """The channel of ``caller``'s *125 call on ``node`` once it is in the ConfBridge, else None."""
    for row in channels(node):
        if row[5] == "ConfBridge" and row[7] == caller:
            return row[0]
    return None


def test_hanging_up_from_the_users_page_ends_the_call_and_the_phone_gets_the_bye(estate, admin_client):
    phone = make_phone(estate, 1002, "Luis Martín", "central")
    user = SipUser.objects.get(extension=1002)
    node, central = estate.nodes["central"], estate.asterisks["central"]
    with phone.calling(estate.kamailio, "*125", hold_ms=10000, timeout=20) as call:
        channel = wait_for(lambda: conference_channel(central, "1002"), timeout=8)
        assert channel, central.cli("core show channels")
        live_actions.poll_estate(actor=ACTOR)  # what the panel shows is what the poller stored
        html = admin_client.get(reverse("live:user_panel", args=[user.pk])).content.decode()
        assert f'data-channel="{channel}"' in html and 'data-new="0"' in html  # (MailboxCount, asked now)
        response = admin_client.post(reverse("live:user_hangup", args=[user.pk]),
                                     {"node": node.pk, "channel": channel})
        assert response.status_code == 302, response.content.decode()[-2000:]
        gone = wait_for(lambda: conference_channel(central, "1002") is None, timeout=5)
    assert gone, central.cli("core show channels")
    assert not call.result.ok  # the phone did not hang up: it was hung up on
    assert re.search(r"message received.*?\n\s*BYE sip:", call.result.output, re.S), call.result.output
    entry = ChangeLogEntry.objects.get(action="other", object_id=str(user.pk))
    assert entry.message == f"Hang-up: hung up {channel} on {node.name}" and entry.actor == "alice"

    again = admin_client.post(reverse("live:user_hangup", args=[user.pk]), {"node": node.pk, "channel": channel})
    assert again.status_code == 409
    assert f"The call has already ended: {channel} is no longer on {node.name}." in again.content.decode()


def test_click_to_call_rings_the_chosen_extension_then_connects_it_to_the_user(estate, admin_client):
    ana = make_phone(estate, 1001, "Ana García", "central", ip="127.0.0.100")
    luis = make_phone(estate, 1002, "Luis Martín", "central", ip="127.0.0.101")
    assert ana.register(estate.kamailio).ok and luis.register(estate.kamailio).ok
    user = SipUser.objects.get(extension=1001)
    central = estate.asterisks["central"]
    with luis.answering(timeout=20) as first, ana.answering(timeout=20) as second:
        response = admin_client.post(reverse("live:user_originate", args=[user.pk]), {"from_extension": "1002"})
        assert response.status_code == 302, response.content.decode()[-2000:]
        bridged = wait_for(lambda: len([c for c in channels(central) if c[0].startswith("PJSIP/kamailio-1-")]) == 2,
                           timeout=8)
        listing = central.cli("core show channels concise")
        central.cli("channel request hangup all")  # the two phones have talked: end the call
    assert bridged, listing
    assert "INVITE sip:1002@127.0.0.101" in first.received, first.received  # the chosen extension rang
    assert "INVITE sip:1001@127.0.0.100" in second.received, second.received  # then the user
    assert first.result.exit_code == 0 and second.result.exit_code == 0, (first.result.output, second.result.output)
    # 1002 rang first: the node dialled the user only once 1002 had answered (its Dial ran on 1002's channel)
    assert invited_at(first.received) < invited_at(second.received)
    assert re.search(r"!Dial!PJSIP/kamailio-1/sip:1001@", listing), listing
    entry = ChangeLogEntry.objects.get(action="other", object_id=str(user.pk))
    assert entry.message == f"Click-to-call: {estate.nodes['central'].name} rings 1002, then connects it to 1001"


def test_listening_in_puts_a_chanspy_on_the_calls_node(estate, admin_client):
    listener = make_phone(estate, 1001, "Ana García", "central", ip="127.0.0.100")
    caller = make_phone(estate, 1002, "Luis Martín", "central", ip="127.0.0.101")
    assert listener.register(estate.kamailio).ok
    user = SipUser.objects.get(extension=1002)
    node, central = estate.nodes["central"], estate.asterisks["central"]
    with listener.answering(timeout=20) as ear, caller.calling(estate.kamailio, "*125", hold_ms=6000,
                                                               timeout=20) as call:
        channel = wait_for(lambda: conference_channel(central, "1002"), timeout=8)
        assert channel, central.cli("core show channels")
        response = admin_client.post(reverse("live:user_listen", args=[user.pk]),
                                     {"node": node.pk, "channel": channel, "listener": "1001"})
        assert response.status_code == 302, response.content.decode()[-2000:]
        spying = wait_for(lambda: [c for c in channels(central) if c[5] == "ChanSpy"], timeout=8)
        assert spying, central.cli("core show channels")
        assert spying[0][6] == f"{channel},qE"  # quiet, ends with the call; no whisper option
    assert call.result.ok, call.result.output  # the caller never noticed
    assert "INVITE sip:1001@127.0.0.100" in ear.received
    assert ear.result.exit_code == 0, ear.result.output  # and the listener was hung up when the call ended
    entry = ChangeLogEntry.objects.get(action="other", object_id=str(user.pk))
    assert entry.message == f"Listen-in: {node.name} rings 1001 to listen to {channel}"
