"""Kamailio JSON-RPC 2.0 over HTTP (xhttp + jsonrpcs), sync and async.

What Kamailio 5.6 really does (captured from kamailio 5.6.3 on loopback):

* a failed RPC comes back as a JSON-RPC ``error`` object, and the HTTP status line
  mirrors the error (``HTTP/1.1 500 No Destination Sets``, ``404 Record not found``);
  other deployments/proxies answer 200 with the same body, so both are handled;
* an empty dispatcher answers ``No Destination Sets``, a dialplan id without rules
  ``Dialplan ID not matched``, a translate without a matching rule ``No translation``:
  those are *empty results*, not failures;
* ``dispatcher.reload`` (and friends) within 5 s of the previous one answers
  ``Ongoing reload``; ``uac.reg_reload`` less than 150 s after start or after the last
  one answers ``Failed to shift records - check log messages``: both are transient;
* an unknown method is ``500 Method Not Found``: permanent. A method of a module that is not
  loaded (``permissions.subnetDump`` without ``permissions.so``) answers the same.

An answer with an ``error`` object raises ``RpcFault`` (a ``NodeError`` that knows the method, code
and message: the node is reachable, the method failed); no answer at all raises a plain
``NodeError`` (connection refused, timeout, garbage).

No Django here: plain values in, JSON-decoded values out.
"""
from __future__ import annotations

import asyncio
import itertools
from typing import Any, Callable, Union

import httpx

from .errors import NodeError, RpcFault, describe_connect_failure, garbage

# Messages that mean "nothing there" for the given methods -> the empty value to return.
_EMPTY: dict[str, tuple[tuple[str, ...], Callable[..., Any]]] = {
    "dispatcher.list": (("No Destination Sets",), lambda *p: {"NRSETS": 0, "RECORDS": []}),
    "dialplan.dump": (("Dialplan ID not matched",), lambda dpid=None, *p: {"DPID": dpid, "ENTRIES": []}),
    "dialplan.translate": (("Dialplan ID not matched", "No translation"), lambda *p: None),
}
_TRANSIENT_MESSAGES = ("ongoing reload", "failed to shift records", "try again", "busy")
_PERMANENT_MESSAGES = ("method not found", "invalid parameters", "record not found")

_ids = itertools.count(1)




class _RpcCore:
    """Request building and reply interpretation shared by the sync and async clients."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 2.0,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.auth = httpx.BasicAuth(username, password or "") if username else None
        self.node = httpx.URL(url).netloc.decode()

    def _error(self, reason: str, permanent: bool = False, answered: bool = False) -> NodeError:
        return NodeError(reason, permanent=permanent, node=self.node, answered=answered)

    def _fault(self, reason: str, method: str, code: Any, message: str, permanent: bool = False) -> RpcFault:
        return RpcFault(reason, method=method, code=code, message=message, permanent=permanent, node=self.node)

    def _payload(self, method: str, params: tuple[Any, ...]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "method": method, "params": list(params), "id": next(_ids)}

    def _transport_error(self, exc: Exception) -> NodeError:
        if isinstance(exc, httpx.TimeoutException):
            return self._error(f"timed out after {float(self.timeout)!r}s")
        if isinstance(exc, httpx.RemoteProtocolError):
            return self._error(garbage(str(exc)))
        if isinstance(exc, httpx.TransportError):
            return self._error(describe_connect_failure(exc))
        raise exc

    def _interpret(self, response: httpx.Response, payload: dict[str, Any]) -> Any:
        method = payload["method"]
        status = response.status_code
        if status in (401, 403):
            raise self._error(f"authentication failed (HTTP {status})", permanent=True, answered=True)
        try:
            body = response.json()
        except ValueError:
            if status == 404:
                raise self._error(f"no JSON-RPC endpoint at {response.url.path} (HTTP 404)", permanent=True,
                                  answered=True)
            if status >= 400:
                raise self._error(f"HTTP {status} {response.reason_phrase}".strip())
            raise self._error(garbage(response.content)) from None
        if not isinstance(body, dict) or ("result" not in body and "error" not in body):
            raise self._error(garbage(response.text))
        error = body.get("error")
        if error is None:
            return body["result"]
        message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
        code = error.get("code") if isinstance(error, dict) else None
        empty = _EMPTY.get(method)
        if empty and message in empty[0]:
            return empty[1](*payload["params"])
        lowered = message.lower()
        if any(m in lowered for m in _TRANSIENT_MESSAGES):
            raise self._fault(f"{method}: {message}", method, code, message)
        permanent = any(m in lowered for m in _PERMANENT_MESSAGES) or (
            isinstance(code, int) and (400 <= code < 500 or code <= -32000)
        )
        missing = "method not found" in lowered or code == -32601
        reason = f"unknown method {method}" if missing else f"{method}: {message}"
        raise self._fault(reason, method, code, message, permanent=permanent)


class _Methods:
    """Named RPCs; ``call`` is sync or async depending on the concrete client."""

    call: Callable[..., Any]

    def core_uptime(self) -> Any:
        """``{"now": ..., "up_since": ..., "uptime": seconds}``."""
        return self.call("core.uptime")

    def core_version(self) -> Any:
        """``"kamailio 5.6.3 (x86_64/linux) "``."""
        return self.call("core.version")

    def ul_dump(self) -> Any:
        return self.call("ul.dump")

    def dispatcher_list(self) -> Any:
        """``{"NRSETS": n, "RECORDS": [{"SET": {"ID": .., "TARGETS": [{"DEST": {...}}]}}]}``."""
        return self.call("dispatcher.list")

    def dispatcher_reload(self) -> Any:
        return self.call("dispatcher.reload")

    def dialplan_reload(self) -> Any:
        return self.call("dialplan.reload")

    def dialplan_dump(self, dpid: int) -> Any:
        return self.call("dialplan.dump", int(dpid))

    def dialplan_translate(self, dpid: int, number: str) -> Any:
        """``{"Output": ..., "Attributes": ...}`` or None when no rule matches."""
        return self.call("dialplan.translate", int(dpid), str(number))

    def address_reload(self) -> Any:
        return self.call("permissions.addressReload")

    def address_dump(self) -> Any:
        """``[{"table": .., "group": 1, "item": {"ip": .., "port": 0, "tag": ..}}]`` (host entries only)."""
        return self.call("permissions.addressDump")

    def subnet_dump(self) -> Any:
        """``[{"table": .., "group": 1, "item": {"ip": .., "mask": 28, "port": 0, "tag": ..}}]`` (the rest)."""
        return self.call("permissions.subnetDump")

    def uac_reg_reload(self) -> Any:
        return self.call("uac.reg_reload")

    def uac_reg_dump(self) -> Any:
        return self.call("uac.reg_dump")

    def uac_reg_info(self, value: str, attr: str = "l_uuid") -> Any:
        return self.call("uac.reg_info", attr, value)

    def pua_publish(self, presentity_uri: str, expires: int, event: str, content_type: str, body: str, *,
                    series: str = "", extra_headers: str = "") -> Any:
        """pua_rpc ``pua.publish``: Kamailio sends a PUBLISH (through its own proxy, where presence takes it) and
        answers with the final reply: ``{"SIP-ETag": .., "Expires": ..}`` on 200. ``series``: pua's id of a
        series of publications of that URI (pua then updates its own publication of that series). "." is
        pua_rpc's "none" for the id, ETag (pua's own, not presence's), outbound proxy and extra headers."""
        return self.call("pua.publish", str(presentity_uri), str(int(expires)), event, content_type, series or ".",
                         ".", ".", extra_headers or ".", body)

    def stats_raw(self, group: str = "all") -> Any:
        return self.call("stats.get_statistics", group)


class KamailioRpc(_RpcCore, _Methods):
    """Blocking client (Celery tasks, management commands)."""

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 timeout: float = 2.0, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(url, username=username, password=password, timeout=timeout)
        self._client = httpx.Client(auth=self.auth, timeout=httpx.Timeout(timeout), transport=transport)

    def __enter__(self) -> "KamailioRpc":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, *params: Any) -> Any:
        payload = self._payload(method, params)
        try:
            response = self._client.post(self.url, json=payload)
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from None
        return self._interpret(response, payload)

    def stats(self, group: str = "all") -> dict[str, int | str]:
        return parse_stats(self.stats_raw(group))


class AsyncKamailioRpc(_RpcCore, _Methods):
    """asyncio client (the poller)."""

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 timeout: float = 2.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(url, username=username, password=password, timeout=timeout)
        self._client = httpx.AsyncClient(auth=self.auth, timeout=httpx.Timeout(timeout), transport=transport)

    async def __aenter__(self) -> "AsyncKamailioRpc":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, *params: Any) -> Any:
        payload = self._payload(method, params)
        try:
            # hard ceiling: httpx timeouts are per phase (connect, read, ...), not per call
            response = await asyncio.wait_for(self._client.post(self.url, json=payload), self.timeout + 0.25)
        except asyncio.TimeoutError:
            raise self._error(f"timed out after {float(self.timeout)!r}s") from None
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from None
        return self._interpret(response, payload)

    async def stats(self, group: str = "all") -> dict[str, int | str]:
        return parse_stats(await self.stats_raw(group))


# -- helpers turning Kamailio's nested shapes into flat rows -------------------------------


def parse_stats(lines: list[str]) -> dict[str, int | str]:
    """``["core:rcv_requests = 15", ...]`` -> ``{"core:rcv_requests": 15, ...}``."""
    stats: dict[str, int | str] = {}
    for line in lines or []:
        name, sep, value = str(line).partition(" = ")
        if not sep:
            continue
        value = value.strip()
        try:
            stats[name.strip()] = int(value)
        except ValueError:
            stats[name.strip()] = value
    return stats


def dispatcher_targets(listing: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten ``dispatcher.list`` into ``[{"setid", "uri", "flags", "priority", "attrs"}]``."""
    rows = []
    for record in (listing or {}).get("RECORDS") or []:
        dset = record.get("SET", {})
        for target in dset.get("TARGETS") or []:
            dest = target.get("DEST", {})
            rows.append({
                "setid": dset.get("ID"),
                "uri": dest.get("URI"),
                "flags": dest.get("FLAGS"),
                "priority": dest.get("PRIORITY"),
                "attrs": dest.get("ATTRS"),
            })
    return rows


def ul_contacts(dump: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten ``ul.dump`` into one row per contact: ``{"table", "aor", <contact fields>}``."""
    rows = []
    for domain in (dump or {}).get("Domains") or []:
        table = domain.get("Domain", {})
        for aor in table.get("AoRs") or []:
            info = aor.get("Info", {})
            for contact in info.get("Contacts") or []:
                rows.append({"table": table.get("Domain"), "aor": info.get("AoR"), **contact.get("Contact", {})})
    return rows


Rpc = Union[KamailioRpc, AsyncKamailioRpc]
