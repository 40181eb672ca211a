"""LLRP over asyncio streams: whole messages in and out of a TCP connection.

The only part of edge.llrp that does I/O; the driver and the simulated reader share it.
"""
from __future__ import annotations

import asyncio
from collections import deque

from edge.llrp.errors import LlrpConnectionClosed
from edge.llrp.messages import Message, decode_message, encode_message
from edge.llrp.wire import FrameReassembler

READ_CHUNK_BYTES = 65536


class LlrpStream:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._reassembler = FrameReassembler()
        self._frames: deque[bytes] = deque()

    @classmethod
    async def connect(cls, host: str, port: int, timeout_s: float) -> "LlrpStream":
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        return cls(reader, writer)

    @property
    def peer(self) -> str:
        peer = self._writer.get_extra_info("peername")
        return f"{peer[0]}:{peer[1]}" if peer else "?"

    async def send(self, message: Message) -> None:
        self._writer.write(encode_message(message))
        await self._writer.drain()

    async def receive(self) -> Message:
        """The next whole message.

        LlrpDecodeError for a bad message (the stream stays usable); LlrpFramingError
        when the stream itself is corrupt (close it).
        """
        while not self._frames:
            chunk = await self._reader.read(READ_CHUNK_BYTES)
            if not chunk:
                raise LlrpConnectionClosed(f"LLRP peer {self.peer} closed the connection")
            self._frames.extend(self._reassembler.feed(chunk))
        return decode_message(self._frames.popleft())

    async def aclose(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass  # already reset by the peer: closed either way
