"""One set of AMI/ARI assertions, two subjects: the protocol fakes and a real Asterisk 22.

Every test runs against ``fake`` (tests/fakes: what the rest of the suite, the simulator and
bench/ use) and ``real`` (the central Asterisk of the suite's test estate, configured by
``manage.py asterisk_config``). A fake that answers differently from the real thing fails
here, so the fakes cannot drift.  The assertions compare shapes and wording, and values
only where they are the same on every Asterisk; where a value depends on the node (its
version, its system name) it is compared across AMI, the CLI and ARI instead.

A subject offers the three situations the assertions need, each made the way its kind
can: ``in_a_conference()`` (real: a phone dials *125 through Kamailio), ``registered(ext)``
(real: a phone REGISTERs straight to the node) and ``ami_user(write)`` (real: an AMI user
added through manager_local.conf).
"""
from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Callable, ContextManager, Iterator

import httpx
import pytest

from live.choices import Health
from live.poller import AsteriskTarget, NodeResult, poll_one
from tests.fakes import ami as ami_fakes, ari as ari_fakes
from voipadmin.connectors.ami import UPTIME_COMMAND, AmiSession, parse_uptime
from voipadmin.connectors.ari import AriClient, parse_ari_time
from voipadmin.connectors.errors import NodeError
from tests.asterisk.helpers import wait_for

REAL = pytest.param("real", marks=[pytest.mark.django_db(transaction=True), pytest.mark.kamailio,
                                   pytest.mark.asterisk])
TIMEOUT = 2.0
PASSWORD = "correct-horse-battery-1001"

# What Asterisk 22.10.1 answered (keys in the order it sends them).
CORE_SETTINGS_KEYS = ["AMIversion", "AsteriskVersion", "SystemName", "CoreMaxCalls", "CoreMaxLoadAvg", "CoreRunUser",
                      "CoreRunGroup", "CoreMaxFilehandles", "CoreRealTimeEnabled", "CoreCDRenabled",
                      "CoreHTTPenabled", "SoundsSearchCustomDir"]
CORE_STATUS_KEYS = ["CoreStartupDate", "CoreStartupTime", "CoreReloadDate", "CoreReloadTime", "CoreCurrentCalls",
                    "CoreProcessedCalls"]
CHANNEL_KEYS = ["Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid",
                "Linkedid", "Application", "ApplicationData", "Duration", "BridgeId"]
CONTACT_KEYS = ["ObjectType", "ObjectName", "ViaAddr", "QualifyTimeout", "Qualify2xxOnly", "CallId", "RegServer",
                "PruneOnBoot", "Path", "Endpoint", "ViaPort", "AuthenticateQualify", "Uri", "QualifyFrequency",
                "UserAgent", "ExpirationTime", "OutboundProxy", "Status", "RoundtripUsec"]
ARI_INFO_KEYS = {"build": ["os", "kernel", "machine", "options", "date", "user"], "system": ["version", "entity_id"],
                 "config": ["name", "default_language", "setid"], "status": ["startup_time", "last_reload_time"]}
ARI_CHANNEL_KEYS = ["id", "name", "state", "protocol_id", "caller", "connected", "accountcode", "dialplan",
                    "creationtime", "language"]
ARI_BRIDGE_KEYS = ["id", "technology", "bridge_type", "bridge_class", "creator", "name", "channels", "creationtime",
                   "video_mode"]
ARI_ENDPOINT_KEYS = ["technology", "resource", "state", "channel_ids"]
DEVICE_STATES = {"UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"}


# -- the two subjects --------------------------------------------------------------------------------------------


@dataclass
class Subject:
    kind: str
    name: str  # the node's system name
    host: str
    ami_port: int
    ami_username: str
    ami_secret: str
    ari_url: str
    ari_username: str
    ari_password: str
    http_root: str  # Asterisk's web server, outside /ari
    in_a_conference: Callable[[], ContextManager[None]]
    registered: Callable[[str], ContextManager[None]]
    ami_user: Callable[[str], ContextManager[tuple[str, str]]]
    extra: dict[str, Any] = field(default_factory=dict)

    def session(self, username: str | None = None, secret: str | None = None, timeout: float = TIMEOUT) -> AmiSession:
        return AmiSession(self.host, self.ami_port, username or self.ami_username,
                          self.ami_secret if secret is None else secret, timeout=timeout)

    def ari(self, password: str | None = None, url: str | None = None) -> AriClient:
        return AriClient(url or self.ari_url, self.ari_username, password or self.ari_password, timeout=TIMEOUT)

    def target(self, **changes: Any) -> AsteriskTarget:
        fields = dict(node_id=1, name=self.name, site_id=1, host=self.host, port=self.ami_port,
                      username=self.ami_username, secret=self.ami_secret, gateway=True, ari_url=self.ari_url,
                      ari_username=self.ari_username, ari_password=self.ari_password)
        return AsteriskTarget(**{**fields, **changes})


def ami(subject: Subject, fn, **session) -> Any:
    """Run ``fn(ami)`` in one logged-in AMI session."""
    async def main():
        async with subject.session(**session) as s:
            return await fn(s)

    return asyncio.run(main())


def ari(subject: Subject, fn, **client) -> Any:
    async def main():
        async with subject.ari(**client) as a:
            return await fn(a)

    return asyncio.run(main())


def poll(subject: Subject, **changes: Any) -> NodeResult:
    return asyncio.run(poll_one(subject.target(**changes), TIMEOUT))


@contextlib.contextmanager
def _fake_subject() -> Iterator[Subject]:
    """The fakes, set up as the real central node is between calls: no calls, no contacts, no hints."""
    name, version = "ast-fake-central", "22.10.1"
    idle = {"PJSIP/e1-sim": "NOT_INUSE", "PJSIP/kamailio-1": "NOT_INUSE"}
    endpoints = [{"technology": "PJSIP", "resource": r, "state": "online", "channel_ids": []}
                 for r in ("kamailio-1", "e1-sim")]
    with ami_fakes.running_ami_fake(username="voipadmin", secret="ami-secret", channels=0, contacts=[],
                                    device_states=dict(idle), extension_states=[], system_name=name,
                                    asterisk_version=version, write="system,call,command,originate,reporting") as am, \
            ari_fakes.running_ari_fake(username="voipadmin", password="ari-secret", channels=0, bridges=[],
                                       endpoints=endpoints, system_name=name, asterisk_version=version) as ar:

        @contextlib.contextmanager
        def in_a_conference():
            uid = f"{name}-1795995845.1"
            bridge = "1cf33d8f-c23a-496c-be02-56e6f7f4b1a0"
            am.channels = [ami_fakes.make_channel(
                Channel="PJSIP/kamailio-1-00000000", CallerIDNum="1002", CallerIDName="Luis",
                ConnectedLineNum="<unknown>", ConnectedLineName="<unknown>", AccountCode="central",
                Context="site-central", Exten="*125", Priority="2", Uniqueid=uid, Linkedid=uid,
                Application="ConfBridge", ApplicationData="estate", Duration="00:00:02", BridgeId=bridge)]
            am.device_states = {"confbridge:estate": "INUSE", **idle, "PJSIP/kamailio-1": "INUSE"}
            ar.channels = [ari_fakes.make_channel(
                id=uid, name="PJSIP/kamailio-1-00000000", protocol_id="1-29172@127.0.0.101",
                caller={"name": "Luis", "number": "1002"}, connected={"name": "", "number": ""},
                accountcode="central", dialplan={"context": "site-central", "exten": "*125", "priority": 2,
                                                 "app_name": "ConfBridge", "app_data": "estate"})]
            ar.bridges = [ari_fakes.make_bridge("estate", [uid], bridge_id=bridge)]
            try:
                yield
            finally:
                am.channels, am.device_states, ar.channels, ar.bridges = 0, dict(idle), 0, []

        @contextlib.contextmanager
        def registered(extension: str):
            am.contacts = [extension]
            try:
                yield
            finally:
                am.contacts = []

        @contextlib.contextmanager
        def ami_user(write: str):
            am.users["limited"] = ("limited-secret", write)
            try:
                yield "limited", "limited-secret"
            finally:
                am.users.pop("limited")

        yield Subject(kind="fake", name=name, host=am.host, ami_port=am.port, ami_username="voipadmin",
                      ami_secret="ami-secret", ari_url=f"{ar.base_url}/ari", ari_username="voipadmin",
                      ari_password="ari-secret", http_root=ar.base_url, in_a_conference=in_a_conference,
                      registered=registered, ami_user=ami_user, extra={"ami": am, "ari": ar})


def ensure_ari(node, plan) -> None:
    """A node running exactly what ``asterisk_config`` writes answers ARI (res_ari and its dependencies,
    res_websocket_client among them, are loaded by the generated modules.conf)."""
    response = httpx.get(f"{plan.ari_url}/asterisk/ping", auth=("voipadmin", plan.ari_password), timeout=3)
    assert response.status_code == 200, (response.status_code, node.log_tail(20))


def make_user(estate, extension: int, name: str):
    from users import actions as user_actions
    from users.models import SipUser
    from voipadmin.actors import Actor

    if not SipUser.objects.filter(extension=extension).exists():
        user_actions.create_user(actor=Actor.command("tests"), extension=extension, name=name,
                                 site=estate.sites["central"], password=PASSWORD)


@contextlib.contextmanager
def _real_subject(estate) -> Iterator[Subject]:
    """The estate's central Asterisk (tests/asterisk/estate.py), its Kamailio in front."""
    from tests.sip import Phone

    plan, node = estate.plan.node("central"), estate.asterisks["central"]
    ensure_ari(node, plan)
    sip = SimpleNamespace(sip_ip=plan.host, sip_port=plan.sip_port)  # a phone's REGISTER straight to the node
    subject: Subject

    @contextlib.contextmanager
    def in_a_conference():
        make_user(estate, 1002, "Luis")
        phone = Phone("1002", PASSWORD, ip="127.0.0.101")
        # the whole body runs while the phone holds the call: room for a machine busy with other tests
        with phone.calling(estate.kamailio, "*125", hold_ms=10000, timeout=25) as call:
            def joined():
                channels = ami(subject, lambda s: s.core_show_channels())
                bridges = ari(subject, lambda a: a.bridges())
                return (any(c["Application"] == "ConfBridge" and c.get("BridgeId") for c in channels)
                        and any(b["name"] == "estate" and b["channels"] for b in bridges))

            assert wait_for(joined, timeout=10), (node.cli("core show channels"), node.cli("confbridge list"))
            yield
        assert call.result.ok, call.result.output

    @contextlib.contextmanager
    def registered(extension: str):
        make_user(estate, int(extension), f"User {extension}")
        phone = Phone(extension, PASSWORD, ip="127.0.0.102")
        result = phone.register(sip)
        assert result.ok, result.output
        try:
            yield
        finally:
            phone.register(sip, expires=0)

    @contextlib.contextmanager
    def ami_user(write: str):
        local = node.etc / "manager_local.conf"
        local.write_text(f"[limited]\nsecret = limited-secret\ndeny = 0.0.0.0/0.0.0.0\n"
                         f"permit = 127.0.0.0/255.0.0.0\nread = {write}\nwrite = {write}\n")
        node.cli("manager reload")
        try:
            yield "limited", "limited-secret"
        finally:
            local.unlink()
            node.cli("manager reload")

    subject = Subject(kind="real", name=plan.name, host=plan.host, ami_port=plan.ami_port, ami_username="voipadmin",
                      ami_secret=plan.ami_secret, ari_url=plan.ari_url, ari_username="voipadmin",
                      ari_password=plan.ari_password, http_root=f"http://{plan.host}:{plan.http_port}",
                      in_a_conference=in_a_conference, registered=registered, ami_user=ami_user,
                      extra={"node": node})
    # between tests the node is idle: no call of an earlier test still up
    assert wait_for(lambda: not ami(subject, lambda s: s.core_show_channels()), timeout=5), node.cli(
        "core show channels")
    yield subject


@pytest.fixture(params=["fake", REAL])
def subject(request) -> Iterator[Subject]:
    if request.param == "fake":
        with _fake_subject() as s:
            yield s
    else:
        with _real_subject(request.getfixturevalue("asterisk_estate")) as s:
            yield s


class RawAmi:
    """A bare AMI connection, to look at what the connector smooths over (framing, events, closing)."""

    def __init__(self, subject: Subject):
        self.sock = socket.create_connection((subject.host, subject.ami_port), timeout=3)
        self.banner = self.read(0.3)

    def send(self, **headers: str) -> None:
        self.sock.sendall("".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n")

    def read(self, seconds: float) -> str:
        """What arrives within ``seconds`` (less if the node closes the connection)."""
        self.sock.settimeout(0.05)
        data, deadline = b"", time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                self.closed = True
                break
            data += chunk
        return data.decode("utf-8", "replace")

    closed = False

    def close(self) -> None:
        self.sock.close()


# -- AMI ------------------------------------------------------------------------------------------------------------


def test_it_logs_in_pings_and_reads_the_ami_version_from_the_banner(subject):
    async def check(s):
        return await s.ping(), await s.core_settings(), s.ami_version

    latency, settings, version = ami(subject, check)
    assert latency >= 0
    assert re.fullmatch(r"\d+\.\d+\.\d+", version) and settings["AMIversion"] == version


def test_a_wrong_secret_is_refused_after_a_second_and_the_node_hangs_up(subject):
    raw = RawAmi(subject)
    started = time.monotonic()
    raw.send(Action="Login", ActionID="l", Username=subject.ami_username, Secret="wrong")
    assert raw.read(2.5) == "Response: Error\r\nActionID: l\r\nMessage: Authentication failed\r\n\r\n"
    assert raw.closed and 0.9 <= time.monotonic() - started < 1.5
    raw.close()
    # ... which a 1 s poll budget (the default) still reports as what it is
    with pytest.raises(NodeError) as err:
        ami(subject, lambda s: s.ping(), secret="wrong", timeout=1.0)
    assert err.value.permanent and err.value.reason == "authentication failed"
    result = asyncio.run(poll_one(subject.target(secret="wrong"), 1.0))
    assert (result.state, result.reason) == (Health.DOWN, "authentication failed")


def test_core_settings_name_the_same_version_as_the_cli_and_ari(subject):
    async def both(s):
        return await s.core_settings(), await s.command("core show version")

    settings, cli = ami(subject, both)
    assert list(settings) == CORE_SETTINGS_KEYS
    assert settings["SystemName"] == subject.name
    assert re.fullmatch(rf"Asterisk {re.escape(settings['AsteriskVersion'])} built by \S+ @ \S+ on a \S+ "
                        r"running Linux on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", cli[0]), cli
    info = ari(subject, lambda a: a.asterisk_info())
    assert (info["system"]["version"], info["config"]["name"]) == (settings["AsteriskVersion"], subject.name)


def test_core_status_gives_the_start_as_a_wall_clock_and_counts(subject):
    status = ami(subject, lambda s: s.core_status())
    assert list(status) == CORE_STATUS_KEYS
    for prefix in ("CoreStartup", "CoreReload"):
        datetime.strptime(f"{status[prefix + 'Date']} {status[prefix + 'Time']}", "%Y-%m-%d %H:%M:%S")
    assert status["CoreCurrentCalls"].isdigit() and status["CoreProcessedCalls"].isdigit()


def test_uptime_comes_from_core_show_uptime_seconds(subject):
    lines = ami(subject, lambda s: s.command(UPTIME_COMMAND))
    assert len(lines) == 2 and re.fullmatch(r"System uptime: \d+", lines[0]) and re.fullmatch(r"Last reload: \d+",
                                                                                               lines[1]), lines
    uptime, last_reload = parse_uptime(lines)
    assert 0 <= last_reload <= uptime
    assert ami(subject, lambda s: s.uptime()) == (pytest.approx(uptime, abs=2), pytest.approx(last_reload, abs=2))


@pytest.mark.parametrize("events, greeted", [("off", False), ("call", False), ("system", True), ("on", True),
                                             (None, True)])
def test_fully_booted_only_greets_sessions_that_take_system_events(subject, events, greeted):
    """Why the poller cannot read its uptime from FullyBooted: it logs in with Events: off."""
    raw = RawAmi(subject)
    raw.send(Action="Login", ActionID="l", Username=subject.ami_username, Secret=subject.ami_secret,
             **({"Events": events} if events else {}))
    reply = raw.read(0.6)
    raw.close()
    assert reply.startswith("Response: Success\r\nActionID: l\r\nMessage: Authentication accepted\r\n\r\n")
    booted = re.search(r"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: \d+\r\nLastReload: \d+\r\n"
                       r"Status: Fully Booted\r\n\r\n", reply)
    assert bool(booted) is greeted, reply


def test_an_idle_node_lists_no_channels_and_answers_no_contacts_with_an_error(subject):
    async def listings(s):
        return await s.core_show_channels(), await s.pjsip_show_contacts()

    assert ami(subject, listings) == ([], [])
    raw = RawAmi(subject)
    raw.send(Action="Login", ActionID="l", Username=subject.ami_username, Secret=subject.ami_secret, Events="off")
    raw.read(0.3)
    raw.send(Action="PJSIPShowContacts", ActionID="c")
    raw.send(Action="CoreShowChannels", ActionID="h")
    replies = raw.read(0.6)
    raw.close()
    assert "Response: Error\r\nActionID: c\r\nMessage: No Contacts found\n\r\n\r\n" in replies
    assert ("Response: Success\r\nActionID: h\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n"
            "Event: CoreShowChannelsComplete\r\nActionID: h\r\nEventList: Complete\r\nListItems: 0\r\n\r\n") in replies


def test_a_phone_registered_straight_to_the_node_is_a_contact(subject):
    with subject.registered("1001"):
        contacts = ami(subject, lambda s: s.pjsip_show_contacts())
        result = poll(subject)
    [contact] = contacts
    assert list(contact) == CONTACT_KEYS
    assert contact["Endpoint"] == "1001" and contact["ObjectName"].startswith("1001;@")
    assert contact["Uri"].startswith("sip:1001@") and contact["ExpirationTime"].isdigit()
    assert [(r["user"], r["nat"]) for r in result.registrations] == [("1001", False)]
    assert result.state == Health.UP, result.reason


def test_device_states_are_listed_per_device(subject):
    devices = ami(subject, lambda s: s.device_state_list())
    assert devices and set(devices.values()) <= DEVICE_STATES
    assert devices["PJSIP/kamailio-1"] == "NOT_INUSE"  # the Kamailio's own endpoint: reachable, idle


def test_extension_states_without_hints_are_an_empty_list_not_an_error(subject):
    """The estate's dialplan only has pattern hints (``_1XXX,hint,PJSIP/${EXTEN}``); until something
    asks for one of their extensions there are no hints, and a dialplan reload forgets them again."""
    async def after_reload(s):
        await s.reload("dialplan")
        return await s.extension_state_list()

    assert ami(subject, after_reload) == []


def test_an_unknown_action_is_a_permanent_error_in_asterisks_words(subject):
    with pytest.raises(NodeError) as err:
        ami(subject, lambda s: s.action("BadActionName"))
    assert err.value.permanent and err.value.reason == "unknown action BadActionName"
    raw = RawAmi(subject)
    raw.send(Action="Login", ActionID="l", Username=subject.ami_username, Secret=subject.ami_secret, Events="off")
    raw.read(0.3)
    raw.send(Action="BadActionName", ActionID="b")
    reply = raw.read(0.4)
    raw.close()
    assert reply == ("Response: Error\r\nActionID: b\r\nMessage: Invalid/unknown command: BadActionName. "
                     "Use Action: ListCommands to show available commands.\r\n\r\n")


def test_an_unknown_cli_command_is_refused_with_the_cli_help_hint(subject):
    with pytest.raises(NodeError) as err:
        ami(subject, lambda s: s.command("no such thing"))
    assert err.value.permanent
    assert err.value.reason == ("No such command 'no such thing' "
                                "(type 'core show help no such' for other possible commands)")


def test_the_three_reloads_are_accepted_and_a_missing_module_is_said_in_a_success(subject):
    async def reloads(s):
        return ([await s.reload(intent) for intent in ("pjsip", "dialplan", "voicemail")],
                await s.command("module reload res_nonexistent.so"))

    outputs, missing = ami(subject, reloads)
    assert outputs == [["Module 'res_pjsip.so' reloaded successfully."], ["Dialplan reloaded."],
                       ["Reloading voicemail configuration..."]]
    assert missing == ["No such module 'res_nonexistent.so'"]  # Response: Success all the same


def test_actions_are_authorised_by_the_users_write_privileges(subject):
    async def everything(s):
        return await asyncio.gather(s.core_status(), s.core_show_channels(), s.pjsip_show_contacts(),
                                    s.device_state_list(), s.extension_state_list(), s.command(UPTIME_COMMAND),
                                    return_exceptions=True)

    with subject.ami_user("system") as (user, secret):
        answers = ami(subject, everything, username=user, secret=secret)
    assert [a.reason if isinstance(a, NodeError) else "ok" for a in answers] == \
        ["ok", "ok", "ok", "permission denied", "permission denied", "permission denied"]


# -- ARI ------------------------------------------------------------------------------------------------------------


def test_ari_info_and_ping_describe_the_same_node(subject):
    async def both(a):
        return await a.asterisk_info(), await a.get("/asterisk/ping")

    info, ping = ari(subject, both)
    assert {k: list(v) for k, v in info.items()} == ARI_INFO_KEYS
    assert parse_ari_time(info["status"]["startup_time"]) is not None
    assert parse_ari_time(info["status"]["last_reload_time"]) is not None
    assert list(ping) == ["ping", "timestamp", "asterisk_id"] and ping["ping"] == "pong"
    assert ping["asterisk_id"] == info["system"]["entity_id"] and parse_ari_time(ping["timestamp"])


def test_ari_lists_channels_bridges_and_endpoints(subject):
    async def lists(a):
        return await a.channels(), await a.bridges(), await a.endpoints(), await a.device_states()

    channels, bridges, endpoints, device_states = ari(subject, lists)
    assert channels == [] and bridges == []
    assert device_states == []  # ARI lists only the device states it owns (Stasis:...)
    assert all(list(e) == ARI_ENDPOINT_KEYS for e in endpoints)
    assert {(e["technology"], e["resource"], e["state"]) for e in endpoints} >= {("PJSIP", "kamailio-1", "online")}


def test_ari_refusals_are_permanent_and_said_in_its_words(subject):
    with pytest.raises(NodeError) as missing:
        ari(subject, lambda a: a.get("/channels/nonexistent"))
    with pytest.raises(NodeError) as unknown:
        ari(subject, lambda a: a.get("/nonexistent"))
    with pytest.raises(NodeError) as denied:
        ari(subject, lambda a: a.ping(), password="wrong")
    with pytest.raises(NodeError) as elsewhere:
        ari(subject, lambda a: a.ping(), url=f"{subject.http_root}/not-ari")
    assert missing.value.reason == "not found: Channel not found"
    assert unknown.value.reason == "not found: Resource not found"
    assert denied.value.reason == "authentication failed (HTTP 401)"
    assert elsewhere.value.reason == "no ARI at this URL (HTTP 404 from the web server: is res_ari loaded?)"
    assert all(e.value.permanent for e in (missing, unknown, denied, elsewhere))


def test_outside_ari_the_web_server_answers_its_own_html_404_without_asking_for_credentials(subject):
    response = httpx.get(f"{subject.http_root}/not-ari/asterisk/ping", timeout=3)
    version = response.headers["server"].removeprefix("Asterisk/")
    assert (response.status_code, response.headers["content-type"]) == (404, "text/html")
    assert response.text == ari_fakes.NOT_FOUND_PAGE.format(version=version)
    denied = httpx.get(f"{subject.ari_url}/asterisk/ping", auth=("voipadmin", "wrong"), timeout=3)
    assert (denied.status_code, denied.json()) == (401, {"message": "Authentication required"})
    assert denied.headers["www-authenticate"] == 'Basic realm="Asterisk REST Interface"'


# -- during a call: AMI, ARI and the poller agree ------------------------------------------------------------------


def test_a_conference_call_is_a_channel_a_device_state_a_bridge_and_a_polled_call(subject):
    async def listings(s):
        return await s.core_show_channels(), await s.device_state_list(), await s.core_status()

    async def ari_lists(a):
        return await a.channels(), await a.bridges()

    with subject.in_a_conference():
        (channels, devices, status), (ari_channels, bridges) = ami(subject, listings), ari(subject, ari_lists)
        result = poll(subject)
    [channel] = channels
    assert list(channel) == CHANNEL_KEYS
    assert (channel["Application"], channel["ApplicationData"], channel["Context"], channel["Exten"],
            channel["ChannelStateDesc"]) == ("ConfBridge", "estate", "site-central", "*125", "Up")
    assert channel["Channel"].startswith("PJSIP/kamailio-1-") and channel["CallerIDNum"] == "1002"
    assert channel["Uniqueid"].startswith(f"{subject.name}-") and re.fullmatch(r"\d\d:\d\d:\d\d", channel["Duration"])
    assert int(status["CoreCurrentCalls"]) >= 1
    assert devices["confbridge:estate"] == "INUSE" and devices["PJSIP/kamailio-1"] == "INUSE"
    [ari_channel] = ari_channels
    assert list(ari_channel) == ARI_CHANNEL_KEYS and ari_channel["id"] == channel["Uniqueid"]
    assert ari_channel["dialplan"]["app_name"] == "ConfBridge"
    [bridge] = bridges
    assert list(bridge) == ARI_BRIDGE_KEYS and bridge["id"] == channel["BridgeId"]
    assert (bridge["name"], bridge["creator"], bridge["channels"]) == ("estate", "ConfBridge", [channel["Uniqueid"]])

    assert result.state == Health.UP, result.reason
    [call] = result.calls
    assert (call["caller"], call["callee"], call["application"], call["state"]) == ("1002", "*125", "ConfBridge", "Up")
    assert [(b["name"], b["creator"], b["channels"]) for b in result.bridges] == [("estate", "ConfBridge", 1)]


# -- the poller ---------------------------------------------------------------------------------------------------


def test_an_idle_node_polls_up_with_version_uptime_and_ari(subject):
    result = poll(subject)
    version = ami(subject, lambda s: s.core_settings())["AsteriskVersion"]
    assert (result.state, result.reason) == (Health.UP, "")
    assert result.version == version and result.uptime_seconds is not None and result.uptime_seconds >= 0
    assert result.ari == Health.UP and result.ari_latency_ms is not None
    assert result.calls == [] and result.registrations == [] and result.bridges == [] and result.trunks == []
    assert {d["device"] for d in result.device_states} >= {"PJSIP/kamailio-1"}


def test_a_node_without_some_privileges_is_degraded_with_the_reasons_not_down(subject):
    with subject.ami_user("system") as (user, secret):
        result = poll(subject, username=user, secret=secret)
    assert result.state == Health.DEGRADED
    assert result.reason == ("DeviceStateList: permission denied; ExtensionStateList: permission denied; "
                             f"{UPTIME_COMMAND}: permission denied; E1 spans unknown: permission denied")
    assert result.version and result.uptime_seconds is not None  # uptime from ARI when AMI gave none


def test_a_node_refusing_what_says_it_works_is_down(subject):
    with subject.ami_user("call") as (user, secret):
        result = poll(subject, username=user, secret=secret)
    assert (result.state, result.reason) == (Health.DOWN, "permission denied")


@pytest.mark.parametrize("change, reason", [
    ({"ari_password": "wrong"}, "ARI: authentication failed (HTTP 401)"),
    ({"ari_url": "{http_root}/not-ari"}, "ARI: no ARI at this URL (HTTP 404 from the web server: is res_ari loaded?)"),
])
def test_an_ari_failure_while_ami_works_is_degraded(subject, change, reason):
    result = poll(subject, **{k: v.format(http_root=subject.http_root) for k, v in change.items()})
    assert (result.state, result.reason, result.ari) == (Health.DEGRADED, reason, Health.DOWN)
    assert result.version and result.uptime_seconds is not None


def test_a_node_without_ari_is_polled_over_ami_alone(subject):
    result = poll(subject, ari_url="")
    assert (result.state, result.ari, result.ari_latency_ms) == (Health.UP, "", None)
