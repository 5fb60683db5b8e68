"""Asterisk REST Interface client (read-only questions) on httpx.

Why its own error mapping: httpx raises a dozen exception types and ARI answers some
failures as JSON (``{"message": "Channel not found"}``).  Callers only get
:class:`NodeError` with ``permanent`` set the way a retry decision needs it:
401/403/404 and other 4xx are permanent, refused/timeout/5xx/non-JSON are transient.
A 404 that is not ARI's JSON comes from Asterisk's web server itself: http.conf is on
but res_ari is not loaded (or the URL is wrong), which no retry will change either.

No Django here: plain values in, JSON-decoded dicts/lists out.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from .errors import NodeError, describe_connect_failure, garbage


def _api_root(base_url: str) -> str:
    """Accept ``http://host:8088`` or ``http://host:8088/ari`` (with or without slash)."""
    root = base_url.rstrip("/")
    return root if root.endswith("/ari") else f"{root}/ari"


def parse_ari_time(text: str) -> datetime | None:
    """ARI's timestamps (``2026-11-29T23:40:31.094+0000``) as aware datetimes; None if unreadable."""
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(str(text or ""), fmt)
        except ValueError:
            continue
    return None


class AriClient:
    """``async with AriClient("http://127.0.0.1:8088", user, password, timeout=2.0) as ari``.

    ``timeout`` bounds each request as a whole (connect, write, read, pool).
    ``transport`` lets tests inject an httpx transport.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.root = _api_root(base_url)
        self.timeout = timeout
        self.node = httpx.URL(self.root).netloc.decode()
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(username, password),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def __aenter__(self) -> "AriClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _error(self, reason: str, permanent: bool = False) -> NodeError:
        return NodeError(reason, permanent=permanent, node=self.node)

    async def get(self, path: str) -> Any:
        """GET ``/ari<path>`` and return the decoded JSON body."""
        url = f"{self.root}/{path.lstrip('/')}"
        try:
            # wait_for as a hard ceiling: httpx timeouts are per phase, not per request.
            response = await asyncio.wait_for(self._client.get(url), self.timeout + 0.25)
        except (httpx.TimeoutException, asyncio.TimeoutError):
            raise self._error(f"timed out after {float(self.timeout)!r}s") from None
        except httpx.RemoteProtocolError as exc:
            raise self._error(garbage(str(exc))) from None
        except httpx.TransportError as exc:
            raise self._error(describe_connect_failure(exc)) from None
        return self._decode(response, path)

    def _decode(self, response: httpx.Response, path: str) -> Any:
        status = response.status_code
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
            if status < 400:
                raise self._error(garbage(response.content)) from None
        message = body.get("message") if isinstance(body, dict) else None
        if status in (401, 403):
            raise self._error(f"authentication failed (HTTP {status})", permanent=True)
        if status == 404 and not isinstance(body, dict):
            raise self._error("no ARI at this URL (HTTP 404 from the web server: is res_ari loaded?)",
                              permanent=True)
        if status == 404:
            raise self._error(f"not found: {message or path}", permanent=True)
        if 400 <= status < 500:
            raise self._error(f"HTTP {status}: {message or response.reason_phrase}", permanent=True)
        if status >= 500:
            raise self._error(f"HTTP {status}: {message or response.reason_phrase}")
        return body

    # -- the questions we ask -------------------------------------------------------------

    async def asterisk_info(self) -> dict[str, Any]:
        return await self.get("/asterisk/info")

    async def ping(self) -> float:
        """Round trip of ``GET /asterisk/ping`` in milliseconds (checks the answer is a pong)."""
        started = time.perf_counter()
        body = await self.get("/asterisk/ping")
        if not isinstance(body, dict) or body.get("ping") != "pong":
            raise self._error(garbage(repr(body)))
        return (time.perf_counter() - started) * 1000.0

    async def channels(self) -> list[dict[str, Any]]:
        return await self.get("/channels")

    async def bridges(self) -> list[dict[str, Any]]:
        return await self.get("/bridges")

    async def device_states(self) -> list[dict[str, Any]]:
        return await self.get("/deviceStates")

    async def endpoints(self) -> list[dict[str, Any]]:
        return await self.get("/endpoints")

    async def applications(self) -> list[dict[str, Any]]:
        return await self.get("/applications")

    async def module(self, name: str) -> dict[str, Any]:
        return await self.get(f"/asterisk/modules/{name}")


@dataclass
class AriSnapshot:
    polled_at: float
    latency_ms: float
    version: str
    entity_id: str
    startup_time: str  # ISO-ish text as ARI gives it ("2026-11-22T23:46:13.415+0000")
    last_reload_time: str
    channels: list[dict[str, Any]] = field(default_factory=list)
    #: every bridge, not only ARI's own: ConfBridge rooms (``creator`` "ConfBridge", ``name`` the
    #: room) and two-party calls, each with its member channel ids in ``channels``
    bridges: list[dict[str, Any]] = field(default_factory=list)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    system_name: str = ""  # asterisk.conf systemname (``config.name``), as AMI's CoreSettings SystemName

    @property
    def started(self) -> datetime | None:
        return parse_ari_time(self.startup_time)


async def poll_asterisk_ari(
    base_url: str, username: str, password: str, *, timeout: float = 2.0
) -> AriSnapshot:
    """Ping, then info, channels, bridges and endpoints concurrently.

    ``timeout`` bounds each request; a caller with a budget for the whole poll wraps this
    in ``asyncio.wait_for``.
    """
    async with AriClient(base_url, username, password, timeout=timeout) as ari:
        latency = await ari.ping()
        info, channels, bridges, endpoints = await asyncio.gather(
            ari.asterisk_info(), ari.channels(), ari.bridges(), ari.endpoints()
        )
    for body, shape in ((info, dict), (channels, list), (bridges, list), (endpoints, list)):
        if not isinstance(body, shape):
            raise NodeError(garbage(repr(body)), node=ari.node)
    system, status, config = (v if isinstance(v, dict) else {} for v in
                              (info.get("system"), info.get("status"), info.get("config")))
    return AriSnapshot(
        polled_at=time.time(),
        latency_ms=latency,
        version=system.get("version", ""),
        entity_id=system.get("entity_id", ""),
        startup_time=status.get("startup_time", ""),
        last_reload_time=status.get("last_reload_time", ""),
        channels=channels,
        bridges=bridges,
        endpoints=endpoints,
        system_name=config.get("name", ""),
    )
