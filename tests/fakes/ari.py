"""A fake Asterisk REST Interface: real HTTP/1.1 (keep-alive, Content-Length, basic auth)
on asyncio streams, answering in the shapes captured in ``observed/ari_responses.json``.

Usage::

    with running_ari_fake(channels=4) as fake:
        AriClient(fake.base_url, fake.username, fake.password)
        fake.requests  # [RecordedRequest(method, path, headers), ...]

fault: None | "hang" (accept, never answer) | "garbage" (non-HTTP bytes) |
       "not_json" (HTTP 200 with an HTML body) | "server_error" (HTTP 500) |
       "no_ari" (Asterisk's web server without res_ari: its HTML 404 for every path)

As on a real Asterisk 22.10.1, a path outside ``/ari/`` gets the web server's HTML 404 (not
ARI's JSON), before any authentication; ``/bridges`` lists every bridge (ConfBridge rooms
too, see :func:`make_bridge`), and ``/asterisk/info`` tells the version and system name
the AMI fake of the same node should be given.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Iterator

from . import load_observed
from .ami import _LoopThread
from .server import LoopbackServer

OBSERVED: dict[str, list[Any]] = load_observed("ari_responses.json")
FAULTS = (None, "hang", "garbage", "not_json", "server_error", "no_ari")
#: main/http.c ast_http_error(): the page Asterisk's web server sends for a path nobody serves
NOT_FOUND_PAGE = ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>\r\n'
                  "<title>404 Not Found</title>\r\n</head><body>\r\n<h1>Not Found</h1>\r\n"
                  "<p>The requested URL was not found on this server.</p>\r\n<hr />\r\n"
                  "<address>Asterisk/{version}</address>\r\n</body></html>\r\n")
REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 500: "Internal Server Error"}


def make_channels(count: int, base: int = 1795391178) -> list[dict[str, Any]]:
    template = OBSERVED["/channels"][1][0]
    channels = []
    for i in range(count):
        pair, leg = divmod(i, 2)
        channel = copy.deepcopy(template)
        channel["id"] = f"{base}.{i}"
        channel["name"] = f"Local/600@test-{pair:08x};{leg + 1}"
        channel["dialplan"]["priority"] = leg + 1
        channels.append(channel)
    return channels


def make_channel(**values: Any) -> dict[str, Any]:
    """One channel in the captured shape with top-level ``values`` replaced (``dialplan`` merged)."""
    channel = copy.deepcopy(OBSERVED["/channels"][1][0])
    dialplan = values.pop("dialplan", {})
    channel.update(values)
    channel["dialplan"].update(dialplan)
    return channel


def make_bridge(name: str, channel_ids: list[str], *, creator: str = "ConfBridge", technology: str = "softmix",
                bridge_id: str = "1cf33d8f-c23a-496c-be02-56e6f7f4b1a0") -> dict[str, Any]:
    """A bridge as Asterisk 22.10.1's ARI lists it (a ConfBridge room by default)."""
    return {"id": bridge_id, "technology": technology, "bridge_type": "mixing", "bridge_class": "base",
            "creator": creator, "name": name, "channels": list(channel_ids),
            "creationtime": "2026-11-29T23:44:06.488+0000", "video_mode": "none"}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class AriFake(LoopbackServer):
    def __init__(
        self,
        *,
        username: str = "ari",
        password: str = "secret",
        channels: int | list[dict[str, Any]] = 2,
        bridges: list[dict[str, Any]] | None = None,
        endpoints: list[dict[str, Any]] | None = None,
        device_states: list[dict[str, Any]] | None = None,
        asterisk_version: str | None = None,
        system_name: str | None = None,
        fault: str | None = None,
        reply_delay: float = 0.0,
    ) -> None:
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}")
        self.username = username
        self.password = password
        self.channels = channels
        self.bridges = copy.deepcopy(OBSERVED["/bridges"][1]) if bridges is None else bridges
        info = OBSERVED["/asterisk/info"][1]
        self.asterisk_version = asterisk_version or info["system"]["version"]
        self.system_name = info["config"]["name"] if system_name is None else system_name
        self.endpoints = copy.deepcopy(OBSERVED["/endpoints"][1]) if endpoints is None else endpoints
        self.device_states = copy.deepcopy(OBSERVED["/deviceStates"][1]) if device_states is None else device_states
        self.fault = fault
        self.reply_delay = reply_delay
        self.requests: list[RecordedRequest] = []
        super().__init__()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


    # -- routing --------------------------------------------------------------------------

    def route(self, method: str, path: str) -> tuple[int, Any]:
        """(status, JSON body) for an authenticated request, as Asterisk would answer."""
        path = path.split("?", 1)[0].rstrip("/")
        resource = path[len("/ari"):]
        if method != "GET":
            return 405, {"message": "Invalid method"}
        channels = make_channels(self.channels) if isinstance(self.channels, int) else copy.deepcopy(self.channels)
        if resource == "/asterisk/info":
            info = copy.deepcopy(OBSERVED["/asterisk/info"][1])
            info["system"]["version"], info["config"]["name"] = self.asterisk_version, self.system_name
            return 200, info
        if resource == "/bridges":
            return 200, copy.deepcopy(self.bridges)
        if resource == "/channels":
            return 200, channels
        if resource.startswith("/channels/"):
            wanted = resource.split("/", 2)[2]
            for channel in channels:
                if channel["id"] == wanted:
                    return 200, channel
            return 404, json.loads(OBSERVED["/channels/nonexistent"][1])
        if resource == "/endpoints":
            return 200, self.endpoints
        if resource == "/deviceStates":
            return 200, self.device_states
        if resource in OBSERVED and OBSERVED[resource][0] == 200:
            return 200, copy.deepcopy(OBSERVED[resource][1])
        if resource.startswith("/asterisk/modules/"):
            return 404, {"message": "Module could not be found in running modules"}
        return 404, {"message": "Resource not found"}

    def _authorized(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token).decode().partition(":")
        except Exception:
            return False
        return user == self.username and password == self.password

    # -- HTTP -----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            if self.fault == "hang":
                while await reader.read(4096):
                    pass
                return
            if self.fault == "garbage":
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"\x00\x01 this is not HTTP\r\n\r\n")
                await writer.drain()
                return
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = (lines[0].split(" ") + ["", "", ""])[:3]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)
                self.requests.append(RecordedRequest(method, target, headers))
                if self.reply_delay:
                    await asyncio.sleep(self.reply_delay)
                extra: dict[str, str] = {}
                if self.fault == "no_ari" or not target.split("?", 1)[0].startswith("/ari/"):
                    status, body = 404, NOT_FOUND_PAGE.format(version=self.asterisk_version)
                elif not self._authorized(headers):
                    status, body = 401, {"message": "Authentication required"}
                    extra["WWW-Authenticate"] = 'Basic realm="Asterisk REST Interface"'
                elif self.fault == "server_error":
                    status, body = 500, {"message": "Internal server error"}
                else:
                    status, body = self.route(method, target)
                if isinstance(body, str):  # the web server's own page, not ARI
                    payload, content_type = body.encode(), "text/html"
                elif self.fault == "not_json" and status == 200:
                    payload = b"<html><body>It works!</body></html>"
                    content_type = "text/html"
                else:
                    payload = json.dumps(body, separators=(",", ":")).encode()
                    content_type = "application/json"
                close = headers.get("connection", "").lower() == "close"
                response = [
                    f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
                    f"Server: Asterisk/{self.asterisk_version}",
                    f"Date: {formatdate(usegmt=True)}",
                    "Cache-Control: no-cache, no-store",
                    f"Content-Type: {content_type}",
                    f"Content-Length: {len(payload)}",
                    *[f"{k}: {v}" for k, v in extra.items()],
                ]
                if close:
                    response.append("Connection: close")
                writer.write(("\r\n".join(response) + "\r\n\r\n").encode() + payload)
                await writer.drain()
                if close:
                    return
        except ConnectionError:
            return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()


@contextlib.contextmanager
def running_ari_fake(**config: Any) -> Iterator[AriFake]:
    """One fake in a background thread; connect to ``fake.base_url``."""
    runner = _LoopThread()
    fake = AriFake(**config)
    try:
        runner.run(fake.start())
        yield fake
    finally:
        with contextlib.suppress(Exception):
            runner.run(fake.stop())
        runner.close()
