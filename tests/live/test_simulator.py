"""The development simulator is labelled as such and refuses to run outside DEBUG."""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_the_simulator_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development simulator"):
        call_command("simulate_estate", "--seconds", "0.1")


def test_the_simulator_needs_a_demo_estate(settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="load_demo_estate"):
        call_command("simulate_estate", "--seconds", "0.1")


def test_the_simulator_only_binds_loopback(settings, make_site, make_asterisk):
    settings.DEBUG = True
    make_asterisk(make_site(), None, port=5038, ami_host="pbx.example.invalid")
    with pytest.raises(CommandError, match="pbx.example.invalid is not a loopback address"):
        call_command("simulate_estate", "--seconds", "0.1")


# -- the simulator's Kamailio answers as the real one does ------------------------------------------------------


def _without(entries: list[dict], key: str) -> list:
    """Drop a key whose value is Kamailio's own bookkeeping (a hash bucket, a table index); sort the rest."""
    return sorted(({k: v for k, v in e.items() if k != key} for e in entries), key=repr)


@pytest.mark.django_db(transaction=True)
@pytest.mark.kamailio
def test_the_simulators_kamailio_answers_like_the_real_one_from_the_same_tables(live_kamailio):
    """The same rows in the shared database, loaded by the suite's real Kamailio 5.6 and by the simulator:
    every method the estate check reads answers the same (shape and values)."""
    from live.management.commands.simulate_estate import estate_kamailio, kamailio_tables
    from tests.fakes.kamailio_rpc import KamailioFake
    from voipadmin.kamailio.models import Address, DialplanRule, Dispatcher

    Address.objects.create(grp=3, ip_addr="127.0.1.0", mask=28, port=5060, tag="itsp")
    Address.objects.create(grp=3, ip_addr="127.0.2.7", mask=32, port=0, tag=None)
    Dispatcher.objects.create(setid=1, destination="sip:127.0.0.11:5060", priority=10, attrs="weight=50")
    Dispatcher.objects.create(setid=1, destination="sip:127.0.0.12:5060", priority=5, attrs="weight=2")
    DialplanRule.objects.create(dpid=1, pr=10, match_op=0, match_exp="*130", match_len=0, subst_exp="",
                                repl_exp="", attrs="echo")
    DialplanRule.objects.create(dpid=2, pr=5, match_op=1, match_exp="^0(.*)$", match_len=0, subst_exp="^0(.*)$",
                                repl_exp="\\1", attrs="out")
    # a home-site rule (dialplan 4): no subst_exp, so repl_exp replaces the whole number
    DialplanRule.objects.create(dpid=4, pr=1, match_op=1, match_exp="^1[0-9]{3}$", match_len=0, subst_exp="",
                                repl_exp="sip:127.0.0.11:5060", attrs="site=central")
    for method in ("permissions.addressReload", "dispatcher.reload", "dialplan.reload"):
        live_kamailio.rpc(method)
    fake = estate_kamailio(KamailioFake)(tables=kamailio_tables()).start()
    try:
        from voipadmin.connectors.kamailio import KamailioRpc

        with KamailioRpc(fake.url) as rpc:
            simulated = {"addressDump": rpc.address_dump(), "subnetDump": rpc.subnet_dump(),
                         "dispatcher.list": rpc.dispatcher_list(), "dialplan 1": rpc.dialplan_dump(1),
                         "dialplan 2": rpc.dialplan_dump(2), "translate": rpc.dialplan_translate(2, "0612"),
                         "translate 4": rpc.dialplan_translate(4, "1001")}
    finally:
        fake.stop()
    real = {"addressDump": live_kamailio.rpc("permissions.addressDump"),
            "subnetDump": live_kamailio.rpc("permissions.subnetDump"),
            "dispatcher.list": live_kamailio.rpc("dispatcher.list"),
            "dialplan 1": live_kamailio.rpc("dialplan.dump", 1), "dialplan 2": live_kamailio.rpc("dialplan.dump", 2),
            "translate": live_kamailio.rpc("dialplan.translate", 2, "0612"),
            "translate 4": live_kamailio.rpc("dialplan.translate", 4, "1001")}

    assert _without(simulated["addressDump"], "table") == _without(real["addressDump"], "table")
    assert {tuple(e) for e in real["addressDump"]} == {tuple(e) for e in simulated["addressDump"]}
    assert _without(simulated["subnetDump"], "id") == _without(real["subnetDump"], "id")
    assert [sorted(e) for e in real["subnetDump"]] == [sorted(e) for e in simulated["subnetDump"]]
    assert real["translate 4"]["Output"] == "sip:127.0.0.11:5060"
    for key in ("dispatcher.list", "dialplan 1", "dialplan 2", "translate", "translate 4"):
        assert simulated[key] == real[key], key


def test_the_simulators_uac_records_carry_every_field_the_real_uac_reg_dump_has(db):
    """Captured from kamailio 5.6.3's ``uac.reg_dump`` (tests/services/test_kamailio_e2e.py reads it live)."""
    from live.management.commands.simulate_estate import kamailio_tables
    from voipadmin.kamailio.models import UacReg

    UacReg.objects.create(l_uuid="itsp-reg", l_username="itsp-reg", l_domain="voip.example.test", r_username="349",
                          r_domain="sip.itsp.test", realm="itsp", auth_username="349", auth_password="pw",
                          auth_proxy="sip:127.0.0.21:5099", expires=600)
    record = kamailio_tables()["uac_regs"][0]
    assert list(record) == ["l_uuid", "l_username", "l_domain", "r_username", "r_domain", "realm", "auth_username",
                            "auth_password", "auth_ha1", "auth_proxy", "expires", "flags", "diff_expires",
                            "timer_expires", "reg_init", "reg_delay", "contact_addr", "socket"]
    assert (record["auth_ha1"], record["socket"]) == ("none", None)
