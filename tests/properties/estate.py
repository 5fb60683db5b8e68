"""A small estate with every field filled, and what "well-formed" means for the rows Kamailio and Asterisk read.

:func:`assert_well_formed` reads Kamailio's tables (``subscriber``, ``uacreg``, ``address``, ``dispatcher``,
``dialplan``) and Asterisk's views (``ps_endpoints``, ``ps_auths``, ``ps_aors``, ``voicemail``, ``extensions``)
as those programs do, and checks each value against what their parsers take. :func:`assert_fields_valid`
checks that no stored value of any model breaks its field's own validators (so no write path skipped them).
"""
from __future__ import annotations

import datetime
import ipaddress
import re

from django.apps import apps
from django.db import connection

from voipadmin import crud, grammar
from voipadmin.actors import Actor

from ..media.objects import wav_bytes

SYSTEM = Actor.command("tests")
#: the apps whose models an operator writes (voipadmin's ApiToken is written through its own page only)
ESTATE_APPS = ("sites", "users", "trunks", "services", "media")

#: ``"name" <number>`` with nothing a SIP parser or Asterisk's callerid parser would split on
CALLERID = re.compile(r'"[^"\\<>;\x00-\x1f\x7f]*" <\+?[0-9]{1,20}>\Z')
MAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+\Z")
ATTRS = re.compile(r"[A-Za-z0-9_.:=;+|-]*\Z")
PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]*\Z")
TABLES = {  # table → its text columns that must be checked beyond "no unsafe character"
    "subscriber": ("username", "domain"), "uacreg": ("l_uuid", "l_username", "l_domain", "r_username", "r_domain",
                                                    "realm", "auth_username", "auth_proxy"),
    "address": ("ip_addr", "tag"), "dispatcher": ("destination", "attrs"), "dialplan": ("match_exp", "repl_exp",
                                                                                        "attrs"),
    "ps_endpoints": ("id", "callerid", "allow", "context", "mailboxes", "from_domain"),
    "ps_auths": ("id", "realm", "username"), "ps_aors": ("id", "mailboxes"),
    "voicemail": ("context", "mailbox", "password", "fullname", "email"),
    "extensions": ("context", "exten", "app", "appdata"),
}


def build() -> dict:
    """Every kind of object, every optional text field set (the bases the strategies start from)."""
    from services import actions as svc
    from sites import actions as sites
    from trunks import actions as trunks
    from users import actions as users

    central = sites.create_site(actor=SYSTEM, name="Central", slug="central", kind="central",
                                sip_domain="voip.example.test", address="Calle Mayor 1", notes="Head office\nfloor 2",
                                ranges=[(1000, 1999)])
    branch = sites.create_site(actor=SYSTEM, name="Branch 1", slug="branch1", sip_domain="branch1.example.test",
                               ranges=[(2000, 2999)])
    node = sites.create_asterisk_node(actor=SYSTEM, name="ast-central", site=central, host="127.0.0.11",
                                      ami_host="127.0.0.11", ami_username="voipadmin", ami_secret="ami-secret-1",
                                      ari_url="http://127.0.0.11:8088/ari", ari_username="voipadmin",
                                      ari_password="ari-secret-2", roles="pbx,voicemail", notes="rack 4")
    kam = sites.create_kamailio_node(actor=SYSTEM, name="kamailio-1", sip_address="127.0.0.10:5060",
                                     jsonrpc_url="http://127.0.0.10:5071/RPC", jsonrpc_username="rpc",
                                     jsonrpc_password="rpc-secret-3", notes="proxy")
    user = users.create_user(actor=SYSTEM, extension=1001, name="Ana García", site=central, email="ana@example.test",
                             codecs="alaw,g722", voicemail_pin="7391", voicemail_email="vm@example.test")
    itsp = trunks.create_itsp_trunk(actor=SYSTEM, name="itsp-reg", host="carrier.example.test",
                                    auth_mode="registration", username="acct-1", auth_username="acct-1-auth",
                                    auth_password="trunk-secret-4", realm="carrier.example.test",
                                    proxy="sip:proxy.carrier.example.test:5060;transport=udp",
                                    caller_id_presentation="trunk_number", caller_id_number="+34911000000",
                                    description="Registered carrier")
    ip_trunk = trunks.create_itsp_trunk(actor=SYSTEM, name="itsp-ip", host="127.0.0.20", auth_mode="ip",
                                        ip_addresses="127.0.0.20\n192.0.2.0/28", description="Carrier by IP")
    e1 = trunks.create_e1_trunk(actor=SYSTEM, name="e1-pstn", asterisk_node=node, span=1, channels="1-15,17-31",
                                description="PRI to the PSTN")
    route = trunks.create_route(actor=SYSTEM, name="national", pattern="^[89][0-9]{8}$", prepend="+34",
                                trunks=[itsp, e1], description="National numbers")
    dset = svc.create_dispatcher_set(actor=SYSTEM, setid=10, name="media", description="Media nodes", destinations=[
        {"node": node, "priority": 10, "weight": 2, "attrs": "duid=central"}])
    code = svc.create_service_code(actor=SYSTEM, code="*125", name="Conference", kind="conference", route_to="set",
                                   dispatcher_set=dset, parameter="room-1", description="Everyone's room")
    ddi = svc.create_inbound_number(actor=SYSTEM, number="+34910000001", trunk=itsp, target="user", user=user,
                                    description="Reception")
    return {"central": central, "branch": branch, "node": node, "kamailio": kam, "user": user, "itsp": itsp,
            "ip_trunk": ip_trunk, "e1": e1, "route": route, "dispatcher_set": dset, "service_code": code,
            "inbound_number": ddi, **_media(central, code)}


def _media(site, code) -> dict:
    """One of each media object, every optional field and target set (the first of each model is the one tested)."""
    from media import actions as media
    from services import actions as svc

    app_codes = [svc.create_service_code(actor=SYSTEM, code=f"*14{i}", name=f"App {i}", kind="application",
                                         route_to="home") for i in (1, 2, 3)]
    sound = media.create_announcement(actor=SYSTEM, name="Welcome", site=site, description="Main greeting",
                                      upload=wav_bytes())
    profile = media.create_conference_profile(actor=SYSTEM, name="Standard", site_default=site, max_members=30,
                                              announce_join_leave=True, record=True, join_announcement=sound,
                                              description="Meetings")
    room = media.create_conference_room(actor=SYSTEM, site=site, number="800", name="All hands", pin="4321",
                                        profile=profile, service_code=app_codes[0], description="Weekly")
    agi = media.create_agi_application(actor=SYSTEM, name="Survey", site=site, app_type="survey", app_id="survey-1",
                                       script="ivr/survey", strategy="round_robin", service_code=app_codes[2],
                                       description="Satisfaction survey", servers=[
                                           {"host": "127.0.0.30", "port": 4573},
                                           {"host": "agi.example.test", "port": 4574, "enabled": False}])
    menu = media.create_ivr_menu(actor=SYSTEM, site=site, name="Reception", prompt=sound, prompt_sound="demo-congrats",
                                 timeout=7, attempts=2, service_code=app_codes[1], description="Main menu")
    after = media.create_ivr_menu(actor=SYSTEM, site=site, name="After hours", prompt_sound="vm-goodbye",
                                  options=[{"key": "timeout", "action": "hangup"}])
    media.update_ivr_menu(menu, actor=SYSTEM, after_hours_menu=after, options=[
        {"key": "1", "action": "extension", "value": "1001"}, {"key": "2", "action": "room", "room": room},
        {"key": "3", "action": "agi", "agi": agi}, {"key": "4", "action": "voicemail", "value": "1001"},
        {"key": "5", "action": "number", "value": "+34911000000"}, {"key": "6", "action": "menu", "target_menu": after},
        {"key": "7", "action": "service_code", "service_code": code}, {"key": "#", "action": "repeat"},
        {"key": "invalid", "action": "hangup"}],
        hours=[{"weekday": day, "opens": datetime.time(9), "closes": datetime.time(18)} for day in range(5)])
    played = media.create_site_announcement(actor=SYSTEM, site=site, purpose="user_unavailable", announcement=sound)
    return {"announcement": sound, "conference_profile": profile, "conference_room": room, "agi_application": agi,
            "ivr_menu": menu, "after_hours_menu": after, "site_announcement": played}


#: New, non-clashing values for the unique fields of each model (a create must differ from the estate's).
FRESH = {
    "sites.site": {"name": "Fresh site", "slug": "fresh", "extension_ranges": "5000-5999"},
    "sites.asterisknode": {"name": "ast-fresh"},
    "sites.kamailionode": {"name": "kamailio-fresh"},
    "users.sipuser": {"extension": 1002, "caller_id": '"Front desk" <+34911000001>'},
    "trunks.e1trunk": {"name": "e1-fresh", "span": 2},
    "trunks.itsptrunk": {"name": "itsp-fresh", "auth_password": "fresh-secret-5"},
    "trunks.outboundroute": {"name": "fresh-route"},
    "services.dispatcherset": {"setid": 11, "name": "fresh-set"},
    "services.servicecode": {"code": "*97"},
    "services.inboundnumber": {"number": "+34910000002"},
    # (a one-to-one to a site or a code: a new object takes none; "" is "none" to a form and to the API)
    "media.conferenceprofile": {"name": "Fresh profile", "site_default": ""},
    "media.conferenceroom": {"number": "801", "service_code": ""},
    "media.ivrmenu": {"name": "Fresh menu", "service_code": ""},
    "media.agiapplication": {"name": "Fresh app", "service_code": ""},
    "media.announcement": {"name": "Fresh sound", "audio": wav_bytes()},  # (bytes: the tests upload them as a file)
    "media.siteannouncement": {"purpose": "ringback"},
}


def rows(table: str) -> list[dict]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
        names = [c.name for c in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def _problems_of(table: str, row: dict) -> list[str]:
    out = []
    for column, value in row.items():
        if isinstance(value, str) and (ch := grammar.unsafe_character(value)):
            out.append(f"{table}.{column} holds {grammar.describe(ch)}: {value!r}")
    get = row.get
    if table == "ps_endpoints" and not CALLERID.match(get("callerid") or ""):
        out.append(f"ps_endpoints.callerid {get('callerid')!r} is not \"name\" <number>")
    if table == "ps_endpoints" and len(get("callerid") or "") > 40:
        out.append(f"ps_endpoints.callerid {get('callerid')!r} is longer than the column")
    if table == "voicemail":
        if get("fullname") is not None and any(c in get("fullname") for c in grammar.DISPLAY_NAME_DELIMITERS):
            out.append(f"voicemail.fullname {get('fullname')!r} holds a delimiter")
        if get("email") is not None and not MAIL.match(get("email")):
            out.append(f"voicemail.email {get('email')!r} is not a plain address")
        if not re.fullmatch(r"[0-9]*", get("password") or ""):
            out.append(f"voicemail.password {get('password')!r} is not digits")
    if table == "uacreg":
        for column, check in (("l_username", grammar.validate_sip_user), ("r_username", grammar.validate_sip_user),
                              ("l_domain", grammar.validate_sip_host), ("r_domain", grammar.validate_sip_host),
                              ("auth_username", grammar.validate_quoted_text), ("auth_proxy", grammar.validate_sip_uri),
                              ("realm", grammar.validate_quoted_text)):
            if get(column) and not _passes(check, get(column)):
                out.append(f"uacreg.{column} {get(column)!r} breaks {check.__name__}")
    if table == "dispatcher":
        if not _passes(grammar.validate_sip_uri, get("destination") or ""):
            out.append(f"dispatcher.destination {get('destination')!r} is not a SIP URI")
        if not ATTRS.match(get("attrs") or ""):
            out.append(f"dispatcher.attrs {get('attrs')!r}")
    if table == "address":
        try:
            ipaddress.ip_address(get("ip_addr"))
        except ValueError:
            out.append(f"address.ip_addr {get('ip_addr')!r}")
    if table == "dialplan":
        for column in ("match_exp", "repl_exp"):
            if not PRINTABLE_ASCII.match(get(column) or ""):
                out.append(f"dialplan.{column} {get(column)!r}")
        if not ATTRS.match(get("attrs") or ""):
            out.append(f"dialplan.attrs {get('attrs')!r}")
    if table == "extensions":
        if not re.fullmatch(r"[*#]?[0-9]+", get("exten") or ""):
            out.append(f"extensions.exten {get('exten')!r}")
        if not PRINTABLE_ASCII.match((get("appdata") or "").replace(" ", "")):
            out.append(f"extensions.appdata {get('appdata')!r}")
    if table in ("subscriber", "ps_auths", "ps_aors") and not re.fullmatch(r"[0-9]+", get("username") or
                                                                            get("id") or ""):
        out.append(f"{table} user {get('username') or get('id')!r} is not an extension")
    return out


def _passes(check, value: str) -> bool:
    from django.core.exceptions import ValidationError

    try:
        check(value)
    except ValidationError:
        return False
    return True


def problems() -> list[str]:
    """Every malformed value Kamailio or Asterisk would read right now."""
    return [p for table in TABLES for row in rows(table) for p in _problems_of(table, row)]


def assert_well_formed(context: str = "") -> None:
    found = problems()
    assert not found, f"{context}: " + "; ".join(found[:5])


def estate_models():
    return [m for app in ESTATE_APPS for m in apps.get_app_config(app).get_models()
            if m._meta.managed and not m._meta.auto_created]


def field_problems(models=None) -> list[str]:
    """Stored values that break their own field's validators (a write path that skipped them)."""
    out = []
    for model in estate_models() if models is None else models:
        fields = [f for f in model._meta.concrete_fields
                  if f.editable and not f.primary_key and not f.is_relation and f.get_internal_type() in
                  ("CharField", "TextField", "EmailField", "URLField", "SlugField")]
        if not fields:
            continue
        for values in model._default_manager.values(*[f.attname for f in fields]):
            for name, exc in crud.field_errors(model, {k: v for k, v in values.items() if v not in (None, "")}).items():
                out.append(f"{model._meta.label}.{name} = {values[name]!r}: {exc.messages}")
    return out


def assert_fields_valid(context: str = "") -> None:
    found = field_problems()
    assert not found, f"{context}: " + "; ".join(found[:5])
