"""Uploaded announcements on the real estate: a node fetches the site's sound from the portal (``live_server`` on
loopback, the URL the application service hands out) and plays it, and a change applies to the next call.

One test, four short calls (the suite's time is short): a service code of kind "announcement" plays the site's
uploaded "service unavailable" through the static [va-announce] (Playback of the URL); after the site's choice
changes, the next call plays the new one with no reload; an application code that reaches nothing plays it through
ARI (``media=sound:http://...``, media_uri); a user who is not registered and has no mailbox: the user's site's
"user unavailable", then 480. What proves it: the portal served each URL to Asterisk's HTTP client,
and the node's own log says it played that URL.
"""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_started

from media import actions as media_actions
from media import sounds
from media.models import SiteAnnouncement
from services import actions as service_actions
from tests.asterisk.helpers import make_phone, wait_for
from tests.media.test_sounds import make_wav
from voipadmin.actors import Actor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]

ACTOR = Actor.command("tests")
PLAY_LOG = "va-announcements-test.log"


class Fetches:
    """The portal's requests (live_server's thread) as (path, user agent)."""

    def __init__(self):
        self.seen: list[tuple[str, str]] = []

    def __call__(self, sender, environ=None, **kwargs):
        if environ:
            self.seen.append((environ.get("PATH_INFO", ""), environ.get("HTTP_USER_AGENT", "")))

    def by_asterisk(self, path: str) -> bool:
        return any(p == path and ua.startswith("asterisk") for p, ua in self.seen)


def test_a_node_fetches_the_sites_uploaded_announcement_from_the_portal_and_plays_it(
        media_services, live_server, settings, monkeypatch):
    estate = media_services.estate
    base = live_server.url.replace("localhost", "127.0.0.1")
    settings.VOIPADMIN_MEDIA_BASE_URL = base
    monkeypatch.setenv("VOIPADMIN_MEDIA_BASE_URL", base)  # the application service's (a subprocess) setting
    service = media_services.start("t1")

    first = media_actions.create_announcement(actor=ACTOR, name="closed", upload=SimpleUploadedFile(
        "closed.wav", make_wav(rate=44100, channels=2, seconds=0.3)))
    second = media_actions.create_announcement(actor=ACTOR, name="moved", upload=SimpleUploadedFile(
        "moved.wav", make_wav(rate=16000, seconds=2.0, tone=660.0)))  # outlasts the *154 call's hold below
    choice = SiteAnnouncement.objects.create(site=estate.sites["central"], purpose="service_unavailable",
                                             announcement=first)
    service_actions.create_service_code(actor=ACTOR, code="*153", name="Closed", kind="announcement",
                                        announcement="service_unavailable", route_to="home")
    service_actions.create_service_code(actor=ACTOR, code="*154", name="Nothing yet", kind="application",
                                        route_to="home")
    phone = make_phone(estate, 1005, "User 1005", "central")
    fetches = Fetches()
    request_started.connect(fetches)
    nodes = list(estate.asterisks.values())
    for node in nodes:
        node.cli(f"logger add channel {PLAY_LOG} verbose(3)")  # "Playing '<url>'" lines (file.c)
    try:
        closed = phone.call(estate.kamailio, "*153", hold_ms=300)
        # early media then declined, as with the stock sound: the site's upload played instead of ss-noservice
        assert closed.status == 603, closed.output
        assert wait_for(lambda: fetches.by_asterisk(sounds.sound_path(first))), fetches.seen
        assert wait_for(lambda: played(nodes, sounds.sound_url(first))), service.log_tail()

        choice.announcement = second
        choice.save()  # the lookup happens per call: no push, no reload
        moved = phone.call(estate.kamailio, "*153", hold_ms=300)
        assert moved.status == 603, moved.output
        assert wait_for(lambda: fetches.by_asterisk(sounds.sound_path(second))), fetches.seen
        assert wait_for(lambda: played(nodes, sounds.sound_url(second))), service.log_tail()

        # an application code with nothing behind it: the service answers and plays it over ARI (media_uri); the
        # phone hangs up first, during the 2 s sound (the service's hang-up after it would be a BYE sipp's call
        # scenario does not expect)
        plays_before = played(nodes, sounds.sound_url(second))
        nothing = phone.call(estate.kamailio, "*154", hold_ms=1000)
        assert nothing.status == 200, nothing.output
        assert wait_for(lambda: played(nodes, sounds.sound_url(second)) > plays_before), service.log_tail()
        assert len([p for p, ua in fetches.seen if p == sounds.sound_path(second)]) == 1  # the node's cache
        assert {"announce", "code"} <= {row["kind"] for row in service.latencies()}, service.latencies()

        # a user of branch1 who is not registered and has no mailbox: the user's site's "user unavailable"
        # (not the caller's), then 480 as before
        SiteAnnouncement.objects.create(site=estate.sites["branch1"], purpose="user_unavailable", announcement=first)
        SiteAnnouncement.objects.create(site=estate.sites["central"], purpose="user_unavailable", announcement=second)
        make_phone(estate, 4006, "User 4006", "branch1", voicemail_enabled=False)
        plays_before = played(nodes, sounds.sound_url(first))
        unavailable = phone.call(estate.kamailio, "4006", hold_ms=300)
        assert unavailable.status == 480, unavailable.output
        assert wait_for(lambda: played(nodes, sounds.sound_url(first)) > plays_before), service.log_tail()
    finally:
        request_started.disconnect(fetches)
        for node in nodes:
            node.cli(f"logger remove channel {PLAY_LOG}")


def played(nodes, url: str) -> int:
    """How many times the nodes' logs say they started playing ``url``."""
    count = 0
    for node in nodes:
        log = node.messages_log.parent / PLAY_LOG
        if log.exists():
            count += log.read_text(errors="replace").count(f"Playing '{url}")
    return count
