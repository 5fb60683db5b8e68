"""Kamailio's presence in the portal (issue 15): the poller reads the ``presentity`` and ``active_watchers``
tables Kamailio writes in the shared database; the users list, a user's page and the dashboard show it.

The rows are inserted here as Kamailio 5.6 writes them (``expires`` and ``received_time`` in Unix seconds of
a fixed moment, bodies as Asterisk's res_pjsip_dialog_info_body_generator and Kamailio's pua_dialoginfo
produce them); the clock the poller reads them against is pinned to that moment.
"""
from __future__ import annotations

import io
from datetime import datetime, timezone as dt_timezone

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from live import actions, presence
from live.models import DeviceState, NodeState, PresenceState, Registration
from live.state import extension_states
from sites import actions as site_actions
from sites.models import AsteriskNode
from tests.fakes.ami import closed_port, running_ami_fake
from users import actions as user_actions
from voipadmin import scope
from voipadmin.kamailio.models import ActiveWatcher, Presentity

from .conftest import ACTOR

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=dt_timezone.utc)
T = int(NOW.timestamp())
#: a registration current whenever the suite runs (extension_states compares expiry with the clock)
STILL_REGISTERED = datetime(2199, 1, 1, tzinfo=dt_timezone.utc)
AST_A, AST_B, KAMAILIO = "sip:127.0.0.1:5080", "sip:127.0.0.1:5082", "sip:127.0.0.1:5060"


def asterisk_body(exten: str, state: str, version: int = 3, caller: str = "") -> bytes:
    """What Asterisk 22's exten-state publisher sends (res_pjsip_dialog_info_body_generator): one dialog whose
    id is the extension; a ringing one names the caller."""
    if state == "early" and caller:
        dialog = (f' <dialog id="{exten}" direction="recipient">\n'
                  f'  <remote>\n   <identity display="Recepción">sip:{caller}@127.0.0.1</identity>\n'
                  f'   <target uri="sip:{caller}@127.0.0.1"/>\n  </remote>\n'
                  f'  <state>early</state>\n </dialog>\n')
    else:
        dialog = f' <dialog id="{exten}">\n  <state>{state}</state>\n </dialog>\n'
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" '
            f'version="{version}" state="full" entity="sip:{exten}@127.0.0.1:5080">\n{dialog}</dialog-info>\n'
            ).encode()


def kamailio_body(exten: str, peer: str, state: str) -> bytes:
    """What pua_dialoginfo publishes for a call Kamailio proxies itself, phone to phone."""
    return (f'<?xml version="1.0"?>\n<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" '
            f'state="full" entity="sip:{exten}@voip.example.test">\n'
            f'  <dialog id="a84b4c76e66710@127.0.0.1" call-id="a84b4c76e66710@127.0.0.1" local-tag="1928301774" '
            f'remote-tag="314159" direction="recipient">\n'
            f'    <state>{state}</state>\n'
            f'    <remote>\n      <identity>sip:{peer}@voip.example.test</identity>\n'
            f'      <target uri="sip:{peer}@voip.example.test"/>\n    </remote>\n'
            f'    <local>\n      <identity>sip:{exten}@voip.example.test</identity>\n'
            f'      <target uri="sip:{exten}@voip.example.test"/>\n    </local>\n'
            f'  </dialog>\n</dialog-info>\n').encode()


def publish(exten: str, body: bytes, sender: str, *, expires: int = 300, domain: str = "voip.example.test"):
    n = Presentity.objects.count()
    return Presentity.objects.create(username=exten, domain=domain, event="dialog", etag=f"a.1772445600.{n}",
                                     expires=T + expires, received_time=T - 30, body=body, sender=sender)


def watch(exten: str, watcher: str, *, socket: str = "udp:127.0.0.1:5060", expires: int = 600):
    n = ActiveWatcher.objects.count()
    return ActiveWatcher.objects.create(
        presentity_uri=f"sip:{exten}@voip.example.test", watcher_username=watcher, watcher_domain="voip.example.test",
        to_user=exten, to_domain="voip.example.test", event="dialog", to_tag=f"to{n}", from_tag=f"from{n}",
        callid=f"watch-{n}@127.0.0.1", local_cseq=1, remote_cseq=1, contact=f"sip:{watcher}@127.0.0.1:5090",
        expires=T + expires, status=1, socket_info=socket, local_contact=socket.replace("udp:", "sip:"),
        from_user=watcher, from_domain="voip.example.test", updated=0, updated_winfo=0)


@pytest.fixture
def estate(make_site, make_asterisk, make_kamailio):
    """Site central (1000-1999): Asterisks ast-a (SIP 5080) and ast-b (5082), a Kamailio (5060), users 1001-1006.

    What Kamailio holds: 1001 idle (ast-a), 1002 ringing (ast-a), 1003 in a call Kamailio proxied (its own
    publication) while ast-a says terminated, 1004 idle on ast-a and an *expired* "confirmed" from ast-b,
    1005 only a garbage body, 1006 nothing. ast-b carries a call of 1007 (AMI says PJSIP/1007 INUSE) but has
    no live publication: it stopped publishing. 1001, 1003 and 1006 are registered at Kamailio; two live
    watchers and one expired.
    """
    central = make_site("central", 1000, 1999)
    kam = make_kamailio(f"http://127.0.0.1:{closed_port()}/RPC")
    a = make_asterisk(central, None, name="ast-a", port=closed_port(), sip_port=5080)
    b = make_asterisk(central, None, name="ast-b", port=closed_port(), sip_port=5082)
    users = {e: user_actions.create_user(actor=ACTOR, extension=e, name=f"User {e}", site=central)
             for e in range(1001, 1007)}
    for ext in ("1001", "1003", "1006"):
        Registration.objects.create(kamailio_node=kam, user=ext, contact=f"sip:{ext}@127.0.0.1:5090", seen_at=NOW,
                                    expires=STILL_REGISTERED)
    for node_state in (NodeState(kind="kamailio", kamailio_node=kam), NodeState(kind="asterisk", asterisk_node=a),
                       NodeState(kind="asterisk", asterisk_node=b)):
        node_state.state, node_state.last_seen, node_state.last_polled = "up", NOW, NOW
        node_state.save()
    DeviceState.objects.create(node=a, device="PJSIP/1002", extension="1002", state="RINGING")
    DeviceState.objects.create(node=b, device="PJSIP/1007", extension="1007", state="INUSE")
    publish("1001", asterisk_body("1001", "terminated"), AST_A)
    publish("1002", asterisk_body("1002", "early", caller="1001"), AST_A)
    publish("1003", asterisk_body("1003", "terminated"), AST_A)
    publish("1003", kamailio_body("1003", "1006", "confirmed"), KAMAILIO)
    publish("1004", asterisk_body("1004", "confirmed"), AST_B, expires=-5)
    publish("1004", asterisk_body("1004", "terminated"), AST_A)
    publish("1005", b'<?xml version="1.0"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"><dialog id=',
            AST_A)
    watch("1002", "1001")
    watch("1003", "1001")
    watch("1004", "1001", expires=-10)
    return type("Estate", (), {"site": central, "kamailio": kam, "a": a, "b": b, "users": users})


# --- the bodies --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, state", [
    (asterisk_body("1001", "terminated"), "idle"),
    (asterisk_body("1001", "early", caller="1002"), "ringing"),
    (asterisk_body("1001", "confirmed"), "in_use"),
    (kamailio_body("1001", "1002", "confirmed"), "in_use"),
    (kamailio_body("1001", "1002", "early"), "ringing"),
    (kamailio_body("1001", "1002", "trying"), "in_use"),  # the caller's side while the callee rings
    (kamailio_body("1001", "1002", "terminated"), "idle"),
    (b'<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:1@x"/>',
     "idle"),
    (b'<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"><dialog id="1"><state>early</state></dialog>'
     b'<dialog id="2"><state>confirmed</state></dialog></dialog-info>', "in_use"),  # call waiting: in a call
    (memoryview(asterisk_body("1001", "early")), "ringing"),  # what psycopg returns for a bytea
])
def test_a_dialog_info_body_says_idle_ringing_or_in_a_call(body, state):
    assert presence.body_state(body) == state


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b']><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"><dialog id="1"><state>&lol9;'
                    b'</state></dialog></dialog-info>')


@pytest.mark.parametrize("garbage", [
    b"", b"   ", b"confirmed", b"\x00\xff\xfe garbage \x80", b"<dialog-info", b"<dialog-info><dialog>",
    BILLION_LAUGHS,
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><dialog-info>&x;</dialog-info>',
    b'<?xml version="1.0" encoding="x-no-such-encoding"?><dialog-info/>',
    b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:1001@x"><tuple id="t"/></presence>',
    b'<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info">' + b" " * presence.MAX_BODY_BYTES + b"</dialog-info>",
    None, 42,
])
def test_garbage_is_no_state_and_never_an_error(garbage):
    assert presence.body_state(garbage) is None


# --- the poller --------------------------------------------------------------------------------------------------


def test_the_poller_records_each_extensions_merged_presence_and_the_counts(estate, django_assert_max_num_queries):
    with django_assert_max_num_queries(9):  # seven, and the savepoints of its transaction
        snap, silent = actions.record_presence(now=NOW)
    assert dict(PresenceState.objects.values_list("extension", "state")) == {
        "1001": "idle", "1002": "ringing", "1003": "in_use", "1004": "idle"}  # 1005: garbage only
    assert PresenceState.objects.get(extension="1003").publications == 2
    assert (snap.publications, snap.garbage, snap.watchers) == (6, 1, 2)  # expired rows are not counted
    states = {s.node.name: (s.watchers, s.publications) for s in NodeState.objects.all()}
    assert states == {"kamailio-1": (2, 6), "ast-a": (None, 5), "ast-b": (None, 0)}
    assert silent == ["ast-b"]


def test_one_state_per_extension_merges_presence_with_the_estates_state(estate, django_assert_num_queries):
    actions.record_presence(now=NOW)
    with django_assert_num_queries(4):
        states = extension_states([str(e) for e in range(1001, 1008)])
    assert states == {
        "1001": "idle",  # registered, and presence says no call
        "1002": "ringing",
        "1003": "in_use",  # Kamailio's own publication beats ast-a's "terminated"
        "1004": "unavailable",  # not registered: "terminated" is also what Asterisk says of an unreachable phone
        "1005": "unavailable",  # garbage only
        "1006": "registered",  # no publication at all
        "1007": "in_use",  # ast-b says so over AMI: its lamp misses the call, the portal does not
    }


def test_a_query_count_that_does_not_grow_with_the_publications(estate):
    with CaptureQueriesContext(connection) as few:
        actions.record_presence(now=NOW)
    for e in range(1100, 1300):
        publish(str(e), asterisk_body(str(e), "confirmed"), AST_A)
        publish(str(e), kamailio_body(str(e), "1001", "early"), KAMAILIO)
    with CaptureQueriesContext(connection) as many:
        actions.record_presence(now=NOW)
    assert len(many) == len(few)
    assert PresenceState.objects.filter(state="in_use").count() == 201


def test_when_kamailio_records_no_sender_no_asterisk_is_blamed(estate):
    Presentity.objects.update(sender="")
    snap, silent = actions.record_presence(now=NOW)
    assert silent == [] and NodeState.objects.get(asterisk_node=estate.b).publications is None
    assert "Kamailio records no publisher" in snap.line()


def test_with_no_publication_at_all_every_asterisk_in_a_call_has_stopped(estate):
    Presentity.objects.update(expires=T - 1)  # e.g. Kamailio refuses their PUBLISH: what they had expired
    snap, silent = actions.record_presence(now=NOW)
    assert silent == ["ast-a", "ast-b"] and snap.publications == 0
    assert not PresenceState.objects.exists()


def test_an_idle_asterisk_that_has_not_published_yet_is_not_blamed(estate):
    """Asterisk publishes an extension's state when it changes (no initial publish): after a restart, an idle
    node has nothing in presentity, and no lamp is wrong."""
    DeviceState.objects.filter(node=estate.b).update(state="NOT_INUSE")
    assert actions.record_presence(now=NOW)[1] == []
    assert NodeState.objects.get(asterisk_node=estate.b).publications == 0


def test_a_sender_is_its_asterisks_by_address_and_port_or_by_its_one_address():
    snap = presence.PresenceSnapshot(now=T)
    snap.senders.update({("127.0.0.1", 5080): 3, ("127.0.0.1", 5060): 2, ("127.0.0.12", 40122): 1,
                         ("127.0.0.1", 41000): 5})
    nodes = [(1, "127.0.0.1", 5080), (2, "127.0.0.1", 5082), (3, "127.0.0.12", 5060), (4, "[::1]", 5060)]
    # 127.0.0.1:5060 is the Kamailio itself (pua_dialoginfo); 127.0.0.12 from a TCP port is node 3, the only one
    # there; 127.0.0.1:41000 could be node 1 or 2: nobody's
    assert snap.published_by(nodes, kamailios=["127.0.0.1:5060"]) == {1: 3, 2: 0, 3: 1, 4: 0}
    snap = presence.PresenceSnapshot(now=T, unsigned=4)
    assert snap.published_by(nodes) == {1: None, 2: None, 3: None, 4: None}


def test_several_kamailios_are_told_apart_by_the_socket_that_took_the_subscription(estate):
    second = site_actions.create_kamailio_node(actor=ACTOR, name="kamailio-2", sip_address="127.0.0.1:5070",
                                               jsonrpc_url=f"http://127.0.0.1:{closed_port()}/RPC")
    NodeState.objects.create(kind="kamailio", kamailio_node=second, state="up", last_seen=NOW)
    watch("1001", "1002", socket="udp:127.0.0.1:5070")
    actions.record_presence(now=NOW)
    assert NodeState.objects.get(kamailio_node=estate.kamailio).watchers == 2
    assert NodeState.objects.get(kamailio_node=second).watchers == 1
    assert {s.publications for s in NodeState.objects.filter(kind="kamailio")} == {6}  # one shared table


def test_poll_estate_prints_presence_and_the_asterisks_that_stopped(estate, monkeypatch):
    monkeypatch.setattr(actions, "_clock", lambda: NOW)
    out = io.StringIO()
    with running_ami_fake(channels=2, device_states={"PJSIP/1007": "INUSE"}) as fake:  # ast-b, in a call
        AsteriskNode.objects.filter(pk=estate.b.pk).update(ami_port=fake.port)
        call_command("poll_estate", "--once", "--timeout", "0.5", stdout=out)
    text = out.getvalue()
    assert "presence: 6 publication(s) for 4 extension(s) (2 busy), 2 watcher(s), 1 unreadable body(ies)" in text
    assert "warning: Asterisk ast-b publishes no presence" in text and "Asterisk ast-a publishes" not in text
    assert PresenceState.objects.get(extension="1002").state == "ringing"


# --- the pages ---------------------------------------------------------------------------------------------------


def badges(client, *extensions, **headers) -> dict[str, str]:
    html = client.get(reverse("live:extension_state_badges"), {"ext": list(extensions)}, **headers).content.decode()
    found = {}
    for ext in extensions:
        at = html.find(f'id="ext-state-{ext}"')
        if at >= 0:
            found[ext] = html[html.find('data-extension-state="', at) + 22:].split('"', 1)[0]
    return found


def test_the_users_list_shows_the_state_kamailio_holds(admin_client, estate, django_assert_max_num_queries):
    actions.record_presence(now=NOW)
    page = admin_client.get(reverse("users:sipuser_list")).content.decode()
    assert 'id="ext-state-1003"' in page and reverse("live:extension_state_badges") in page
    assert badges(admin_client, "1001", "1002", "1003", "1004", "1005") == {
        "1001": "idle", "1002": "ringing", "1003": "in_use", "1004": "unavailable", "1005": "unavailable"}
    url = reverse("live:extension_state_badges")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url, {"ext": ["1001"]})
    with django_assert_max_num_queries(len(few)):
        assert admin_client.get(url, {"ext": [str(e) for e in range(1000, 1400)]}).status_code == 200


def test_a_users_page_shows_it_too(admin_client, estate):
    actions.record_presence(now=NOW)
    html = admin_client.get(estate.users[1003].get_absolute_url()).content.decode()
    assert 'data-extension-state="in_use"' in html
    html = admin_client.get(estate.users[1002].get_absolute_url()).content.decode()
    assert 'data-extension-state="ringing"' in html
    # the live panel on it says what the lamps show, and from how many publications
    panel = admin_client.get(reverse("live:user_panel", args=[estate.users[1003].pk])).content.decode()
    lamp = panel[panel.find('id="user-lamp"'):].split("</div>", 1)[0]
    assert 'data-lamp-state="in_use"' in lamp and "2 publications" in lamp
    panel = admin_client.get(reverse("live:user_panel", args=[estate.users[1006].pk]),
                             HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Pilotos (presencia de Kamailio):" in panel and "ninguna publicación vigente" in panel


def test_the_dashboard_shows_watchers_publications_and_the_silent_asterisk(admin_client, estate):
    actions.record_presence(now=NOW)
    html = admin_client.get(reverse("live:estate_fragment")).content.decode()
    assert f'data-presence="kamailio-{estate.kamailio.pk}" data-watchers="2" data-publications="6"' in html
    assert "2 watchers" in html and "6 publications" in html
    warning = html[html.find('id="presence-silent"'):].split("</div>", 1)[0]
    assert "An Asterisk publishes no presence to Kamailio" in warning
    assert 'data-presence-silent="ast-b"' in warning and "ast-a" not in warning
    node_b = html[html.find(f'data-node="asterisk-{estate.b.pk}"'):].split("</div>", 1)[0]
    node_a = html[html.find(f'data-node="asterisk-{estate.a.pk}"'):].split("</div>", 1)[0]
    assert 'data-presence="silent"' in node_b and 'data-presence="silent"' not in node_a
    assert "(publications: the whole estate" not in html  # one Kamailio: nothing to explain


def test_node_pages_show_their_presence_counts(admin_client, estate):
    actions.record_presence(now=NOW)
    for url, expected in ((reverse("live:kamailio_node", args=[estate.kamailio.pk]), "2 watchers · 6 publications"),
                          (reverse("live:asterisk_node", args=[estate.a.pk]), "5 publications"),
                          (reverse("live:asterisk_node", args=[estate.b.pk]), "0 publications")):
        html = admin_client.get(url).content.decode()
        assert expected in html[html.find('id="node-presence"'):].split("</td>", 1)[0], url
    html = admin_client.get(reverse("live:asterisk_node", args=[estate.a.pk]), HTTP_ACCEPT_LANGUAGE="es")
    assert "Pilotos de ocupado" in html.content.decode() and "5 publicaciones" in html.content.decode()


def test_the_dashboard_costs_the_same_queries_with_more_presence(admin_client, estate):
    url = reverse("live:estate_fragment")
    actions.record_presence(now=NOW)
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for e in range(1100, 1200):
        publish(str(e), asterisk_body(str(e), "confirmed"), AST_A)
        watch(str(e), "1001")
    actions.record_presence(now=NOW)
    with CaptureQueriesContext(connection) as many:
        html = admin_client.get(url).content.decode()
    assert len(many) == len(few) and 'data-watchers="102" data-publications="106"' in html


def test_the_dashboard_in_spanish(admin_client, estate):
    from tests.foundation.untranslated import data_words, texts, untranslated

    second = site_actions.create_kamailio_node(actor=ACTOR, name="kamailio-2", sip_address="127.0.0.1:5070",
                                               jsonrpc_url=f"http://127.0.0.1:{closed_port()}/RPC")
    NodeState.objects.create(kind="kamailio", kamailio_node=second, state="up", last_seen=NOW)
    actions.record_presence(now=NOW)
    url = reverse("live:estate_fragment")
    english = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    spanish = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "(publications: the whole estate's" in english
    assert "2 observadores" in spanish and "6 publicaciones" in spanish and "No publica presencia" in spanish
    assert "Un Asterisk no publica presencia en Kamailio" in spanish
    assert "la base de datos que comparten todos" in spanish
    assert not untranslated(texts(english), texts(spanish), data_words() | {"alice"})


# --- site-limited accounts ---------------------------------------------------------------------------------------


@pytest.fixture
def eve_client(client, estate, make_site, make_asterisk, django_user_model):
    """Eve administers branch1 (4000-4999, user 4001 in a call, its Asterisk ast-branch1 publishing)."""
    from accounts.models import AccountProfile

    branch = make_site("branch1", 4000, 4999)
    make_asterisk(branch, None, name="ast-branch1", port=closed_port(), sip_port=5084)
    user_actions.create_user(actor=ACTOR, extension=4001, name="Elena Ruiz", site=branch)
    publish("4001", asterisk_body("4001", "confirmed"), "sip:127.0.0.1:5084")
    eve = django_user_model.objects.create_user(username="eve", password="correct horse battery")
    eve.groups.add(Group.objects.get(name="Administrator"))
    AccountProfile.objects.create(user=eve, site_limited=True).sites.set([branch])
    client.force_login(eve)
    client.eve = eve
    return client


def test_a_site_limited_account_sees_only_its_own_sites_presence(eve_client, estate):
    actions.record_presence(now=NOW)
    assert badges(eve_client, "1003", "4001") == {"4001": "in_use"}
    assert list(scope.restrict(PresenceState.objects.all(), eve_client.eve).values_list("extension", flat=True)) \
        == ["4001"]
    html = eve_client.get(reverse("live:estate_fragment")).content.decode()
    assert ">ast-b<" not in html and 'id="presence-silent"' not in html  # central's Asterisks are not hers
    assert 'data-watchers="2"' in html  # the estate's Kamailio stays in view, as its other counts do
