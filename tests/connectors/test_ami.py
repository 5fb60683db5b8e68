"""AMI connector against the protocol-faithful fake (no database needed)."""
from __future__ import annotations

import asyncio
import time

import pytest

from tests.fakes.ami import AmiFake, closed_port, running_ami_fake, running_ami_fakes
from voipadmin.connectors.ami import AmiSession, poll_asterisk_ami, run_ami_commands
from voipadmin.connectors.errors import NodeError

USER, SECRET = "admin", "secret"


def run(coro):
    return asyncio.run(coro)


async def _session(fake: AmiFake, fn, timeout: float = 2.0):
    async with AmiSession(fake.host, fake.port, USER, SECRET, timeout=timeout) as ami:
        return await fn(ami)


def _with_fake(fn, timeout: float = 2.0, **config):
    async def main():
        async with AmiFake(**config) as fake:
            return fake, await _session(fake, fn, timeout)

    return run(main())


def test_it_logs_in_pings_and_logs_off():
    fake, latency = _with_fake(lambda ami: ami.ping())
    assert latency >= 0
    assert fake.action_names == ["Login", "Ping", "Logoff"]
    login = fake.actions_named("Login")[0].headers
    assert login["Username"] == USER and login["Events"] == "off"


def test_it_reads_core_status_and_settings():
    async def both(ami):
        return await ami.core_status(), await ami.core_settings(), ami.ami_version

    _, (status, settings, version) = _with_fake(both, channels=3)
    assert status["CoreStartupDate"] == "2026-11-22" and status["CoreCurrentCalls"] == "3"
    assert settings["AsteriskVersion"] == "UNKNOWN__and_probably_unsupported"
    assert version == "13.0.0"


def test_it_collects_every_channel_of_the_event_list():
    _, channels = _with_fake(lambda ami: ami.core_show_channels(), channels=25)
    assert len(channels) == 25
    assert len({c["Uniqueid"] for c in channels}) == 25
    assert channels[0]["Channel"] == "Local/600@test-00000000;1"


def test_it_returns_no_channels_for_an_idle_node():
    _, channels = _with_fake(lambda ami: ami.core_show_channels(), channels=0)
    assert channels == []


def test_it_lists_contacts_endpoints_device_and_extension_states():
    async def everything(ami):
        return (await ami.pjsip_show_contacts(), await ami.pjsip_show_endpoints(),
                await ami.device_state_list(), await ami.extension_state_list())

    _, (contacts, endpoints, devices, extensions) = _with_fake(
        everything, contacts=["1001", "1002"], device_states={"PJSIP/1001": "NOT_INUSE", "PJSIP/1002": "INUSE"})
    assert [c["Endpoint"] for c in contacts] == ["1001", "1002"]
    assert [e["ObjectName"] for e in endpoints] == ["1001", "1002"]
    assert devices == {"PJSIP/1001": "NOT_INUSE", "PJSIP/1002": "INUSE"}
    assert [(e["Exten"], e["StatusText"]) for e in extensions] == [("1001", "Idle"), ("1002", "Unavailable")]


def test_it_treats_no_endpoints_found_as_an_empty_list():
    _, endpoints = _with_fake(lambda ami: ami.pjsip_show_endpoints(), contacts=[], endpoints=[])
    assert endpoints == []


def test_it_runs_a_cli_command_and_returns_its_output_lines():
    fake, output = _with_fake(lambda ami: ami.command("dialplan reload"))
    assert output == ["Dialplan reloaded."]
    assert fake.commands == ["dialplan reload"]


def test_it_reloads_pjsip_by_intent():
    fake, output = _with_fake(lambda ami: ami.reload("pjsip"))
    assert output == ["Module 'res_pjsip.so' reloaded successfully."]
    assert fake.commands == ["module reload res_pjsip.so"]


def test_it_reports_a_reload_asterisk_could_not_do_as_permanent():
    outputs = {"module reload res_pjsip.so": ["Unable to find module 'res_pjsip.so'"]}
    with pytest.raises(NodeError) as err:
        _with_fake(lambda ami: ami.reload("pjsip"), command_outputs=outputs)
    assert err.value.permanent and "Unable to find" in err.value.reason


def test_it_reports_an_unknown_cli_command_as_permanent():
    with pytest.raises(NodeError) as err:
        _with_fake(lambda ami: ami.command("voicemail reload"), command_outputs={"voicemail reload": None})
    assert err.value.permanent
    assert err.value.reason.startswith("No such command 'voicemail reload'")


def test_it_reports_an_unknown_action_as_permanent():
    with pytest.raises(NodeError) as err:
        _with_fake(lambda ami: ami.action("BadActionName"))
    assert err.value.permanent and err.value.reason == "unknown action BadActionName"


def test_it_marks_a_wrong_secret_as_a_permanent_authentication_failure():
    async def main():
        async with AmiFake() as fake:
            async with AmiSession(fake.host, fake.port, USER, "wrong", timeout=2):
                pass

    with pytest.raises(NodeError) as err:
        run(main())
    assert err.value.permanent and err.value.reason == "authentication failed"


def test_it_marks_a_refused_port_as_transient():
    async def main():
        async with AmiSession("127.0.0.1", closed_port(), USER, SECRET, timeout=2):
            pass

    with pytest.raises(NodeError) as err:
        run(main())
    assert not err.value.permanent and err.value.reason == "connection refused"


def test_it_marks_a_hung_node_as_timed_out():
    async def main():
        async with AmiFake(fault="hang") as fake:
            async with AmiSession(fake.host, fake.port, USER, SECRET, timeout=0.5):
                pass

    started = time.monotonic()
    with pytest.raises(NodeError) as err:
        run(main())
    assert time.monotonic() - started < 0.5 + 0.5
    assert not err.value.permanent and err.value.reason.startswith("timed out after 0.5s")


def test_it_times_out_an_action_the_node_never_answers():
    started = time.monotonic()
    with pytest.raises(NodeError) as err:
        _with_fake(lambda ami: ami.core_show_channels(), timeout=0.5, fault="silent_after_login")
    assert time.monotonic() - started < 0.5 * 2 + 0.5  # action timeout + bounded Logoff
    assert err.value.reason == "timed out after 0.5s waiting for CoreShowChannels"


def test_it_reports_a_node_that_drops_the_connection_mid_session():
    with pytest.raises(NodeError) as err:
        _with_fake(lambda ami: ami.ping(), timeout=2, fault="close_after_login")
    assert not err.value.permanent and "connection closed" in err.value.reason


def test_it_calls_a_non_ami_peer_garbage_without_waiting_for_the_timeout():
    async def main():
        async with AmiFake(fault="garbage") as fake:
            async with AmiSession(fake.host, fake.port, USER, SECRET, timeout=2):
                pass

    started = time.monotonic()
    with pytest.raises(NodeError) as err:
        run(main())
    assert time.monotonic() - started < 1
    assert not err.value.permanent and err.value.reason.startswith("garbage reply: SSH-2.0")


def test_it_polls_a_full_snapshot():
    async def main():
        async with AmiFake(channels=4, contacts=["1001", "1002", "1003"]) as fake:
            return await poll_asterisk_ami(fake.host, fake.port, USER, SECRET, timeout=2)

    snap = run(main())
    assert snap.asterisk_version == "UNKNOWN__and_probably_unsupported"
    assert snap.startup.isoformat() == "2026-11-22T23:46:13"
    assert snap.current_calls == 4 and len(snap.channels) == 4
    assert len(snap.contacts) == 3
    assert snap.device_states == {"PJSIP/1001": "NOT_INUSE"}
    assert len(snap.extension_states) == 2
    assert snap.uptime_seconds is not None and snap.latency_ms >= 0


def test_it_runs_commands_synchronously_and_sends_each_exactly_once():
    with running_ami_fake() as fake:
        results = run_ami_commands(fake.host, fake.port, USER, SECRET,
                                   ["dialplan reload", "no such thing", "module reload res_pjsip.so"], timeout=2)
    assert [r.ok for r in results] == [True, False, True]
    assert results[0].output == ["Dialplan reloaded."]
    assert results[1].permanent and "No such command" in results[1].error
    assert fake.commands.count("dialplan reload") == 1
    assert fake.commands == ["dialplan reload", "no such thing", "module reload res_pjsip.so"]


def test_it_polls_many_nodes_concurrently():
    with running_ami_fakes(20, channels=3) as fakes:
        async def main():
            return await asyncio.gather(*(poll_asterisk_ami(f.host, f.port, USER, SECRET, timeout=3) for f in fakes))

        snaps = run(main())
    assert [len(s.channels) for s in snaps] == [3] * 20
    assert {s.port for s in snaps} == {f.port for f in fakes}


def test_it_reads_the_uptime_from_the_cli_in_either_wording():
    from voipadmin.connectors.ami import parse_uptime

    assert parse_uptime(["System uptime: 4711", "Last reload: 42"]) == (4711, 42)
    assert parse_uptime(["System uptime: 1 day, 2 hours, 3 minutes, 1 second",
                         "Last reload: 6 seconds"]) == (93781, 6)
    assert parse_uptime(["System uptime: soon", "nothing else"]) == (None, None)


def test_a_poll_asks_the_uptime_with_events_off_and_no_fully_booted():
    async def main():
        async with AmiFake() as fake:
            fake._started -= 120
            return fake, await poll_asterisk_ami(fake.host, fake.port, USER, SECRET, timeout=2)

    fake, snap = run(main())
    assert 120 <= snap.uptime_seconds < 125 and snap.last_reload_seconds is not None and snap.failures == {}
    assert fake.actions_named("Login")[0].headers["Events"] == "off"
    assert fake.commands == ["core show uptime seconds"]


def test_an_optional_listing_that_fails_is_reported_not_raised():
    async def main():
        async with AmiFake(channels=3, errors={"PJSIPShowContacts": "Internal error"},
                           silent_actions=["DeviceStateList"]) as fake:
            started = time.monotonic()
            snap = await poll_asterisk_ami(fake.host, fake.port, USER, SECRET, timeout=0.5)
            return fake, snap, time.monotonic() - started

    fake, snap, elapsed = run(main())
    assert snap.failures == {"PJSIPShowContacts": "internal error",
                             "DeviceStateList": "timed out after 0.5s waiting for DeviceStateList"}
    assert len(snap.channels) == 3 and snap.contacts == [] and snap.device_states == {}
    assert elapsed < 0.5 + 0.2 and "Logoff" not in fake.action_names  # no polite goodbye to a stuck session


def test_a_poll_fails_when_what_says_the_node_works_is_refused():
    async def main():
        async with AmiFake(errors={"CoreSettings": "Permission denied"}) as fake:
            await poll_asterisk_ami(fake.host, fake.port, USER, SECRET, timeout=1)

    with pytest.raises(NodeError) as err:
        run(main())
    assert err.value.permanent and err.value.reason == "permission denied"


def test_extra_commands_run_in_the_poll_session():
    async def main():
        async with AmiFake(command_outputs={"pri show spans": ["PRI span 1/0: Provisioned, Up, Active"]}) as fake:
            snap = await poll_asterisk_ami(fake.host, fake.port, USER, SECRET, timeout=1,
                                           commands=["pri show spans", "no such thing"])
            return fake, snap

    fake, snap = run(main())
    assert fake.connections == 1
    assert snap.commands["pri show spans"].output == ["PRI span 1/0: Provisioned, Up, Active"]
    assert not snap.commands["no such thing"].ok and snap.commands["no such thing"].permanent


def test_a_wrong_secret_is_refused_after_asterisks_pause_even_with_a_shorter_timeout():
    async def main():
        async with AmiFake(refused_login_delay=1.0) as fake:
            async with AmiSession(fake.host, fake.port, USER, "wrong", timeout=0.5):
                pass

    started = time.monotonic()
    with pytest.raises(NodeError) as err:
        run(main())
    assert err.value.permanent and err.value.reason == "authentication failed"
    assert 1.0 <= time.monotonic() - started < 1.5
