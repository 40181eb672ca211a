"""LLRP wire primitives: message header framing, TLV/TV parameters, bounded reads.

Everything here is big-endian (LLRP 1.0.1 section 15). Reads never run past the
buffer: a short or inconsistent buffer raises LlrpDecodeError, never IndexError
or struct.error.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from edge.llrp.errors import LlrpDecodeError, LlrpEncodeError, LlrpFramingError

PROTOCOL_VERSION = 1  # LLRP 1.0.1
HEADER = struct.Struct("!HII")  # version|type, total length, message id
HEADER_BYTES = HEADER.size
MAX_MESSAGE_BYTES = 1 << 20  # far above any report a fixed reader sends; bounds memory
TLV_HEADER = struct.Struct("!HH")  # reserved(6)|type(10), total length

# TV parameters have no length field: the type alone fixes the value size (section 15.2.2).
TV_VALUE_BYTES = {
    1: 2,   # AntennaID
    2: 8,   # FirstSeenTimestampUTC
    3: 8,   # FirstSeenTimestampUptime
    4: 8,   # LastSeenTimestampUTC
    5: 8,   # LastSeenTimestampUptime
    6: 1,   # PeakRSSI
    7: 2,   # ChannelIndex
    8: 2,   # TagSeenCount
    9: 4,   # ROSpecID
    10: 2,  # InventoryParameterSpecID
    11: 2,  # C1G2CRC
    12: 2,  # C1G2PC
    13: 12,  # EPC-96
    14: 2,  # SpecIndex
    15: 2,  # ClientRequestOpSpecResult
    16: 4,  # AccessSpecID
    17: 2,  # OpSpecID
    18: 4,  # C1G2SingulationDetails
}


def pack(fmt: str, *values) -> bytes:
    """struct.pack that blames the caller (a value that does not fit the field)."""
    try:
        return struct.pack("!" + fmt, *values)
    except struct.error as exc:
        raise LlrpEncodeError(f"value {values!r} does not fit LLRP field {fmt!r}") from exc


class ByteReader:
    """A cursor over a buffer; every read is bounds-checked."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.what, self.pos = bytes(data), what, 0

    def take(self, count: int) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            raise LlrpDecodeError(
                f"{self.what}: needs {count} bytes at offset {self.pos}, has {len(self.data) - self.pos}")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def unpack(self, fmt: str) -> tuple:
        layout = struct.Struct("!" + fmt)
        return layout.unpack(self.take(layout.size))

    def u8(self) -> int:
        return self.unpack("B")[0]

    def u16(self) -> int:
        return self.unpack("H")[0]

    def u32(self) -> int:
        return self.unpack("I")[0]

    def utf8v(self) -> str:
        """A u16 byte count followed by UTF-8 text."""
        raw = self.take(self.u16())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LlrpDecodeError(f"{self.what}: text is not UTF-8") from exc

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)


def utf8v(text: str) -> bytes:
    raw = text.encode("utf-8")
    return pack("H", len(raw)) + raw


# --- parameters ----------------------------------------------------------------

@dataclass(frozen=True)
class RawParam:
    """One parameter split off a buffer: its type and its body (header removed)."""

    type: int
    body: bytes
    is_tv: bool = False


def tlv(param_type: int, *body_parts: bytes) -> bytes:
    body = b"".join(body_parts)
    return pack("HH", param_type, TLV_HEADER.size + len(body)) + body


def tv(param_type: int, fmt: str, value) -> bytes:
    return pack("B", 0x80 | param_type) + pack(fmt, value)


def split_params(data: bytes, what: str) -> list[RawParam]:
    """Split a run of TV and TLV parameters; unknown TLVs are kept (callers skip them)."""
    reader = ByteReader(data, what)
    params = []
    while reader.pos < len(reader.data):
        first = reader.data[reader.pos]
        if first & 0x80:
            param_type = reader.u8() & 0x7F
            if param_type not in TV_VALUE_BYTES:
                raise LlrpDecodeError(f"{what}: unknown TV parameter type {param_type}")
            params.append(RawParam(param_type, reader.take(TV_VALUE_BYTES[param_type]), True))
            continue
        type_field, length = reader.unpack("HH")
        if length < TLV_HEADER.size:
            raise LlrpDecodeError(f"{what}: TLV parameter length {length} below its header")
        params.append(RawParam(type_field & 0x3FF, reader.take(length - TLV_HEADER.size)))
    return params


# --- message framing -----------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    """One whole LLRP message, header parsed, body still raw."""

    type: int
    message_id: int
    body: bytes
    version: int = PROTOCOL_VERSION


def encode_frame(message_type: int, message_id: int, body: bytes) -> bytes:
    if not 0 <= message_type < 1024:
        raise LlrpEncodeError(f"message type {message_type} outside 0..1023")
    first = (PROTOCOL_VERSION << 10) | message_type
    return pack("HII", first, HEADER_BYTES + len(body), message_id) + body


def frame_length(header: bytes) -> int:
    """Total message length announced by a 10-byte header; rejects impossible lengths."""
    _, length, _ = ByteReader(header, "message header").unpack("HII")
    if not HEADER_BYTES <= length <= MAX_MESSAGE_BYTES:
        raise LlrpFramingError(f"message length {length} outside {HEADER_BYTES}..{MAX_MESSAGE_BYTES}")
    return length


def decode_frame(data: bytes) -> Frame:
    """Parse exactly one whole message (header + body)."""
    reader = ByteReader(data, "message header")
    first, length, message_id = reader.unpack("HII")
    if length != len(data):
        raise LlrpDecodeError(f"message header says {length} bytes, frame has {len(data)}")
    version = (first >> 10) & 0x7
    if version not in (1, 2):  # 2 is LLRP 1.1, whose header is the same
        raise LlrpDecodeError(f"unsupported LLRP version {version}")
    return Frame(first & 0x3FF, message_id, reader.rest(), version)


class FrameReassembler:
    """Cuts a TCP byte stream into whole LLRP messages, whatever the segment boundaries."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add received bytes; return every message now complete (possibly none)."""
        self._buffer += chunk
        messages = []
        while len(self._buffer) >= HEADER_BYTES:
            length = frame_length(bytes(self._buffer[:HEADER_BYTES]))
            if len(self._buffer) < length:
                break
            messages.append(bytes(self._buffer[:length]))
            del self._buffer[:length]
        return messages

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)
