"""A TCP forwarder in front of the test broker: a bootstrap address that answers only when told.

Tests of what a client does while Kafka is away, or while its request is under way, hold the
forwarder closed and open it at the moment they choose, instead of sleeping and hoping the
client is at the right step by then.
"""

from __future__ import annotations

import asyncio
import contextlib


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


class Forwarder:
    """Forwards every connection to the broker once `opened` is set; until then they wait."""

    def __init__(self, target: str, opened: bool) -> None:
        self.host, port = target.rsplit(":", 1)
        self.port = int(port)
        self.opened = asyncio.Event()
        self.connected = asyncio.Event()  # a client has dialled the forwarder
        if opened:
            self.opened.set()
        self.server: asyncio.Server | None = None

    async def on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connected.set()
        await self.opened.wait()
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def forward(listen_port: int, target: str, opened: bool = True) -> Forwarder:
    """Make `listen_port` a bootstrap address for the broker at `target` (from now on); with
    `opened` False, connections are accepted but held until `forwarder.opened.set()`."""
    forwarder = Forwarder(target, opened)
    forwarder.server = await asyncio.start_server(forwarder.on_client, "127.0.0.1", listen_port)
    return forwarder
