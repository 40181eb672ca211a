"""LLRP messages a fixed reader and its client exchange (LLRP 1.0.1 section 16).

`encode_message(msg) -> bytes` and `decode_message(frame_bytes) -> Message` are
the whole interface. A message type outside this subset decodes to
UnknownMessage, so a reader can answer it with an ERROR_MESSAGE instead of dying.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from edge.llrp.errors import LlrpDecodeError
from edge.llrp.params import (
    GENERAL_DEVICE_CAPABILITIES,
    KEEPALIVE_SPEC,
    LLRP_STATUS,
    READER_EVENT_NOTIFICATION_DATA,
    READER_EVENT_NOTIFICATION_SPEC,
    REGULATORY_CAPABILITIES,
    RO_REPORT_SPEC,
    ROSPEC,
    TAG_REPORT_DATA,
    EventNotificationState,
    GeneralDeviceCapabilities,
    KeepaliveSpec,
    LlrpStatus,
    ReaderEventData,
    RegulatoryCapabilities,
    ROReportSpec,
    ROSpec,
    TagReport,
    decode_event_spec,
    encode_event_spec,
)
from edge.llrp.wire import ByteReader, RawParam, decode_frame, encode_frame, pack, split_params


@dataclass(frozen=True)
class Message:
    TYPE: ClassVar[int]
    message_id: int = field(default=0, kw_only=True)

    @property
    def message_type(self) -> int:
        return self.TYPE

    def body(self) -> bytes:
        return b""

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "Message":
        return cls(message_id=message_id)


def _by_type(body: bytes, what: str) -> dict[int, list[RawParam]]:
    by_type: dict[int, list[RawParam]] = {}
    for param in split_params(body, what):
        by_type.setdefault(param.type, []).append(param)
    return by_type


def _status_of(by_type: dict[int, list[RawParam]], what: str) -> LlrpStatus:
    if LLRP_STATUS not in by_type:
        raise LlrpDecodeError(f"{what} without LLRPStatus")
    return LlrpStatus.decode(by_type[LLRP_STATUS][0].body)


def _optional(by_type: dict[int, list[RawParam]], param_type: int, decode):
    found = by_type.get(param_type)
    return decode(found[0].body) if found else None


# --- messages with no body -----------------------------------------------------

class EnableEventsAndReports(Message):
    TYPE = 64


class Keepalive(Message):
    TYPE = 62


class KeepaliveAck(Message):
    TYPE = 72


class CloseConnection(Message):
    TYPE = 14


# --- responses carrying only an LLRPStatus -------------------------------------

@dataclass(frozen=True)
class StatusResponse(Message):
    status: LlrpStatus = LlrpStatus()

    def body(self) -> bytes:
        return self.status.encode()

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "StatusResponse":
        return cls(_status_of(_by_type(body, cls.__name__), cls.__name__), message_id=message_id)


class CloseConnectionResponse(StatusResponse):
    TYPE = 4


class SetReaderConfigResponse(StatusResponse):
    TYPE = 13


class AddROSpecResponse(StatusResponse):
    TYPE = 30


class DeleteROSpecResponse(StatusResponse):
    TYPE = 31


class StartROSpecResponse(StatusResponse):
    TYPE = 32


class StopROSpecResponse(StatusResponse):
    TYPE = 33


class EnableROSpecResponse(StatusResponse):
    TYPE = 34


class DisableROSpecResponse(StatusResponse):
    TYPE = 35


class DeleteAccessSpecResponse(StatusResponse):
    TYPE = 51


class ErrorMessage(StatusResponse):
    """The reader's answer to a message it could not handle."""

    TYPE = 100


# --- requests naming one spec by id (0 = all) ----------------------------------

@dataclass(frozen=True)
class _ROSpecIdRequest(Message):
    rospec_id: int = 0

    def body(self) -> bytes:
        return pack("I", self.rospec_id)

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "_ROSpecIdRequest":
        return cls(ByteReader(body, cls.__name__).u32(), message_id=message_id)


class DeleteROSpec(_ROSpecIdRequest):
    TYPE = 21


class StartROSpec(_ROSpecIdRequest):
    TYPE = 22


class StopROSpec(_ROSpecIdRequest):
    TYPE = 23


class EnableROSpec(_ROSpecIdRequest):
    TYPE = 24


class DisableROSpec(_ROSpecIdRequest):
    TYPE = 25


@dataclass(frozen=True)
class DeleteAccessSpec(Message):
    TYPE = 41
    access_spec_id: int = 0

    def body(self) -> bytes:
        return pack("I", self.access_spec_id)

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "DeleteAccessSpec":
        return cls(ByteReader(body, "DELETE_ACCESSSPEC").u32(), message_id=message_id)


# --- capabilities and configuration --------------------------------------------

@dataclass(frozen=True)
class GetReaderCapabilities(Message):
    TYPE = 1
    requested_data: int = 0  # 0 all, 1 general device, 2 LLRP, 3 regulatory, 4 air protocol

    def body(self) -> bytes:
        return pack("B", self.requested_data)

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "GetReaderCapabilities":
        return cls(ByteReader(body, "GET_READER_CAPABILITIES").u8(), message_id=message_id)


@dataclass(frozen=True)
class GetReaderCapabilitiesResponse(Message):
    TYPE = 11
    status: LlrpStatus = LlrpStatus()
    general: GeneralDeviceCapabilities | None = None
    regulatory: RegulatoryCapabilities | None = None

    def body(self) -> bytes:
        parts = [self.status.encode()]
        parts += [p.encode() for p in (self.general, self.regulatory) if p is not None]
        return b"".join(parts)

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "GetReaderCapabilitiesResponse":
        by_type = _by_type(body, "GET_READER_CAPABILITIES_RESPONSE")
        return cls(_status_of(by_type, "GET_READER_CAPABILITIES_RESPONSE"),
                   _optional(by_type, GENERAL_DEVICE_CAPABILITIES, GeneralDeviceCapabilities.decode),
                   _optional(by_type, REGULATORY_CAPABILITIES, RegulatoryCapabilities.decode),
                   message_id=message_id)


@dataclass(frozen=True)
class GetReaderConfig(Message):
    TYPE = 2
    antenna_id: int = 0
    requested_data: int = 0  # 0 all
    gpi_port: int = 0
    gpo_port: int = 0

    def body(self) -> bytes:
        return pack("HBHH", self.antenna_id, self.requested_data, self.gpi_port, self.gpo_port)

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "GetReaderConfig":
        return cls(*ByteReader(body, "GET_READER_CONFIG").unpack("HBHH"), message_id=message_id)


@dataclass(frozen=True)
class _ReaderConfig(Message):
    """The configuration parameters GET_READER_CONFIG_RESPONSE and SET_READER_CONFIG share."""

    event_states: tuple[EventNotificationState, ...] = ()
    report_spec: ROReportSpec | None = None
    keepalive: KeepaliveSpec | None = None

    def _config_parts(self) -> list[bytes]:
        parts = [encode_event_spec(self.event_states)] if self.event_states else []
        parts += [p.encode() for p in (self.report_spec, self.keepalive) if p is not None]
        return parts

    @staticmethod
    def _config_fields(by_type: dict[int, list[RawParam]]) -> dict:
        return {"event_states": _optional(by_type, READER_EVENT_NOTIFICATION_SPEC, decode_event_spec) or (),
                "report_spec": _optional(by_type, RO_REPORT_SPEC, ROReportSpec.decode),
                "keepalive": _optional(by_type, KEEPALIVE_SPEC, KeepaliveSpec.decode)}


@dataclass(frozen=True)
class GetReaderConfigResponse(_ReaderConfig):
    TYPE = 12
    status: LlrpStatus = LlrpStatus()

    def body(self) -> bytes:
        return b"".join([self.status.encode(), *self._config_parts()])

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "GetReaderConfigResponse":
        by_type = _by_type(body, "GET_READER_CONFIG_RESPONSE")
        return cls(status=_status_of(by_type, "GET_READER_CONFIG_RESPONSE"),
                   **cls._config_fields(by_type), message_id=message_id)


@dataclass(frozen=True)
class SetReaderConfig(_ReaderConfig):
    TYPE = 3
    reset_to_factory_default: bool = False

    def body(self) -> bytes:
        return b"".join([pack("B", 0x80 if self.reset_to_factory_default else 0), *self._config_parts()])

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "SetReaderConfig":
        reader = ByteReader(body, "SET_READER_CONFIG")
        reset = bool(reader.u8() & 0x80)
        by_type = _by_type(reader.rest(), "SET_READER_CONFIG")
        return cls(reset_to_factory_default=reset, **cls._config_fields(by_type), message_id=message_id)


# --- reader operations, reports and events -------------------------------------

@dataclass(frozen=True)
class AddROSpec(Message):
    TYPE = 20
    rospec: ROSpec = ROSpec(1)

    def body(self) -> bytes:
        return self.rospec.encode()

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "AddROSpec":
        found = _by_type(body, "ADD_ROSPEC").get(ROSPEC)
        if not found:
            raise LlrpDecodeError("ADD_ROSPEC without an ROSpec")
        return cls(ROSpec.decode(found[0].body), message_id=message_id)


@dataclass(frozen=True)
class ROAccessReport(Message):
    TYPE = 61
    tags: tuple[TagReport, ...] = ()

    def body(self) -> bytes:
        return b"".join(tag.encode() for tag in self.tags)

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "ROAccessReport":
        tags = _by_type(body, "RO_ACCESS_REPORT").get(TAG_REPORT_DATA, [])
        return cls(tuple(TagReport.decode(tag.body) for tag in tags), message_id=message_id)


@dataclass(frozen=True)
class ReaderEventNotification(Message):
    TYPE = 63
    data: ReaderEventData = ReaderEventData(0)

    def body(self) -> bytes:
        return self.data.encode()

    @classmethod
    def from_body(cls, body: bytes, message_id: int) -> "ReaderEventNotification":
        found = _by_type(body, "READER_EVENT_NOTIFICATION").get(READER_EVENT_NOTIFICATION_DATA)
        if not found:
            raise LlrpDecodeError("READER_EVENT_NOTIFICATION without ReaderEventNotificationData")
        return cls(ReaderEventData.decode(found[0].body), message_id=message_id)


@dataclass(frozen=True)
class UnknownMessage(Message):
    """A well-framed message outside this subset (vendor messages, access specs, ...)."""

    type_number: int = 0
    raw_body: bytes = b""

    @property
    def message_type(self) -> int:
        return self.type_number

    def body(self) -> bytes:
        return self.raw_body


_MESSAGE_CLASSES: dict[int, type[Message]] = {cls.TYPE: cls for cls in (
    GetReaderCapabilities, GetReaderCapabilitiesResponse, GetReaderConfig, GetReaderConfigResponse,
    SetReaderConfig, SetReaderConfigResponse, CloseConnection, CloseConnectionResponse,
    AddROSpec, AddROSpecResponse, DeleteROSpec, DeleteROSpecResponse, StartROSpec, StartROSpecResponse,
    StopROSpec, StopROSpecResponse, EnableROSpec, EnableROSpecResponse, DisableROSpec,
    DisableROSpecResponse, DeleteAccessSpec, DeleteAccessSpecResponse, ROAccessReport, Keepalive,
    KeepaliveAck, ReaderEventNotification, EnableEventsAndReports, ErrorMessage)}


def encode_message(message: Message) -> bytes:
    return encode_frame(message.message_type, message.message_id, message.body())


def decode_message(data: bytes) -> Message:
    """Decode one whole message (as cut by FrameReassembler)."""
    frame = decode_frame(data)
    cls = _MESSAGE_CLASSES.get(frame.type)
    if cls is None:
        return UnknownMessage(frame.type, frame.body, message_id=frame.message_id)
    return cls.from_body(frame.body, frame.message_id)
