"""Errors of the peer network (codes 1700-1749).

A peer's bad input (an oversized or malformed frame, a refused certificate, a foreign chain)
never propagates to the node: the connection is closed, the reason logged and counted. These
classes name the reasons; the node sees them only where it misuses the API (an oversized body
to send) or the environment fails (the listen address cannot be bound).
"""

from __future__ import annotations

from gongshi.errors import (
    ConfigError,
    DecodeError,
    GongshiError,
    InvalidCertificate,
    SizeLimitExceeded,
    ValidationError,
)


class FrameTooLarge(SizeLimitExceeded):
    """Raised when a frame (received or to send) is longer than the configured maximum."""

    code = 1700
    reason = "oversized-frame"

    def __init__(self, size: int, size_max: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the limit of {size_max} bytes")
        self.size = size
        self.size_max = size_max


class MalformedFrame(DecodeError):
    """Raised when a frame's payload is not the canonical encoding of a valid message."""

    code = 1701
    reason = "malformed-frame"


class PeerRejected(InvalidCertificate):
    """Raised when a peer's certificate is valid but the peer may not connect now."""

    code = 1702
    reason = "peer-rejected"


class PeerNotAllowed(PeerRejected):
    """Raised when a peer's chain key is not in the allowed set (validators and observers)."""

    code = 1703
    reason = "not-allowed"


class UnexpectedPeer(PeerRejected):
    """Raised when the peer we dialled presents the certificate of another node."""

    code = 1704
    reason = "unexpected-peer"


class ProtocolMismatch(ValidationError):
    """Raised when a peer speaks another protocol version or runs another chain (genesis)."""

    code = 1705
    reason = "protocol-mismatch"


class HandshakeFailed(GongshiError):
    """Raised when a TLS handshake or the hello exchange fails, times out or is cut off."""

    code = 1706
    reason = "handshake"


class ListenFailed(ConfigError):
    """Raised when the network cannot listen on its configured address (in use, no such host)."""

    code = 1707
    reason = "listen"
