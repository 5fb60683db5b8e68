"""Busy lamps (issue 15), the Asterisk side as generated: what each node publishes, to whom, for how long.

The real Asterisks publishing to the real Kamailio are in tests/asterisk/test_busy_lamps.py.
"""
from __future__ import annotations

import pytest
from django.core.management import call_command

from nodeconf import asterisk, database
from services.estate import parse_conf
from sites import actions as site_actions
from voipadmin.actors import Actor

ACTOR = Actor.command("tests")


@pytest.fixture
def node(db):
    central = site_actions.create_site(actor=ACTOR, name="Central", slug="central", kind="central",
                                       sip_domain="voip.example.test", time_zone="Europe/Madrid",
                                       ranges=[(1000, 3999)])
    site_actions.create_site(actor=ACTOR, name="Branch 1", slug="branch1", sip_domain="voip.example.test",
                             time_zone="Atlantic/Canary", ranges=[(4000, 5999)])
    site_actions.create_kamailio_node(actor=ACTOR, name="kamailio-a", sip_address="127.0.0.10:5060",
                                      jsonrpc_url="http://127.0.0.10:5071/RPC")
    site_actions.create_kamailio_node(actor=ACTOR, name="kamailio-b", sip_address="[::1]:5070",
                                      jsonrpc_url="http://127.0.0.12:5071/RPC")
    return site_actions.create_asterisk_node(actor=ACTOR, name="ast-central", site=central, host="127.0.0.11",
                                             sip_port=5080, roles="pbx")


def render(node, *, site=None, **kw):
    return asterisk.render_node(node, db=database.access(site=site, host="db.example.test", port=5432,
                                                         name="voipadmin"), **kw)


def categories(text: str, name: str) -> list[dict[str, str]]:
    return [dict(c.lines) for c in parse_conf(text)[0] if c.name == name]


def context(text: str, name: str) -> list[tuple[str, str]]:
    [found] = [c for c in parse_conf(text)[0] if c.name == name]
    return list(found.lines)


def test_every_kamailio_gets_the_dialog_state_of_every_extension_published_to_it(node, settings):
    settings.ASTERISK_PUBLISH_EXPIRES_SECONDS = 60
    pjsip = render(node)["pjsip.conf"]
    assert categories(pjsip, "lamps-kamailio-1") == [{
        "type": "outbound-publish", "server_uri": "sip:127.0.0.10:5060", "event": "dialog", "multi_user": "yes",
        "expiration": "60", "transport": "transport-udp", "@body": "application/dialog-info+xml",
        "@context": "^va-lamps$"}]
    [second] = categories(pjsip, "lamps-kamailio-2")
    assert second["server_uri"] == "sip:[::1]:5070"  # (an IPv6 Kamailio in brackets, like its aor)
    assert "a dead node's lamps go off 60 s" in pjsip


def test_the_expiry_is_the_estates_setting_for_every_node_and_kamailio(node, settings, tmp_path):
    """One setting for the estate (VOIPADMIN_ASTERISK_PUBLISH_EXPIRES): the estate check compares every node's
    files with what it renders."""
    settings.ASTERISK_PUBLISH_EXPIRES_SECONDS = 90
    call_command("asterisk_config", "ast-central", out=str(tmp_path), stdout=open("/dev/null", "w"))
    pjsip = (tmp_path / "pjsip.conf").read_text()
    assert [c["expiration"] for n in ("lamps-kamailio-1", "lamps-kamailio-2") for c in categories(pjsip, n)] == [
        "90", "90"]


@pytest.mark.parametrize("site_role", [False, True], ids=["estate-role", "site-role"])
def test_every_extension_of_the_estate_has_a_lamp_hint_even_on_a_per_site_node(node, site_role):
    """Any node may carry any extension's call (a per-site node still rings, and is called by, other sites'
    users), so the lamp hints cover every site's ranges whatever the node serves."""
    ext = render(node, site=node.site if site_role else None)["extensions.conf"]
    hints = [value for key, value in context(ext, "va-lamps") if key == "exten"]
    assert hints == ["_[4-5]XXX,hint,Custom:va-${EXTEN}", "_[1-3]XXX,hint,Custom:va-${EXTEN}"]


def test_a_new_site_range_gets_its_lamps_at_the_next_generation(node):
    site_actions.create_site(actor=ACTOR, name="Branch 2", slug="branch2", sip_domain="voip.example.test",
                             time_zone="Europe/Madrid", ranges=[(6000, 6099)])
    hints = [v for k, v in context(render(node)["extensions.conf"], "va-lamps") if k == "exten"]
    assert "_60XX,hint,Custom:va-${EXTEN}" in hints, hints


def test_a_callers_lamp_and_a_rung_users_lamp_follow_their_channels(node):
    ext = render(node)["extensions.conf"]
    from_kamailio = [v for _k, v in context(ext, "from-kamailio")]
    # a user's own call (not a carrier's DDI): marked before its caller ID is replaced by the user's display one
    lamp = from_kamailio.index("n,GosubIf($[${LEN(${VA_DDI})} = 0]?va-lamp,s,1(${CALLERID(num)},up))")
    assert from_kamailio.index("n,Set(VA_CID=${REALTIME_FIELD(ps_endpoints,id,${CALLERID(num)},callerid)})") > lamp
    lamp_lines = [v for _k, v in context(ext, "va-lamp")]
    assert lamp_lines[0] == 's,1,GotoIf($["${EXTENSION_STATE(${ARG1}@va-lamps)}" = "UNKNOWN"]?done)'
    assert "n,Set(CHANNEL(hangup_handler_push)=va-lamp,s,1(${ARG1},gone))" in lamp_lines
    [state] = [line for line in lamp_lines if "DEVICE_STATE(Custom:va-${ARG1})" in line]
    # in use beats ringing; no call here is UNAVAILABLE (the portal's merge ignores it), never "idle"
    assert "GROUP_COUNT(${ARG1}-up@va-lamp)} > 0]?INUSE:" in state and "?RINGING:UNAVAILABLE)" in state
    ring = [v for _k, v in context(ext, "va-ring")]
    assert ring[1] == ("n,Dial(PJSIP/kamailio-1/sip:${EXTEN}@127.0.0.10:5060,,b(va-ring-callee^s^1(${EXTEN}))"
                       "U(va-lamp^${EXTEN}^up))")
    # (the pre-dial handler marks the call for Kamailio, which then does not publish it a second time)
    assert [v for _k, v in context(ext, "va-ring-callee")] == [
        "s,1,Set(PJSIP_HEADER(add,X-VA-Lamp)=node)", "n,Gosub(va-lamp,s,1(${ARG1},early))", "n,Return()"]
    assert ring[2].startswith('n,GotoIf($["${DIALSTATUS}" != "CHANUNAVAIL"')  # the next Kamailio if unreachable
    assert ring[3].startswith("n,Dial(PJSIP/kamailio-2/sip:${EXTEN}@[::1]:5070,,")


def test_a_node_forgets_the_lamps_a_crash_left_before_its_modules_load(node):
    cli = render(node)["cli.conf"]
    assert categories(cli, "startup_commands") == [{"database deltree CustomDevstate": "pre-module"}]


def test_without_a_kamailio_a_node_publishes_nothing(db):
    central = site_actions.create_site(actor=ACTOR, name="Central", slug="central", kind="central",
                                       sip_domain="voip.example.test", time_zone="Europe/Madrid",
                                       ranges=[(1000, 1099)])
    lone = site_actions.create_asterisk_node(actor=ACTOR, name="lone", site=central, host="127.0.0.11", roles="pbx")
    files = render(lone)
    assert "outbound-publish" not in files["pjsip.conf"]
    assert context(files["extensions.conf"], "va-ring") == [("exten", "_[+0-9]!,1,NoOp()"),
                                                            ("same", "n(done),Hangup(${HANGUPCAUSE})")]
