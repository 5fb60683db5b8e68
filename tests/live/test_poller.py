"""The poller: what it reads from Asterisk (AMI) and Kamailio (JSON-RPC), and how it records it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import call_command

from live import actions, poller
from live.choices import Health, TrunkHealth
from live.models import ActiveCall, CallSample, DeviceState, ExtensionState, NodeState, Registration, TrunkState
from tests.fakes.ami import running_ami_fake
from tests.fakes.kamailio_rpc import running_kamailio_fake

from .conftest import ACTOR

pytestmark = pytest.mark.django_db

ITSP_ONLINE = {"l_uuid": "itsp-main", "r_username": "34910000000", "r_domain": "sip.itsp.example.test", "flags": 20}
ITSP_FAILED = {"l_uuid": "itsp-backup", "r_username": "34910000001", "r_domain": "sip.itsp.example.test", "flags": 16}


def test_it_parses_channel_durations_and_trunks():
    assert poller.parse_duration("00:01:06") == 66
    assert poller.parse_duration("1:00:00:01") == 86401
    assert poller.parse_duration("garbage") == 0
    assert poller.channel_trunk("PJSIP/itsp-main-0000001a") == "itsp-main"
    assert poller.channel_trunk("PJSIP/1001-0000001a") == ""
    assert poller.channel_trunk("DAHDI/i2/600123-5") == "E1 span 2"
    assert poller.channel_trunk("Local/600@test-00000000;1") == ""


def test_it_reads_itsp_registration_state_from_uac_flags():
    rows = {r["name"]: r for r in poller.uac_trunk_rows([ITSP_ONLINE, ITSP_FAILED,
                                                        {"l_uuid": "off", "flags": 1}, {"l_uuid": "wip", "flags": 2}])}
    assert rows["itsp-main"]["state"] == TrunkHealth.UP
    assert rows["itsp-backup"]["state"] == TrunkHealth.DOWN
    assert rows["off"]["state"] == TrunkHealth.DOWN and "disabled" in rows["off"]["detail"]
    assert rows["wip"]["state"] == TrunkHealth.PENDING


def test_it_reads_e1_alarms_from_pri_show_spans():
    rows = poller.parse_pri_spans(["PRI span 1/0: Provisioned, Up, Active",
                                   "PRI span 2/0: Provisioned, In Alarm, Down, Active", "noise"])
    assert [(r["name"], r["state"]) for r in rows] == [("span 1", TrunkHealth.UP), ("span 2", TrunkHealth.ALARM)]


def test_it_flags_a_nated_kamailio_contact_by_its_received_address():
    dump = {"Domains": [{"Domain": {"Domain": "location", "AoRs": [{"Info": {"AoR": "4001@voip.example.test",
            "Contacts": [{"Contact": {"Address": "sip:4001@192.168.1.20:5060", "Expires": 300,
                                      "Received": "sip:127.0.0.99:40123", "User-Agent": "Yealink"}}]}}]}}]}
    now = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    [row] = poller.kamailio_registration_rows(dump, now)
    assert row["user"] == "4001" and row["domain"] == "voip.example.test"
    assert row["nat"] is True and row["source"] == "127.0.0.99:40123"
    assert row["expires"] == now + timedelta(seconds=300)


def test_it_flags_a_nated_asterisk_contact_whose_via_differs_from_its_uri():
    contact = {"Endpoint": "4001", "Uri": "sip:4001@phone.lan.invalid:5060", "ViaAddr": "127.0.0.99",
               "ViaPort": "40123", "UserAgent": "Yealink SIP-T46U", "ExpirationTime": "1795391430"}
    [nated] = poller.asterisk_registration_rows([contact])
    assert (nated["user"], nated["source"], nated["nat"], nated["user_agent"]) == \
        ("4001", "127.0.0.99:40123", True, "Yealink SIP-T46U")
    assert nated["expires"] == datetime.fromtimestamp(1795391430, timezone.utc)
    [direct] = poller.asterisk_registration_rows([{**contact, "Uri": "sip:4001@127.0.0.99:40123"}])
    assert direct["nat"] is False
    [odd] = poller.asterisk_registration_rows([{**contact, "ExpirationTime": "garbage"}])
    assert odd["expires"] is None


def test_one_cycle_records_calls_registrations_and_device_states_of_an_asterisk(make_site, make_asterisk):
    site = make_site()
    with running_ami_fake(channels=4, contacts=["1001"], device_states={"PJSIP/1001": "INUSE"}) as fake:
        node = make_asterisk(site, fake)
        summary = actions.poll_estate(actor=ACTOR)

    assert summary.count(Health.UP) == 1
    state = NodeState.objects.get(asterisk_node=node)
    assert state.state == Health.UP and state.reason == ""
    assert state.latency_ms is not None and state.last_seen is not None
    assert state.version == fake.asterisk_version and state.uptime_seconds is not None
    calls = ActiveCall.objects.filter(node=node)
    assert calls.count() == 4 and calls.values("linkedid").distinct().count() == 2
    call = calls.first()
    assert call.site == site and call.caller == "1001" and call.state == "Up" and call.duration_seconds == 6
    reg = Registration.objects.get(asterisk_node=node)
    assert reg.user == "1001" and reg.contact.startswith("sip:1001@127.0.0.1:") and reg.nat is False
    assert DeviceState.objects.get(node=node).extension == "1001"
    assert ExtensionState.objects.filter(node=node).count() == 2
    assert CallSample.objects.get(site=site).calls == 2


def test_a_second_cycle_replaces_a_nodes_rows_in_bulk(make_site, make_asterisk):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    site = make_site()
    with running_ami_fake(channels=50) as fake:
        node = make_asterisk(site, fake)
        target = actions.asterisk_target(node)
        many = poller.run_poll([target], 1.0)
        fake.channels = 2
        few = poller.run_poll([target], 1.0)
    with CaptureQueriesContext(connection) as writing_many:
        actions.record_poll_cycle(many, actor=ACTOR)
    assert ActiveCall.objects.filter(node=node).count() == 50
    with CaptureQueriesContext(connection) as writing_few:
        actions.record_poll_cycle(few, actor=ACTOR)
    assert ActiveCall.objects.filter(node=node).count() == 2
    assert len(writing_many) == len(writing_few) < 40  # no per-row saves (a full cycle also reads presence: 9)


def test_the_call_history_keeps_the_peak_of_each_minute_and_is_pruned(make_site, make_asterisk):
    site = make_site()
    minute = datetime(2026, 11, 25, 10, 0, 5, tzinfo=timezone.utc)
    with running_ami_fake(channels=6) as fake:
        node = make_asterisk(site, fake)
        target = actions.asterisk_target(node)
        actions.record_poll_cycle(poller.run_poll([target], 1.0), actor=ACTOR, now=minute)
        fake.channels = 2
        actions.record_poll_cycle(poller.run_poll([target], 1.0), actor=ACTOR, now=minute + timedelta(seconds=30))
    assert CallSample.objects.get(site=site, minute=minute.replace(second=0)).calls == 3
    # the clock is pinned an hour after the samples: nothing here depends on today's date
    now = minute + timedelta(hours=1)
    CallSample.objects.create(site=site, minute=now - timedelta(days=10), calls=1)
    assert actions.prune_history(actor=ACTOR, days=3, now=now) == 1
    assert CallSample.objects.filter(site=site).count() == 1
    assert not CallSample.objects.filter(minute__lt=now - timedelta(days=3)).exists()


def test_a_kamailio_is_polled_for_registrations_and_itsp_trunks(make_kamailio):
    with running_kamailio_fake(contacts=[("1001@voip.example.test", "sip:1001@127.0.0.1:5098")],
                               uac_regs=[ITSP_ONLINE, ITSP_FAILED]) as fake:
        node = make_kamailio(fake.url)
        actions.poll_estate(actor=ACTOR)
    state = NodeState.objects.get(kamailio_node=node)
    assert state.state == Health.DEGRADED and "itsp-backup" in state.reason
    assert state.version.startswith("kamailio 5.6") and state.uptime_seconds is not None
    reg = Registration.objects.get(kamailio_node=node)
    assert (reg.user, reg.domain, reg.contact) == ("1001", "voip.example.test", "sip:1001@127.0.0.1:5098")
    assert dict(TrunkState.objects.values_list("name", "state")) == {"itsp-main": "up", "itsp-backup": "down"}


def test_a_gateway_asterisk_reports_its_e1_spans_and_is_degraded_by_an_alarm(make_site, make_asterisk):
    site = make_site()
    spans = ["PRI span 1/0: Provisioned, Up, Active", "PRI span 2/0: Provisioned, In Alarm, Down, Active"]
    with running_ami_fake(command_outputs={"pri show spans": spans}) as fake:
        node = make_asterisk(site, fake, roles="pbx,gateway")
        actions.poll_estate(actor=ACTOR)
    state = NodeState.objects.get(asterisk_node=node)
    assert state.state == Health.DEGRADED and state.reason == "E1 span 2 not up"
    assert dict(TrunkState.objects.filter(site=site).values_list("name", "state")) == {"span 1": "up",
                                                                                      "span 2": "alarm"}


def test_a_gateway_without_dahdi_has_no_e1_and_stays_up(make_site, make_asterisk):
    site = make_site()
    with running_ami_fake() as fake:  # answers "No such command 'pri show spans'", as Asterisk does
        node = make_asterisk(site, fake, roles="pbx,gateway")
        actions.poll_estate(actor=ACTOR)
    assert NodeState.objects.get(asterisk_node=node).state == Health.UP
    assert not TrunkState.objects.exists()


def test_disabled_nodes_are_not_polled_and_lose_their_live_rows(make_site, make_asterisk):
    site = make_site()
    with running_ami_fake(channels=2) as fake:
        node = make_asterisk(site, fake)
        actions.poll_estate(actor=ACTOR)
        node.enabled = False
        node.save()
        actions.poll_estate(actor=ACTOR)
        assert fake.connections == 1
    assert not ActiveCall.objects.exists()


def test_poll_estate_once_prints_a_summary(make_site, make_asterisk, capsys):
    site = make_site()
    with running_ami_fake(channels=2) as fake:
        make_asterisk(site, fake)
        call_command("poll_estate", "--once")
    out = capsys.readouterr().out
    assert "1 node(s) polled in" in out and "1 up, 0 degraded, 0 down" in out and "ast-central" in out
