"""LLRP parameters used by a fixed reader and its client (LLRP 1.0.1 sections 13-16).

Each parameter is a frozen dataclass with `encode() -> bytes` (the whole TLV) and
`decode(body) -> instance` (body = the TLV without its 4-byte header). Decoders
skip sub-parameters they do not model (vendor extensions, antenna configuration,
...), so real readers' richer messages still decode.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, fields

from edge.llrp.errors import LlrpDecodeError, LlrpEncodeError
from edge.llrp.wire import ByteReader, RawParam, pack, split_params, tlv, tv, utf8v

# TLV parameter types
UTC_TIMESTAMP = 128
UPTIME = 129
GENERAL_DEVICE_CAPABILITIES = 137
RECEIVE_SENSITIVITY_TABLE_ENTRY = 139
PER_ANTENNA_AIR_PROTOCOL = 140
GPIO_CAPABILITIES = 141
REGULATORY_CAPABILITIES = 143
UHF_BAND_CAPABILITIES = 144
TRANSMIT_POWER_LEVEL_TABLE_ENTRY = 145
FREQUENCY_INFORMATION = 146
FIXED_FREQUENCY_TABLE = 148
ROSPEC = 177
RO_BOUNDARY_SPEC = 178
ROSPEC_START_TRIGGER = 179
ROSPEC_STOP_TRIGGER = 182
AISPEC = 183
AISPEC_STOP_TRIGGER = 184
INVENTORY_PARAMETER_SPEC = 186
KEEPALIVE_SPEC = 220
RO_REPORT_SPEC = 237
TAG_REPORT_CONTENT_SELECTOR = 238
TAG_REPORT_DATA = 240
EPC_DATA = 241
READER_EVENT_NOTIFICATION_SPEC = 244
EVENT_NOTIFICATION_STATE = 245
READER_EVENT_NOTIFICATION_DATA = 246
AISPEC_EVENT = 254
CONNECTION_ATTEMPT_EVENT = 256
CONNECTION_CLOSE_EVENT = 257
LLRP_STATUS = 287
UHF_C1G2_RF_MODE_TABLE = 328
UHF_C1G2_RF_MODE_TABLE_ENTRY = 329

# TV parameter type of EPC-96 (the other TV types are TagReportData fields below)
EPC_96 = 13

# Status codes (section 14.2.1; unknown codes from a peer are kept as ints)
STATUS_SUCCESS = 0
STATUS_PARAMETER_ERROR = 100
STATUS_FIELD_ERROR = 101
STATUS_UNSUPPORTED_MESSAGE = 109
STATUS_DEVICE_ERROR = 401

# Enumerations
START_TRIGGER_NULL, START_TRIGGER_IMMEDIATE = 0, 1
STOP_TRIGGER_NULL, STOP_TRIGGER_DURATION = 0, 1
ROSPEC_DISABLED, ROSPEC_INACTIVE, ROSPEC_ACTIVE = 0, 1, 2
REPORT_NONE = 0
REPORT_UPON_N_TAGS_OR_END_OF_AISPEC = 1
REPORT_UPON_N_TAGS_OR_END_OF_ROSPEC = 2
PROTOCOL_EPC_C1G2 = 1
EVENT_AISPEC = 6  # EventNotificationState.EventType "AISpec event"
AISPEC_EVENT_END = 0
CONNECTION_SUCCESS = 0
CONNECTION_FAILED_CLIENT_CONNECTION_EXISTS = 2


def _params_of(body: bytes, what: str) -> dict[int, list[RawParam]]:
    by_type: dict[int, list[RawParam]] = {}
    for param in split_params(body, what):
        by_type.setdefault(param.type, []).append(param)
    return by_type


def _one(by_type: dict[int, list[RawParam]], param_type: int, what: str) -> RawParam:
    found = by_type.get(param_type)
    if not found:
        raise LlrpDecodeError(f"{what}: missing required parameter type {param_type}")
    return found[0]


def _unpack_exact(fmt: str, body: bytes, what: str) -> tuple:
    layout = struct.Struct("!" + fmt)
    if len(body) < layout.size:
        raise LlrpDecodeError(f"{what}: body of {len(body)} bytes, needs {layout.size}")
    return layout.unpack(body[:layout.size])


@dataclass(frozen=True)
class LlrpStatus:
    code: int = STATUS_SUCCESS
    description: str = ""

    @property
    def ok(self) -> bool:
        return self.code == STATUS_SUCCESS

    def encode(self) -> bytes:
        return tlv(LLRP_STATUS, pack("H", self.code), utf8v(self.description))

    @classmethod
    def decode(cls, body: bytes) -> "LlrpStatus":
        reader = ByteReader(body, "LLRPStatus")
        code = reader.u16()
        return cls(code, reader.utf8v())  # FieldError/ParameterError details are not modelled


@dataclass(frozen=True)
class KeepaliveSpec:
    period_ms: int = 0  # 0: no keepalives (trigger type Null)

    def encode(self) -> bytes:
        trigger = 1 if self.period_ms else 0
        return tlv(KEEPALIVE_SPEC, pack("BI", trigger, self.period_ms))

    @classmethod
    def decode(cls, body: bytes) -> "KeepaliveSpec":
        trigger, period_ms = _unpack_exact("BI", body, "KeepaliveSpec")
        return cls(period_ms if trigger == 1 else 0)


@dataclass(frozen=True)
class EventNotificationState:
    event_type: int
    enabled: bool

    def encode(self) -> bytes:
        return tlv(EVENT_NOTIFICATION_STATE, pack("HB", self.event_type, 0x80 if self.enabled else 0))

    @classmethod
    def decode(cls, body: bytes) -> "EventNotificationState":
        event_type, flags = _unpack_exact("HB", body, "EventNotificationState")
        return cls(event_type, bool(flags & 0x80))


def encode_event_spec(states: tuple[EventNotificationState, ...]) -> bytes:
    """ReaderEventNotificationSpec: which reader events to report."""
    return tlv(READER_EVENT_NOTIFICATION_SPEC, *(state.encode() for state in states))


def decode_event_spec(body: bytes) -> tuple[EventNotificationState, ...]:
    by_type = _params_of(body, "ReaderEventNotificationSpec")
    return tuple(EventNotificationState.decode(p.body) for p in by_type.get(EVENT_NOTIFICATION_STATE, []))


@dataclass(frozen=True)
class TagReportContentSelector:
    """Which optional fields the reader puts in each TagReportData (the EPC is always there)."""

    rospec_id: bool = False
    spec_index: bool = False
    inventory_parameter_spec_id: bool = False
    antenna_id: bool = False
    channel_index: bool = False
    peak_rssi: bool = False
    first_seen: bool = False
    last_seen: bool = False
    tag_seen_count: bool = False
    access_spec_id: bool = False

    def encode(self) -> bytes:
        flags = 0
        for bit, field in zip(range(15, 5, -1), fields(self)):  # the ten flags, MSB first
            if getattr(self, field.name):
                flags |= 1 << bit
        return tlv(TAG_REPORT_CONTENT_SELECTOR, pack("H", flags))

    @classmethod
    def decode(cls, body: bytes) -> "TagReportContentSelector":
        (flags,) = _unpack_exact("H", body, "TagReportContentSelector")
        # The C1G2EPCMemorySelector that may follow (CRC/PC bits) is not modelled.
        return cls(*(bool(flags & (1 << bit)) for bit in range(15, 5, -1)))


@dataclass(frozen=True)
class ROReportSpec:
    trigger: int = REPORT_UPON_N_TAGS_OR_END_OF_AISPEC
    n_tags: int = 0  # 0: no tag-count limit, report at the end of the AISpec
    content: TagReportContentSelector = TagReportContentSelector()

    def encode(self) -> bytes:
        return tlv(RO_REPORT_SPEC, pack("BH", self.trigger, self.n_tags), self.content.encode())

    @classmethod
    def decode(cls, body: bytes) -> "ROReportSpec":
        trigger, n_tags = _unpack_exact("BH", body, "ROReportSpec")
        by_type = _params_of(body[3:], "ROReportSpec")
        content = _one(by_type, TAG_REPORT_CONTENT_SELECTOR, "ROReportSpec")
        return cls(trigger, n_tags, TagReportContentSelector.decode(content.body))


@dataclass(frozen=True)
class ROSpec:
    """A reader operation: the subset with one AISpec and one InventoryParameterSpec.

    Start trigger Immediate starts inventory as soon as the ROSpec is enabled.
    Antenna id 0 means every antenna. The AISpec stop trigger Duration sets how
    long one inventory round (one AISpec execution) lasts.
    """

    rospec_id: int
    antennas: tuple[int, ...] = (1,)
    priority: int = 0
    current_state: int = ROSPEC_DISABLED
    start_trigger: int = START_TRIGGER_IMMEDIATE
    stop_trigger: int = STOP_TRIGGER_NULL
    stop_duration_ms: int = 0
    ai_stop_trigger: int = STOP_TRIGGER_NULL
    ai_stop_duration_ms: int = 0
    inventory_parameter_spec_id: int = 1
    protocol_id: int = PROTOCOL_EPC_C1G2
    report: ROReportSpec | None = None

    def encode(self) -> bytes:
        boundary = tlv(RO_BOUNDARY_SPEC,
                       tlv(ROSPEC_START_TRIGGER, pack("B", self.start_trigger)),
                       tlv(ROSPEC_STOP_TRIGGER, pack("BI", self.stop_trigger, self.stop_duration_ms)))
        antennas = pack("H", len(self.antennas)) + b"".join(pack("H", a) for a in self.antennas)
        aispec = tlv(AISPEC, antennas,
                     tlv(AISPEC_STOP_TRIGGER, pack("BI", self.ai_stop_trigger, self.ai_stop_duration_ms)),
                     tlv(INVENTORY_PARAMETER_SPEC, pack("HB", self.inventory_parameter_spec_id, self.protocol_id)))
        report = self.report.encode() if self.report else b""
        head = pack("IBB", self.rospec_id, self.priority, self.current_state)
        return tlv(ROSPEC, head, boundary, aispec, report)

    @classmethod
    def decode(cls, body: bytes) -> "ROSpec":
        rospec_id, priority, state = _unpack_exact("IBB", body, "ROSpec")
        by_type = _params_of(body[6:], "ROSpec")
        boundary = _decode_boundary(_one(by_type, RO_BOUNDARY_SPEC, "ROSpec").body)
        aispec = _decode_aispec(_one(by_type, AISPEC, "ROSpec").body)
        reports = by_type.get(RO_REPORT_SPEC)
        report = ROReportSpec.decode(reports[0].body) if reports else None
        return cls(rospec_id, priority=priority, current_state=state, report=report, **boundary, **aispec)


def _decode_boundary(body: bytes) -> dict:
    by_type = _params_of(body, "ROBoundarySpec")
    (start,) = _unpack_exact("B", _one(by_type, ROSPEC_START_TRIGGER, "ROBoundarySpec").body,
                             "ROSpecStartTrigger")
    stop, duration_ms = _unpack_exact("BI", _one(by_type, ROSPEC_STOP_TRIGGER, "ROBoundarySpec").body,
                                      "ROSpecStopTrigger")
    return {"start_trigger": start, "stop_trigger": stop, "stop_duration_ms": duration_ms}


def _decode_aispec(body: bytes) -> dict:
    reader = ByteReader(body, "AISpec")
    antennas = tuple(reader.u16() for _ in range(reader.u16()))
    by_type = _params_of(reader.rest(), "AISpec")
    ai_stop, ai_duration_ms = _unpack_exact("BI", _one(by_type, AISPEC_STOP_TRIGGER, "AISpec").body,
                                            "AISpecStopTrigger")
    spec_id, protocol = _unpack_exact("HB", _one(by_type, INVENTORY_PARAMETER_SPEC, "AISpec").body,
                                      "InventoryParameterSpec")
    return {"antennas": antennas, "ai_stop_trigger": ai_stop, "ai_stop_duration_ms": ai_duration_ms,
            "inventory_parameter_spec_id": spec_id, "protocol_id": protocol}


@dataclass(frozen=True)
class GeneralDeviceCapabilities:
    max_antennas: int
    manufacturer: int = 0  # IANA private enterprise number
    model: int = 0
    firmware: str = ""
    can_set_antenna_properties: bool = False
    has_utc_clock: bool = True

    def encode(self) -> bytes:
        flags = (0x8000 if self.can_set_antenna_properties else 0) | (0x4000 if self.has_utc_clock else 0)
        head = pack("HHII", self.max_antennas, flags, self.manufacturer, self.model) + utf8v(self.firmware)
        # Required by the standard though nobody we know reads them: one sensitivity
        # entry, no GPIO, and Gen2 as the air protocol of every antenna.
        sensitivity = tlv(RECEIVE_SENSITIVITY_TABLE_ENTRY, pack("Hh", 1, 0))
        gpio = tlv(GPIO_CAPABILITIES, pack("HH", 0, 0))
        per_antenna = b"".join(tlv(PER_ANTENNA_AIR_PROTOCOL, pack("HHB", antenna, 1, PROTOCOL_EPC_C1G2))
                               for antenna in range(1, self.max_antennas + 1))
        return tlv(GENERAL_DEVICE_CAPABILITIES, head, sensitivity, gpio, per_antenna)

    @classmethod
    def decode(cls, body: bytes) -> "GeneralDeviceCapabilities":
        reader = ByteReader(body, "GeneralDeviceCapabilities")
        max_antennas, flags, manufacturer, model = reader.unpack("HHII")
        firmware = reader.utf8v()
        return cls(max_antennas, manufacturer, model, firmware, bool(flags & 0x8000), bool(flags & 0x4000))


@dataclass(frozen=True)
class TransmitPowerLevel:
    index: int
    dbm_x100: int  # hundredths of dBm

    def encode(self) -> bytes:
        return tlv(TRANSMIT_POWER_LEVEL_TABLE_ENTRY, pack("Hh", self.index, self.dbm_x100))

    @classmethod
    def decode(cls, body: bytes) -> "TransmitPowerLevel":
        return cls(*_unpack_exact("Hh", body, "TransmitPowerLevelTableEntry"))


@dataclass(frozen=True)
class RfMode:
    """One UHFC1G2RFModeTableEntry: a Gen2 link profile the reader offers."""

    mode_id: int
    dr_64_3: bool = True  # divide ratio 64/3 (else 8)
    epc_hag_conformance: bool = False
    modulation: int = 0  # 0 FM0, 1 Miller-2, 2 Miller-4, 3 Miller-8
    forward_link_modulation: int = 0  # 0 PR-ASK, 1 SSB-ASK, 2 DSB-ASK
    spectral_mask: int = 1  # 1 single-interrogator
    bdr_bps: int = 640_000
    pie_x1000: int = 1500
    min_tari_ns: int = 6250
    max_tari_ns: int = 6250
    step_tari_ns: int = 0

    def encode(self) -> bytes:
        flags = (0x80 if self.dr_64_3 else 0) | (0x40 if self.epc_hag_conformance else 0)
        return tlv(UHF_C1G2_RF_MODE_TABLE_ENTRY, pack(
            "IBBBBIIIII", self.mode_id, flags, self.modulation, self.forward_link_modulation,
            self.spectral_mask, self.bdr_bps, self.pie_x1000, self.min_tari_ns, self.max_tari_ns,
            self.step_tari_ns))

    @classmethod
    def decode(cls, body: bytes) -> "RfMode":
        (mode_id, flags, *rest) = _unpack_exact("IBBBBIIIII", body, "UHFC1G2RFModeTableEntry")
        return cls(mode_id, bool(flags & 0x80), bool(flags & 0x40), *rest)


@dataclass(frozen=True)
class RegulatoryCapabilities:
    """RegulatoryCapabilities with its UHFBandCapabilities (fixed-frequency readers only)."""

    power_levels: tuple[TransmitPowerLevel, ...]
    rf_modes: tuple[RfMode, ...]
    frequencies_khz: tuple[int, ...] = (866_300,)
    country_code: int = 0
    communications_standard: int = 0

    def encode(self) -> bytes:
        frequencies = pack("H", len(self.frequencies_khz)) + b"".join(pack("I", f) for f in self.frequencies_khz)
        frequency_info = tlv(FREQUENCY_INFORMATION, pack("B", 0), tlv(FIXED_FREQUENCY_TABLE, frequencies))
        mode_table = tlv(UHF_C1G2_RF_MODE_TABLE, *(mode.encode() for mode in self.rf_modes))
        band = tlv(UHF_BAND_CAPABILITIES, *(level.encode() for level in self.power_levels),
                   frequency_info, mode_table)
        return tlv(REGULATORY_CAPABILITIES, pack("HH", self.country_code, self.communications_standard), band)

    @classmethod
    def decode(cls, body: bytes) -> "RegulatoryCapabilities":
        country, standard = _unpack_exact("HH", body, "RegulatoryCapabilities")
        band_body = _one(_params_of(body[4:], "RegulatoryCapabilities"), UHF_BAND_CAPABILITIES,
                         "RegulatoryCapabilities").body
        band = _params_of(band_body, "UHFBandCapabilities")
        levels = tuple(TransmitPowerLevel.decode(p.body) for p in band.get(TRANSMIT_POWER_LEVEL_TABLE_ENTRY, []))
        modes = tuple(RfMode.decode(entry.body) for table in band.get(UHF_C1G2_RF_MODE_TABLE, [])
                      for entry in split_params(table.body, "UHFC1G2RFModeTable")
                      if entry.type == UHF_C1G2_RF_MODE_TABLE_ENTRY)
        return cls(levels, modes, _fixed_frequencies(band), country, standard)


def _fixed_frequencies(band: dict[int, list[RawParam]]) -> tuple[int, ...]:
    for info in band.get(FREQUENCY_INFORMATION, []):
        for table in split_params(info.body[1:], "FrequencyInformation"):
            if table.type == FIXED_FREQUENCY_TABLE:
                reader = ByteReader(table.body, "FixedFrequencyTable")
                return tuple(reader.u32() for _ in range(reader.u16()))
    return ()  # a hopping reader: its hop tables are not modelled


# TagReportData's optional TV fields, in the standard's order: (attribute, TV type, format).
_TAG_FIELDS = (
    ("rospec_id", 9, "I"),
    ("spec_index", 14, "H"),
    ("inventory_parameter_spec_id", 10, "H"),
    ("antenna_id", 1, "H"),
    ("peak_rssi_dbm", 6, "b"),
    ("channel_index", 7, "H"),
    ("first_seen_us", 2, "Q"),  # FirstSeenTimestampUTC
    ("last_seen_us", 4, "Q"),  # LastSeenTimestampUTC
    ("tag_seen_count", 8, "H"),
    ("access_spec_id", 16, "I"),
)
_TAG_FIELD_BY_TV_TYPE = {tv_type: (name, fmt) for name, tv_type, fmt in _TAG_FIELDS}


@dataclass(frozen=True)
class TagReport:
    """One TagReportData: a tag's EPC plus whichever fields the selector asked for."""

    epc: bytes
    rospec_id: int | None = None
    spec_index: int | None = None
    inventory_parameter_spec_id: int | None = None
    antenna_id: int | None = None
    peak_rssi_dbm: int | None = None
    channel_index: int | None = None
    first_seen_us: int | None = None
    last_seen_us: int | None = None
    tag_seen_count: int | None = None
    access_spec_id: int | None = None

    @property
    def epc_hex(self) -> str:
        return self.epc.hex()

    def encode(self) -> bytes:
        parts = [_encode_epc(self.epc)]
        for name, tv_type, fmt in _TAG_FIELDS:
            value = getattr(self, name)
            if value is not None:
                parts.append(tv(tv_type, fmt, value))
        return tlv(TAG_REPORT_DATA, *parts)

    @classmethod
    def decode(cls, body: bytes) -> "TagReport":
        epc, values = None, {}
        for param in split_params(body, "TagReportData"):
            if param.is_tv and param.type == EPC_96:
                epc = param.body
            elif not param.is_tv and param.type == EPC_DATA:
                epc = _decode_epc_data(param.body)
            elif param.is_tv and param.type in _TAG_FIELD_BY_TV_TYPE:
                name, fmt = _TAG_FIELD_BY_TV_TYPE[param.type]
                (values[name],) = struct.unpack("!" + fmt, param.body)  # size fixed by TV_VALUE_BYTES
        if epc is None:
            raise LlrpDecodeError("TagReportData without an EPC")
        return cls(epc, **values)


def _encode_epc(epc: bytes) -> bytes:
    if len(epc) == 12:  # the common EPC-96 gets the compact TV form
        return pack("B", 0x80 | EPC_96) + epc
    if len(epc) * 8 > 0xFFFF:
        raise LlrpEncodeError(f"EPC of {len(epc)} bytes is too long")
    return tlv(EPC_DATA, pack("H", len(epc) * 8), epc)


def _decode_epc_data(body: bytes) -> bytes:
    reader = ByteReader(body, "EPCData")
    bit_count = reader.u16()
    epc = reader.take((bit_count + 7) // 8)
    if reader.pos != len(body):
        raise LlrpDecodeError(f"EPCData: {bit_count} bits but {len(body) - 2} bytes of EPC")
    return epc


@dataclass(frozen=True)
class AISpecEvent:
    """The reader finished one AISpec execution (one inventory round)."""

    rospec_id: int
    spec_index: int = 1
    event_type: int = AISPEC_EVENT_END

    def encode(self) -> bytes:
        return tlv(AISPEC_EVENT, pack("BIH", self.event_type, self.rospec_id, self.spec_index))

    @classmethod
    def decode(cls, body: bytes) -> "AISpecEvent":
        event_type, rospec_id, spec_index = _unpack_exact("BIH", body, "AISpecEvent")
        return cls(rospec_id, spec_index, event_type)


@dataclass(frozen=True)
class ReaderEventData:
    """ReaderEventNotificationData: when, and which of the modelled events happened."""

    timestamp_us: int  # UTCTimestamp (or Uptime, from a reader without a clock)
    connection_attempt_status: int | None = None
    connection_closed: bool = False
    aispec_event: AISpecEvent | None = None

    def encode(self) -> bytes:
        parts = [tlv(UTC_TIMESTAMP, pack("Q", self.timestamp_us))]
        if self.aispec_event is not None:
            parts.append(self.aispec_event.encode())
        if self.connection_attempt_status is not None:
            parts.append(tlv(CONNECTION_ATTEMPT_EVENT, pack("H", self.connection_attempt_status)))
        if self.connection_closed:
            parts.append(tlv(CONNECTION_CLOSE_EVENT))
        return tlv(READER_EVENT_NOTIFICATION_DATA, *parts)

    @classmethod
    def decode(cls, body: bytes) -> "ReaderEventData":
        by_type = _params_of(body, "ReaderEventNotificationData")
        clock = by_type.get(UTC_TIMESTAMP) or by_type.get(UPTIME)
        if not clock:
            raise LlrpDecodeError("ReaderEventNotificationData without a timestamp")
        (timestamp_us,) = _unpack_exact("Q", clock[0].body, "timestamp")
        attempt = by_type.get(CONNECTION_ATTEMPT_EVENT)
        status = _unpack_exact("H", attempt[0].body, "ConnectionAttemptEvent")[0] if attempt else None
        aispec = by_type.get(AISPEC_EVENT)
        return cls(timestamp_us, status, CONNECTION_CLOSE_EVENT in by_type,
                   AISpecEvent.decode(aispec[0].body) if aispec else None)
