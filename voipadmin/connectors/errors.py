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

    def __init__(self, reason: str, *, permanent: bool = False, node: str = "") -> None:
        self.reason = reason
        self.permanent = permanent
        self.node = node
        super().__init__(f"{node}: {reason}" if node else reason)

    def __repr__(self) -> str:
        return f"NodeError({self.reason!r}, permanent={self.permanent}, node={self.node!r})"


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
