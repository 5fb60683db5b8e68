"""The application service's logic without Asterisk: open hours, which menu plays when, a call's waits and
playbacks, the menu's attempts, reading back a taken-over call's arguments. (The real thing, with Kamailio,
two Asterisks and sipp, is test_menus_real.py.) The ARI a handler uses is a recorder here: it checks the
paths and parameters the runtime sends, which the real tests prove Asterisk 22 accepts."""
from __future__ import annotations

import asyncio
from datetime import datetime, time, timezone as dt_timezone

import pytest

from media import actions as media_actions
from media.service import menus
from media.service.calls import CallContext, CallEnded, NodeInfo, broadcast_args
from sites import actions as site_actions
from voipadmin.actors import Actor

ACTOR = Actor(label="tests", source="system")
NODE = NodeInfo(pk=1, name="ast-1", site="central", sip_uri="sip:127.0.0.1:5060", ari_url="http://127.0.0.1:1/ari")


class RecordingAri:
    """Stands in for AriRest: records (method, path, params) and answers None (204)."""

    def __init__(self):
        self.requests = []

    async def _record(self, method, path, params):
        self.requests.append((method, path, params))

    async def get(self, path, **params):
        await self._record("GET", path, params)

    async def post(self, path, body=None, **params):
        await self._record("POST", path, params)

    async def delete(self, path, **params):
        await self._record("DELETE", path, params)

    async def request(self, method, path, body=None, **params):
        await self._record(method, path, params)


def _ctx(args=("code", "*561", "central")) -> tuple[CallContext, RecordingAri]:
    rest = RecordingAri()
    ctx = CallContext(node=NODE, channel={"id": "ch-1", "caller": {"number": "1001"}}, args=list(args),
                      instance="t", rest=rest)
    return ctx, rest


def _finish_playbacks(ctx: CallContext, rest: RecordingAri) -> None:
    """Asterisk's PlaybackFinished for every playback started so far."""
    for method, path, _ in rest.requests:
        if "/play/" in path:
            ctx.deliver({"type": "PlaybackFinished", "playback": {"id": path.rsplit("/", 1)[1], "state": "done",
                                                                   "target_uri": "channel:ch-1"}})


def test_open_hours_in_the_sites_local_time_with_spans_past_midnight():
    monday_nine_to_six = [(0, time(9), time(18))]
    assert menus.is_open([], datetime(2026, 3, 1, 3, 0))  # no hours: always open
    assert menus.is_open(monday_nine_to_six, datetime(2026, 3, 2, 9, 0))  # Monday 09:00
    assert not menus.is_open(monday_nine_to_six, datetime(2026, 3, 2, 18, 0))
    assert not menus.is_open(monday_nine_to_six, datetime(2026, 3, 3, 10, 0))  # Tuesday
    night = [(4, time(22), time(6))]  # Friday 22:00 to Saturday 06:00
    assert menus.is_open(night, datetime(2026, 3, 6, 23, 0)) and menus.is_open(night, datetime(2026, 3, 7, 5, 59))
    assert not menus.is_open(night, datetime(2026, 3, 7, 6, 0))


@pytest.mark.django_db
def test_a_closed_menu_hands_callers_to_its_after_hours_menu_by_the_sites_time_zone(monkeypatch):
    site = site_actions.create_site(actor=ACTOR, slug="central", name="Central", sip_domain="voip.example.test",
                                    time_zone="Europe/Madrid", ranges=[(1000, 1999)])
    night = media_actions.create_ivr_menu(actor=ACTOR, site=site, name="Night", prompt_sound="vm-goodbye",
                                          options=[{"key": "timeout", "action": "hangup"}])
    day = media_actions.create_ivr_menu(actor=ACTOR, site=site, name="Day", prompt_sound="vm-onefor", timeout=4,
                                        after_hours_menu=night, options=[{"key": "0", "action": "repeat"}],
                                        hours=[{"weekday": 0, "opens": time(9), "closes": time(18)}])
    # Monday 08:30 UTC is 09:30 in Madrid (winter): open
    plan = menus.load(day.pk, datetime(2026, 3, 2, 8, 30, tzinfo=dt_timezone.utc))
    assert (plan.name, plan.prompt, plan.timeout, list(plan.options)) == ("Day", "sound:vm-onefor", 4.0, ["0"])
    # Monday 17:30 UTC is 18:30 in Madrid: closed, the night menu (the injectable clock when no time is given)
    monkeypatch.setattr(menus, "clock", lambda: datetime(2026, 3, 2, 17, 30, tzinfo=dt_timezone.utc))
    plan = menus.load(day.pk)
    assert (plan.name, plan.after_hours_of, plan.prompt) == ("Night", "Day", "sound:vm-goodbye")
    media_actions.update_ivr_menu(day, actor=ACTOR, enabled=False)
    assert menus.load(day.pk) is None


def test_a_key_during_the_prompt_stops_it_and_is_the_answer():
    async def scenario():
        ctx, rest = _ctx()
        plan = menus.MenuPlan(pk=1, name="m", site="central", prompt="sound:vm-onefor", timeout=5, attempts=3,
                              options={"1": menus.Option(action="extension", value="1002")})
        task = asyncio.create_task(menus.ask(ctx, plan))
        await asyncio.sleep(0.01)
        ctx.deliver({"type": "ChannelDtmfReceived", "digit": "1", "channel": {"id": "ch-1"}})
        option = await asyncio.wait_for(task, 1)
        await asyncio.sleep(0.01)  # (the stop request goes out in the background)
        return option, rest.requests, ctx.latency_ms

    option, requests, latency = asyncio.run(scenario())
    assert option.value == "1002"
    (method, path, params), stop = requests
    assert method == "POST" and path.startswith("/channels/ch-1/play/") and params == {"media": "sound:vm-onefor"}
    assert stop == ("DELETE", f"/playbacks/{path.rsplit('/', 1)[1]}", {})
    assert latency is not None and latency >= 0


def test_wrong_keys_and_silence_use_up_the_attempts_then_take_the_invalid_or_timeout_option():
    async def scenario(keys):
        ctx, rest = _ctx()
        plan = menus.MenuPlan(pk=1, name="m", site="central", prompt="", timeout=0.05, attempts=2,
                              options={"1": menus.Option(action="hangup"),
                                       "invalid": menus.Option(action="extension", value="1003"),
                                       "timeout": menus.Option(action="extension", value="1004")})
        for key in keys:  # typed ahead: a queued key skips the "sorry" and the prompt
            ctx.deliver({"type": "ChannelDtmfReceived", "digit": key, "channel": {"id": "ch-1"}})
        task = asyncio.create_task(menus.ask(ctx, plan))
        while not task.done():
            _finish_playbacks(ctx, rest)
            await asyncio.sleep(0.005)
        return task.result(), [p for _, p, params in rest.requests if params.get("media") == menus.INVALID_SOUND]

    option, sorry = asyncio.run(scenario(["7", "8"]))
    assert option.value == "1003" and not sorry
    option, sorry = asyncio.run(scenario(["7"]))  # a wrong key, "sorry", then silence: the last miss counts
    assert option.value == "1004" and len(sorry) == 1
    option, sorry = asyncio.run(scenario([]))
    assert option.value == "1004" and not sorry
    option, _ = asyncio.run(scenario(["9", "1"]))
    assert option.action == "hangup"


def test_a_hang_up_ends_every_wait_of_the_call():
    async def scenario():
        ctx, rest = _ctx()
        waiting = asyncio.create_task(ctx.get_digit(5))
        await asyncio.sleep(0.01)
        ctx.deliver({"type": "StasisEnd", "channel": {"id": "ch-1"}})
        with pytest.raises(CallEnded):
            await asyncio.wait_for(waiting, 1)
        with pytest.raises(CallEnded):
            await ctx.play("sound:beep")
        with pytest.raises(CallEnded):
            await ctx.get_digits(4, 0.05)

    asyncio.run(scenario())


def test_keys_and_continue_in_as_ari_requests():
    async def scenario():
        ctx, rest = _ctx()
        for key in "42#9":
            ctx.deliver({"type": "ChannelDtmfReceived", "digit": key, "channel": {"id": "ch-1"}})
        keys = await ctx.get_digits(4, 0.05)
        await ctx.continue_in("va-app-voicemail", "1002", variables={"VA_VM_SITE": "central"})
        return keys, rest.requests

    keys, requests = asyncio.run(scenario())
    assert keys == "42"
    assert requests == [("POST", "/channels/ch-1/variable", {"variable": "VA_VM_SITE", "value": "central"}),
                        ("POST", "/channels/ch-1/continue",
                         {"context": "va-app-voicemail", "extension": "1002", "priority": 1})]


def test_a_taken_over_call_is_started_again_from_its_dialplan_arguments():
    broadcast = {"dialplan": {"app_name": "StasisBroadcast", "app_data": "1000,^voipadmin[.],code:*561:central"}}
    assert broadcast_args(broadcast) == ["code", "*561", "central"]
    assert broadcast_args({"dialplan": {"app_name": "Stasis", "app_data": "voipadmin.a,relay,12,branch1"}}) == [
        "relay", "12", "branch1"]
    assert broadcast_args({"dialplan": {"app_name": "Dial", "app_data": "PJSIP/1001"}}) == []


def test_the_node_list_is_followed_and_a_dead_node_costs_only_its_own_link(monkeypatch):
    """New nodes get a link, a changed ARI password restarts it, a disabled node's goes; a node that does not
    answer keeps retrying (with backoff) without touching the others."""
    from media.service import runner, state
    from tests.asterisk.harness import free_port

    dead = f"http://127.0.0.1:{free_port('127.0.0.1', udp=False)}/ari"  # nobody listens there
    nodes = [NODE.__class__(pk=1, name="a", site="central", sip_uri="", ari_url=dead, username="u", password="p"),
             NODE.__class__(pk=2, name="b", site="central", sip_uri="", ari_url=dead, username="u", password="p")]
    monkeypatch.setattr(state, "enabled_nodes", lambda: list(nodes))

    async def scenario():
        service = runner.Service("unit")
        await service.sync_nodes()
        first = dict(service.links)
        await asyncio.sleep(0.3)
        errors = {pk: link.last_error for pk, link in first.items()}
        nodes[1] = NODE.__class__(pk=2, name="b", site="central", sip_uri="", ari_url=dead, username="u",
                                  password="new")
        nodes.pop(0)
        await service.sync_nodes()
        after = dict(service.links)
        for link in after.values():
            await link.close()
        return first, errors, after, service.connected_nodes

    first, errors, after, connected = asyncio.run(scenario())
    assert sorted(first) == [1, 2] and all("event socket" in e for e in errors.values()), errors
    assert list(after) == [2] and after[2] is not first[2] and after[2].node.password == "new"
    assert first[1].task.cancelled() and connected == []


def test_requests_go_over_the_event_socket_and_fail_clearly_when_it_drops():
    """ARI's REST over WebSocket: a RESTRequest out, the RESTResponse with the same request_id back; an error
    status is an AriError with ARI's message; a dropped socket fails what waits, then HTTP takes over."""
    import json

    from media.service.ari import AriError, SocketRest

    class Socket:
        def __init__(self):
            self.sent = []

        async def send(self, text):
            self.sent.append(json.loads(text))

    async def scenario():
        http = RecordingAri()
        http.node, http.timeout = "127.0.0.1:1", 1.0
        rest, socket = SocketRest(http), Socket()
        rest.attach(socket)
        answered = asyncio.create_task(rest.post("/channels/c1/play/p1", media="sound:beep"))
        await asyncio.sleep(0)
        request = socket.sent[-1]
        rest.resolve({"type": "RESTResponse", "request_id": request["request_id"], "status_code": 201,
                      "message_body": json.dumps({"id": "p1"})})
        body = await answered
        missing = asyncio.create_task(rest.delete("/channels/gone"))
        await asyncio.sleep(0)
        rest.resolve({"type": "RESTResponse", "request_id": socket.sent[-1]["request_id"], "status_code": 404,
                      "reason_phrase": "Not Found", "message_body": json.dumps({"message": "Channel not found"})})
        with pytest.raises(AriError) as not_found:
            await missing
        waiting = asyncio.create_task(rest.get("/bridges"))
        await asyncio.sleep(0)
        rest.detach()
        with pytest.raises(AriError, match="dropped"):
            await waiting
        await rest.post("/channels/c1/answer")  # no socket: HTTP
        return request, body, not_found.value, http.requests

    request, body, not_found, over_http = asyncio.run(scenario())
    assert request == {"type": "RESTRequest", "request_id": request["request_id"], "method": "POST",
                       "uri": "channels/c1/play/p1?media=sound%3Abeep"}
    assert body == {"id": "p1"}
    assert not_found.status == 404 and not_found.permanent and "Channel not found" in str(not_found)
    assert over_http == [("POST", "/channels/c1/answer", {})]
