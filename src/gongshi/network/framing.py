"""Frames on a peer connection: a u32 big-endian payload length, then the payload.

Pure functions; the connection reads the 4-byte header, asks `frame_length` whether the
announced payload may be read at all (so an oversized frame is refused before a byte of it is
buffered) and then reads exactly that many bytes.
"""

from __future__ import annotations

from gongshi.network.errors import FrameTooLarge

FRAME_HEADER_BYTES = 4
# The wire format cannot announce more than this, whatever the configuration says.
FRAME_PAYLOAD_BYTES_LIMIT = 2**32 - 1


def encode_frame(payload: bytes, *, frame_bytes_max: int) -> bytes:
    """`payload` with its length header; FrameTooLarge if it exceeds `frame_bytes_max`."""
    assert 0 < frame_bytes_max <= FRAME_PAYLOAD_BYTES_LIMIT
    if len(payload) > frame_bytes_max:
        raise FrameTooLarge(len(payload), frame_bytes_max)
    return len(payload).to_bytes(FRAME_HEADER_BYTES, "big") + payload


def frame_length(header: bytes, *, frame_bytes_max: int) -> int:
    """The payload length a frame header announces; FrameTooLarge over `frame_bytes_max`."""
    assert len(header) == FRAME_HEADER_BYTES, "the caller reads exactly the header"
    length = int.from_bytes(header, "big")
    if length > frame_bytes_max:
        raise FrameTooLarge(length, frame_bytes_max)
    return length
