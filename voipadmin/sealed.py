"""Files the portal keeps on its side for a few minutes: encrypted, expiring, and read at most once if asked.

The CSV import stores the uploaded file between preview and confirm, the generated SIP passwords and PINs
until the operator downloads them, every error of a refused file, and the state of an import running in the
background. All of it lives under ``VAR_DIR/<area>/`` as ``<token>.sealed`` (mode 0600, directory 0700):

* **encrypted at rest** with the credentials key (``voipadmin.fields.credentials_cipher``, Fernet, newest key
  of ``VOIPADMIN_CREDENTIALS_KEY`` first): a copy of ``var/`` or a backup holds no clear secret;
* **streamed**: the file is a line of Fernet token per chunk of at most ``CHUNK`` bytes, so a 200,000-line
  upload is written and read back in bounded memory;
* **expiring**: every chunk carries the time it was sealed, and a file older than
  ``settings.IMPORT_FILES_MINUTES`` when it is opened is refused (and removed); a read that began in time
  finishes. ``purge`` (Celery beat, ``users.tasks.purge_import_files``) removes whatever has expired, logout
  removes what a session left;
* **one download**: ``take`` renames the file away (atomic: of two racing requests one wins) and unlinks it
  once opened, so a second request finds nothing.

The token is the file's only name: random (``secrets.token_urlsafe``), checked against the alphabet before it
touches a path, and known only to the session (or task) that made the file.
"""
from __future__ import annotations

import io
import os
import re
import secrets
import time
from pathlib import Path
from typing import BinaryIO, Iterator

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.utils.translation import gettext

from .fields import credentials_cipher

CHUNK = 1 << 20  # plaintext bytes per Fernet token
SUFFIX = ".sealed"
_PART, _TAKEN = ".part", ".taken"  # (being written; being taken)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")


def max_age_seconds() -> int:
    return int(getattr(settings, "IMPORT_FILES_MINUTES", 15)) * 60


def directory(area: str) -> Path:
    path = Path(settings.VAR_DIR) / area
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def new_token() -> str:
    return secrets.token_urlsafe(24)


def valid(token: str | None) -> bool:
    return bool(token) and bool(_TOKEN.match(token))


def path_of(area: str, token: str) -> Path:
    if not valid(token):
        raise ValueError("not a sealed-file token")
    return directory(area) / f"{token}{SUFFIX}"


class Writer(io.RawIOBase):
    """Write a sealed file in chunks; it appears under its name only once closed without error."""

    def __init__(self, area: str, token: str | None = None) -> None:
        super().__init__()
        self.token = token or new_token()
        self.path = path_of(area, self.token)
        self._part = self.path.with_name(f".{self.token}.{os.getpid()}.{secrets.token_hex(4)}{_PART}")
        fd = os.open(self._part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._out = os.fdopen(fd, "wb")
        self._buffer = bytearray()
        self._cipher = credentials_cipher()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        if isinstance(data, str):
            data = data.encode("utf-8")
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]))
            del self._buffer[:CHUNK]
        return len(data)

    def _seal(self, chunk: bytes) -> None:
        self._out.write(self._cipher.encrypt(chunk) + b"\n")

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._buffer or not self.size:
                self._seal(bytes(self._buffer))
            self._buffer = bytearray()
            self._out.close()
            os.replace(self._part, self.path)  # (atomic: a reader sees the whole file or none)
        finally:
            super().close()

    def discard(self) -> None:
        """Abandon the file (nothing appears under its name)."""
        if self.closed:
            return
        self._out.close()
        self._part.unlink(missing_ok=True)
        super().close()

    def __del__(self) -> None:
        # IOBase's finaliser would close() — publish — a file its writer never finished: abandon it instead
        if not self.closed and hasattr(self, "_out"):
            self.discard()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


class Reader(io.RawIOBase):
    """The clear bytes of a sealed file, chunk by chunk (an expired or tampered chunk raises ``Expired``)."""

    def __init__(self, handle: BinaryIO, *, now: float | None = None) -> None:
        super().__init__()
        self._in = handle
        # the age is judged when the file is opened: a read that began in time finishes (a long import)
        self._now = int(time.time() if now is None else now)
        self._pending = b""
        self._cipher = credentials_cipher()

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes | None:
        line = self._in.readline()
        if not line:
            return None
        try:
            return self._cipher.decrypt_at_time(line.strip(), max_age_seconds(), self._now)
        except InvalidToken:
            raise Expired(gettext("The file has expired or cannot be read.")) from None

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = self._next_chunk()
            if chunk is None:
                return 0
            self._pending = chunk
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def chunks(self) -> Iterator[bytes]:
        if self._pending:
            yield self._pending
            self._pending = b""
        while (chunk := self._next_chunk()) is not None:
            yield chunk

    def close(self) -> None:
        if not self.closed:
            self._in.close()
        super().close()


class Expired(Exception):
    """The sealed file is past its age (or was sealed with a key no longer configured)."""


def write_bytes(area: str, data: bytes, token: str | None = None) -> str:
    with Writer(area, token) as out:
        out.write(data)
    return out.token


def open_(area: str, token: str | None, *, now: float | None = None) -> Reader | None:
    """The file for reading (it stays), or None if there is none or it has expired (then it is removed)."""
    if not valid(token):
        return None
    path = path_of(area, token)
    if _expired(path, now):
        path.unlink(missing_ok=True)
        return None
    try:
        return Reader(open(path, "rb"), now=now)
    except OSError:
        return None


def take(area: str, token: str | None, *, now: float | None = None) -> Reader | None:
    """The file for one read: its name is gone the moment it is taken, so of two requests racing for it one
    gets it and the other finds nothing (the rename is atomic); the open handle reads it after the unlink."""
    if not valid(token):
        return None
    path = path_of(area, token)
    taken = path.with_name(f".{token}.{secrets.token_hex(4)}{_TAKEN}")
    try:
        os.rename(path, taken)
    except OSError:
        return None
    try:
        if _expired(taken, now):
            return None
        return Reader(open(taken, "rb"), now=now)
    finally:
        taken.unlink(missing_ok=True)


def read_bytes(area: str, token: str | None, *, remove: bool = False, now: float | None = None) -> bytes | None:
    reader = (take if remove else open_)(area, token, now=now)
    if reader is None:
        return None
    with reader:
        try:
            return b"".join(reader.chunks())
        except Expired:
            return None


def remove(area: str, token: str | None) -> None:
    if valid(token):
        path_of(area, token).unlink(missing_ok=True)


def _expired(path: Path, now: float | None) -> bool:
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except OSError:
        return False
    return age > max_age_seconds()


def purge(area: str, *, now: float | None = None) -> int:
    """Remove every expired file of ``area`` (and writes abandoned by a crashed process); returns how many."""
    removed = 0
    for path in directory(area).iterdir():
        if path.name.endswith((SUFFIX, _PART, _TAKEN)) and _expired(path, now):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
