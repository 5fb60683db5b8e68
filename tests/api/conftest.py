"""API fixtures: tokens of each kind, a billing user, and a small estate to call the API on."""
from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from voipadmin.actors import Actor
from voipadmin.api.tokens import create_token
from voipadmin.models import ApiToken

SYSTEM = Actor.command("tests")
#: the estate fixture's own CDR: a fixed time (never the clock), after the 1-3 November window the CDR tests fill
ESTATE_CDR_START = datetime.datetime(2026, 11, 20, 8, 30, tzinfo=datetime.timezone.utc)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The personas' portal passwords need not be PBKDF2-hard here; it made the matrix slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


@pytest.fixture
def write_key(db) -> str:
    return create_token(actor=SYSTEM, name="integration", scope=ApiToken.Scope.WRITE)[1]


@pytest.fixture
def read_key(db) -> str:
    return create_token(actor=SYSTEM, name="billing", scope=ApiToken.Scope.READ)[1]


@pytest.fixture
def expired_key(db) -> str:
    token, key = create_token(actor=SYSTEM, name="old-billing", scope=ApiToken.Scope.WRITE)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    return key


@pytest.fixture
def dora(db, django_user_model):
    """Dora works in billing: she may read everything and change nothing."""
    user = django_user_model.objects.create_user(username="dora", password="correct horse battery")
    user.groups.add(Group.objects.get(name="Billing"))
    return user


@pytest.fixture
def estate(db):
    """One site with an extension block, an Asterisk node with secrets, a Kamailio node and a few CDRs."""
    return build_estate()


def build_estate() -> dict:
    """The ``estate`` fixture's objects (also built once per module where a module shares one)."""
    from cdrs.models import Cdr
    from sites import actions

    site = actions.create_site(actor=SYSTEM, name="Branch One", slug="branch1", kind="delegation",
                               sip_domain="branch1.example.test", ranges=[(2000, 2999)])
    node = actions.create_asterisk_node(actor=SYSTEM, name="pbx-branch1", site=site, host="127.0.0.1",
                                        ami_username="voipadmin", ami_secret="ami-secret-value-1",
                                        ari_url="http://127.0.0.1:1/ari", ari_username="voipadmin",
                                        ari_password="ari-secret-value-2", roles="pbx")
    kam = actions.create_kamailio_node(actor=SYSTEM, name="kamailio", sip_address="127.0.0.1:5060",
                                       jsonrpc_url="http://127.0.0.1:1/RPC", jsonrpc_password="rpc-secret-value-3")
    from services import actions as service_actions
    from trunks import actions as trunk_actions
    from users import actions as user_actions

    user = user_actions.create_user(actor=SYSTEM, extension=2001, name="Ann Example", site=site)
    trunk = trunk_actions.create_itsp_trunk(actor=SYSTEM, name="itsp1", host="127.0.0.1", auth_mode="registration",
                                            username="acct", auth_password="trunk-secret-value-5")
    route = trunk_actions.create_route(actor=SYSTEM, name="national", pattern="^6[0-9]{8}$", trunks=[trunk])
    dset = service_actions.create_dispatcher_set(actor=SYSTEM, setid=10, name="voicemail")
    e1 = trunk_actions.create_e1_trunk(actor=SYSTEM, name="e1-pstn", asterisk_node=node, span=1)
    code = service_actions.create_service_code(actor=SYSTEM, code="*98", name="Voicemail", kind="voicemail",
                                               route_to="set", dispatcher_set=dset)
    ddi = service_actions.create_inbound_number(actor=SYSTEM, number="+34910000001", trunk=trunk, target="user",
                                                user=user)
    start = ESTATE_CDR_START  # a fixed time: no test may depend on today's date
    cdr = Cdr.objects.create(src="2001", dst="600123456", dcontext="site-branch1", channel="PJSIP/2001-00000001",
                             dstchannel="PJSIP/itsp1-00000002", start=start, answer=start, end=start,
                             duration=70, billsec=60, disposition="ANSWERED", uniqueid="1700000000.1")
    media = _media_objects(site)
    return {"site": site, "node": node, "kamailio": kam, "cdr": cdr, "user": user, "trunk": trunk, "route": route,
            "dispatcher_set": dset, "e1": e1, "service_code": code, "inbound_number": ddi, **media}


def _media_objects(site) -> dict:
    """One of each media application (rooms, menus, AGI applications, profiles, announcements) to call the API on."""
    import io
    import wave

    from media import actions as media_actions
    from services import actions as service_actions

    app_code = service_actions.create_service_code(actor=SYSTEM, code="*97", name="Menu", kind="application",
                                                   route_to="home")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\x00\x10" * 800)
    sound = media_actions.create_announcement(actor=SYSTEM, name="welcome", upload=buf.getvalue())
    profile = media_actions.create_conference_profile(actor=SYSTEM, name="standard", join_announcement=sound)
    room = media_actions.create_conference_room(actor=SYSTEM, site=site, number="800", name="Board", profile=profile)
    agi = media_actions.create_agi_application(actor=SYSTEM, name="crm", app_id="crm-1",
                                               servers=[{"host": "127.0.0.1", "port": 4573}])
    menu = media_actions.create_ivr_menu(actor=SYSTEM, site=site, name="main", prompt=sound, service_code=app_code,
                                         options=[{"key": "1", "action": "extension", "value": "2001"},
                                                  {"key": "2", "action": "room", "room": room},
                                                  {"key": "3", "action": "agi", "agi": agi}])
    media_actions.set_site_announcement(actor=SYSTEM, site=site, purpose="ringback", announcement=sound)
    return {"announcement": sound, "conference_profile": profile, "conference_room": room, "agi_application": agi,
            "ivr_menu": menu}
