"""``manage.py asterisk_config``: what a node's generated files say, and what can never get into them."""
from __future__ import annotations

import stat

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from nodeconf import asterisk, database
from sites import actions as site_actions
from trunks import actions as trunk_actions
from voipadmin.actors import Actor

ACTOR = Actor.command("tests")


@pytest.fixture
def node(db):
    central = site_actions.create_site(actor=ACTOR, name="Central", slug="central", kind="central",
                                       sip_domain="voip.example.test", time_zone="Europe/Madrid",
                                       ranges=[(1000, 3999)])
    site_actions.create_site(actor=ACTOR, name="Branch 1", slug="branch1", sip_domain="voip.example.test",
                             time_zone="Atlantic/Canary", ranges=[(4000, 5999)])
    site_actions.create_kamailio_node(actor=ACTOR, name="kamailio", sip_address="127.0.0.10:5060",
                                      jsonrpc_url="http://127.0.0.10:5071/RPC")
    return site_actions.create_asterisk_node(
        actor=ACTOR, name="ast central", site=central, host="127.0.0.11", sip_port=5080, ami_port=5039,
        ami_username="voipadmin", ami_secret="s3cret;with-semicolon", ari_url="http://127.0.0.11:8089/ari",
        ari_username="portal", ari_password="ari-secret-1", roles="pbx,gateway")


def render(node, **kw):
    return asterisk.render_node(node, db=database.access(site=None, host="db.example.test", port=5432,
                                                         name="voipadmin"), **kw)


def test_the_files_carry_the_nodes_own_addresses_and_credentials(node):
    files = render(node)
    assert "asterisk.conf" not in files  # only with --prefix: an installed Asterisk keeps its own
    assert "bind = 127.0.0.11:5080" in files["pjsip.conf"]
    manager = files["manager.conf"]
    assert "port = 5039" in manager and "bindaddr = 127.0.0.11" in manager
    assert "[voipadmin]" in manager and r"secret = s3cret\;with-semicolon" in manager  # ; would end the value
    assert "permit = 127.0.0.1/32" in manager and "deny = 0.0.0.0/0.0.0.0" in manager
    assert "bindport = 8089" in files["http.conf"] and "[portal]" in files["ari.conf"]
    assert "password = ari-secret-1" in files["ari.conf"]
    pgsql = files["res_pgsql.conf"]
    assert "dbhost = db.example.test" in pgsql and "dbuser = asterisk" in pgsql
    assert f"dbpass = {database.role_password('asterisk')}" in pgsql
    cdr = files["cdr_pgsql.conf"]
    assert "encoding = UTF8" in cdr and "timezone = UTC" in cdr and "table = cdr" in cdr
    assert "systemname = " not in files["pjsip.conf"]


def test_every_site_gets_a_context_and_a_voicemail_zone_and_kamailio_is_the_trusted_peer(node):
    files = render(node)
    ext = files["extensions.conf"]
    for slug in ("central", "branch1"):
        assert f"[site-{slug}]\nswitch => Realtime/site-{slug}@extensions" in ext
    assert "central = Europe/Madrid|" in files["voicemail.conf"]
    assert "branch1 = Atlantic/Canary|" in files["voicemail.conf"]
    pjsip = files["pjsip.conf"]
    assert "[kamailio-1]\ntype = identify\nendpoint = kamailio-1\nmatch = 127.0.0.10" in pjsip
    assert "contact = sip:127.0.0.10:5060" in pjsip and "context = from-kamailio" in pjsip


def test_a_per_site_node_reads_its_sites_schema_as_its_sites_role(node):
    files = asterisk.render_node(node, db=database.access(site=node.site))
    assert "dbuser = asterisk_central" in files["res_pgsql.conf"]
    assert "[site-central]" in files["extensions.conf"] and "[site-branch1]" not in files["extensions.conf"]


def test_an_e1_line_gets_a_context_that_dials_out_of_it(node):
    trunk_actions.create_e1_trunk(actor=ACTOR, name="e1-pstn", asterisk_node=node, span=1, group=3)
    trunk_actions.create_e1_trunk(actor=ACTOR, name="e1-gw", asterisk_node=node, span=2,
                                  dial_string="PJSIP/{number}@gateway")
    ext = render(node)["extensions.conf"]
    assert "[va-trunk-e1-pstn]" in ext and "Set(CHANNEL(peeraccount)=e1-pstn)" in ext
    assert "Dial(DAHDI/g3/${EXTEN})" in ext and "Dial(PJSIP/${EXTEN}@gateway)" in ext


@pytest.mark.parametrize("dial_string", ["DAHDI/g1/{number},30,tT", "Local/${EXTEN}@x", "PJSIP/{number})Set(x=1",
                                         "DAHDI/g1/{numbr}", "DAHDI/g1", "PJSIP/{number}@gw\nexten"])
def test_an_e1_dial_string_that_is_not_a_plain_channel_is_refused(node, dial_string):
    with pytest.raises(ValidationError) as excinfo:
        trunk_actions.create_e1_trunk(actor=ACTOR, name="e1-x", asterisk_node=node, span=3, dial_string=dial_string)
    assert "dial_string" in excinfo.value.message_dict


@pytest.mark.parametrize("bad", ["line\nbreak", "tab\there", "nul\x00"])
def test_a_value_asterisk_would_misread_is_refused_not_written(bad):
    with pytest.raises(asterisk.ConfigValueError):
        asterisk.conf_value(bad)
    assert asterisk.conf_value(" a;b ") == r"a\;b"


def test_the_command_writes_the_files_secrets_readable_by_their_owner_only(node, tmp_path):
    from django.db import connection

    if connection.vendor != "postgresql":  # the embedded mode: the portal's SQLite is no use to an Asterisk
        with pytest.raises(CommandError, match="PostgreSQL"):
            call_command("asterisk_config", "ast central", out=str(tmp_path))
        call_command("asterisk_config", "ast central", out=str(tmp_path), db_name="voipadmin", stdout=open("/dev/null", "w"))
    else:
        call_command("asterisk_config", str(node.pk), out=str(tmp_path), prefix="/opt/asterisk",
                     state_dir=str(tmp_path / "state"), stdout=open("/dev/null", "w"))
        conf = (tmp_path / "asterisk.conf").read_text()
        assert "astmoddir => /opt/asterisk/lib/asterisk/modules" in conf
        assert f"astetcdir => {tmp_path}" in conf and "systemname = ast-central" in conf
    for name in ("manager.conf", "ari.conf", "res_pgsql.conf", "cdr_pgsql.conf"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((tmp_path / "extensions.conf").stat().st_mode) == 0o644


def test_an_unknown_node_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="no Asterisk node 'nope'"):
        call_command("asterisk_config", "nope", out=str(tmp_path))


def test_each_sites_extensions_get_a_hint_so_their_state_is_known(node):
    ext = render(node)["extensions.conf"]
    assert "exten => _[1-3]XXX,hint,PJSIP/${EXTEN}" in ext and "exten => _[4-5]XXX,hint,PJSIP/${EXTEN}" in ext


# --- call paths (issue 16): users unavailable, calls arriving on an E1 line, calls to the estate's phones ---------


def test_every_sites_users_reach_their_mailbox_on_the_node_or_a_clean_480_without_one(node):
    ext = render(node)["extensions.conf"]
    for slug in ("central", "branch1"):
        assert f"[site-{slug}]\nswitch => Realtime/site-{slug}@extensions\ninclude => va-users\n" \
               "include => va-unallocated\n" in ext  # (the users before the catch-all)
    assert ("exten => _[4-5]XXX,1,GotoIf(${VM_INFO(${EXTEN}@branch1,exists)}?mailbox)\n"
            " same => n,Gosub(va-announce,user_unavailable,1(,branch1))\n same => n,Hangup(20)\n"  # its announcement
            " same => n(mailbox),VoiceMail(${EXTEN}@branch1,u)\n") in ext
    assert "VoiceMail(${EXTEN}@central,u)" in ext


def test_a_per_site_node_knows_its_own_sites_users_only(node):
    ext = asterisk.render_node(node, db=database.access(site=node.site))["extensions.conf"]
    assert "VoiceMail(${EXTEN}@central,u)" in ext and "@branch1" not in ext


def test_a_carriers_call_keeps_its_caller_id_and_a_site_the_node_does_not_serve_runs_in_its_own(node):
    ext = render(node)["extensions.conf"]
    assert "Set(VA_DDI=${FILTER(+0-9,${PJSIP_HEADER(read,X-VA-DDI)})})" in ext
    assert " same => n,GotoIf($[${LEN(${VA_DDI})} > 0]?route)\n same => n,Set(VA_CID=${REALTIME_FIELD(" in ext
    assert "?site-${VA_SITE},${EXTEN},1)\n same => n,Hangup(1)" in ext


def test_an_e1_line_hands_its_calls_to_each_kamailio_in_turn_with_the_header_kamailio_trusts(node):
    site_actions.create_kamailio_node(actor=ACTOR, name="kamailio-v6", sip_address="[::1]:5062",
                                      jsonrpc_url="http://127.0.0.10:5073/RPC")
    trunk_actions.create_e1_trunk(actor=ACTOR, name="e1-pstn", asterisk_node=node, span=1, group=3)
    ext = render(node)["extensions.conf"]
    context = ext.split("[va-e1-in-e1-pstn]\n", 1)[1].split("\n\n", 1)[0]
    assert context.splitlines() == [
        "exten => _[*#+0-9]!,1,Set(CHANNEL(accountcode)=${VA_SITE})",
        " same => n,Set(CHANNEL(peeraccount)=e1-pstn)",
        " same => n,Dial(PJSIP/kamailio-1/sip:${EXTEN}@127.0.0.10:5060,,b(va-inbound-header^s^1(e1-pstn)))",
        ' same => n,GotoIf($["${DIALSTATUS}" != "CHANUNAVAIL" & "${DIALSTATUS}" != "CONGESTION"]?done)',
        " same => n,Dial(PJSIP/kamailio-2/sip:${EXTEN}@[::1]:5062,,b(va-inbound-header^s^1(e1-pstn)))",
        " same => n(done),Hangup(${HANGUPCAUSE})"]
    assert "[va-inbound-header]\nexten => s,1,Set(PJSIP_HEADER(add,X-VA-Inbound)=${ARG1})\n" in ext


def test_a_node_without_e1_lines_has_no_inbound_line_contexts(node):
    ext = render(node)["extensions.conf"]
    assert "[va-e1-in-" not in ext and "[va-inbound-header]" not in ext


def test_calls_to_the_estates_phones_go_through_kamailio_as_outbound_proxy(node):
    pjsip = render(node)["pjsip.conf"]
    assert "context = from-kamailio\noutbound_proxy = sip:127.0.0.10:5060\\;lr\n" in pjsip
    from services.estate import parse_conf

    [endpoint] = [c for c in parse_conf(pjsip)[0] if c.name == "kamailio-1" and c.kind == "endpoint"]
    assert ("outbound_proxy", "sip:127.0.0.10:5060;lr") in endpoint.lines  # as Asterisk reads it
