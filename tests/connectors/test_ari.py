"""ARI connector against the HTTP fake (no database needed)."""
from __future__ import annotations

import asyncio
import time

import pytest

from tests.fakes.ami import closed_port
from tests.fakes.ari import AriFake, running_ari_fake
from voipadmin.connectors.ari import AriClient, poll_asterisk_ari
from voipadmin.connectors.errors import NodeError


def _ask(fn, timeout: float = 2.0, password: str = "secret", **config):
    async def main():
        async with AriFake(**config) as fake:
            async with AriClient(fake.base_url, "ari", password, timeout=timeout) as ari:
                return fake, await fn(ari)

    return asyncio.run(main())


def test_it_reads_asterisk_info_in_the_captured_shape():
    _, info = _ask(lambda ari: ari.asterisk_info())
    assert info["system"]["version"] == "UNKNOWN__and_probably_unsupported"
    assert info["status"]["startup_time"] == "2026-11-22T23:46:13.415+0000"


def test_it_pings_and_sends_basic_auth():
    fake, latency = _ask(lambda ari: ari.ping())
    assert latency >= 0
    assert fake.requests[0].path == "/ari/asterisk/ping"
    assert fake.requests[0].headers["authorization"].startswith("Basic ")


def test_it_lists_channels_bridges_device_states_endpoints_and_applications():
    async def everything(ari):
        return (await ari.channels(), await ari.bridges(), await ari.device_states(),
                await ari.endpoints(), await ari.applications(), await ari.module("res_pjsip.so"))

    fake, (channels, bridges, states, endpoints, apps, module) = _ask(everything, channels=6)
    assert len(channels) == 6 and len({c["id"] for c in channels}) == 6
    assert bridges == [] and states == [] and apps == []
    assert endpoints == [{"technology": "PJSIP", "resource": "1001", "state": "online", "channel_ids": []}]
    assert module["status"] == "Running"
    assert len(fake.requests) == 6  # one keep-alive connection, six requests


def test_it_marks_bad_credentials_as_permanent():
    with pytest.raises(NodeError) as err:
        _ask(lambda ari: ari.channels(), password="wrong")
    assert err.value.permanent and err.value.reason == "authentication failed (HTTP 401)"


def test_it_marks_a_missing_resource_as_permanent_with_asterisks_message():
    with pytest.raises(NodeError) as err:
        _ask(lambda ari: ari.get("/channels/nonexistent"))
    assert err.value.permanent and err.value.reason == "not found: Channel not found"


def test_it_marks_a_refused_port_as_transient():
    async def main():
        async with AriClient(f"http://127.0.0.1:{closed_port()}", "ari", "secret", timeout=1) as ari:
            await ari.ping()

    with pytest.raises(NodeError) as err:
        asyncio.run(main())
    assert not err.value.permanent and err.value.reason == "connection refused"


def test_it_marks_a_hung_node_as_timed_out():
    started = time.monotonic()
    with pytest.raises(NodeError) as err:
        _ask(lambda ari: ari.ping(), timeout=0.5, fault="hang")
    assert time.monotonic() - started < 0.5 + 0.5
    assert not err.value.permanent and err.value.reason == "timed out after 0.5s"


def test_it_calls_a_non_json_answer_garbage():
    with pytest.raises(NodeError) as err:
        _ask(lambda ari: ari.asterisk_info(), fault="not_json")
    assert not err.value.permanent and err.value.reason.startswith("garbage reply: <html>")


def test_it_calls_a_non_http_answer_garbage():
    with pytest.raises(NodeError) as err:
        _ask(lambda ari: ari.asterisk_info(), fault="garbage")
    assert not err.value.permanent and err.value.reason.startswith("garbage reply")


def test_it_marks_a_server_error_as_transient():
    with pytest.raises(NodeError) as err:
        _ask(lambda ari: ari.channels(), fault="server_error")
    assert not err.value.permanent and err.value.reason.startswith("HTTP 500")


def test_it_polls_a_snapshot_from_a_fake_in_another_thread():
    with running_ari_fake(channels=3) as fake:
        snap = asyncio.run(poll_asterisk_ari(fake.base_url + "/ari/", "ari", "secret", timeout=2))
    assert snap.version == "UNKNOWN__and_probably_unsupported"
    assert snap.entity_id == "02:fc:00:00:00:01"
    assert len(snap.channels) == 3 and snap.bridges == [] and len(snap.endpoints) == 1


def test_it_reads_aris_timestamps():
    from datetime import datetime, timezone

    from voipadmin.connectors.ari import parse_ari_time

    assert parse_ari_time("2026-11-29T23:40:31.094+0000") == datetime(2026, 11, 29, 23, 40, 31, 94000, timezone.utc)
    assert parse_ari_time("garbage") is None and parse_ari_time("") is None


def test_it_says_when_the_web_server_answers_without_ari():
    with pytest.raises(NodeError) as err:
        _ask(lambda ari: ari.ping(), fault="no_ari")
    assert err.value.permanent
    assert err.value.reason == "no ARI at this URL (HTTP 404 from the web server: is res_ari loaded?)"


def test_a_snapshot_carries_the_system_name_and_every_bridge():
    from tests.fakes.ari import make_bridge

    with running_ari_fake(system_name="ast-central", bridges=[make_bridge("estate", ["1.1"])]) as fake:
        snap = asyncio.run(poll_asterisk_ari(fake.base_url, "ari", "secret", timeout=2))
    assert snap.system_name == "ast-central" and snap.started is not None
    assert [(b["name"], b["creator"], b["channels"]) for b in snap.bridges] == [("estate", "ConfBridge", ["1.1"])]
