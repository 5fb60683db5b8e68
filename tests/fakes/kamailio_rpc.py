"""A fake Kamailio xhttp+jsonrpcs endpoint (POST /RPC), threaded http.server.

Reply shapes and error wording were captured from kamailio 5.6.3 on loopback
(db_text backend): errors carry the JSON-RPC ``error`` object *and* the HTTP status
line mirrors it (``HTTP/1.1 500 No Destination Sets``); a second reload within 5 s
answers ``500 Ongoing reload``.  Kamailio pretty-prints with tabs; so does the fake.

    with running_kamailio_fake(dispatcher=[(1, "sip:127.0.0.1:5080")]) as fake:
        KamailioRpc(fake.url)
        fake.calls  # ["dispatcher.list", ...]

A dispatcher destination is ``(setid, uri)`` or ``(setid, uri, flags, priority, attrs)``: FLAGS as
dispatcher.list shows them (state A/T/I/D, then P when Kamailio probes it with OPTIONS, else X; a reload
sets them back to what the table says), so a test can hold a destination Kamailio marked down ("IP").
``dispatcher.set_state`` changes them as Kamailio does.

fault: None | "hang" | "garbage" (200 with non-JSON body) | "errors_as_200" (error
objects with HTTP 200, as some proxies relay them)
"""
from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator


@dataclass
class KamailioState:
    dispatcher: list[tuple] = field(default_factory=list)  # (setid, uri[, flags[, priority[, attrs]]])
    # dpid -> (match, subst, repl) or (match, subst, repl, prio, match_op, match_len, attrs)
    dialplan: dict[int, list[tuple]] = field(default_factory=dict)
    addresses: list[tuple[int, str, int, str]] = field(default_factory=list)  # (group, ip, port, tag): hosts
    subnets: list[tuple[int, str, int, int, str]] = field(default_factory=list)  # (group, ip, mask, port, tag)
    contacts: list[tuple[str, str]] = field(default_factory=list)  # (aor, address)
    uac_regs: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    last_reload: dict[str, float] = field(default_factory=dict)


def _attr(attrs: str, name: str) -> str | None:
    for pair in attrs.split(";"):
        key, _, value = pair.partition("=")
        if key == name:
            return value
    return None


def _weight(attrs: str, name: str = "weight") -> int:
    value = _attr(attrs, name) or ""
    return int(value) if value.isdigit() else 0


class KamailioFake:
    def __init__(self, *, username: str | None = None, password: str | None = None,
                 fault: str | None = None, **state: Any) -> None:
        self.username = username
        self.password = password
        self.fault = fault
        self.state = KamailioState(**state)
        self.calls: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/RPC"

    # -- RPC semantics --------------------------------------------------------------------

    def _reload(self, name: str, ok: Any) -> tuple[int, str, Any]:
        now = time.monotonic()
        last = self.state.last_reload.get(name)
        if last is not None and now - last < 5:
            return 500, "Ongoing reload", None
        self.state.last_reload[name] = now
        return 200, "OK", ok

    def dispatch(self, method: str, params: list[Any]) -> tuple[int, str, Any]:
        """(code, message, result): code 200 means success."""
        s = self.state
        if method == "core.uptime":
            up = int(time.time() - s.started)
            fmt = "%a %b %d %H:%M:%S %Y"
            return 200, "OK", {"now": time.strftime(fmt), "up_since": time.strftime(fmt, time.localtime(s.started)),
                               "uptime": up}
        if method == "core.version":
            return 200, "OK", "kamailio 5.6.3 (x86_64/linux) "
        if method == "ul.dump":
            if not s.contacts:
                return 200, "OK", {"Domains": []}
            aors: dict[str, list[str]] = {}
            for aor, address in s.contacts:
                aors.setdefault(aor, []).append(address)
            return 200, "OK", {"Domains": [{"Domain": {
                "Domain": "location", "Size": 1024,
                "AoRs": [{"Info": {"AoR": aor, "HashID": 924766748 + i, "Contacts": [{"Contact": {
                    "Address": a, "Expires": 3600, "Q": 1, "Call-ID": "dfjrewr12386fd6-343@kamailio.rpc",
                    "CSeq": 1, "User-Agent": "kamailio SIP Router - RPC Server", "Received": "[not set]",
                    "Path": "[not set]", "State": "CS_NEW", "Flags": 0, "CFlags": 0, "Socket": "[not set]",
                    "Methods": 0, "Ruid": f"ulcx-6b06d6aa-2ddd-{i + 1}", "Instance": "[not set]", "Reg-Id": 0,
                    "Server-Id": 0, "Tcpconn-Id": -1, "Keepalive": 0, "Last-Keepalive": 1795610284,
                    "KA-Roundtrip": 0, "Last-Modified": 0}} for a in addrs]}}
                    for i, (aor, addrs) in enumerate(aors.items())],
                "Stats": {"Records": len(aors), "Max-Slots": 1}}}]}
        if method == "dispatcher.list":
            if not s.dispatcher:
                return 500, "No Destination Sets", None
            sets: dict[int, list[tuple[str, str, int, str]]] = {}
            for entry in s.dispatcher:
                setid, uri, flags, priority, attrs = (tuple(entry) + ("AX", 0, "weight=50")[len(entry) - 2:])[:5]
                sets.setdefault(setid, []).append((uri, flags, priority, attrs))
            # Kamailio lists a set's destinations by priority, highest first (equal ones: last loaded first)
            return 200, "OK", {"NRSETS": len(sets), "RECORDS": [{"SET": {"ID": setid, "TARGETS": [
                {"DEST": {"URI": uri, "FLAGS": flags, "PRIORITY": priority, "ATTRS": {
                    "BODY": attrs, "DUID": _attr(attrs, "duid"), "MAXLOAD": _weight(attrs, "maxload"),
                    "WEIGHT": _weight(attrs), "RWEIGHT": _weight(attrs, "rweight"),
                    "SOCKET": None, "SOCKNAME": None, "OBPROXY": None},
                    # call-load counting (kamailio.cfg's ds_hash_size, algorithm 10): calls Kamailio counts
                    "RUNTIME": {"DLGLOAD": 0}}}
                for uri, flags, priority, attrs in sorted(reversed(dests), key=lambda d: -d[2])]}}
                for setid, dests in sets.items()]}
        if method == "dispatcher.set_state":
            if len(params) < 3:
                return 500, "Invalid Parameters", None
            state, group, address = str(params[0]), params[1], str(params[2])
            letter = {"0": "I", "1": "A", "2": "D", "3": "T"}.get(state[:1], state[:1].upper())
            if letter not in "IADT" or not letter:
                return 500, "Unknown State Value", None
            probing = "P" if letter != "D" and state[1:2].upper() == "P" else "X"
            for i, entry in enumerate(s.dispatcher):
                if entry[0] == int(group) and (address == "all" or entry[1].lower() == address.lower()):
                    full = tuple(entry) + ("AX", 0, "weight=50")[len(entry) - 2:]
                    s.dispatcher[i] = (full[0], full[1], letter + probing, *full[3:5])
                    if address != "all":
                        break
            else:
                if address != "all":
                    return 500, "State Update Failed", None
            return 200, "OK", "Ok. Dispatcher state updated."
        if method == "dispatcher.reload":
            return self._reload(method, "Ok. Dispatcher successfully reloaded.")
        if method == "dialplan.reload":
            return self._reload(method, {})
        if method in ("dialplan.dump", "dialplan.translate"):
            dpid = int(params[0]) if params else -1
            rules = s.dialplan.get(dpid)
            if not rules:
                return 500, "Dialplan ID not matched", None
            if method == "dialplan.dump":
                # (Kamailio answers null for an empty SUBSTEXP/REPLEXP of a full rule)
                return 200, "OK", {"DPID": dpid, "ENTRIES": [{"ENTRY": {
                    "PRIO": r[3], "MATCHOP": r[4], "MATCHEXP": r[0], "MATCHLEN": r[5], "SUBSTEXP": r[1] or None,
                    "REPLEXP": r[2] or None, "ATTRS": r[6]} if len(r) > 3 else {
                    "PRIO": 0, "MATCHOP": 1, "MATCHEXP": r[0], "MATCHLEN": 0, "SUBSTEXP": r[1],
                    "REPLEXP": r[2], "ATTRS": ""}} for r in rules]}
            import re

            number = str(params[1]) if len(params) > 1 else ""
            for rule in rules:
                match, sub, repl = rule[:3]
                matched = re.search(match, number) if len(rule) < 5 or rule[4] == 1 else (
                    match == number if len(rule) >= 5 and rule[4] == 0 else False)
                if matched:
                    if len(rule) == 3:
                        output = re.sub(sub, repl.replace("\\", "\\\\"), number, count=1)
                    else:  # a full rule: Kamailio's \1..\9 back-references; without subst_exp, repl_exp replaces
                        # the whole number (dialplan's rule_translate: "simply replace the string")
                        output = re.sub(sub, repl, number, count=1) if sub else (repl or number)
                    return 200, "OK", {"Output": output, "Attributes": rule[6] if len(rule) > 6 else ""}
            return 500, "No translation", None
        if method == "permissions.addressReload":
            return self._reload(method, "Reload OK")
        if method == "permissions.addressDump":
            return 200, "OK", [{"table": 98, "group": g, "item": {"ip": ip, "port": port, "tag": tag}}
                               for g, ip, port, tag in s.addresses]
        if method == "permissions.subnetDump":  # (captured from kamailio 5.6: "id", not "table")
            return 200, "OK", [{"id": i, "group": g, "item": {"ip": ip, "mask": mask, "port": port, "tag": tag}}
                               for i, (g, ip, mask, port, tag) in enumerate(s.subnets)]
        if method == "uac.reg_reload":
            if time.time() - s.started < 150:
                return 500, "Failed to shift records - check log messages", None
            return 200, "OK", {}
        if method == "uac.reg_dump":
            return 200, "OK", s.uac_regs
        if method == "uac.reg_info":
            attr, value = (params + [None, None])[:2]
            for reg in s.uac_regs:
                if reg.get(attr) == value:
                    return 200, "OK", reg
            return 404, "Record not found", None
        if method == "stats.get_statistics":
            stats = {"core:rcv_requests": 15, "shmem:free_size": 64244456, "usrloc:registered_users": len(s.contacts),
                     "tmx:active_transactions": 0}
            group = str(params[0]) if params else "all"
            lines = [f"{k} = {v}" for k, v in stats.items() if group == "all" or k.startswith(group.rstrip(":") + ":")]
            return 200, "OK", lines
        return 500, "Method Not Found", None

    # -- HTTP -----------------------------------------------------------------------------

    def _handler(fake) -> type[BaseHTTPRequestHandler]:  # noqa: N805 - closure over the fake
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "kamailio (5.6.3 (x86_64/linux))"
            sys_version = ""

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, reason: str, body: bytes, ctype: str = "application/json",
                      extra: dict[str, str] | None = None) -> None:
                self.send_response(status, reason)
                self.send_header("Content-Type", ctype)
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if fake.fault == "hang":
                    time.sleep(30)
                    return
                if fake.username:
                    expected = base64.b64encode(f"{fake.username}:{fake.password}".encode()).decode()
                    if self.headers.get("Authorization") != f"Basic {expected}":
                        self._send(401, "Unauthorized", b"Unauthorized", "text/plain",
                                   {"WWW-Authenticate": 'Basic realm="kamailio"'})
                        return
                if self.path != "/RPC":
                    self._send(404, "Not Found", b"nope", "text/plain")
                    return
                if fake.fault == "garbage":
                    self._send(200, "OK", b"<html>definitely not json</html>", "text/html")
                    return
                try:
                    request = json.loads(raw)
                except ValueError:
                    return  # Kamailio logs "invalid json doc" and never answers
                fake.requests.append(request)
                fake.calls.append(request.get("method", ""))
                code, message, result = fake.dispatch(request.get("method", ""), list(request.get("params") or []))
                if code == 200:
                    doc: dict[str, Any] = {"jsonrpc": "2.0", "result": result, "id": request.get("id")}
                    status, reason = 200, "OK"
                else:
                    doc = {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": request.get("id")}
                    status, reason = (200, "OK") if fake.fault == "errors_as_200" else (code, message)
                self._send(status, reason, json.dumps(doc, indent="\t").encode())

        return Handler

    def start(self) -> "KamailioFake":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextlib.contextmanager
def running_kamailio_fake(**config: Any) -> Iterator[KamailioFake]:
    fake = KamailioFake(**config).start()
    try:
        yield fake
    finally:
        fake.stop()
