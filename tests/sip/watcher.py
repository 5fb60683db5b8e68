"""A busy-lamp watcher: a small pure-Python SIP SUBSCRIBE client (RFC 6665 / RFC 4235 dialog event).

It plays a phone's BLF keys against Kamailio's presence server, for the tests and ``bench/blf.py``::

    from tests.sip.watcher import Watcher

    with Watcher("1001", password, domain="voip.example.test", ip="127.0.0.150",
                 proxy=(kamailio.sip_ip, kamailio.sip_port)) as watcher:
        lamp = watcher.subscribe("4003")            # SUBSCRIBE sip:4003@<proxy>, Event: dialog (401 -> auth)
        assert lamp.status == 200                    # final answer to the (authenticated) SUBSCRIBE
        lamp.wait_for("idle")                        # the first NOTIFY: no dialog
        ...                                          # 4003 rings, answers, hangs up
        early = lamp.wait_for("early", timeout=5)    # -> Notify (its .at is time.monotonic() on arrival)
        lamp.wait_for("confirmed"); lamp.wait_for("terminated")
        lamp.refresh(expires=600)                    # in-dialog re-SUBSCRIBE -> final status
        lamp.unsubscribe()                           # Expires: 0 -> final status; a last NOTIFY (terminated)

    lamps = watcher.subscribe_many(["4001", "4002", ...])   # pipelined, 50 SUBSCRIBEs in flight at a time

One ``Watcher`` is one UDP socket on its own loopback address (``ip``: 127.0.0.x, like the sipp ``Phone``s;
never the Kamailio's 127.0.0.1) and one background thread (``selectors``) that answers every NOTIFY with
200 OK, retransmits its own requests (RFC 3261 timer A/E, T1 = 0.5 s) and matches the answers. It carries
any number of subscriptions (the benchmark watches 500 extensions from one socket); several Watchers can
run side by side; ``on_notify=callable(subscription, notify)`` is called (in that thread) for each new NOTIFY
(a retransmitted NOTIFY is answered again but recorded once); ``answer_notifies = False`` plays a phone that
has gone silent. The digest user is ``user``@``domain`` (From and realm = ``domain``, as a phone of the
estate); ``password=None`` never answers a challenge (the 401/407 is then the final status).

Subscription (``lamp``):
    ``.status``          final status of the initial SUBSCRIBE (None: no answer within the timeout)
    ``.reason``          its reason phrase;  ``.response`` the whole final response (:class:`Message`)
    ``.notifies``        every NOTIFY received, in arrival order (:class:`Notify`)
    ``.state``           the lamp's state from the last NOTIFY: "idle" (no dialog), "early" (trying,
                         proceeding or early: ringing), "confirmed" (in a call), "terminated" (the last call
                         ended), None (no NOTIFY yet)
    ``.active``          False once a NOTIFY said Subscription-State: terminated
    ``.wait_for(state, timeout=5.0, after=0)``  the first Notify (index >= ``after``) with that state, or
                         raise ``TimeoutError`` saying what came
    ``.refresh(expires)`` / ``.unsubscribe()``  in-dialog SUBSCRIBE, returns the final status code
Notify: ``.at`` (time.monotonic() when it arrived), ``.state``, ``.dialogs`` (list of :class:`DialogInfo`:
id, call_id, state, direction), ``.version``, ``.entity``, ``.subscription_state``, ``.body``, ``.message``.

Only loopback addresses are used; nothing here talks to anything but the proxy given.
"""
from __future__ import annotations

import hashlib
import itertools
import re
import selectors
import socket
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

__all__ = ["Watcher", "Subscription", "Notify", "DialogInfo", "Message", "parse_dialog_info", "lamp_state"]

T1 = 0.5
DIALOG_NS = "{urn:ietf:params:xml:ns:dialog-info}"
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "o": "event", "k": "supported", "u": "allow-events"}
EARLY_STATES = {"trying", "proceeding", "early"}


# --- messages -------------------------------------------------------------------------------------------------


@dataclass
class Message:
    """A parsed SIP message: a request (method, uri) or a response (status, reason)."""

    first_line: str
    headers: list[tuple[str, str]]  # (lower-case full name, value) in order
    body: bytes
    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def call_id(self) -> str:
        return self.get("call-id", "")

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.get("cseq", "0 X")).partition(" ")
        return int(number), method.strip()

    @property
    def text(self) -> str:
        return self.first_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in self.headers) + "\r\n" + \
            self.body.decode(errors="replace")

    @classmethod
    def parse(cls, data: bytes) -> "Message":
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:  # folded line
                headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
                continue
            name, _, value = line.partition(":")
            name = name.strip().lower()
            name = COMPACT.get(name, name)
            if name in ("via", "record-route", "route", "contact") and "," in value:
                headers += [(name, part.strip()) for part in _split_commas(value)]
            else:
                headers.append((name, value.strip()))
        message = cls(lines[0], headers, body)
        length = message.get("content-length")
        if length is not None and length.isdigit():
            message.body = body[: int(length)]
        if lines[0].startswith("SIP/2.0 "):
            parts = lines[0].split(" ", 2)
            message.status, message.reason = int(parts[1]), (parts[2] if len(parts) > 2 else "")
        else:
            message.method, message.uri = lines[0].split(" ")[0], lines[0].split(" ")[1]
        return message


def _split_commas(value: str) -> list[str]:
    """Split a header value on commas outside <...> and quotes."""
    parts, depth, quoted, current = [], 0, False, []
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == "<" and not quoted:
            depth += 1
        elif char == ">" and not quoted:
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in (p.strip() for p in parts) if p]


def _tag(value: str | None) -> str:
    match = re.search(r";\s*tag=([^;>\s]+)", value or "")
    return match.group(1) if match else ""


def _uri(value: str) -> str:
    """The URI of a name-addr header value (Contact, Record-Route)."""
    match = re.search(r"<([^>]+)>", value)
    return match.group(1) if match else value.split(";")[0].strip()


def _digest_params(value: str) -> dict[str, str]:
    return {k.lower(): v.strip('"') for k, v in re.findall(r'(\w+)\s*=\s*("[^"]*"|[^,\s]+)', value)}


# --- dialog-info ------------------------------------------------------------------------------------------------


@dataclass
class DialogInfo:
    id: str
    call_id: str
    state: str  # trying / proceeding / early / confirmed / terminated
    direction: str  # initiator / recipient / ""


def parse_dialog_info(body: bytes) -> tuple[list[DialogInfo], dict[str, str]]:
    """The dialogs of an application/dialog-info+xml document (RFC 4235) and its root attributes."""
    if not body.strip():
        return [], {}
    root = ET.fromstring(body)
    dialogs = []
    for element in root.iter(f"{DIALOG_NS}dialog"):
        state = element.find(f"{DIALOG_NS}state")
        dialogs.append(DialogInfo(element.get("id", ""), element.get("call-id", ""),
                                  (state.text or "").strip().lower() if state is not None else "",
                                  element.get("direction", "")))
    return dialogs, dict(root.attrib)


def lamp_state(dialogs: list[DialogInfo]) -> str:
    """What a BLF lamp shows: in a call beats ringing beats a call that just ended; no dialog is idle."""
    states = {d.state for d in dialogs}
    if "confirmed" in states:
        return "confirmed"
    if states & EARLY_STATES:
        return "early"
    if states:
        return "terminated"
    return "idle"


@dataclass
class Notify:
    at: float  # time.monotonic() when it arrived
    message: Message = field(repr=False)
    state: str | None = None  # lamp_state of its dialogs (None: not a dialog-info body)
    dialogs: list[DialogInfo] = field(default_factory=list)
    version: str = ""
    entity: str = ""

    @property
    def subscription_state(self) -> str:
        return self.message.get("subscription-state", "")

    @property
    def body(self) -> bytes:
        return self.message.body


# --- transactions and subscriptions -----------------------------------------------------------------------------


class _Transaction:
    def __init__(self, branch: str, data: bytes, deadline: float):
        self.branch, self.data, self.deadline = branch, data, deadline
        self.interval = T1
        self.next_send = time.monotonic() + T1
        self.provisional = False
        self.response: Message | None = None
        self.done = threading.Event()


class Subscription:
    def __init__(self, watcher: "Watcher", target: str, event: str, expires: int):
        self.watcher, self.target, self.event, self.expires = watcher, target, event, expires
        self.request_uri = target
        self.call_id = f"{uuid.uuid4().hex}@{watcher.ip}"
        self.from_tag = uuid.uuid4().hex[:10]
        self.to_tag = ""
        self.cseq = 0
        self.remote_target = target
        self.route_set: list[str] = []
        self.status: int | None = None
        self.reason = ""
        self.response: Message | None = None
        self.notifies: list[Notify] = []
        self.last_notify_cseq = -1
        self.active = True
        self._changed = threading.Condition()

    def __repr__(self) -> str:
        return f"<Subscription {self.target} {self.event} status={self.status} state={self.state}>"

    @property
    def state(self) -> str | None:
        with self._changed:
            for notify in reversed(self.notifies):
                if notify.state is not None:
                    return notify.state
        return None

    def _add_notify(self, notify: Notify) -> None:
        with self._changed:
            self.notifies.append(notify)
            self._changed.notify_all()

    def wait_for(self, state: str, timeout: float = 5.0, after: int = 0) -> Notify:
        """The first NOTIFY (from index ``after``) whose lamp state is ``state``; TimeoutError if none comes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for notify in self.notifies[after:]:
                    if notify.state == state:
                        return notify
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(n.state, n.subscription_state) for n in self.notifies]
                    raise TimeoutError(f"no NOTIFY '{state}' for {self.target} within {timeout}s; got {seen}")
                self._changed.wait(remaining)

    def wait_notifies(self, count: int, timeout: float = 5.0) -> list[Notify]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.notifies) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self.notifies)} NOTIFYs for {self.target}, not {count}")
                self._changed.wait(remaining)
            return list(self.notifies)

    def refresh(self, expires: int | None = None, timeout: float = 5.0) -> int | None:
        """In-dialog re-SUBSCRIBE; returns its final status (None: no answer)."""
        if expires is not None:
            self.expires = expires
        response = self.watcher._send_subscribe(self, in_dialog=True, timeout=timeout)
        return response.status if response else None

    def unsubscribe(self, timeout: float = 5.0) -> int | None:
        return self.refresh(0, timeout)


class Watcher:
    def __init__(self, user: str, password: str | None, *, proxy: tuple[str, int], domain: str = "voip.example.test",
                 ip: str = "127.0.0.150", port: int = 0, user_agent: str = "voipadmin-tests watcher",
                 on_notify=None):
        self.user, self.password, self.domain = str(user), password, domain
        self.on_notify = on_notify  # called as on_notify(subscription, notify) in the watcher's thread
        self.answer_notifies = True  # False: a phone gone silent (NOTIFYs recorded, never answered)
        self.proxy = (proxy[0], int(proxy[1]))
        self.user_agent = user_agent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind((ip, port))
        self.sock.setblocking(False)
        self.ip, self.port = self.sock.getsockname()
        self.subscriptions: dict[str, Subscription] = {}  # by Call-ID
        self.unmatched: list[Message] = []  # requests/responses nothing waited for
        self._transactions: dict[str, _Transaction] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._nc = itertools.count(1)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.sock, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name=f"watcher-{self.user}@{self.ip}", daemon=True)
        self._thread.start()

    # -- lifecycle
    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._selector.close()
        self.sock.close()

    # -- subscribing
    def target_uri(self, extension: str) -> str:
        """sip:<extension>@<proxy host>:<port> unless a full URI is given."""
        extension = str(extension)
        if extension.startswith("sip:"):
            return extension
        return f"sip:{extension}@{self.proxy[0]}:{self.proxy[1]}"

    def subscribe(self, extension: str, *, event: str = "dialog", expires: int = 600,
                  timeout: float = 5.0) -> Subscription:
        """SUBSCRIBE and wait for its final answer (answering a digest challenge once)."""
        return self.subscribe_many([extension], event=event, expires=expires, timeout=timeout)[0]

    def subscribe_many(self, extensions, *, event: str = "dialog", expires: int = 600, timeout: float = 10.0,
                       window: int = 50) -> list[Subscription]:
        """Pipelined, ``window`` SUBSCRIBEs in flight at a time (challenges answered as they come); ``timeout``
        applies to each window."""
        extensions = list(extensions)
        subs: list[Subscription] = []
        for start in range(0, len(extensions), max(1, window)):
            subs += self._subscribe_window(extensions[start:start + max(1, window)], event, expires, timeout)
        return subs

    def _subscribe_window(self, extensions, event: str, expires: int, timeout: float) -> list[Subscription]:
        subs = [Subscription(self, self.target_uri(ext), event, expires) for ext in extensions]
        with self._lock:
            for sub in subs:
                self.subscriptions[sub.call_id] = sub
        deadline = time.monotonic() + timeout
        pending = [(sub, self._start_subscribe(sub, None, deadline)) for sub in subs]
        for _ in range(2):  # first answer, then the answer to the authenticated retry
            retry = []
            for sub, tx in pending:
                tx.done.wait(max(0.0, deadline - time.monotonic()))
                response = tx.response
                if response is not None and response.status in (401, 407) and self.password is not None \
                        and not getattr(sub, "_authed", False):
                    sub._authed = True
                    retry.append((sub, self._start_subscribe(sub, response, deadline)))
                else:
                    self._finish(sub, response, initial=True)
            pending = retry
        for sub, tx in pending:
            tx.done.wait(max(0.0, deadline - time.monotonic()))
            self._finish(sub, tx.response, initial=True)
        return subs

    def _finish(self, sub: Subscription, response: Message | None, *, initial: bool) -> None:
        if initial:
            sub.response = response
            sub.status = response.status if response else None
            sub.reason = response.reason if response else ""
        if response is None or not 200 <= response.status < 300:
            if initial:
                sub.active = False
            return
        sub.to_tag = sub.to_tag or _tag(response.get("to"))
        contact = response.get("contact")
        if contact:
            sub.remote_target = _uri(contact)
        if initial:
            sub.route_set = [_uri(v) for v in reversed(response.get_all("record-route"))]

    def _send_subscribe(self, sub: Subscription, *, in_dialog: bool, timeout: float) -> Message | None:
        deadline = time.monotonic() + timeout
        tx = self._start_subscribe(sub, None, deadline, in_dialog=in_dialog)
        tx.done.wait(timeout)
        response = tx.response
        if response is not None and response.status in (401, 407) and self.password is not None:
            tx = self._start_subscribe(sub, response, deadline, in_dialog=in_dialog)
            tx.done.wait(max(0.0, deadline - time.monotonic()))
            response = tx.response
        self._finish(sub, response, initial=False)
        if response is not None and sub.expires == 0 and 200 <= response.status < 300:
            sub.active = False
        return response

    def _start_subscribe(self, sub: Subscription, challenge: Message | None, deadline: float,
                         in_dialog: bool = False) -> _Transaction:
        sub.cseq += 1
        uri = sub.remote_target if in_dialog else sub.request_uri
        branch = "z9hG4bK" + uuid.uuid4().hex
        to = f"<{sub.target}>" + (f";tag={sub.to_tag}" if in_dialog and sub.to_tag else "")
        lines = [
            f"SUBSCRIBE {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.ip}:{self.port};branch={branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.user}@{self.domain}>;tag={sub.from_tag}",
            f"To: {to}",
            f"Call-ID: {sub.call_id}",
            f"CSeq: {sub.cseq} SUBSCRIBE",
            f"Contact: <sip:{self.user}@{self.ip}:{self.port}>",
            f"Event: {sub.event}",
            "Accept: " + ("application/dialog-info+xml" if sub.event == "dialog" else "application/pidf+xml"),
            f"Expires: {sub.expires}",
            f"User-Agent: {self.user_agent}",
        ]
        if in_dialog:
            lines += [f"Route: <{r}>" for r in sub.route_set]
        if challenge is not None:
            lines.append(self._authorization(challenge, "SUBSCRIBE", uri))
        data = ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()
        tx = _Transaction(branch, data, deadline)
        with self._lock:
            self._transactions[branch] = tx
        self._send(data)
        return tx

    def _authorization(self, challenge: Message, method: str, uri: str) -> str:
        header_name = "Proxy-Authorization" if challenge.status == 407 else "Authorization"
        value = challenge.get("proxy-authenticate" if challenge.status == 407 else "www-authenticate", "")
        params = _digest_params(value.partition(" ")[2])
        realm, nonce = params.get("realm", self.domain), params.get("nonce", "")
        md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731 - digest (RFC 2617), not security
        ha1 = md5(f"{self.user}:{realm}:{self.password}")
        ha2 = md5(f"{method}:{uri}")
        fields = [f'username="{self.user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"',
                  "algorithm=MD5"]
        qop = params.get("qop", "")
        if "auth" in [q.strip() for q in qop.split(",")]:
            nc, cnonce = f"{next(self._nc):08x}", uuid.uuid4().hex[:16]
            response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            response = md5(f"{ha1}:{nonce}:{ha2}")
        fields.append(f'response="{response}"')
        if "opaque" in params:
            fields.append(f'opaque="{params["opaque"]}"')
        return f"{header_name}: Digest " + ", ".join(fields)

    # -- the socket
    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendto(data, self.proxy)
        except BlockingIOError:
            time.sleep(0.001)
            self.sock.sendto(data, self.proxy)

    def _run(self) -> None:
        while not self._stop.is_set():
            for _key, _mask in self._selector.select(timeout=0.05):
                while True:
                    try:
                        data, source = self.sock.recvfrom(65535)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        return
                    arrived = time.monotonic()
                    try:
                        self._handle(Message.parse(data), source, arrived)
                    except Exception as exc:  # noqa: BLE001 - a bad datagram must not stop the watcher
                        self.unmatched.append(Message(f"unparsable: {exc!r}", [], data))
            self._retransmit()

    def _retransmit(self) -> None:
        now = time.monotonic()
        with self._lock:
            transactions = list(self._transactions.values())
        for tx in transactions:
            if tx.done.is_set():
                continue
            if now > tx.deadline:
                with self._lock:
                    self._transactions.pop(tx.branch, None)
                tx.done.set()
            elif not tx.provisional and now >= tx.next_send:
                self._send(tx.data)
                tx.interval = min(tx.interval * 2, 4.0)
                tx.next_send = now + tx.interval

    def _handle(self, message: Message, source, arrived: float) -> None:
        if message.status is not None:
            branch = re.search(r"branch=([^;,\s]+)", message.get("via", "") or "")
            tx = self._transactions.get(branch.group(1)) if branch else None
            if tx is None:
                self.unmatched.append(message)
            elif message.status < 200:
                tx.provisional = True
            else:
                tx.response = message
                with self._lock:
                    self._transactions.pop(tx.branch, None)
                tx.done.set()
            return
        if message.method == "NOTIFY":
            sub = self.subscriptions.get(message.call_id)
            if sub is None or _tag(message.get("to")) != sub.from_tag:
                self._reply(message, source, 481, "Subscription Does Not Exist")
                self.unmatched.append(message)
                return
            if self.answer_notifies:
                self._reply(message, source, 200, "OK")
            cseq = message.cseq[0]
            if cseq <= sub.last_notify_cseq:
                return  # a retransmission (our 200 came late): recorded once
            sub.last_notify_cseq = cseq
            if not sub.to_tag:
                sub.to_tag = _tag(message.get("from"))
            if not sub.remote_target or sub.remote_target == sub.target:
                contact = message.get("contact")
                if contact:
                    sub.remote_target = _uri(contact)
            notify = Notify(arrived, message)
            content_type = (message.get("content-type") or "").lower()
            if "dialog-info" in content_type or (sub.event == "dialog" and not message.body.strip()):
                try:
                    notify.dialogs, attrs = parse_dialog_info(message.body)
                    notify.state = lamp_state(notify.dialogs)
                    notify.version, notify.entity = attrs.get("version", ""), attrs.get("entity", "")
                except ET.ParseError:
                    notify.state = None
            if notify.subscription_state.lower().startswith("terminated"):
                sub.active = False
            sub._add_notify(notify)
            if self.on_notify is not None:
                self.on_notify(sub, notify)
            return
        if message.method == "ACK":
            return
        self._reply(message, source, 405 if message.method != "OPTIONS" else 200,
                    "Method Not Allowed" if message.method != "OPTIONS" else "OK")

    def _reply(self, request: Message, source, status: int, reason: str) -> None:
        lines = [f"SIP/2.0 {status} {reason}"]
        lines += [f"Via: {v}" for v in request.get_all("via")]
        to = request.get("to", "")
        lines += [f"From: {request.get('from', '')}", f"To: {to}", f"Call-ID: {request.call_id}",
                  f"CSeq: {request.get('cseq', '')}", f"User-Agent: {self.user_agent}", "Content-Length: 0"]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        # RFC 3581 / 3261 18.2.2: to the Via's sent-by, or where it came from (rport)
        try:
            self.sock.sendto(data, source)
        except OSError:
            pass


def publish_dialog_info(*, source_ip: str, proxy: tuple[str, int], extension: str, state: str | None,
                        call_id: str = "", direction: str = "recipient", expires: int = 120,
                        etag: str | None = None, version: int = 1, domain: str | None = None,
                        timeout: float = 3.0) -> Message | None:
    """One PUBLISH (Event: dialog) of ``extension``'s state from ``source_ip``, as an Asterisk of the estate does
    (``state`` None: no dialog, i.e. idle). Returns the final response (None: no answer); its SIP-ETag refreshes
    or replaces the publication when passed back as ``etag``."""
    entity = f"sip:{extension}@{domain or proxy[0]}"
    dialog = ""
    if state is not None:
        call_id = call_id or uuid.uuid4().hex
        dialog = (f'<dialog id="{call_id}" call-id="{call_id}" direction="{direction}">'
                  f"<state>{state}</state></dialog>")
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" '
            f'version="{version}" state="full" entity="{entity}">{dialog}</dialog-info>\n').encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source_ip, 0))
        sock.settimeout(timeout)
        port = sock.getsockname()[1]
        branch = "z9hG4bK" + uuid.uuid4().hex
        lines = [f"PUBLISH sip:{extension}@{proxy[0]}:{proxy[1]} SIP/2.0",
                 f"Via: SIP/2.0/UDP {source_ip}:{port};branch={branch};rport", "Max-Forwards: 70",
                 f"From: <sip:{extension}@{domain or proxy[0]}>;tag={uuid.uuid4().hex[:8]}",
                 f"To: <sip:{extension}@{domain or proxy[0]}>", f"Call-ID: {uuid.uuid4().hex}@{source_ip}",
                 "CSeq: 1 PUBLISH", "Event: dialog", f"Expires: {expires}",
                 "Content-Type: application/dialog-info+xml", f"Content-Length: {len(body)}"]
        if etag:
            lines.insert(-2, f"SIP-If-Match: {etag}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        deadline = time.monotonic() + timeout
        sock.sendto(data, proxy)
        while time.monotonic() < deadline:
            try:
                reply, _ = sock.recvfrom(65535)
            except TimeoutError:
                return None
            except socket.timeout:
                return None
            message = Message.parse(reply)
            if message.status is not None and message.status >= 200:
                return message
        return None
