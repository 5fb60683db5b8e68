"""Conference rooms without Asterisk: profile resolution, the room's home node taken atomically (two first callers
on two nodes at once agree on one), places given back, stale rows reconciled, and a call's path through join()
with a scripted caller. (The real thing, Kamailio + two Asterisks + sipp: test_rooms_real.py.)"""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone as dt_timezone
from types import SimpleNamespace

import pytest
from django.db import connection, connections

from media import actions as media_actions
from media.models import ActiveRoom, AppServiceInstance
from media.service import rooms
from media.service.ari import AriError
from sites import actions as site_actions

from tests.media.objects import SYSTEM

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=dt_timezone.utc)


@pytest.fixture
def estate(db):
    sites = {slug: site_actions.create_site(actor=SYSTEM, name=slug.title(), slug=slug, sip_domain="voip.example.test",
                                            ranges=[(start, start + 999)])
             for slug, start in (("central", 1000), ("branch1", 4000))}
    nodes = {slug: site_actions.create_asterisk_node(actor=SYSTEM, name=f"ast-{slug}", site=site,
                                                     host=f"127.0.0.{21 + i}", sip_port=5060 + i, roles="pbx")
             for i, (slug, site) in enumerate(sites.items())}
    room = media_actions.create_conference_room(actor=SYSTEM, site=sites["central"], number="800", name="Board",
                                                pin="1234")
    return SimpleNamespace(sites=sites, nodes=nodes, room=room)


# --- what the call reads ------------------------------------------------------------------------------------------


def test_a_room_uses_its_own_profile_else_its_sites_default_else_the_built_in_one(estate):
    assert rooms.load_room(estate.room.pk).profile == rooms.DEFAULT_PROFILE
    site_default = media_actions.create_conference_profile(actor=SYSTEM, name="Central", max_members=5,
                                                           site_default=estate.sites["central"])
    assert rooms.load_room(estate.room.pk).profile.max_members == 5
    own = media_actions.create_conference_profile(actor=SYSTEM, name="Big", max_members=50, record=True,
                                                  announce_join_leave=True, announce_only_member=False)
    media_actions.update_conference_room(estate.room, actor=SYSTEM, profile=own)
    assert rooms.load_room(estate.room.pk).profile == rooms.Profile(
        max_members=50, announce_join_leave=True, announce_only_member=False, record=True)
    assert site_default.max_members == 5


def test_the_same_number_on_two_sites_is_two_rooms_and_a_disabled_one_is_not_found(estate, django_assert_num_queries):
    other = media_actions.create_conference_room(actor=SYSTEM, site=estate.sites["branch1"], number="800",
                                                 name="Branch board")
    with django_assert_num_queries(1):
        assert rooms.find_room("central", "800").pk == estate.room.pk
    assert rooms.find_room("branch1", "800").pk == other.pk
    assert rooms.find_room("branch1", "801") is None
    media_actions.update_conference_room(other, actor=SYSTEM, enabled=False)
    assert rooms.find_room("branch1", "800") is None


def test_a_recording_is_named_by_room_and_start_time():
    room = rooms.Room(pk=1, site="central", number="800", pin="", enabled=True, profile=rooms.DEFAULT_PROFILE)
    assert rooms.recording_name(room, T0) == "room-central-800-20260302-100000"


# --- the room's home ------------------------------------------------------------------------------------------------


def test_the_first_caller_makes_its_node_home_others_there_join_others_elsewhere_are_relayed(estate):
    central, branch = estate.nodes["central"], estate.nodes["branch1"]
    first = rooms.admit(estate.room.pk, central.pk, "t1", 2, now=T0)
    assert (first.outcome, first.first) == ("joined", True) and first.bridge_id.startswith(rooms.BRIDGE_PREFIX)
    relay = rooms.admit(estate.room.pk, branch.pk, "t2", 2)
    assert relay.outcome == "relay"
    assert (relay.home.node_pk, relay.home.bridge_id, relay.home.node_address) == \
        (central.pk, first.bridge_id, "127.0.0.21:5060")
    second = rooms.admit(estate.room.pk, central.pk, "t2", 2)
    assert (second.outcome, second.first, second.bridge_id) == ("joined", False, first.bridge_id)
    assert rooms.admit(estate.room.pk, central.pk, "t1", 2).outcome == "full"
    assert ActiveRoom.objects.get(room=estate.room).members == 2
    # places are given back; the last one out deletes the row (its caller destroys the bridge)
    assert rooms.release(estate.room.pk, first.bridge_id) is False
    assert ActiveRoom.objects.get(room=estate.room).members == 1
    assert rooms.release(estate.room.pk, first.bridge_id) is True
    assert not ActiveRoom.objects.exists()
    assert rooms.release(estate.room.pk, first.bridge_id) is False  # (a row already gone: nothing to do)


@pytest.mark.django_db(transaction=True)
def test_two_first_callers_on_two_nodes_at_the_same_moment_agree_on_one_home(estate):
    nodes = [estate.nodes["central"].pk, estate.nodes["branch1"].pk] * 3
    start = threading.Barrier(len(nodes))

    def arrive(node_pk):
        start.wait()
        try:
            return node_pk, rooms.admit(estate.room.pk, node_pk, f"t{node_pk}", 20)
        finally:
            connection.close()

    with ThreadPoolExecutor(len(nodes)) as pool:
        results = list(pool.map(arrive, nodes))
    row = ActiveRoom.objects.get(room=estate.room)
    joined = [node for node, a in results if a.outcome == "joined"]
    relayed = [a for _node, a in results if a.outcome == "relay"]
    assert set(joined) == {row.node_id} and len(joined) == row.members == 3
    assert [a.home.bridge_id for a in relayed] == [row.bridge_id] * 3
    assert len([a for _node, a in results if a.first]) == 1


def test_reconcile_drops_rows_whose_bridge_is_gone_and_recounts_rooms_nobody_follows(estate):
    central = estate.nodes["central"]
    other = media_actions.create_conference_room(actor=SYSTEM, site=estate.sites["central"], number="801", name="B")
    young = media_actions.create_conference_room(actor=SYSTEM, site=estate.sites["central"], number="802", name="C")
    empty = media_actions.create_conference_room(actor=SYSTEM, site=estate.sites["central"], number="803", name="D")
    AppServiceInstance.objects.create(name="alive", started=T0, heartbeat=T0)
    gone = rooms.admit(estate.room.pk, central.pk, "dead", 5, now=T0 - timedelta(minutes=5))
    followed = rooms.admit(other.pk, central.pk, "alive", 5, now=T0 - timedelta(minutes=5))
    fresh = rooms.admit(young.pk, central.pk, "dead", 5, now=T0 - timedelta(seconds=2))
    orphan = rooms.admit(empty.pk, central.pk, "dead", 5, now=T0 - timedelta(minutes=5))
    ActiveRoom.objects.filter(room=other).update(members=4)
    bridges = {followed.bridge_id: 1, orphan.bridge_id: 0}
    assert rooms.rows_to_reconcile(central.pk, bridges, now=T0) == [orphan.bridge_id]
    left = dict(ActiveRoom.objects.values_list("bridge_id", "members"))
    # the gone bridge's row is dropped, the young row waits for its bridge, the live instance's count is its own
    assert left == {followed.bridge_id: 4, fresh.bridge_id: 1}
    assert gone.bridge_id not in left
    ActiveRoom.objects.filter(bridge_id=followed.bridge_id).update(instance="dead")
    rooms.rows_to_reconcile(central.pk, {followed.bridge_id: 2}, now=T0)
    assert ActiveRoom.objects.get(bridge_id=followed.bridge_id).members == 2


# --- a call through join(), with a scripted caller ------------------------------------------------------------------


class Caller:
    """Stands in for CallContext: keys come from ``keys`` (one string per get_digits), ARI requests are recorded."""

    def __init__(self, node, keys=(), channel_id="ch-1"):
        self.node = SimpleNamespace(pk=node.pk, name=node.name, site=node.site.slug)
        self.instance, self.channel_id, self.caller = "t1", channel_id, "4001"
        self.keys = list(keys)
        self.actions: list[tuple] = []
        self.hung_up = asyncio.Event()
        self.ari = SimpleNamespace(get=self._get, post=self._post, delete=self._delete)
        self.bridges: set[str] = set()

    async def db(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)

    async def answer(self):
        self.actions.append(("answer",))

    async def play(self, media, wait=True, *, barge_in=False):
        self.actions.append(("play", media))
        return "done"

    async def get_digits(self, max, timeout, terminator="#"):  # noqa: A002
        return self.keys.pop(0) if self.keys else ""

    async def hangup(self, reason="normal"):
        self.actions.append(("hangup",))
        self.hung_up.set()

    async def continue_in(self, context, exten, priority=1, variables=None):
        self.actions.append(("continue", context, exten, variables))

    async def _get(self, path, **params):
        bridge = path.rsplit("/", 1)[1]
        if bridge not in self.bridges:
            raise AriError("not found", status=404)
        return {"id": bridge, "channels": []}

    async def _post(self, path, body=None, **params):
        self.actions.append(("POST", path, params))
        if path.count("/") == 2:  # /bridges/{id}: created
            self.bridges.add(path.rsplit("/", 1)[1])
        elif path.endswith("/addChannel"):
            self.hung_up.set()  # the caller hangs up once in the room

    async def _delete(self, path, **params):
        self.actions.append(("DELETE", path))


@pytest.fixture
def async_db(monkeypatch):
    """ORM calls straight from the test's event loop. Their connection is not the test's: the tests using this
    are transactional (committed rows), and run() closes it."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def run(coro):
    async def main():
        try:
            return await coro
        finally:
            connections.close_all()

    return asyncio.run(main())


@pytest.mark.django_db(transaction=True)
def test_a_caller_with_the_pin_joins_and_the_last_one_out_destroys_the_bridge(estate, async_db):
    caller = Caller(estate.nodes["central"], keys=["1234"])
    run(rooms.join(caller, estate.room, "central"))
    [bridge] = caller.bridges
    posts = [(a[1], a[2]) for a in caller.actions if a[0] == "POST"]
    assert posts == [(f"/bridges/{bridge}", {"type": "mixing", "name": "room-central-800"}),
                     (f"/bridges/{bridge}/addChannel", {"channel": "ch-1"})]
    assert ("play", "sound:conf-onlyperson") in caller.actions
    assert caller.actions[-1] == ("DELETE", f"/bridges/{bridge}") and not ActiveRoom.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_wrong_pin_three_times_is_refused_and_gives_its_place_back(estate, async_db):
    caller = Caller(estate.nodes["central"], keys=["1111", "", "12345"])
    run(rooms.join(caller, estate.room, "central"))
    plays = [a[1] for a in caller.actions if a[0] == "play"]
    assert plays == ["sound:conf-getpin", "sound:conf-invalidpin"] * 3
    assert ("hangup",) in caller.actions
    assert not any(a[0] == "POST" and a[1].endswith("/addChannel") for a in caller.actions)
    assert not ActiveRoom.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_caller_on_another_node_is_relayed_to_the_home_node_before_any_prompt(estate, async_db, monkeypatch):
    home = rooms.admit(estate.room.pk, estate.nodes["central"].pk, "t1", 20)

    async def alive(found):
        assert found.bridge_id == home.bridge_id
        return True

    monkeypatch.setattr(rooms, "home_is_alive", alive)
    caller = Caller(estate.nodes["branch1"])
    run(rooms.join(caller, estate.room.pk, "branch1"))
    assert caller.actions == [("continue", "va-app-relay", "800", {
        "VA_RELAY_NODE": "127.0.0.21:5060", "VA_RELAY_APP": f"room={estate.room.pk}", "VA_CALLER_SITE": "branch1"})]
    assert ActiveRoom.objects.get(room=estate.room).members == 1


@pytest.mark.django_db(transaction=True)
def test_a_dead_home_is_taken_over_and_a_full_room_refuses(estate, async_db, monkeypatch):
    rooms.admit(estate.room.pk, estate.nodes["central"].pk, "t1", 20)

    async def dead(found):
        return False

    monkeypatch.setattr(rooms, "home_is_alive", dead)
    media_actions.update_conference_room(estate.room, actor=SYSTEM, pin="")
    caller = Caller(estate.nodes["branch1"])
    run(rooms.join(caller, estate.room, "branch1"))
    assert any(a[0] == "POST" and a[1].endswith("/addChannel") for a in caller.actions)
    # full: a profile of two, two places taken on the new home
    profile = media_actions.create_conference_profile(actor=SYSTEM, name="Two", max_members=2)
    media_actions.update_conference_room(estate.room, actor=SYSTEM, profile=profile)
    for _ in range(2):
        rooms.admit(estate.room.pk, estate.nodes["branch1"].pk, "t1", 2)
    late = Caller(estate.nodes["branch1"], channel_id="ch-2")
    run(rooms.join(late, estate.room, "branch1"))
    assert late.actions == [("answer",), ("play", "sound:conf-locked"), ("hangup",)]


@pytest.mark.django_db(transaction=True)
def test_a_relayed_caller_for_a_missing_room_hears_service_unavailable(estate, async_db, monkeypatch):
    async def unavailable(ctx, site=""):
        ctx.actions.append(("unavailable", site))

    from media.service import codes

    monkeypatch.setattr(codes, "unavailable", unavailable)
    caller = Caller(estate.nodes["central"])
    caller.args = ["relay", str(estate.room.pk + 100), "branch1"]
    run(rooms.relay_call(caller))
    assert caller.actions == [("unavailable", "branch1")]


@pytest.mark.django_db(transaction=True)
def test_a_member_taken_over_from_a_dead_instance_gives_its_place_back_when_it_leaves(estate, async_db):
    home = rooms.admit(estate.room.pk, estate.nodes["central"].pk, "dead", 20)
    rooms.admit(estate.room.pk, estate.nodes["central"].pk, "dead", 20)
    member = Caller(estate.nodes["central"], channel_id="ch-7")
    member.instance = "t2"

    async def bridges(path, **params):
        return [{"id": "other", "channels": ["ch-7"]}, {"id": home.bridge_id, "channels": ["ch-7", "ch-8"]}]

    member.ari.get = bridges
    member.hung_up.set()  # it hangs up at once
    run(rooms.adopt_member(member))
    row = ActiveRoom.objects.get(room=estate.room)
    assert (row.members, row.instance) == (1, "t2")


@pytest.mark.django_db(transaction=True)
def test_reconciling_a_node_asks_its_bridges_and_destroys_the_empty_ones_nobody_follows(estate, async_db):
    central = estate.nodes["central"]
    orphan = rooms.admit(estate.room.pk, central.pk, "dead", 5, now=T0)
    answers = {"/bridges": [{"id": orphan.bridge_id, "channels": ["rec-1"]}, {"id": "confbridge", "channels": []}],
               "/channels": [{"id": "rec-1", "name": "Recorder/ARI-00000001"}]}
    requests = []

    async def get(path, **params):
        return answers[path]

    async def delete(path, **params):
        requests.append(path)

    run(rooms.reconcile(SimpleNamespace(pk=central.pk), SimpleNamespace(get=get, delete=delete)))
    # a bridge holding only its recorder has no member left
    assert requests == [f"/bridges/{orphan.bridge_id}"] and not ActiveRoom.objects.exists()


def test_every_node_relays_through_each_kamailio_in_turn_and_hands_a_relayed_caller_to_the_service(db):
    from tests.nodeconf.test_busy_lamps_config import context, render

    central = site_actions.create_site(actor=SYSTEM, name="Central", slug="central", sip_domain="voip.example.test",
                                       ranges=[(1000, 1999)])
    for name, address in (("kamailio-a", "127.0.0.10:5060"), ("kamailio-b", "127.0.0.12:5070")):
        site_actions.create_kamailio_node(actor=SYSTEM, name=name, sip_address=address,
                                          jsonrpc_url=f"http://{address.split(':')[0]}:5071/RPC")
    node = site_actions.create_asterisk_node(actor=SYSTEM, name="ast-central", site=central, host="127.0.0.11",
                                             roles="pbx")
    ext = render(node)["extensions.conf"]
    relay = [v for _k, v in context(ext, "va-app-relay")]
    handler = "Ib(va-app-relay-headers^s^1(${VA_RELAY_NODE},${VA_RELAY_APP},${VA_CALLER_SITE}))"
    assert relay[1] == f"n,Dial(PJSIP/kamailio-1/sip:${{EXTEN}}@127.0.0.10:5060,,{handler})"
    assert relay[3] == f"n,Dial(PJSIP/kamailio-2/sip:${{EXTEN}}@127.0.0.12:5070,,{handler})"
    assert [v for _k, v in context(ext, "va-app-relay-headers")][:3] == [
        "s,1,Set(PJSIP_HEADER(add,X-VA-Node)=${ARG1})", "n,Set(PJSIP_HEADER(add,X-VA-App)=${ARG2})",
        "n,Set(PJSIP_HEADER(add,X-VA-Site)=${ARG3})"]
    # the home node: X-VA-App is looked at before anything marks the caller's lamp (its own node does that)
    from_kamailio = [v for _k, v in context(ext, "from-kamailio")]
    relayed = from_kamailio.index("n,GotoIf($[${LEN(${PJSIP_HEADER(read,X-VA-App)})} > 0]?va-app-relayed,${EXTEN},1)")
    assert relayed < next(i for i, v in enumerate(from_kamailio) if "va-lamp" in v)
    assert "n,StasisBroadcast(1000,^voipadmin[.],relay:${VA_ROOM}:${VA_CALLER_SITE})" in \
        [v for _k, v in context(ext, "va-app-relayed")]


@pytest.mark.django_db(transaction=True)
def test_a_rooms_code_asks_for_the_number_among_the_callers_sites_rooms(estate, async_db):
    media_actions.update_conference_room(estate.room, actor=SYSTEM, pin="")
    caller = Caller(estate.nodes["central"], keys=["801", "800"])
    run(rooms.ask_room(caller, "central"))
    plays = [a[1] for a in caller.actions if a[0] == "play"]
    assert plays[:3] == ["sound:conf-getconfno", "sound:conf-invalid", "sound:conf-getconfno"]
    assert any(a[0] == "POST" and a[1].endswith("/addChannel") for a in caller.actions)
    # a branch1 caller keying 800 is not in central's room 800: three wrong numbers, then hung up
    stranger = Caller(estate.nodes["branch1"], keys=["800", "800", "800"], channel_id="ch-2")
    run(rooms.ask_room(stranger, "branch1"))
    assert [a for a in stranger.actions if a[0] != "answer"][-1] == ("hangup",)
    assert not any(a[0] == "POST" for a in stranger.actions)


@pytest.mark.django_db(transaction=True)
def test_a_home_that_does_not_answer_is_dead_unless_a_live_instance_still_hears_it(estate, async_db):
    central = estate.nodes["central"]
    site_actions.update_asterisk_node(central, actor=SYSTEM, ari_url="http://127.0.0.1:9/ari",
                                      ari_username="voipadmin", ari_password="secret-1")
    admission = rooms.admit(estate.room.pk, central.pk, "t1", 20, now=T0)
    home = rooms.home_of(estate.room.pk)
    assert home.bridge_id == admission.bridge_id
    assert run(rooms.home_is_alive(home)) is False  # (port 9: nobody listens)
    now = datetime.now(dt_timezone.utc)
    AppServiceInstance.objects.create(name="t1", started=now, heartbeat=now, connected_nodes=[central.name])
    assert run(rooms.home_is_alive(home)) is True
