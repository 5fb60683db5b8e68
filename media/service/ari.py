"""ARI for the application service: REST calls that act on channels, and the event WebSocket of one node.

The REST side reuses the polling client (voipadmin/connectors/ari.py: one error type, ARI's JSON errors mapped
to ``permanent``) and adds the verbs a call needs (POST/DELETE with query parameters). The WebSocket side is
:func:`events`, an async iterator of decoded events for ``app`` on one node; it raises :class:`NodeError` when
the connection cannot be made or drops, and the caller (media/service/runner.py) reconnects with backoff.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
from typing import Any, AsyncIterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus, WebSocketException

from voipadmin.connectors.ari import AriClient
from voipadmin.connectors.errors import NodeError, describe_connect_failure, garbage

__all__ = ["AriError", "AriRest", "SocketRest", "events", "events_url"]

#: ARI's answers are small and local; a request slower than this is a node in trouble
REQUEST_TIMEOUT = 3.0


class AriError(NodeError):
    """An ARI request failed; ``status`` is the HTTP status when the node answered (409: claimed by another)."""

    def __init__(self, reason: str, *, status: int | None = None, **kwargs: Any) -> None:
        super().__init__(reason, **kwargs)
        self.status = status


def _params(params: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class AriRest(AriClient):
    """``await rest.post("/channels/ID/answer")``; ``get/post/delete(path, **params)`` return decoded JSON
    (None for 204) or raise :class:`AriError` naming the node, the request and ARI's own message."""

    def __init__(self, base_url: str, username: str, password: str, *, timeout: float = REQUEST_TIMEOUT,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        # one keep-alive pool per node, big enough for every call in progress at once
        super().__init__(base_url, username, password, timeout=timeout, transport=transport or
                         httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=200,
                                                                      max_keepalive_connections=50)))

    async def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        url = f"{self.root}/{path.lstrip('/')}"
        try:
            response = await asyncio.wait_for(
                self._client.request(method, url, params=_params(params), json=body), self.timeout + 0.25)
        except (httpx.TimeoutException, asyncio.TimeoutError):
            raise AriError(f"{method} {path}: timed out after {self.timeout}s", node=self.node) from None
        except httpx.RemoteProtocolError as exc:
            raise AriError(f"{method} {path}: {garbage(str(exc))}", node=self.node) from None
        except httpx.TransportError as exc:
            raise AriError(f"{method} {path}: {describe_connect_failure(exc)}", node=self.node) from None
        if response.status_code == 204:
            return None
        try:
            return self._decode(response, path)
        except NodeError as exc:
            raise AriError(f"{method} {path}: {exc.reason}", status=response.status_code, node=self.node,
                           permanent=exc.permanent, answered=True) from None

    async def get(self, path: str, **params: Any) -> Any:  # type: ignore[override]
        return await self.request("GET", path, **params)

    async def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return await self.request("POST", path, body, **params)

    async def delete(self, path: str, **params: Any) -> Any:
        return await self.request("DELETE", path, **params)


class SocketRest:
    """The same verbs as :class:`AriRest`, sent over the node's event WebSocket while it is open (ARI's REST
    over WebSocket, Asterisk 20.14 / 22.4 and later: a ``RESTRequest`` message, answered by a ``RESTResponse``
    event with the same ``request_id``), over HTTP otherwise. Why: a burst of calls makes dozens of requests at
    once, and one open socket answers them with no connection to open or pool to search per request."""

    def __init__(self, http: AriRest) -> None:
        self.http = http
        self.node = http.node
        self.timeout = http.timeout
        self.socket = None
        self._pending: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)

    def attach(self, socket) -> None:
        self.socket = socket

    def detach(self) -> None:
        """The socket dropped: requests waiting for an answer fail (transient), the next ones go over HTTP."""
        self.socket = None
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(AriError("event socket dropped before the answer", node=self.node))

    def resolve(self, event: dict[str, Any]) -> None:
        """A ``RESTResponse`` event came: the request waiting for it gets it."""
        future = self._pending.pop(str(event.get("request_id", "")), None)
        if future is not None and not future.done():
            future.set_result(event)

    async def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        socket = self.socket
        if socket is None:
            return await self.http.request(method, path, body, **params)
        request_id = f"r{next(self._ids)}"
        query = urlencode(_params(params))
        message = {"type": "RESTRequest", "request_id": request_id, "method": method,
                   "uri": path.lstrip("/") + (f"?{query}" if query else "")}
        if body is not None:
            message.update(content_type="application/json", message_body=json.dumps(body))
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await socket.send(json.dumps(message))
            answer = await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            raise AriError(f"{method} {path}: timed out after {self.timeout}s", node=self.node) from None
        except WebSocketException as exc:
            raise AriError(f"{method} {path}: event socket: {exc}", node=self.node) from None
        finally:
            self._pending.pop(request_id, None)
        status = int(answer.get("status_code") or 0)
        try:
            decoded = json.loads(answer["message_body"]) if answer.get("message_body") else None
        except ValueError:
            decoded = None
        if status >= 400 or status == 0:
            text = decoded.get("message") if isinstance(decoded, dict) else None
            raise AriError(f"{method} {path}: HTTP {status}: {text or answer.get('reason_phrase', '')}",
                           status=status, node=self.node, permanent=400 <= status < 500, answered=True)
        return decoded

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, **params)

    async def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return await self.request("POST", path, body, **params)

    async def delete(self, path: str, **params: Any) -> Any:
        return await self.request("DELETE", path, **params)

    async def aclose(self) -> None:
        self.detach()
        await self.http.aclose()


def events_url(base_url: str, app: str) -> str:
    """``http://h:8088/ari`` → ``ws://h:8088/ari/events?app=...`` (https → wss)."""
    parts = urlsplit(AriClient(base_url, "", "").root)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = urlencode({"app": app, "subscribeAll": "false"})
    return urlunsplit((scheme, parts.netloc, f"{parts.path}/events", query, ""))


async def events(base_url: str, username: str, password: str, app: str, *,
                 open_timeout: float = 3.0, on_open=None) -> AsyncIterator[dict[str, Any]]:
    """Decoded events of ``app`` on one node, until the connection drops (then :class:`NodeError`).

    Asterisk registers ``app`` when the socket opens (``on_open(socket)`` is called then) and unregisters it when
    the socket closes; its channels stay in Stasis meanwhile (see media/service/__init__.py).
    """
    url = events_url(base_url, app)
    node = urlsplit(url).netloc
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    try:
        socket = await connect(url, additional_headers={"Authorization": f"Basic {token}"},
                               open_timeout=open_timeout, ping_interval=5, ping_timeout=5,
                               max_size=2 ** 22, compression=None)
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise NodeError(f"event socket refused: HTTP {status}", permanent=status in (401, 403), node=node,
                        answered=True) from None
    except (OSError, asyncio.TimeoutError, InvalidHandshake) as exc:
        raise NodeError(f"event socket: {exc or type(exc).__name__}", node=node) from None
    try:
        if on_open is not None:
            on_open(socket)
        async for message in socket:
            try:
                event = json.loads(message)
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event
    except WebSocketException as exc:
        raise NodeError(f"event socket dropped: {exc}", node=node) from None
    finally:
        await socket.close()
    raise NodeError("event socket closed by the node", node=node)
