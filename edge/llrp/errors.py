"""The LLRP codec's exception family."""
from __future__ import annotations


class LlrpError(Exception):
    """Base of every error raised by edge.llrp."""


class LlrpDecodeError(LlrpError):
    """The peer sent bytes that are not valid LLRP (the device's fault, not ours)."""


class LlrpFramingError(LlrpDecodeError):
    """A message header announces an impossible length: the byte stream cannot be resynchronised."""


class LlrpEncodeError(LlrpError, ValueError):
    """We asked to encode a value that does not fit its LLRP field (our fault)."""


class LlrpConnectionClosed(LlrpError, ConnectionError):
    """The peer closed the TCP connection."""
