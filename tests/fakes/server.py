"""The TCP server part every asyncio fake shares: bind a free loopback port, track clients, stop cleanly."""
from __future__ import annotations

import asyncio
from typing import Any


class LoopbackServer:
    """Subclasses implement ``_handle(reader, writer)`` and add/discard writers in ``self._writers``."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def start(self):
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
