"""Our own LLRP codec (EPCglobal Low Level Reader Protocol 1.0.1, the fixed-reader subset).

Pure, both directions: bytes in, frozen dataclasses out, and back.
- `wire`: message header framing, FrameReassembler for TCP, TLV/TV parameters.
- `params`: the parameters (ROSpec, TagReportData, capabilities, LLRPStatus, ...).
- `messages`: the messages, `encode_message` / `decode_message`.
- `stream`: the one asyncio adapter (LlrpStream), shared by the driver and the simulator.
Garbage in raises LlrpDecodeError; a value that does not fit raises LlrpEncodeError.
"""
from edge.llrp.errors import LlrpConnectionClosed, LlrpDecodeError, LlrpEncodeError, LlrpError, LlrpFramingError
from edge.llrp.messages import Message, UnknownMessage, decode_message, encode_message
from edge.llrp.wire import FrameReassembler

__all__ = ["FrameReassembler", "LlrpConnectionClosed", "LlrpDecodeError", "LlrpEncodeError",
           "LlrpError", "LlrpFramingError", "Message", "UnknownMessage", "decode_message", "encode_message"]
