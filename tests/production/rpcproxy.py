"""A counting JSON-RPC proxy in front of a real Kamailio: what went on the wire, when, and how many at once.

    proxy = RpcProxy(kamailio.rpc_url).start()    # the node's jsonrpc_url is proxy.url
    proxy.calls("dispatcher.reload")              # [Call(method, started, ended, ...)] in arrival order
    held = proxy.hold_next(RELOADS)               # the next reload waits in the proxy ...
    held.wait(5)                                  # ... until the test has done what it wanted (kill its sender)
    proxy.release()                               # then it goes on to Kamailio (its sender may be dead)

Times are ``time.time()`` (wall clock, the clock Django's ``timezone.now()`` reads), so they compare with
the push jobs' ``created`` and ``sent_at``. Loopback only.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RELOADS = frozenset({"dispatcher.reload", "dialplan.reload", "permissions.addressReload", "uac.reg_reload"})


@dataclass
class Call:
    method: str
    started: float
    ended: float | None = None
    held: bool = False  # held by ``hold_next`` before it went on


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A sender that died mid-call resets its connection: expected here, not worth a traceback."""


class RpcProxy:
    def __init__(self, target_url: str, *, delays: dict[str, float] | None = None) -> None:
        self.target_url = target_url
        self.delays = dict(delays or {})
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}  # per group: "reload" and each other method
        self._hold_methods: frozenset[str] = frozenset()
        self._held = threading.Event()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/RPC"

    def start(self) -> "RpcProxy":
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- what the test reads
    def calls(self, *methods: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if not methods or c.method in methods]

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self.max_in_flight.clear()

    # -- holding one call
    def hold_next(self, methods) -> threading.Event:
        """The next call of one of ``methods`` waits in the proxy until ``release()``; the event is set when it
        arrives."""
        self._held.clear()
        self._release.clear()
        self._hold_methods = frozenset(methods)
        return self._held

    def release(self) -> None:
        self._hold_methods = frozenset()
        self._release.set()

    # -- the proxying
    def _group(self, method: str) -> str:
        return "reload" if method in RELOADS else method

    def _enter(self, method: str) -> Call:
        call = Call(method, time.time())
        with self._lock:
            self._calls.append(call)
            group = self._group(method)
            self._in_flight[group] = self._in_flight.get(group, 0) + 1
            self.max_in_flight[group] = max(self.max_in_flight.get(group, 0), self._in_flight[group])
        return call

    def _leave(self, call: Call) -> None:
        with self._lock:
            self._in_flight[self._group(call.method)] -= 1

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(self.target_url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback only
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError as exc:  # Kamailio down: the sender sees the connection refused, as without the proxy
            raise ConnectionRefusedError(str(exc)) from exc

    def _handler(proxy) -> type[BaseHTTPRequestHandler]:  # noqa: N805 - closure over the proxy
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    method = json.loads(body or b"{}").get("method", "")
                except ValueError:
                    method = ""
                call = proxy._enter(method)
                try:
                    if method in proxy._hold_methods:
                        proxy._hold_methods = frozenset()
                        call.held = True
                        proxy._held.set()
                        proxy._release.wait(30)
                    delay = proxy.delays.get(method, 0)
                    if delay:
                        time.sleep(delay)
                    try:
                        status, payload = proxy._forward(body)
                    except ConnectionRefusedError:
                        call.ended = time.time()
                        self.close_connection = True
                        return  # drop the connection: the sender sees the node as unreachable
                    call.ended = time.time()
                finally:
                    proxy._leave(call)
                with contextlib.suppress(OSError):  # the sender may be gone (killed mid-call)
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()

        return Handler
