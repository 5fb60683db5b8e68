"""Each kind of portal change sends exactly the reloads it needs, once, to the right nodes.

Driven through the apps' actions (the same write path as the UI and the API), delivered by
eager Celery right after commit to the protocol-faithful AMI fake (TCP, banner, Login,
ActionID) and the Kamailio JSON-RPC fake; the fakes record what reached each node.

Users, mailboxes and service codes are realtime on Asterisk (read on each use, no cache), so no
change to them reaches any Asterisk (tests/asterisk/test_push_real.py proves it on real nodes);
Kamailio caches its tables and gets the reload of each one that changed. Asterisk's reloads are
for its static files and are queued by the estate check (tests/asterisk/test_config_drift.py).
"""
from __future__ import annotations

import pytest
from django.db import transaction

from push import api
from push.models import PushJob, PushState
from tests.fakes.kamailio_rpc import running_kamailio_fake
from voipadmin.actors import Actor

pytestmark = [pytest.mark.postgres]

SYSTEM = Actor.command("tests")
DIALPLAN = api.ASTERISK_DIALPLAN_RELOAD


@pytest.fixture
def pbx(eager, ami_fakes, db, django_capture_on_commit_callbacks):
    """Two sites; central has a PBX and a media Asterisk, branch one PBX; each Asterisk is an AMI fake."""
    with django_capture_on_commit_callbacks(execute=True):  # (committed, as setting up would be)
        return _estate(ami_fakes)


def _estate(ami_fakes) -> dict:
    from sites import actions as site_actions

    central = site_actions.create_site(actor=SYSTEM, name="Central", slug="central", kind="central",
                                       sip_domain="voip.example.test", ranges=[(1000, 3999)])
    branch = site_actions.create_site(actor=SYSTEM, name="Branch 1", slug="branch1", sip_domain="voip.example.test",
                                      ranges=[(4000, 5999)])
    fakes, nodes = {}, {}
    for name, site in (("ast-central", central), ("ast-media", central), ("ast-branch1", branch)):
        fakes[name] = ami_fakes.start()
        nodes[name] = site_actions.create_asterisk_node(
            actor=SYSTEM, name=name, site=site, host=f"127.0.0.{11 + len(nodes)}", ami_host="127.0.0.1",
            ami_port=fakes[name].port, ami_username="admin", ami_secret="secret")
    return {"central": central, "branch1": branch, "nodes": nodes, "fakes": fakes}


def change(capture, fn, *args, **kwargs):
    """One change = one committed transaction; eager Celery delivers right after the commit."""
    for fake in _fakes:
        fake.actions.clear()
        fake.connections = 0
    with capture(execute=True):
        with transaction.atomic():
            return fn(*args, **kwargs)


_fakes: list = []  # the current test's AMI fakes (cleared before each change)


@pytest.fixture(autouse=True)
def _fakes_of_this_test(request):
    if "pbx" in request.fixturenames:
        _fakes[:] = request.getfixturevalue("pbx")["fakes"].values()
    yield
    _fakes.clear()


def setup(capture, fn, *args, **kwargs):
    """Commit what a test builds on; what it asked for is not under test."""
    result = change(capture, fn, *args, **kwargs)
    PushJob.objects.all().delete()
    return result


def received(pbx) -> dict[str, list[str]]:
    return {name: list(fake.commands) for name, fake in pbx["fakes"].items()}


def _user(**fields):
    from users import actions as user_actions

    return user_actions.create_user(actor=SYSTEM, **fields)


NOTHING = {"ast-central": [], "ast-media": [], "ast-branch1": []}


def test_a_new_user_sends_nothing_to_any_asterisk(pbx, django_capture_on_commit_callbacks):
    change(django_capture_on_commit_callbacks, _user, extension=4001, name="Ann", site=pbx["branch1"],
           voicemail_enabled=True)
    assert received(pbx) == NOTHING
    assert all(fake.connections == 0 for fake in pbx["fakes"].values())
    assert not PushJob.objects.exists()


def test_user_changes_send_nothing_to_any_asterisk_whatever_changed(pbx, django_capture_on_commit_callbacks):
    from users import actions as user_actions

    user = setup(django_capture_on_commit_callbacks, _user, extension=1001, name="Bob", site=pbx["central"],
                 voicemail_enabled=True)
    change(django_capture_on_commit_callbacks, user_actions.update_user, user, actor=SYSTEM, caller_id="1001")
    assert received(pbx) == NOTHING

    change(django_capture_on_commit_callbacks, user_actions.update_user, user, actor=SYSTEM, name="Robert")
    assert received(pbx) == NOTHING  # (the mailbox's name changed: app_voicemail reads it on each use)

    change(django_capture_on_commit_callbacks, user_actions.update_user, user, actor=SYSTEM, enabled=False)
    change(django_capture_on_commit_callbacks, user_actions.reset_password, user, actor=SYSTEM)
    change(django_capture_on_commit_callbacks, user_actions.reset_voicemail_pin, user, actor=SYSTEM, pin="7391")
    change(django_capture_on_commit_callbacks, user_actions.delete_user, user, actor=SYSTEM)
    assert received(pbx) == NOTHING
    assert not PushJob.objects.exists()


def test_a_user_moved_to_another_site_sends_nothing_to_either_site(pbx, django_capture_on_commit_callbacks):
    from users import actions as user_actions

    user = setup(django_capture_on_commit_callbacks, _user, extension=1002, name="Cleo", site=pbx["central"])
    change(django_capture_on_commit_callbacks, user_actions.update_user, user, actor=SYSTEM, site=pbx["branch1"],
           extension=4002)
    got = received(pbx)
    assert got == NOTHING, got
    assert DIALPLAN not in sum(got.values(), [])


def test_a_csv_import_sends_nothing_to_any_asterisk(pbx, django_capture_on_commit_callbacks):
    from users import csvio

    csv = "extension,name,email,site\n1003,Dora,,central\n4003,Eve,,branch1\n"
    change(django_capture_on_commit_callbacks, csvio.import_csv, csv, actor=SYSTEM)
    assert received(pbx) == NOTHING
    assert not PushJob.objects.exists()


def test_a_service_code_change_sends_nothing_to_any_asterisk(pbx, django_capture_on_commit_callbacks):
    from services import actions as service_actions

    code = change(django_capture_on_commit_callbacks, service_actions.create_service_code, actor=SYSTEM,
                  code="*130", name="Echo", kind="echo", route_to="home")
    # Every site's context carries the code as realtime rows pbx_realtime reads on the next call.
    assert received(pbx) == {name: [] for name in pbx["fakes"]}

    change(django_capture_on_commit_callbacks, service_actions.update_service_code, code, actor=SYSTEM,
           code="*131")
    assert received(pbx) == {name: [] for name in pbx["fakes"]}

    change(django_capture_on_commit_callbacks, service_actions.delete_service_code, code, actor=SYSTEM)
    assert received(pbx) == {name: [] for name in pbx["fakes"]}
    assert not PushJob.objects.filter(node_kind="asterisk").exists()


def test_an_inbound_number_sends_nothing_to_any_asterisk(pbx, django_capture_on_commit_callbacks):
    from services import actions as service_actions

    user = setup(django_capture_on_commit_callbacks, _user, extension=1010, name="Reception", site=pbx["central"])
    ddi = change(django_capture_on_commit_callbacks, service_actions.create_inbound_number, actor=SYSTEM,
                 number="+34911000100", target="user", user=user)
    change(django_capture_on_commit_callbacks, service_actions.update_inbound_number, ddi, actor=SYSTEM,
           enabled=False)
    change(django_capture_on_commit_callbacks, service_actions.delete_inbound_number, ddi, actor=SYSTEM)
    assert received(pbx) == NOTHING  # a DDI is a Kamailio dialplan rule (dpid 3) only
    assert not PushJob.objects.filter(node_kind="asterisk").exists()


def test_a_service_code_edit_that_changes_no_asterisk_row_sends_no_asterisk_reload(
        pbx, django_capture_on_commit_callbacks):
    from services import actions as service_actions

    code = setup(django_capture_on_commit_callbacks, service_actions.create_service_code, actor=SYSTEM,
                 code="*130", name="Echo", kind="echo", route_to="home")
    change(django_capture_on_commit_callbacks, service_actions.update_service_code, code, actor=SYSTEM,
           description="the echo test")
    assert received(pbx) == {name: [] for name in pbx["fakes"]}


def test_trunk_route_and_dispatcher_changes_send_nothing_to_any_asterisk(
        pbx, django_capture_on_commit_callbacks):
    from services import actions as service_actions
    from trunks import actions as trunk_actions

    itsp = change(django_capture_on_commit_callbacks, trunk_actions.create_itsp_trunk, actor=SYSTEM, name="itsp",
                  host="127.0.0.20", ip_addresses="127.0.0.20")
    assert received(pbx) == {name: [] for name in pbx["fakes"]}, "an ITSP lives in Kamailio only"

    e1 = change(django_capture_on_commit_callbacks, trunk_actions.create_e1_trunk, actor=SYSTEM, name="e1-pstn",
                asterisk_node=pbx["nodes"]["ast-central"], span=1)
    # Nothing of an E1 is in Asterisk's realtime tables (span settings are chan_dahdi's config): no reload.
    assert received(pbx) == {name: [] for name in pbx["fakes"]}, "an E1 lives in Kamailio's dispatcher rows"

    change(django_capture_on_commit_callbacks, trunk_actions.create_route, actor=SYSTEM, name="national",
           pattern="^9[0-9]{8}$", trunks=[itsp, e1])
    assert received(pbx) == {name: [] for name in pbx["fakes"]}, "routes live in Kamailio only"

    change(django_capture_on_commit_callbacks, service_actions.create_dispatcher_set, actor=SYSTEM, setid=1,
           name="asterisks", algorithm=4, destinations=[{"node": pbx["nodes"]["ast-branch1"]}])
    assert received(pbx) == {name: [] for name in pbx["fakes"]}, "dispatcher sets live in Kamailio only"
    assert not PushJob.objects.exclude(state=PushState.SENT).exists()


def test_site_and_node_changes_send_nothing_to_any_asterisk_at_change_time(pbx, django_capture_on_commit_callbacks):
    """They change the nodes' static files, which only the operator can rewrite (asterisk_config): a reload
    now would re-read the old files. The estate check asks for the reloads once the files are rewritten."""
    from sites import actions as site_actions

    change(django_capture_on_commit_callbacks, site_actions.create_site, actor=SYSTEM, name="Branch 2",
           slug="branch2", sip_domain="voip.example.test", ranges=[(6000, 6999)])
    change(django_capture_on_commit_callbacks, site_actions.update_site, pbx["branch1"], actor=SYSTEM,
           time_zone="Atlantic/Canary")
    change(django_capture_on_commit_callbacks, site_actions.update_asterisk_node, pbx["nodes"]["ast-media"],
           actor=SYSTEM, name="ast-media-2")
    assert received(pbx) == {name: [] for name in pbx["fakes"]}
    assert not PushJob.objects.filter(node_kind="asterisk").exists()


def test_each_kamailio_change_names_exactly_the_rpc_reloads_of_the_tables_it_touched(
        pbx, django_capture_on_commit_callbacks):
    from services import actions as service_actions
    from sites import actions as site_actions
    from trunks import actions as trunk_actions
    from trunks.models import Trunk

    with running_kamailio_fake() as kam:
        setup(django_capture_on_commit_callbacks, site_actions.create_kamailio_node, actor=SYSTEM, name="kam",
              sip_address="127.0.0.1:5060", jsonrpc_url=kam.url)

        def step(fn, *args, **kwargs) -> tuple[list[str], list[str]]:
            """(the reloads the change asked of Kamailio, the reloads Kamailio received)"""
            kam.calls.clear()
            kam.state.last_reload.clear()  # (the fake answers "Ongoing reload" within 5 s, as Kamailio does)
            last = PushJob.objects.order_by("-id").values_list("id", flat=True).first() or 0
            change(django_capture_on_commit_callbacks, fn, *args, **kwargs)
            asked = sorted(PushJob.objects.filter(id__gt=last, node_kind="kamailio").values_list("command", flat=True))
            return asked, sorted(c for c in kam.calls if c.lower().endswith("reload"))

        itsp = trunk_actions.create_itsp_trunk  # (names kept short below)
        assert step(itsp, actor=SYSTEM, name="itsp", host="127.0.0.20", ip_addresses="127.0.0.20") == (
            [api.ADDRESS_RELOAD], [api.ADDRESS_RELOAD])
        asked, _ = step(itsp, actor=SYSTEM, name="itsp-reg", host="127.0.0.21", auth_mode="registration",
                        username="acct", auth_password="s3cret-trunk-pass")
        assert asked == [api.UACREG_RELOAD]  # (sent once Kamailio's reg_gc_interval allows; see test_kamailio)
        PushJob.objects.filter(command=api.UACREG_RELOAD).delete()
        trunk = Trunk.objects.get(name="itsp")
        assert step(trunk_actions.create_route, actor=SYSTEM, name="national", pattern="^9[0-9]{8}$",
                    trunks=[trunk]) == ([api.DIALPLAN_RELOAD, api.DISPATCHER_RELOAD],) * 2
        assert step(service_actions.create_dispatcher_set, actor=SYSTEM, setid=1, name="asterisks", algorithm=4,
                    destinations=[{"node": pbx["nodes"]["ast-branch1"]}]) == ([api.DISPATCHER_RELOAD],) * 2
        assert received(pbx) == {name: [] for name in pbx["fakes"]}


def test_a_kamailio_node_added_or_enabled_is_told_to_reread_every_table(pbx, django_capture_on_commit_callbacks):
    """A Kamailio started before it was added to the portal holds tables loaded before any number of changes:
    adding it (or enabling it again) asks it for every reload, not only what the change projected."""
    from sites import actions as site_actions

    every = sorted(api.COMMANDS[api.KAMAILIO])
    with running_kamailio_fake() as kam:
        node = change(django_capture_on_commit_callbacks, site_actions.create_kamailio_node, actor=SYSTEM,
                      name="kam", sip_address="127.0.0.1:5060", jsonrpc_url=kam.url)
        assert sorted(PushJob.objects.filter(kamailio_node=node).values_list("command", flat=True)) == every
        node = change(django_capture_on_commit_callbacks, site_actions.update_kamailio_node, node, actor=SYSTEM,
                      enabled=False)
        PushJob.objects.all().delete()
        change(django_capture_on_commit_callbacks, site_actions.update_kamailio_node, node, actor=SYSTEM,
               enabled=True)
        assert sorted(PushJob.objects.filter(kamailio_node=node).values_list("command", flat=True)) == every
        PushJob.objects.all().delete()
        change(django_capture_on_commit_callbacks, site_actions.update_kamailio_node, node, actor=SYSTEM,
               name="kam-1")  # a rename: only its trusted-peer row (tagged with its name) to re-read
        assert list(PushJob.objects.filter(kamailio_node=node).values_list("command", flat=True)) == [
            api.ADDRESS_RELOAD]


def test_ten_edits_of_every_kind_in_one_transaction_send_one_reload_per_target(
        pbx, django_capture_on_commit_callbacks):
    from services import actions as service_actions
    from sites import actions as site_actions
    from trunks import actions as trunk_actions
    from users import actions as user_actions

    with running_kamailio_fake() as kam:
        def build():
            site_actions.create_kamailio_node(actor=SYSTEM, name="kam", sip_address="127.0.0.1:5060",
                                              jsonrpc_url=kam.url)
            return ([_user(extension=1100 + i, name=f"User {i}", site=pbx["central"]) for i in range(10)],
                    [service_actions.create_service_code(actor=SYSTEM, code=f"*14{i}", name=f"Code {i}",
                                                         kind="echo", route_to="home") for i in range(10)])

        users, codes = setup(django_capture_on_commit_callbacks, build)
        kam.calls.clear()
        kam.state.last_reload.clear()  # (the fake answers "Ongoing reload" within 5 s, as Kamailio does)

        def ten_edits_each():
            for i in range(10):
                user_actions.update_user(users[i], actor=SYSTEM, caller_id=f"55{i}")
                service_actions.update_service_code(codes[i], actor=SYSTEM, code=f"*15{i}")
                trunk_actions.create_itsp_trunk(actor=SYSTEM, name=f"itsp-{i}", host=f"127.0.0.{30 + i}",
                                                ip_addresses=f"127.0.0.{30 + i}")

        change(django_capture_on_commit_callbacks, ten_edits_each)

        assert received(pbx) == NOTHING
        assert sorted(c for c in kam.calls if "eload" in c) == sorted([api.ADDRESS_RELOAD, api.DIALPLAN_RELOAD])
    jobs = PushJob.objects.all()
    assert set(jobs.values_list("state", flat=True)) == {PushState.SENT}
    assert set(jobs.values_list("node_name", "command", "requests")) == {
        ("kam", api.ADDRESS_RELOAD, 10), ("kam", api.DIALPLAN_RELOAD, 10)}
