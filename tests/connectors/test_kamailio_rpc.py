"""Kamailio JSON-RPC connector against a fake built from kamailio 5.6.3's real answers."""
from __future__ import annotations

import asyncio
import time

import pytest

from tests.fakes.ami import closed_port
from tests.fakes.kamailio_rpc import running_kamailio_fake
from voipadmin.connectors.errors import NodeError
from voipadmin.connectors.kamailio import (
    AsyncKamailioRpc,
    KamailioRpc,
    dispatcher_targets,
    ul_contacts,
)

FULL = dict(
    dispatcher=[(1, "sip:127.0.0.1:5080"), (1, "sip:127.0.0.1:5081")],
    dialplan={1: [("^0", "^0", "+49")]},
    addresses=[(1, "127.0.0.1", 0, "pbx-a")],
    contacts=[("1001", "sip:1001@127.0.0.1:5098")],
    uac_regs=[{"l_uuid": "trunk1", "l_username": "kamreg", "r_domain": "sip.example.invalid"}],
)


def test_it_reads_uptime_and_version():
    with running_kamailio_fake() as fake, KamailioRpc(fake.url) as rpc:
        assert rpc.core_uptime()["uptime"] >= 0
        assert rpc.core_version().startswith("kamailio 5.6.3")
    assert fake.requests[0]["jsonrpc"] == "2.0" and fake.requests[0]["method"] == "core.uptime"


def test_it_reads_every_table_with_data():
    with running_kamailio_fake(**FULL) as fake, KamailioRpc(fake.url) as rpc:
        targets = dispatcher_targets(rpc.dispatcher_list())
        assert sorted(t["uri"] for t in targets) == ["sip:127.0.0.1:5080", "sip:127.0.0.1:5081"]
        assert rpc.dialplan_dump(1)["ENTRIES"][0]["ENTRY"]["REPLEXP"] == "+49"
        assert rpc.dialplan_translate(1, "0301234")["Output"] == "+49301234"
        assert rpc.address_dump() == [{"table": 98, "group": 1, "item": {"ip": "127.0.0.1", "port": 0, "tag": "pbx-a"}}]
        assert [c["Address"] for c in ul_contacts(rpc.ul_dump())] == ["sip:1001@127.0.0.1:5098"]
        assert rpc.uac_reg_dump()[0]["l_uuid"] == "trunk1"
        assert rpc.uac_reg_info("trunk1")["l_username"] == "kamreg"
        assert rpc.stats()["usrloc:registered_users"] == 1
        assert rpc.stats("usrloc") == {"usrloc:registered_users": 1}


def test_it_maps_kamailios_empty_answers_to_empty_results():
    with running_kamailio_fake() as fake, KamailioRpc(fake.url) as rpc:
        assert rpc.dispatcher_list() == {"NRSETS": 0, "RECORDS": []}
        assert rpc.dialplan_dump(7) == {"DPID": 7, "ENTRIES": []}
        assert rpc.dialplan_translate(7, "123") is None
        assert rpc.address_dump() == [] and rpc.uac_reg_dump() == []
        assert ul_contacts(rpc.ul_dump()) == []


def test_it_maps_empty_answers_also_when_errors_come_with_http_200():
    with running_kamailio_fake(fault="errors_as_200") as fake, KamailioRpc(fake.url) as rpc:
        assert rpc.dispatcher_list()["RECORDS"] == []
        with pytest.raises(NodeError) as err:
            rpc.call("no.such")
    assert err.value.permanent


def test_it_reports_no_translation_as_none():
    with running_kamailio_fake(**FULL) as fake, KamailioRpc(fake.url) as rpc:
        assert rpc.dialplan_translate(1, "12") is None


def test_it_reloads_and_marks_an_ongoing_reload_as_transient():
    with running_kamailio_fake() as fake, KamailioRpc(fake.url) as rpc:
        assert rpc.dispatcher_reload() == "Ok. Dispatcher successfully reloaded."
        assert rpc.dialplan_reload() == {}
        assert rpc.address_reload() == "Reload OK"
        with pytest.raises(NodeError) as err:
            rpc.dispatcher_reload()
    assert not err.value.permanent and err.value.reason == "dispatcher.reload: Ongoing reload"
    assert fake.calls.count("dispatcher.reload") == 2


def test_it_marks_an_early_uac_reload_as_transient():
    with running_kamailio_fake() as fake, KamailioRpc(fake.url) as rpc:
        with pytest.raises(NodeError) as err:
            rpc.uac_reg_reload()
    assert not err.value.permanent and "Failed to shift records" in err.value.reason


def test_it_marks_a_missing_uac_record_as_permanent():
    with running_kamailio_fake() as fake, KamailioRpc(fake.url) as rpc:
        with pytest.raises(NodeError) as err:
            rpc.uac_reg_info("nobody")
    assert err.value.permanent and err.value.reason == "uac.reg_info: Record not found"


def test_it_marks_an_unknown_method_as_permanent():
    with running_kamailio_fake() as fake, KamailioRpc(fake.url) as rpc:
        with pytest.raises(NodeError) as err:
            rpc.call("no.such")
    assert err.value.permanent and err.value.reason == "unknown method no.such"


def test_it_sends_basic_auth_and_marks_bad_credentials_permanent():
    with running_kamailio_fake(username="kam", password="pw") as fake:
        with KamailioRpc(fake.url, username="kam", password="pw") as rpc:
            assert rpc.core_version().startswith("kamailio")
        with KamailioRpc(fake.url, username="kam", password="nope") as rpc, pytest.raises(NodeError) as err:
            rpc.core_version()
    assert err.value.permanent and err.value.reason == "authentication failed (HTTP 401)"


def test_it_marks_a_wrong_path_as_permanent():
    with running_kamailio_fake() as fake, KamailioRpc(fake.url.replace("/RPC", "/jsonrpc")) as rpc:
        with pytest.raises(NodeError) as err:
            rpc.core_version()
    assert err.value.permanent and "HTTP 404" in err.value.reason


def test_it_marks_a_refused_port_as_transient():
    with KamailioRpc(f"http://127.0.0.1:{closed_port()}/RPC", timeout=1) as rpc, pytest.raises(NodeError) as err:
        rpc.core_uptime()
    assert not err.value.permanent and err.value.reason == "connection refused"


def test_it_marks_a_hung_node_as_timed_out():
    with running_kamailio_fake(fault="hang") as fake, KamailioRpc(fake.url, timeout=0.5) as rpc:
        started = time.monotonic()
        with pytest.raises(NodeError) as err:
            rpc.core_uptime()
        assert time.monotonic() - started < 0.5 + 0.5
    assert not err.value.permanent and err.value.reason == "timed out after 0.5s"


def test_it_calls_a_non_json_answer_garbage():
    with running_kamailio_fake(fault="garbage") as fake, KamailioRpc(fake.url) as rpc:
        with pytest.raises(NodeError) as err:
            rpc.core_uptime()
    assert not err.value.permanent and err.value.reason.startswith("garbage reply: <html>")


def test_the_async_client_answers_the_same_questions():
    async def main(url):
        async with AsyncKamailioRpc(url) as rpc:
            return await asyncio.gather(rpc.core_uptime(), rpc.dispatcher_list(), rpc.stats(), rpc.dialplan_dump(1))

    with running_kamailio_fake(**FULL) as fake:
        uptime, listing, stats, dump = asyncio.run(main(fake.url))
    assert uptime["uptime"] >= 0 and listing["NRSETS"] == 1
    assert stats["core:rcv_requests"] == 15 and dump["DPID"] == 1


def test_the_async_client_times_out_a_hung_node():
    async def main(url):
        async with AsyncKamailioRpc(url, timeout=0.5) as rpc:
            await rpc.core_uptime()

    with running_kamailio_fake(fault="hang") as fake:
        started = time.monotonic()
        with pytest.raises(NodeError) as err:
            asyncio.run(main(fake.url))
        assert time.monotonic() - started < 0.5 + 0.5
    assert not err.value.permanent and err.value.reason == "timed out after 0.5s"
