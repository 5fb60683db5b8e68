"""IVR menus run by the application service (``run_media_apps``) on the real estate: Kamailio, two Asterisks, sipp.

One test per story, each doing several calls (a real call costs seconds):

* a caller dials the menu's code, keys 1 (RFC 2833 from sipp) and reaches the extension the menu maps 1 to
  (a registered sipp UAS answers as that extension); a silent caller reaches the timeout option; the call in
  the menu shows as a MenuCall row meanwhile; a change to the menu through the portal's actions (key 1 now
  leaves a voicemail) applies to the very next call, with no Asterisk reload; every call's StasisStart → first
  action latency is logged.
* two instances share the calls (both claim some); one is killed with SIGKILL while a caller waits in its
  menu: the next calls are all served by the other, which also takes the waiting caller over (moves the
  channel into its own ARI application); then a SIGTERM stops the survivor cleanly.
"""
from __future__ import annotations

import contextlib
import threading
import time

import httpx
import pytest

from media import actions as media_actions
from media.models import AppServiceInstance, IvrMenu, MenuCall
from services import actions as service_actions

from tests.asterisk.helpers import ACTOR, PASSWORD, channels, make_phone, wait_for
from tests.sip import Phone

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.kamailio, pytest.mark.asterisk]


def _menu(estate, code: str, **fields) -> IvrMenu:
    service_code = service_actions.create_service_code(actor=ACTOR, code=code, name=f"Menu {code}",
                                                       kind="application", route_to="home")
    return media_actions.create_ivr_menu(actor=ACTOR, site=estate.sites["central"], name=f"menu {code}",
                                         service_code=service_code, **fields)


def test_a_caller_keys_through_a_menu_a_silent_one_times_out_and_a_change_applies_at_once(media_service):
    estate = media_service.estate
    caller = make_phone(estate, 1001, "Caller", "central", ip="127.0.0.100")
    sales = make_phone(estate, 1002, "Sales", "central", ip="127.0.0.101")
    desk = make_phone(estate, 1003, "Front desk", "central", ip="127.0.0.102")
    assert sales.register(estate.kamailio).ok and desk.register(estate.kamailio).ok
    menu = _menu(estate, "*561", prompt_sound="vm-onefor", timeout=2, attempts=1,
                 options=[{"key": "1", "action": "extension", "value": "1002"},
                          {"key": "timeout", "action": "extension", "value": "1003"}])
    reloaded = _last_reload(estate)

    # key 1 → extension 1002 answers
    with sales.answering(timeout=12) as uas:
        result = caller.call(estate.kamailio, "*561", hold_ms=1500, timeout=15, dtmf=[("", 400), ("1", 600)])
    assert result.status == 200, result.output
    assert uas.result.exit_code == 0, (uas.result.output, media_service.log_tail())
    assert "INVITE sip:1002@" in uas.received

    # no key → the timeout option, extension 1003; the call shows in MenuCall while it waits in the menu
    seen = []
    watcher = threading.Thread(target=lambda: seen.append(wait_for(
        lambda: list(MenuCall.objects.values_list("menu_id", "caller", "instance")), timeout=8)))
    with desk.answering(timeout=15) as uas:
        watcher.start()
        # (held long enough for the prompt, the 2 s timeout and the ringing even on a loaded machine)
        result = caller.call(estate.kamailio, "*561", hold_ms=6500, timeout=15)
        watcher.join()
    assert result.status == 200, result.output
    assert uas.result.exit_code == 0, (uas.result.output, media_service.log_tail())
    assert seen and seen[0] == [(menu.pk, "1001", "t1")], seen
    assert wait_for(lambda: not MenuCall.objects.exists(), 3), "the caller left the menu"

    # the portal changes key 1 to 1002's mailbox: the very next call with key 1 is in VoiceMail, no reload
    media_actions.update_ivr_menu(menu, actor=ACTOR, options=[
        {"key": "1", "action": "voicemail", "value": "1002"},
        {"key": "timeout", "action": "hangup"}])
    calls = []
    thread = threading.Thread(target=lambda: calls.append(caller.call(
        estate.kamailio, "*561", hold_ms=3000, timeout=15, dtmf=[("", 400), ("1", 600)])))
    thread.start()
    in_voicemail = wait_for(lambda: [c[5:7] for c in channels(estate.asterisks["central"]) if c[5] == "VoiceMail"], 8)
    thread.join()
    assert calls[0].status == 200, calls[0].output
    assert in_voicemail == [["VoiceMail", "1002@central,u"]], media_service.log_tail()
    assert _last_reload(estate) == reloaded

    latencies = media_service.latencies()
    assert len(latencies) == 3 and all(e["kind"] == "code" and e["latency_ms"] < 50 for e in latencies), latencies
    instance = AppServiceInstance.objects.get(name="t1")
    assert sorted(instance.connected_nodes) == sorted(n.name for n in estate.nodes.values())
    assert instance.calls_handled >= 2  # (the heartbeat every 2 s may not count the last one yet)


def _last_reload(estate) -> list[str]:
    """Each node's last reload time, as its ARI tells it."""
    return [_ari(estate, n.site, "GET", "/asterisk/info")["status"]["last_reload_time"] for n in estate.plan.nodes]


def _served(results) -> list[bool]:
    return [r.status == 200 for r in results]


@contextlib.contextmanager
def _calls(estate, phones, number: str, *, hold_ms: int):
    """Every phone calls ``number`` at once (background sipp); the results after the block."""
    results = []
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(p.calling(estate.kamailio, number, hold_ms=hold_ms, timeout=10))
                   for p in phones]
        yield results
    results.extend(h.result for h in handles)


def test_two_instances_share_the_calls_and_one_killed_leaves_the_other_serving(media_services):
    """With two instances, ten calls at once are shared; a call waits in a menu of one of them, which is killed:
    the next calls are all served by the other, which also takes over the call left waiting."""
    estate = media_services.estate
    make_phone(estate, 1011, "Caller", "central", ip="127.0.0.110")
    # a menu with nothing to say: silence, then the timeout option hangs up (the call was served: answered)
    _menu(estate, "*562", timeout=1, attempts=1, options=[{"key": "timeout", "action": "hangup"}])
    _menu(estate, "*563", timeout=30, attempts=1, options=[{"key": "timeout", "action": "hangup"}])
    phones = [Phone("1011", PASSWORD, ip="127.0.0.110") for _ in range(11)]
    services = dict(zip("ab", media_services.start_many("a", "b")))

    with _calls(estate, phones[:10], "*562", hold_ms=3000) as results:
        pass
    assert all(_served(results)), [r.output for r in results if r.status != 200]
    claimed = {name: len(s.latencies()) for name, s in services.items()}
    assert sum(claimed.values()) == 10 and all(claimed.values()), claimed  # each claimed some
    assert wait_for(lambda: not MenuCall.objects.exists(), 3)  # (each row goes just after its BYE)

    with phones[10].calling(estate.kamailio, "*563", hold_ms=30000, timeout=10) as waiting:
        held = wait_for(lambda: list(MenuCall.objects.values_list("channel_id", "instance")), 5)
        assert len(held) == 1, held
        (channel_id, holder), = held
        dead, survivor = services[holder], services["b" if holder == "a" else "a"]
        before = len(survivor.latencies())
        dead.kill()
        killed = time.monotonic()
        with _calls(estate, phones[:4], "*562", hold_ms=2000) as results:
            pass
        assert all(_served(results)), [r.output for r in results if r.status != 200]
        assert len(survivor.latencies()) == before + 4, (before, survivor.latencies())
        # the waiting caller: the survivor moves it into its own application and starts its menu again
        in_menus = wait_for(lambda: list(MenuCall.objects.values_list("channel_id", "instance")) == [
            (channel_id, survivor.name)], 8)
        print(f"taken over {time.monotonic() - killed:.1f} s after the kill")
        assert in_menus, (list(MenuCall.objects.values_list("channel_id", "instance")), survivor.log_tail())
        assert channel_id in _app_channels(estate, "central", survivor.app)
        _hang_up(estate, "central", channel_id)
    assert waiting.result.status == 200, waiting.result.output
    assert wait_for(lambda: not MenuCall.objects.exists(), 3)
    assert AppServiceInstance.objects.get(name=survivor.name).heartbeat > \
        AppServiceInstance.objects.get(name=dead.name).heartbeat
    # a clean stop: SIGTERM, nothing left to hand over, its row goes and the nodes forget its application
    assert survivor.stop() == 0, survivor.log_tail()
    assert not AppServiceInstance.objects.filter(name=survivor.name).exists()
    assert survivor.app not in media_services.applications("central")


def _ari(estate, site: str, method: str, path: str):
    n = estate.plan.node(site)
    response = httpx.request(method, f"{n.ari_url}{path}", auth=("voipadmin", n.ari_password), timeout=3)
    response.raise_for_status()
    return response.json() if response.content else None


def _app_channels(estate, site: str, app: str) -> list[str]:
    return _ari(estate, site, "GET", f"/applications/{app}")["channel_ids"]


def _hang_up(estate, site: str, channel_id: str) -> None:
    _ari(estate, site, "DELETE", f"/channels/{channel_id}")
