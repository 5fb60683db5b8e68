"""The one error type every connector raises.

Callers (views, Celery tasks, the poller) only need two facts about a failed call:
whether retrying can help (``permanent``) and a short text an operator can act on
(``reason``).  Keeping a single type means no caller ever has to know which protocol
library sat underneath.
"""
from __future__ import annotations


class NodeError(Exception):
    """A node did not do what we asked.

    ``permanent=True``: retrying the same call will fail the same way (bad credentials,
    unknown action/method, 404).  ``permanent=False``: the node may answer later
    (connection refused, timeout, garbage on the wire, "Ongoing reload").
    """

    #: The node answered (it is reachable): it refused the credentials, has no such endpoint, or the
    #: method failed. False: nothing usable came back (refused, timed out, garbage on the wire).
    answered: bool = False

    def __init__(self, reason: str, *, permanent: bool = False, node: str = "", answered: bool | None = None) -> None:
        self.reason = reason
        self.permanent = permanent
        self.node = node
        if answered is not None:
            self.answered = answered
        super().__init__(f"{node}: {reason}" if node else reason)

    def __repr__(self) -> str:
        return f"NodeError({self.reason!r}, permanent={self.permanent}, node={self.node!r})"

    def describe(self) -> str:
        """The failure for an operator: "unreachable (...)" only when the node really did not answer."""
        return self.reason if self.answered else f"unreachable ({self.reason})"


class RpcFault(NodeError):
    """The node is up and answered a call with an error (JSON-RPC ``error``, an AMI ``Response: Error``).

    Not a transport failure: the node can be reached, the *method* failed -- a module not loaded
    (Kamailio's ``Method Not Found``, JSON-RPC -32601), bad parameters, a busy reload. ``method``,
    ``code`` and ``message`` are the call and the node's own answer.
    """

    answered = True

    def __init__(self, reason: str, *, method: str, code: int | str | None, message: str,
                 permanent: bool = False, node: str = "") -> None:
        super().__init__(reason, permanent=permanent, node=node)
        self.method = method
        self.code = code
        self.message = message

    def __reduce__(self):  # (picklable like NodeError: keyword-only fields)
        return _rebuild_fault, (self.reason, self.method, self.code, self.message, self.permanent, self.node)

    @property
    def method_missing(self) -> bool:
        return self.code == -32601 or "method not found" in self.message.lower()

    def describe(self) -> str:
        """``permissions.subnetDump failed: Method Not Found (is the permissions module loaded?)``."""
        text = f"{self.method} failed: {self.message or self.code}"
        if self.method_missing:
            text += f" (is the {self.method.partition('.')[0]} module loaded?)"
        return text


def _rebuild_fault(reason, method, code, message, permanent, node) -> RpcFault:
    return RpcFault(reason, method=method, code=code, message=message, permanent=permanent, node=node)


def describe_os_error(exc: OSError) -> str:
    """Operator wording for socket errors ("connection refused", not "[Errno 111] ...")."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = exc.strerror or str(exc) or exc.__class__.__name__
    return text[:1].lower() + text[1:] if text else "network error"


def garbage(data: bytes | str, limit: int = 60) -> str:
    """Render unexpected bytes for a ``garbage reply: ...`` reason, short and printable."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    data = data.strip()
    shown = data[:limit].encode("unicode_escape").decode("ascii")
    return f"garbage reply: {shown!s}" + ("..." if len(data) > limit else "")


def describe_connect_failure(exc: BaseException) -> str:
    """Dig the real socket error out of httpx/anyio wrappers.

    Async httpx reports a refused port as ``ConnectError("All connection attempts
    failed")`` whose cause is an exception group holding the ``ConnectionRefusedError``;
    an operator wants to read "connection refused".
    """
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    fallback: OSError | None = None
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (ConnectionRefusedError, ConnectionResetError, TimeoutError)):
            return describe_os_error(current)
        if isinstance(current, OSError) and current.errno is not None and fallback is None:
            fallback = current
        stack.extend(getattr(current, "exceptions", ()) or ())
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)
    if fallback is not None:
        return describe_os_error(fallback)
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return (text[:1].lower() + text[1:]) if text else type(exc).__name__
