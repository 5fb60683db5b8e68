"""Which changes need an Asterisk reload, proven on real Asterisks (the suite's two nodes, real Kamailio in front).

1. **None for users, mailboxes and service codes.** Asterisk reads them from the database on each use
   (sorcery realtime with no cache, app_voicemail realtime, pbx_realtime), so the portal queues nothing
   for any Asterisk, and the very next request sees the change: a phone REGISTERing straight to the
   node (digest realm = the site's SIP domain, username = extension), a call through Kamailio, a
   VoiceMailMain login. "No reload" is checked twice: no Asterisk job in the outbox, and the node's
   own "Last reload" clock (``core show uptime seconds``; ``module reload`` resets it, ``dialplan
   reload`` and ``voicemail reload`` do not) kept running.
2. **Each reload intent is accepted and does its job.** For each static file ``asterisk_config`` writes,
   a portal change, the file written again, the intent delivered through the push outbox to the real
   node: the job is SENT on Asterisk's own words and the node's CLI shows the new file loaded.
"""
from __future__ import annotations

import contextlib
import logging
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from push import api as push
from push.models import PushJob, PushState
from services import actions as service_actions
from sites import actions as site_actions
from trunks import actions as trunk_actions
from users import actions as user_actions
from users.models import SipUser
from voipadmin.actors import Actor

from tests.sip import Phone

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]

ACTOR = Actor.command("tests")
PASSWORD = "correct-horse-battery-1001"
NEW_PASSWORD = "another-horse-battery-2002"
#: pbx_realtime keeps a matched ``extensions`` row for 1 to 2 s (pbx/pbx_realtime.c: entries older than
#: 1 s are purged by a thread that wakes every second); no reload clears it. A call placed within that
#: window of the previous lookup of the same code may still run the old row.
PBX_REALTIME_CACHE_SECONDS = 2.2


@pytest.fixture(params=["estate", "site"])
def estate(request):
    """The two ways a node reads the database (see tests/asterisk/estate.py)."""
    return request.getfixturevalue("asterisk_estate" if request.param == "estate" else "site_asterisk_estate")


# --- helpers (also used by test_config_drift.py) ----------------------------------------------------------------


def straight_to(estate, site: str) -> SimpleNamespace:
    """The node's own SIP address, where Phone.register can send (instead of the Kamailio)."""
    plan = estate.plan.node(site)
    return SimpleNamespace(sip_ip=plan.host, sip_port=plan.sip_port)


def asterisk_jobs() -> list[tuple[str, str, str]]:
    return sorted(PushJob.objects.filter(node_kind="asterisk").values_list("node_name", "command", "state"))


def last_reload_age(node) -> int:
    """Seconds since the node's last module reload (``core show uptime seconds``: "Last reload: N")."""
    match = re.search(r"Last reload: (\d+)", node.cli("core show uptime seconds"))
    assert match, node.cli("core show uptime seconds")
    return int(match.group(1))


@contextlib.contextmanager
def no_reload_of(*nodes):
    """The block must not ``module reload`` the nodes: the node's own "Last reload" clock keeps running."""
    before = [(node, last_reload_age(node), time.monotonic()) for node in nodes]
    yield
    for node, age, started in before:
        elapsed = int(time.monotonic() - started)
        assert last_reload_age(node) >= age + elapsed, f"{node.name} was reloaded"


def write_config(estate, site: str) -> Path:
    """What the operator does after a change: ``manage.py asterisk_config NODE`` into the node's directory
    (the same options the harness started it with)."""
    node, plan = estate.asterisks[site], estate.plan.node(site)
    call_command("asterisk_config", plan.name, out=str(node.etc), prefix=str(node.prefix), state_dir=str(node.state),
                 db_role=estate.plan.db_role, ami_permit=["127.0.0.0/8"], stdout=open("/dev/null", "w"))
    return node.etc


@contextlib.contextmanager
def files_restored(estate):
    """Put every node's files back as they were (and have the node read them) after the block: the
    session's nodes serve the other tests with the estate they were started with."""
    saved = {site: {p.name: p.read_bytes() for p in node.etc.iterdir() if p.is_file()}
             for site, node in estate.asterisks.items()}
    try:
        yield
    finally:
        for site, node in estate.asterisks.items():
            touched = False
            for name, data in saved[site].items():
                path = node.etc / name
                if not path.exists() or path.read_bytes() != data:
                    path.write_bytes(data)
                    touched = True
            if touched and node.running:
                for command in ("dialplan reload", "module reload res_pjsip.so", "voicemail reload"):
                    node.cli(command)


def make_user(estate, extension: int, site: str, **fields) -> SipUser:
    return user_actions.create_user(actor=ACTOR, extension=extension, name=f"User {extension}",
                                    site=estate.sites[site], password=PASSWORD, **fields)


# --- 1. no reload: users, mailboxes, service codes -------------------------------------------------------------


def test_a_user_created_changed_disabled_and_deleted_is_seen_by_its_node_at_once_with_no_reload(estate):
    node, to_node = estate.asterisks["central"], straight_to(estate, "central")
    with no_reload_of(*estate.asterisks.values()):
        user = make_user(estate, 1001, "central")
        assert Phone("1001", PASSWORD).register(to_node).status_code == 200  # created: the very next REGISTER
        user_actions.update_user(user, actor=ACTOR, caller_id="Front desk")
        assert re.search(r'callerid\s*: "Front desk" <1001>\n', node.cli("pjsip show endpoint 1001")), \
            node.cli("pjsip show endpoint 1001")  # changed: the node's next lookup reads the new row

        user_actions.reset_password(user, actor=ACTOR, password=NEW_PASSWORD)
        assert Phone("1001", PASSWORD).register(to_node).status_code == 401  # the old password is refused
        assert Phone("1001", NEW_PASSWORD).register(to_node).status_code == 200

        user_actions.update_user(user, actor=ACTOR, enabled=False)
        assert Phone("1001", NEW_PASSWORD).register(to_node).status_code == 401  # disabled: no endpoint
        user_actions.update_user(user, actor=ACTOR, enabled=True)
        phone = Phone("1001", NEW_PASSWORD)
        assert phone.register(to_node).status_code == 200
        call = phone.call(estate.kamailio, "*130", hold_ms=500)  # through Kamailio to an Asterisk
        assert call.ok, call.output

        user_actions.delete_user(user, actor=ACTOR)
        assert Phone("1001", NEW_PASSWORD).register(to_node).status_code == 401  # deleted
    assert asterisk_jobs() == [], "no user change asks an Asterisk for anything"
    assert node.running


def test_a_voicemail_pin_set_in_the_portal_opens_the_mailbox_at_once_with_no_reload(asterisk_estate):
    """The caller dials *123 and logs in with the PIN the portal just set; that it got in shows in what
    follows: 0 (mailbox options), 5 (change password) and a new PIN twice, which VoiceMailMain writes
    back to the user (the old PIN would have been refused, and nothing changed)."""
    estate = asterisk_estate
    user = make_user(estate, 1004, "central", voicemail_pin="2468")
    phone = Phone("1004", PASSWORD)
    with no_reload_of(*estate.asterisks.values()):
        user_actions.reset_voicemail_pin(user, actor=ACTOR, pin="1357")
        result = phone.call(estate.kamailio, "*123", hold_ms=1500, timeout=40,
                            dtmf=[("", 1500), ("1357#", 2500), ("0", 2000), ("5", 2000), ("7391#", 2000),
                                  ("7391#", 2500)])
    assert result.status == 200, result.output
    deadline = time.monotonic() + 5
    while SipUser.objects.get(pk=user.pk).voicemail_pin != "7391" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert SipUser.objects.get(pk=user.pk).voicemail_pin == "7391", estate.asterisks["central"].log_tail(30)
    assert asterisk_jobs() == []


def test_a_new_changed_and_disabled_service_code_applies_to_the_next_call_with_no_reload(asterisk_estate):
    estate = asterisk_estate
    make_user(estate, 1005, "central")
    phone = Phone("1005", PASSWORD)
    with no_reload_of(*estate.asterisks.values()):
        code = service_actions.create_service_code(actor=ACTOR, code="*131", name="Echo 2", kind="echo",
                                                   route_to="home")
        new = phone.call(estate.kamailio, "*131", hold_ms=500)
        assert new.ok, new.output  # a new code: answered (Echo) by the very next call

        echo = phone.call(estate.kamailio, "*130", hold_ms=500)
        assert echo.ok, echo.output
        service_actions.update_service_code(estate.codes["*130"], actor=ACTOR, kind="announcement",
                                            announcement="service_unavailable")
        time.sleep(PBX_REALTIME_CACHE_SECONDS)  # (the previous call's lookups leave pbx_realtime's cache)
        announced = phone.call(estate.kamailio, "*130", hold_ms=500)
        # Progress, Playback(ss-noservice,noanswer), Hangup: never answered, Asterisk declines at the end
        assert announced.status == 603 and "Server: voipadmin-asterisk" in announced.output, announced.output

        service_actions.update_service_code(code, actor=ACTOR, enabled=False)
        disabled = phone.call(estate.kamailio, "*131", hold_ms=500)
        assert disabled.status == 404, disabled.output  # gone from Kamailio's dialplan and from the rows
    jobs = asterisk_jobs()
    assert jobs == [], "service codes are realtime rows: no Asterisk reload"
    assert PushJob.objects.filter(node_kind="kamailio", command=push.DIALPLAN_RELOAD).exists()  # Kamailio caches


# --- 2. each reload intent, delivered to a real node --------------------------------------------------------------


def _e1_trunk(estate):
    trunk_actions.create_e1_trunk(actor=ACTOR, name="e1-two", asterisk_node=estate.nodes["central"], span=2,
                                  group=2, dial_string="PJSIP/{number}@e1-sim")


def _kamailio_node(estate):
    site_actions.create_kamailio_node(actor=ACTOR, name="kamailio-two", sip_address="127.0.0.2:5060",
                                      jsonrpc_url=estate.kamailio.rpc_url)


def _time_zone(estate):
    site_actions.update_site(estate.sites["central"], actor=ACTOR, time_zone="America/New_York")


RELOADS = [
    # (intent, the portal change, the file it rewrites and what the change puts in it, the CLI command that
    #  shows what the node loaded, what it shows before, and after the reload)
    pytest.param(push.ASTERISK_DIALPLAN_RELOAD, _e1_trunk, "extensions.conf", "[va-trunk-e1-two]",
                 "dialplan show va-trunk-e1-two", "There is no existence of 'va-trunk-e1-two' context",
                 "Dial(PJSIP/${EXTEN}@e1-sim)", id="dialplan-reload"),
    pytest.param(push.PJSIP_RELOAD, _kamailio_node, "pjsip.conf", "match = 127.0.0.2",
                 "pjsip show identifies", "kamailio-1/kamailio-1", "kamailio-2/kamailio-2", id="pjsip-reload"),
    pytest.param(push.VOICEMAIL_RELOAD, _time_zone, "voicemail.conf", "central = America/New_York",
                 "voicemail show zones", "Europe/Madrid", "America/New_York", id="voicemail-reload"),
]


@pytest.mark.parametrize("command, change, file, written, show, before, after", RELOADS)
def test_each_reload_intent_reaches_the_real_node_and_it_reads_the_written_file(
        asterisk_estate, caplog, command, change, file, written, show, before, after):
    estate = asterisk_estate
    node, node_obj = estate.asterisks["central"], estate.nodes["central"]
    with files_restored(estate):
        change(estate)
        etc = write_config(estate, "central")
        assert written in (etc / file).read_text()
        assert before in node.cli(show) and after not in node.cli(show)  # written, not yet read

        caplog.set_level(logging.INFO, logger="push.delivery")
        [job] = push.request(push.ASTERISK, command, node_ids=[node_obj.pk], reason=f"{file} written")
        job.refresh_from_db()
        assert job.state == PushState.SENT, (job.state, job.last_error)
        assert after in node.cli(show), node.cli(show)  # the node read the file
    sent = [r.getMessage() for r in caplog.records if r.name == "push.delivery" and "jobs [" in r.getMessage()]
    wording = {push.ASTERISK_DIALPLAN_RELOAD: "dialplan reload: Dialplan reloaded.",
               push.PJSIP_RELOAD: "module reload res_pjsip.so: Module 'res_pjsip.so' reloaded successfully.",
               push.VOICEMAIL_RELOAD: "voicemail reload: Reloading voicemail configuration..."}[command]
    assert any(message.endswith(wording) for message in sent), sent
