"""The estate check's "configuration" part on real Asterisks: each node's static files as on its disk (AMI
``GetConfig``) against what the portal generates, and the reloads repair queues.

The rule (services/estate.py): a file that differs is reported with the command that writes it, and
repair never writes it; a file that is as generated is "reload owed" until a reload of that very content
was SENT to the node (the job records its fingerprint); repair queues exactly those reloads.
"""
from __future__ import annotations

import asyncio
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from push.models import PushJob, PushState
from services import estate as estate_check
from trunks import actions as trunk_actions
from voipadmin.connectors.ami import AmiSession
from voipadmin.connectors.errors import NodeError

from .test_push_real import ACTOR, asterisk_jobs, files_restored, write_config

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]

FILES = ("extensions.conf", "pjsip.conf", "voicemail.conf")


def check(capsys) -> tuple[int, str]:
    """``manage.py check_estate``: (exit status, output)."""
    try:
        call_command("check_estate")
        status = 0
    except SystemExit as exc:
        status = exc.code
    return status, capsys.readouterr().out


def problems(out: str) -> list[str]:
    """The configuration problems check_estate listed (one indented line each)."""
    return [line.strip() for line in out.splitlines() if line.startswith("  node ")]


def repair(capsys) -> str:
    call_command("check_estate", "--repair")
    return capsys.readouterr().out


def snapshot(estate) -> dict:
    """Every node's files, with their modification times: what --repair must leave untouched."""
    return {(site, p.name): (p.read_bytes(), p.stat().st_mtime_ns)
            for site, node in estate.asterisks.items() for p in node.etc.iterdir() if p.is_file()}


def in_step(capsys, estate) -> None:
    """Have every node load what it has (the estate is rebuilt for each test: the portal has no record)."""
    repair(capsys)
    status, out = check(capsys)
    assert status == 0 and "Estate in sync." in out, out
    PushJob.objects.filter(node_kind="kamailio").delete()


def get_config(estate, site: str, filename: str):
    plan = estate.plan.node(site)

    async def read():
        async with AmiSession(plan.host, plan.ami_port, "voipadmin", plan.ami_secret, timeout=3) as ami:
            return await ami.get_config(filename)

    return asyncio.run(read())


def test_get_config_answers_the_file_as_asterisk_parses_it_and_refuses_what_is_not_there(asterisk_estate):
    categories = get_config(asterisk_estate, "central", "extensions.conf")
    by_name = {c["category"]: c for c in categories}
    assert ("VA_SITE", "central") in by_name["globals"]["lines"]
    assert by_name["site-central"]["lines"][:3] == [("switch", "Realtime/site-central@extensions"),
                                                    ("include", "va-users"),
                                                    ("include", "va-unallocated")]  # ("=>" read as "=")
    assert by_name["va-trunk-e1-pstn"]["lines"][1] == ("same", "n,Dial(PJSIP/${EXTEN}@e1-sim)")
    pjsip = [(c["category"], dict(c["lines"]).get("type")) for c in get_config(asterisk_estate, "central",
                                                                                "pjsip.conf")]
    assert ("kamailio-1", "identify") in pjsip and ("e1-sim", "aor") in pjsip  # (pjsip_local.conf inlined)

    with pytest.raises(NodeError) as missing:
        get_config(asterisk_estate, "central", "nothere.conf")
    assert missing.value.permanent and missing.value.reason == "config file not found"
    with pytest.raises(NodeError) as outside:
        get_config(asterisk_estate, "central", "/etc/passwd")
    assert outside.value.reason == "file requires escalated privileges"


def test_a_fresh_estate_is_in_sync_and_notes_the_reloads_it_may_owe_until_they_are_sent(asterisk_estate, capsys):
    estate = asterisk_estate
    status, out = check(capsys)
    assert status == 0 and "Estate in sync." in out, out  # a node just set up is not a difference
    for plan in estate.plan.nodes:
        for file, command in (("extensions.conf", "dialplan reload"), ("pjsip.conf", "module reload res_pjsip.so"),
                              ("voicemail.conf", "voicemail reload")):
            assert (f"note: node {plan.name}: {file} is what the portal generates, but the portal has not seen the "
                    f"node load it ({command} may be owed: check_estate --repair queues it)") in out, out

    out = repair(capsys)
    assert f"Repair requested: dialplan reload on {estate.plan.node('central').name} (extensions.conf)." in out
    assert len(asterisk_jobs()) == 6 and {state for *_, state in asterisk_jobs()} == {PushState.SENT}
    status, out = check(capsys)
    assert status == 0 and "Estate in sync." in out and "note:" not in out, out
    for plan in estate.plan.nodes:
        assert f"{plan.name}: configuration in step (extensions.conf, pjsip.conf, voicemail.conf)." in out

    repair(capsys)
    assert len(asterisk_jobs()) == 6, "loaded is loaded: a second repair asks no Asterisk for anything"


def test_an_e1_trunk_drifts_extensions_conf_repair_writes_nothing_and_the_written_file_gets_one_dialplan_reload(
        asterisk_estate, capsys):
    estate = asterisk_estate
    central, branch = estate.plan.node("central").name, estate.plan.node("branch1").name
    in_step(capsys, estate)
    jobs_before = len(asterisk_jobs())
    with files_restored(estate):
        trunk_actions.create_e1_trunk(actor=ACTOR, name="e1-two", asterisk_node=estate.nodes["central"], span=2,
                                      group=2, dial_string="PJSIP/{number}@e1-sim")
        assert asterisk_jobs()[jobs_before:] == [], "a trunk change asks no Asterisk for a reload"
        status, out = check(capsys)
        assert status == 1
        assert problems(out) == [
            f"node {central}: extensions.conf is not what the portal generates (run manage.py asterisk_config "
            f"{central} and reload): [va-trunk-e1-two] missing; [va-e1-in-e1-two] missing"], out
        assert f"{branch}: configuration in step" in out  # (an E1 trunk is its own node's context only)

        files = snapshot(estate)
        out = repair(capsys)
        assert snapshot(estate) == files, "--repair never writes a node's files"
        assert (f"Not repaired: node {central}: extensions.conf: the portal does not write a node's files (run "
                f"manage.py asterisk_config {central} and check again)") in out
        assert len(asterisk_jobs()) == jobs_before, "a file that differs is never reloaded"

        write_config(estate, "central")  # the operator
        node = estate.asterisks["central"]
        assert "There is no existence of 'va-trunk-e1-two' context" in node.cli("dialplan show va-trunk-e1-two")
        status, out = check(capsys)
        assert status == 0, out  # as generated: nothing the operator must fix; the reload is advice
        assert problems(out) == [] and (
            f"node {central}: extensions.conf is what the portal generates, but the portal has not seen the "
            f"node load it (dialplan reload may be owed: check_estate --repair queues it)") in out, out

        out = repair(capsys)
        assert f"Repair requested: dialplan reload on {central} (extensions.conf)." in out
        new = PushJob.objects.filter(node_kind="asterisk").order_by("id")[jobs_before:]
        assert [(j.node_name, j.command, j.state) for j in new] == [(central, "dialplan reload", PushState.SENT)]
        assert re.search(r"\[extensions\.conf [0-9a-f]{12}\] on the node is what the portal generates", new[0].reasons)
        assert "Dial(PJSIP/${EXTEN}@e1-sim)" in node.cli("dialplan show va-trunk-e1-two")
        status, out = check(capsys)
        assert status == 0 and "Estate in sync." in out, out


def test_comments_spacing_and_order_are_not_drift_but_a_value_changed_by_hand_is(asterisk_estate, capsys):
    estate = asterisk_estate
    node, name = estate.asterisks["branch1"], estate.plan.node("branch1").name
    in_step(capsys, estate)
    with files_restored(estate):
        path = node.etc / "voicemail.conf"
        text = path.read_text()
        zones = "\n".join(line.replace(" = ", "=", 1) for line in text.splitlines() if "|'vm-received'" in line)
        general = [line for line in text.splitlines() if " = " in line and "|" not in line.split("=", 1)[1]
                   or line.startswith("format")]
        path.write_text(";-- a block comment\n  spanning lines --;\n[zonemessages] ; zones first\n" + zones
                        + "\n\n[general]\n" + "\n".join(reversed(general)) + "  ; reversed\n")
        status, out = check(capsys)
        assert status == 0 and f"{name}: configuration in step" in out, (out, path.read_text())

        pjsip = node.etc / "pjsip.conf"
        pjsip.write_text(pjsip.read_text().replace("direct_media = no", "direct_media = yes", 1))
        status, out = check(capsys)
        assert status == 1
        assert (f"node {name}: pjsip.conf is not what the portal generates (run manage.py asterisk_config {name} "
                f"and reload): [kamailio-1] (endpoint) direct_media: node 'yes', portal 'no'") in out, out


def test_getconfig_needs_the_system_write_privilege_the_generated_manager_conf_gives(asterisk_estate, capsys):
    estate = asterisk_estate
    node, name = estate.asterisks["central"], estate.plan.node("central").name
    manager = node.etc / "manager.conf"
    assert re.search(r"^write = system,", manager.read_text(), re.M)
    with files_restored(estate):
        manager.write_text(manager.read_text().replace("write = system,", "write = "))
        node.cli("manager reload")
        try:
            status, out = check(capsys)
            assert status == 1
            assert f"node {name}: extensions.conf could not be read over AMI: permission denied" in out, out
        finally:
            manager.write_text(manager.read_text().replace("write = call,", "write = system,call,"))
            node.cli("manager reload")
    status, out = check(capsys)
    assert "could not be read" not in out, out


def test_nodes_set_up_with_their_sites_role_match_the_site_rendering(site_asterisk_estate, capsys):
    """``asterisk_config --db-role site``: only the node's own site's context and time zone."""
    in_step(capsys, site_asterisk_estate)
    report = estate_check.check_asterisk_nodes()
    assert {(f.file, f.db_role) for n in report for f in n.files} == {
        ("extensions.conf", "site"), ("voicemail.conf", "site"), ("pjsip.conf", "estate")}
    assert all(n.ok for n in report)


def test_the_estate_check_page_shows_each_nodes_files_and_repair_queues_their_reloads(asterisk_estate, admin_client):
    estate = asterisk_estate
    body = admin_client.get(reverse("services:estate_check")).content.decode()
    central = estate.nodes["central"]
    assert f'id="asterisk-config-{central.pk}"' in body and "reload owed" in body
    assert "<code>dialplan reload</code> may be owed" in body
    response = admin_client.post(reverse("services:estate_check"), follow=True)
    assert "dialplan reload on ast-central-estate (extensions.conf)" in response.content.decode()
    body = admin_client.get(reverse("services:estate_check")).content.decode()
    assert "Estate in sync." in body and "as generated and loaded" in body
