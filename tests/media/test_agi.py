"""External AGI applications (media/service/agi.py): the URLs a server receives, the order servers are tried in,
what the application service hands to ``[va-agi]``, and the static dialplan that tries them.

The calls themselves, on the real estate: tests/media/test_agi_real.py."""
from __future__ import annotations

import asyncio
import random
import re
from types import SimpleNamespace

import pytest

from media.models import AgiApplication, AgiServer, AgiStrategy
from media.service import agi


def app(strategy=AgiStrategy.FAILOVER, **fields) -> AgiApplication:
    values = {"name": "Sales", "app_type": "crm", "app_id": "sales-42", "script": "calls/route", "strategy": strategy}
    return AgiApplication(**(values | fields))


def server(host: str, port: int, position: int, pk: int, enabled: bool = True) -> AgiServer:
    return AgiServer(pk=pk, host=host, port=port, position=position, enabled=enabled)


SERVERS = [server("agi-b.example.test", 4574, 2, 1), server("agi-a.example.test", 4573, 1, 2),
           server("agi-off.example.test", 4575, 0, 3, enabled=False), server("agi-c.example.test", 4576, 3, 4)]


def test_the_url_carries_the_script_and_the_app_id_and_type_as_its_query():
    assert agi.agi_url(app(), SERVERS[1]) == "agi://agi-a.example.test:4573/calls/route?appid=sales-42&apptype=crm"
    assert agi.agi_url(app(script=""), server("::1", 4573, 1, 9)) == "agi://[::1]:4573/?appid=sales-42&apptype=crm"
    assert agi.agi_url(app(), server("[::1]", 4573, 1, 9)).startswith("agi://[::1]:4573/calls/route?")


def test_failover_tries_the_enabled_servers_in_position_order():
    ordered = agi.ordered_servers(app(), SERVERS)
    assert [s.host for s in ordered] == ["agi-a.example.test", "agi-b.example.test", "agi-c.example.test"]


def test_round_robin_starts_at_a_random_server_and_wraps_round_to_all_of_them():
    starts = set()
    rng = random.Random(7)
    for _ in range(60):
        ordered = [s.port for s in agi.ordered_servers(app(AgiStrategy.ROUND_ROBIN), SERVERS, rng)]
        assert sorted(ordered) == [4573, 4574, 4576]
        assert ordered in ([4573, 4574, 4576], [4574, 4576, 4573], [4576, 4573, 4574])  # a rotation
        starts.add(ordered[0])
    assert starts == {4573, 4574, 4576}


def test_the_channel_variables_name_every_server_in_order():
    ordered = agi.ordered_servers(app(), SERVERS)
    assert agi.channel_variables(app(), ordered) == {
        "VA_AGI_COUNT": "3", "VA_AGI_APPID": "sales-42", "VA_AGI_APPTYPE": "crm",
        "VA_AGI_1": "agi://agi-a.example.test:4573/calls/route?appid=sales-42&apptype=crm",
        "VA_AGI_2": "agi://agi-b.example.test:4574/calls/route?appid=sales-42&apptype=crm",
        "VA_AGI_3": "agi://agi-c.example.test:4576/calls/route?appid=sales-42&apptype=crm"}


class FakeCall:
    """What agi.run uses of a CallContext."""

    channel_id = "chan-1"

    def __init__(self):
        self.actions = []

    async def db(self, fn, *args):
        return fn(*args)

    async def continue_in(self, context, exten, priority=1, variables=None):
        self.actions.append(("continue", context, exten, priority, variables))


def with_servers(application: AgiApplication, servers) -> SimpleNamespace:
    """An application whose ``servers.all()`` answers without a database (agi.run reads it through ctx.db)."""
    fields = {f.attname: getattr(application, f.attname) for f in AgiApplication._meta.concrete_fields}
    return SimpleNamespace(**fields, servers=SimpleNamespace(all=lambda: list(servers)))


def test_run_continues_the_call_into_va_agi_with_the_servers():
    call = FakeCall()
    asyncio.run(agi.run(call, with_servers(app(), SERVERS)))
    [(action, context, exten, priority, variables)] = call.actions
    assert (action, context, exten, priority) == ("continue", "va-agi", "s", 1)
    assert variables["VA_AGI_COUNT"] == "3" and variables["VA_AGI_1"].startswith("agi://agi-a.example.test:4573/")


@pytest.mark.parametrize("enabled, servers", [(False, SERVERS), (True, SERVERS[2:3]), (True, [])],
                         ids=["disabled", "only-a-disabled-server", "no-server"])
def test_an_application_with_nothing_to_try_says_service_unavailable(monkeypatch, enabled, servers):
    from media.service import codes

    async def unavailable(ctx, site=""):
        ctx.actions.append(("unavailable",))

    monkeypatch.setattr(codes, "unavailable", unavailable)
    call = FakeCall()
    asyncio.run(agi.run(call, with_servers(app(enabled=enabled), servers)))
    assert call.actions == [("unavailable",)]


def test_the_static_dialplan_tries_each_server_and_reads_the_legacy_headers():
    """[va-agi] loops over VA_AGI_n while AGISTATUS is FAILURE; [from-kamailio] sends X-AGI-Host calls to
    [va-agi-legacy], which builds the one URL from the headers (their characters filtered)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "deploy/asterisk/templates/extensions.conf").read_text()
    va_agi = text.split("\n[va-agi]\n", 1)[1].split("\n\n", 1)[0]
    assert "AGI(${VA_AGI_${VA_AGI_N}},${VA_AGI_APPID},${VA_AGI_APPTYPE})" in va_agi
    assert '"${AGISTATUS}" != "FAILURE"]?done' in va_agi and "Goto(try)" in va_agi
    assert "?va-agi-legacy,${EXTEN},1" in text.split("\n[from-kamailio]\n", 1)[1].split("\n\n", 1)[0]
    legacy = text.split("\n[va-agi-legacy]\n", 1)[1].split("\n\n", 1)[0]
    for header in ("X-AGI-Host", "X-AGI-Port", "X-AGI-AppType", "X-AGI-AppID"):
        assert re.search(r"\$\{FILTER\([^,]+,\$\{PJSIP_HEADER\(read,%s\)\}\)\}" % header, legacy), header
    kamailio = (Path(__file__).resolve().parents[2] / "deploy/kamailio/kamailio.cfg").read_text()
    assert 'remove_hf_re("^X-AGI-");' in kamailio
