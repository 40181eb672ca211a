"""Our LLRP codec: every message round-trips, known bytes decode, garbage raises LlrpDecodeError."""
from __future__ import annotations

import dataclasses
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.llrp import (
    FrameReassembler,
    LlrpDecodeError,
    LlrpEncodeError,
    LlrpFramingError,
    UnknownMessage,
    decode_message,
    encode_message,
)
from edge.llrp import messages as m
from edge.llrp import params as p
from edge.llrp.wire import MAX_MESSAGE_BYTES

SELECTOR_ALL = p.TagReportContentSelector(*([True] * 10))
ROSPEC = p.ROSpec(7, antennas=(1, 2), priority=3, ai_stop_trigger=p.STOP_TRIGGER_DURATION,
                  ai_stop_duration_ms=250, report=p.ROReportSpec(n_tags=5, content=SELECTOR_ALL))
CAPABILITIES = m.GetReaderCapabilitiesResponse(
    p.LlrpStatus(),
    p.GeneralDeviceCapabilities(4, manufacturer=25882, model=2001, firmware="pw-sim 1.0 ✓"),
    p.RegulatoryCapabilities((p.TransmitPowerLevel(1, 1000), p.TransmitPowerLevel(2, 3000)),
                             (p.RfMode(1000), p.RfMode(1002, modulation=2, bdr_bps=160_000)),
                             frequencies_khz=(865_700, 866_300), country_code=276))
TAG_FULL = p.TagReport(bytes.fromhex("300833b2ddd9014000000001"), rospec_id=7, spec_index=1,
                       inventory_parameter_spec_id=1, antenna_id=2, peak_rssi_dbm=-61, channel_index=3,
                       first_seen_us=1_700_000_000_000_000, last_seen_us=1_700_000_000_250_000,
                       tag_seen_count=4, access_spec_id=9)

EVERY_MESSAGE = [
    m.ReaderEventNotification(p.ReaderEventData(1_700_000_000_000_000, connection_attempt_status=0)),
    m.ReaderEventNotification(p.ReaderEventData(5, aispec_event=p.AISpecEvent(7))),
    m.ReaderEventNotification(p.ReaderEventData(6, connection_closed=True)),
    m.GetReaderCapabilities(0), CAPABILITIES, m.GetReaderCapabilitiesResponse(p.LlrpStatus(401, "broken")),
    m.GetReaderConfig(antenna_id=1, requested_data=0, gpi_port=2, gpo_port=3),
    m.GetReaderConfigResponse(keepalive=p.KeepaliveSpec(10_000), report_spec=ROSPEC.report),
    m.SetReaderConfig(event_states=(p.EventNotificationState(p.EVENT_AISPEC, True),),
                      keepalive=p.KeepaliveSpec(500), reset_to_factory_default=True),
    m.SetReaderConfigResponse(), m.EnableEventsAndReports(),
    m.AddROSpec(ROSPEC), m.AddROSpec(p.ROSpec(1)), m.AddROSpecResponse(p.LlrpStatus(100, "duplicate")),
    m.EnableROSpec(7), m.EnableROSpecResponse(), m.DisableROSpec(7), m.DisableROSpecResponse(),
    m.StartROSpec(7), m.StartROSpecResponse(), m.StopROSpec(7), m.StopROSpecResponse(),
    m.DeleteROSpec(0), m.DeleteROSpecResponse(), m.DeleteAccessSpec(0), m.DeleteAccessSpecResponse(),
    m.ROAccessReport((TAG_FULL, p.TagReport(b"\xab" * 8), p.TagReport(bytes(12), antenna_id=1))),
    m.ROAccessReport(()), m.Keepalive(), m.KeepaliveAck(), m.CloseConnection(), m.CloseConnectionResponse(),
    m.ErrorMessage(p.LlrpStatus(109, "unsupported message")),
]


@pytest.mark.parametrize("message", EVERY_MESSAGE, ids=lambda msg: type(msg).__name__)
def test_every_message_round_trips(message):
    message = dataclasses.replace(message, message_id=4242)
    framed = encode_message(message)
    decoded = decode_message(framed)
    assert decoded == message
    assert encode_message(decoded) == framed


def test_message_id_and_header_follow_the_standard():
    framed = encode_message(m.KeepaliveAck(message_id=0x01020304))
    assert framed == bytes.fromhex("0448" "0000000a" "01020304")  # version 1, type 72, length 10
    assert decode_message(framed).message_id == 0x01020304


def test_tag_report_data_bytes_match_the_standard_layout():
    tag = p.TagReport(bytes(range(12)), antenna_id=1, peak_rssi_dbm=-60, tag_seen_count=2)
    expected = (struct.pack("!HH", 240, 4 + 13 + 3 + 2 + 3)
                + b"\x8d" + bytes(range(12))  # EPC-96 TV
                + b"\x81\x00\x01"  # AntennaID
                + b"\x86\xc4"  # PeakRSSI -60
                + b"\x88\x00\x02")  # TagSeenCount
    assert tag.encode() == expected


def test_epc_that_is_not_96_bits_uses_epcdata():
    encoded = p.TagReport(b"\x01\x02").encode()
    assert encoded[4:] == struct.pack("!HHH", 241, 8, 16) + b"\x01\x02"


def test_unknown_message_type_decodes_as_unknown():
    framed = struct.pack("!HII", (1 << 10) | 40, 14, 9) + b"\x00\x00\x00\x01"  # ADD_ACCESSSPEC
    decoded = decode_message(framed)
    assert decoded == UnknownMessage(40, b"\x00\x00\x00\x01", message_id=9)


def test_vendor_parameters_inside_known_messages_are_skipped():
    vendor = struct.pack("!HHII", 1023, 12, 25882, 1)
    body = p.LlrpStatus().encode() + vendor
    framed = struct.pack("!HII", (1 << 10) | 34, 10 + len(body), 3) + body
    assert decode_message(framed) == m.EnableROSpecResponse(message_id=3)


def test_value_that_does_not_fit_raises_encode_error():
    with pytest.raises(LlrpEncodeError):
        encode_message(m.EnableROSpec(2 ** 32))
    with pytest.raises(LlrpEncodeError):
        p.TagReport(bytes(12), peak_rssi_dbm=-200).encode()


# --- reassembly ------------------------------------------------------------------

def test_reassembler_cuts_a_stream_at_every_split_point():
    stream = b"".join(encode_message(msg) for msg in EVERY_MESSAGE[:6])
    for split in range(len(stream) + 1):
        reassembler = FrameReassembler()
        frames = reassembler.feed(stream[:split]) + reassembler.feed(stream[split:])
        assert [decode_message(f) for f in frames] == EVERY_MESSAGE[:6]
        assert reassembler.pending_bytes == 0


def test_reassembler_byte_by_byte():
    stream = encode_message(CAPABILITIES) + encode_message(m.Keepalive(message_id=2))
    reassembler = FrameReassembler()
    frames = [frame for byte in stream for frame in reassembler.feed(bytes([byte]))]
    assert [decode_message(f) for f in frames] == [CAPABILITIES, m.Keepalive(message_id=2)]


@pytest.mark.parametrize("length", [0, 9, MAX_MESSAGE_BYTES + 1])
def test_reassembler_rejects_impossible_lengths(length):
    with pytest.raises(LlrpFramingError):
        FrameReassembler().feed(struct.pack("!HII", (1 << 10) | 62, length, 1))


# --- garbage and truncation --------------------------------------------------------

@pytest.mark.parametrize("message", EVERY_MESSAGE, ids=lambda msg: type(msg).__name__)
def test_every_truncation_raises_decode_error(message):
    framed = encode_message(message)
    for cut in range(10):
        with pytest.raises(LlrpDecodeError):
            decode_message(framed[:cut])
    for cut in range(10, len(framed)):
        with pytest.raises(LlrpDecodeError):  # header length no longer matches the frame
            decode_message(framed[:cut])
        # With a consistent header the body parser must notice the cut itself, unless the
        # cut only dropped whole optional parameters (then it is valid LLRP).
        consistent = framed[:2] + struct.pack("!I", cut) + framed[6:cut]
        try:
            decode_message(consistent)
        except LlrpDecodeError:
            pass


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_raise_only_decode_error(data):
    try:
        decode_message(data)
    except LlrpDecodeError:
        pass


KNOWN_TYPES = [1, 2, 3, 4, 11, 12, 13, 14, 20, 21, 22, 23, 24, 25, 30, 31, 32, 33, 34, 35,
               41, 51, 61, 62, 63, 64, 72, 100]


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(KNOWN_TYPES), st.binary(max_size=80))
def test_random_bodies_of_known_messages_raise_only_decode_error(message_type, body):
    framed = struct.pack("!HII", (1 << 10) | message_type, 10 + len(body), 1) + body
    try:
        decode_message(framed)
    except LlrpDecodeError:
        pass


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(EVERY_MESSAGE), st.integers(min_value=10), st.integers(0, 255))
def test_corrupted_valid_messages_raise_only_decode_error(message, position, new_byte):
    framed = bytearray(encode_message(message))
    framed[position % len(framed)] = new_byte
    try:
        decode_message(bytes(framed))
    except LlrpDecodeError:
        pass


# --- properties of TagReportData ------------------------------------------------------

def _optional(strategy):
    return st.none() | strategy


tag_reports = st.builds(
    p.TagReport,
    epc=st.binary(min_size=1, max_size=62),
    rospec_id=_optional(st.integers(0, 2 ** 32 - 1)),
    spec_index=_optional(st.integers(0, 2 ** 16 - 1)),
    inventory_parameter_spec_id=_optional(st.integers(0, 2 ** 16 - 1)),
    antenna_id=_optional(st.integers(0, 2 ** 16 - 1)),
    peak_rssi_dbm=_optional(st.integers(-128, 127)),
    channel_index=_optional(st.integers(0, 2 ** 16 - 1)),
    first_seen_us=_optional(st.integers(0, 2 ** 64 - 1)),
    last_seen_us=_optional(st.integers(0, 2 ** 64 - 1)),
    tag_seen_count=_optional(st.integers(0, 2 ** 16 - 1)),
    access_spec_id=_optional(st.integers(0, 2 ** 32 - 1)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(tag_reports, max_size=8), st.integers(0, 2 ** 32 - 1))
def test_ro_access_report_round_trips(tags, message_id):
    report = m.ROAccessReport(tuple(tags), message_id=message_id)
    assert decode_message(encode_message(report)) == report


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=12, max_size=12))
def test_epc96_round_trips_as_lowercase_hex(epc):
    tag = p.TagReport.decode(p.TagReport(epc).encode()[4:])
    assert tag.epc_hex == epc.hex() and tag.epc_hex == tag.epc_hex.lower()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=10, max_size=10))
def test_tag_report_content_selector_round_trips(flags):
    selector = p.TagReportContentSelector(*flags)
    assert p.TagReportContentSelector.decode(selector.encode()[4:]) == selector
