"""SIMULATOR — development only.  Pretends to be the demo estate so `make run` shows live data.

It binds the demo nodes' loopback addresses (sites/demo.py): a fake AMI on
127.0.0.11–14:5038, a fake ARI on :8088, and a fake Kamailio JSON-RPC on
http://127.0.0.10:5071/RPC, and keeps inventing calls, registrations, an ITSP
registration and E1 spans.  The fakes are the protocol-faithful test doubles of
``tests/fakes`` (rebuilt from a real Asterisk's and a real Kamailio 5.6's captured replies),
imported from the repository checkout rather than copied, so the simulator and the tests can
never drift apart.  It refuses to run with DEBUG off, and only ever binds 127.0.0.0/8.

The fake Kamailio holds what a real one would: it loads ``dispatcher``, ``address``, ``dialplan``
and ``uacreg`` from the shared database when it starts, and each table again when asked for its
reload (``dispatcher.reload``, ``permissions.addressReload``, ...), exactly as Kamailio does with
``reload_delta 0``. So the estate check is green on a fresh demo estate, and turns red -- as on a
real estate -- when a table changes and its reload is not pushed.
"""
from __future__ import annotations

import asyncio
import ipaddress
import random
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from sites.models import AsteriskNode, KamailioNode

PRI_UP = "PRI span {n}/0: Provisioned, Up, Active"
PRI_ALARM = "PRI span {n}/0: Provisioned, In Alarm, Down, Active"


def _generated_files(node) -> dict[str, str]:
    """A simulated node has the files the portal generates for it (so the estate check sees it in step)."""
    from nodeconf import asterisk, database  # (the simulator is a dev tool; the app itself never needs this)

    try:
        return asterisk.render_node(node, db=database.access(site=None))
    except asterisk.ConfigValueError:
        return {}


def _import_fakes():
    root = Path(settings.BASE_DIR)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from tests.fakes import ami, ari, kamailio_rpc
    except ImportError as exc:  # pragma: no cover - a deployment without tests/
        raise CommandError(f"the simulator needs the repository's tests/fakes package ({exc})") from None
    return ami, ari, kamailio_rpc


def _host_entry(ip: str, mask: int) -> bool:
    """permissions keeps a full-length mask in its address hash table (addressDump), the rest as subnets."""
    return int(mask) == (128 if ":" in ip else 32)


def kamailio_tables() -> dict[str, Any]:
    """``KamailioState`` fields as a Kamailio 5.6 would hold them after loading the shared database's tables
    (the shapes are those captured from a real one: a NULL tag prints as "NULL")."""
    return {**_dispatcher(), **_address(), **_dialplan(), **_uacreg()}


def _dispatcher() -> dict[str, Any]:
    from voipadmin.kamailio.models import Dispatcher

    # (every destination shows active, "AX", as a freshly loaded set does)
    return {"dispatcher": [(r.setid, r.destination, "AX", r.priority, r.attrs or "")
                           for r in Dispatcher.objects.order_by("id")]}


def _address() -> dict[str, Any]:
    from voipadmin.kamailio.models import Address

    rows = list(Address.objects.order_by("id"))
    tag = lambda r: "NULL" if r.tag is None else r.tag  # noqa: E731
    return {"addresses": [(r.grp, r.ip_addr, r.port, tag(r)) for r in rows if _host_entry(r.ip_addr, r.mask)],
            "subnets": [(r.grp, r.ip_addr, r.mask, r.port, tag(r)) for r in rows
                        if not _host_entry(r.ip_addr, r.mask)]}


def _dialplan() -> dict[str, Any]:
    from voipadmin.kamailio.models import DialplanRule

    rules: dict[int, list[tuple]] = {}
    for r in DialplanRule.objects.order_by("dpid", "pr", "id"):
        rules.setdefault(r.dpid, []).append((r.match_exp, r.subst_exp, r.repl_exp, r.pr, r.match_op, r.match_len,
                                             r.attrs))
    return {"dialplan": rules}


def _uacreg() -> dict[str, Any]:
    """uac.reg_dump's records; the simulator says every one is registered (flags 20, as the dashboard
    reads them)."""
    from voipadmin.kamailio.models import UacReg

    regs = []
    for r in UacReg.objects.order_by("id"):
        regs.append({"l_uuid": r.l_uuid, "l_username": r.l_username, "l_domain": r.l_domain,
                     "r_username": r.r_username, "r_domain": r.r_domain, "realm": r.realm,
                     "auth_username": r.auth_username, "auth_password": r.auth_password,
                     "auth_ha1": r.auth_ha1 or "none", "auth_proxy": r.auth_proxy, "expires": r.expires,
                     "flags": 20, "diff_expires": 300, "timer_expires": 0, "reg_init": 0, "reg_delay": r.reg_delay,
                     "contact_addr": r.contact_addr or "127.0.0.10:5060", "socket": r.socket or None})
    return {"uac_regs": regs}


#: reload RPC -> the loader of the table it makes Kamailio read again
RELOADS = {"dispatcher.reload": _dispatcher, "permissions.addressReload": _address, "dialplan.reload": _dialplan,
           "uac.reg_reload": _uacreg}


def estate_kamailio(fake_class: type) -> type:
    """The test suite's Kamailio fake, reading its tables from the database like a real Kamailio."""

    class EstateKamailio(fake_class):
        def __init__(self, *, tables: dict[str, Any], **config: Any) -> None:
            """``tables``: ``kamailio_tables()``, read before the event loop starts (no ORM in async code)."""
            super().__init__(**config, **tables)

        def dispatch(self, method: str, params: list[Any]):
            code, message, result = super().dispatch(method, params)
            if code == 200 and method in RELOADS:
                try:
                    for name, value in RELOADS[method]().items():
                        setattr(self.state, name, value)
                finally:
                    connection.close()  # (one thread per request: never leave its connection open)
            return code, message, result

    return EstateKamailio


def _loopback(host: str) -> str:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise CommandError(f"{host} is not a loopback address: the simulator only binds 127.0.0.0/8")
    return host


class Command(BaseCommand):
    help = "SIMULATOR (development only): answer for the demo estate's nodes on loopback with fake live data."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seconds", type=float, default=0, help="Stop after this long (default: run forever).")
        parser.add_argument("--tick", type=float, default=3.0, help="Seconds between changes of the fake traffic.")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--stop-file", default="",
                            help="Stop (within a tick) once this file exists: how a test ends a run started in a thread.")

    def handle(self, *args, seconds: float = 0, tick: float = 3.0, seed: int | None = None, stop_file: str = "",
               **options) -> None:
        if not settings.DEBUG:
            raise CommandError("simulate_estate is a development simulator: it refuses to run with DEBUG off")
        self.rng = random.Random(seed)
        self.ami_mod, self.ari_mod, self.kam_mod = _import_fakes()
        self.nodes = list(AsteriskNode.objects.filter(enabled=True).select_related("site")
                          .prefetch_related("site__extension_ranges"))
        self.kamailios = list(KamailioNode.objects.filter(enabled=True))
        if not self.nodes and not self.kamailios:
            raise CommandError("no nodes to simulate: run `manage.py load_demo_estate` first")
        self.extensions = {n.pk: self._extensions(n) for n in self.nodes}
        self.files = {n.pk: _generated_files(n) for n in self.nodes}
        self.kamailio_tables = kamailio_tables()
        self.stdout.write(self.style.WARNING("SIMULATOR — fake nodes for development, not a real estate."))
        self.stop_file = Path(stop_file) if stop_file else None
        asyncio.run(self._run(seconds, tick))

    def _extensions(self, node: AsteriskNode) -> list[str]:
        """A handful of the site's extensions (its users' if the users table has them)."""
        ranges = list(node.site.extension_ranges.all())
        try:
            from voipadmin.kamailio.models import Subscriber

            known = [u for u in Subscriber.objects.values_list("username", flat=True)[:2000]
                     if u.isdigit() and any(r.start <= int(u) <= r.end for r in ranges)]
        except Exception:
            known = []
        if known:
            return sorted(known)[:40]
        return [str(r.start + i) for r in ranges[:1] for i in range(min(20, r.end - r.start + 1))]

    async def _run(self, seconds: float, tick: float) -> None:
        self.amis: dict[int, Any] = {}
        servers = []
        for node in self.nodes:
            host = _loopback(node.effective_ami_host)
            fake = self.ami_mod.AmiFake(username=node.ami_username, secret=node.ami_secret or "",
                                        asterisk_version="22.1.0 (simulated)", channels=[], contacts=[],
                                        config_files=self.files[node.pk])
            fake._server = await asyncio.start_server(fake._handle, host, node.ami_port)
            fake.host, fake.port = host, node.ami_port
            self.amis[node.pk] = fake
            servers.append(fake)
            self.stdout.write(f"  AMI  {node.name:14} {host}:{node.ami_port}")
            if node.ari_url:
                url = urlsplit(node.ari_url)
                ari = self.ari_mod.AriFake(username=node.ari_username, password=node.ari_password or "")
                try:
                    ari._server = await asyncio.start_server(ari._handle, _loopback(url.hostname), url.port or 80)
                    ari.host, ari.port = url.hostname, url.port or 80
                    servers.append(ari)
                    self.stdout.write(f"  ARI  {node.name:14} {url.hostname}:{url.port}")
                except OSError as exc:
                    self.stderr.write(f"  ARI  {node.name}: {exc}")
        self.kams = []
        for node in self.kamailios:
            url = urlsplit(node.jsonrpc_url)
            fake = estate_kamailio(self.kam_mod.KamailioFake)(username=node.jsonrpc_username or None,
                                                              password=node.jsonrpc_password or None,
                                                              tables=self.kamailio_tables)
            fake._server = ThreadingHTTPServer((_loopback(url.hostname), url.port or 80), fake._handler())
            fake._server.daemon_threads = True
            fake.port = url.port or 80
            fake._thread = threading.Thread(target=fake._server.serve_forever, daemon=True)
            fake._thread.start()
            self.kams.append(fake)
            self.stdout.write(f"  RPC  {node.name:14} {node.jsonrpc_url}")
        self.stdout.write("Simulating live traffic; Ctrl-C stops.")
        started = time.monotonic()
        try:
            while not seconds or time.monotonic() - started < seconds:
                if self.stop_file is not None and self.stop_file.exists():
                    break
                self._shuffle()
                await asyncio.sleep(tick)
        finally:
            await asyncio.gather(*(s.stop() for s in servers), return_exceptions=True)
            for fake in self.kams:
                fake.stop()

    def _shuffle(self) -> None:
        """Invent the next moment of traffic: calls start and end, phones (de)register."""
        ami = self.ami_mod
        registered_all: list[tuple[str, str]] = []
        for node in self.nodes:
            fake, exts = self.amis[node.pk], self.extensions[node.pk]
            registered = [e for e in exts if self.rng.random() < 0.8]
            registered_all += [(f"{e}@{node.site.sip_domain}",
                                f"sip:{e}@127.0.{self.rng.randint(1, 254)}.{self.rng.randint(1, 254)}:5060")
                               for e in registered]
            busy = self.rng.sample(registered, k=min(len(registered), self.rng.randint(0, max(len(registered) // 3, 1))))
            channels, states = [], {f"PJSIP/{e}": "NOT_INUSE" for e in registered}
            for i, caller in enumerate(busy):
                outside = self.rng.random() < 0.3
                callee = "0034910" + str(self.rng.randint(100000, 999999)) if outside else self.rng.choice(exts)
                ringing = self.rng.random() < 0.15
                linked = f"{int(time.time())}.{node.pk}{i}"
                duration = time.strftime("%H:%M:%S", time.gmtime(0 if ringing else self.rng.randint(1, 900)))
                legs = [(f"PJSIP/{caller}-{i:08x}", caller, callee, "Ring" if ringing else "Up")]
                peer = "itsp-main" if outside else callee
                if not ringing or not outside:
                    legs.append((f"PJSIP/{peer}-{i + 100:08x}", caller, callee, "Ringing" if ringing else "Up"))
                for n, (chan, cid, exten, st) in enumerate(legs):
                    channels.append(ami._replace(ami.CHANNEL_TEMPLATE, Channel=chan, CallerIDNum=cid,
                                                 CallerIDName=f"User {cid}", ConnectedLineNum=exten,
                                                 ConnectedLineName="", Exten=exten,
                                                 Context=node.site.asterisk_context, ChannelStateDesc=st,
                                                 ChannelState=6 if st == "Up" else 5, Uniqueid=f"{linked}{n}",
                                                 Linkedid=linked, Application="Dial", Duration=duration))
                states[f"PJSIP/{caller}"] = "RINGING" if ringing and not outside else "INUSE"
                if not outside:
                    states[f"PJSIP/{callee}"] = "RINGING" if ringing else "INUSE"
            fake.channels = channels
            fake.device_states = states
            fake.extension_states = []
            if "gateway" in node.role_list:
                alarm = self.rng.random() < 0.1
                fake.command_outputs["pri show spans"] = [PRI_UP.format(n=1),
                                                          (PRI_ALARM if alarm else PRI_UP).format(n=2)]
        for fake in self.kams:
            fake.state.contacts = registered_all
