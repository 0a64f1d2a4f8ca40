"""What travels in frames: one `Hello` each way to open a connection, then `Envelope`s.

An envelope is a message kind and opaque body bytes: the consensus, mempool and sync layers
encode their own bodies; the transport only routes by kind and applies the kind's queueing
policy (`Lane`). Both are codec records, so a payload is accepted only if it is the canonical
encoding of a valid record.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, ClassVar, TypeVar

from gongshi.codec.errors import EncodingTooLarge
from gongshi.codec.fields import UINT64
from gongshi.codec.kinds import Bytes, Enum
from gongshi.codec.limits import BLOCK_BYTES_MAX
from gongshi.codec.record import Record, decode, record
from gongshi.errors import DecodeError
from gongshi.network.errors import FrameTooLarge, MalformedFrame

PROTOCOL_VERSION = 1
# An envelope's body is at most a block plus its certificate and framing of the sync layer.
BODY_BYTES_MAX = BLOCK_BYTES_MAX + (1 << 20)
# CBOR overhead of the envelope map around its body (map, two keys, kind, length heads).
ENVELOPE_OVERHEAD_BYTES_MAX = 32
GENESIS_HASH_BYTES_MAX = 64

R = TypeVar("R", bound=Record)


class MessageKind(enum.IntEnum):
    """What an envelope's body is. Values are on the wire: add, never renumber."""

    TX_GOSSIP = 1  # a batch of encoded transactions
    CONSENSUS = 2  # proposal, vote, timeout
    SYNC_REQUEST = 3  # ask for committed blocks from a height
    SYNC_RESPONSE = 4  # committed blocks with their quorum certificates
    STATUS = 5  # height / round announcement
    TX_FETCH_REQUEST = 6  # transactions a proposal names by hash and this node lacks
    TX_FETCH_RESPONSE = 7  # the transactions asked for


class Lane(enum.Enum):
    """How a kind is queued when a peer is slower than we are (see docs/network.md).

    GOSSIP: best effort; a full queue drops its oldest message (newer gossip and status
    supersede older). RELIABLE: never dropped while the connection lives; a full queue means
    the peer cannot keep up, and the connection is closed (the protocols above recover from
    lost messages by timeouts and block sync) instead of holding unbounded memory."""

    GOSSIP = "gossip"
    RELIABLE = "reliable"


LANE_OF_KIND: dict[MessageKind, Lane] = {
    MessageKind.TX_GOSSIP: Lane.GOSSIP,
    MessageKind.STATUS: Lane.GOSSIP,
    MessageKind.CONSENSUS: Lane.RELIABLE,
    MessageKind.SYNC_REQUEST: Lane.RELIABLE,
    MessageKind.SYNC_RESPONSE: Lane.RELIABLE,
    MessageKind.TX_FETCH_REQUEST: Lane.RELIABLE,
    MessageKind.TX_FETCH_RESPONSE: Lane.RELIABLE,
}
# Invariant: every kind has a lane.
assert set(LANE_OF_KIND) == set(MessageKind)


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope(Record):
    """One message between peers."""

    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX + ENVELOPE_OVERHEAD_BYTES_MAX

    kind: Annotated[MessageKind, Enum(MessageKind)]
    body: Annotated[bytes, Bytes(size_min=0, size_max=BODY_BYTES_MAX)]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class Hello(Record):
    """The first frame each side sends once TLS is up and the peer's certificate is accepted.

    The dialler learns from it that the listener accepted its certificate (in TLS 1.3 the
    client finishes its handshake before the server has checked the client's certificate),
    and both sides refuse a peer of another protocol version or chain."""

    encoded_bytes_max: ClassVar[int] = 256

    protocol_version: Annotated[int, UINT64]
    # The genesis hash of the sender's chain; empty when the sender does not pin one.
    genesis_hash: Annotated[bytes, Bytes(size_min=0, size_max=GENESIS_HASH_BYTES_MAX)]


def decode_payload(cls: type[R], payload: bytes, *, size_max: int) -> R:
    """Decode a frame's payload as a `cls` record; MalformedFrame or FrameTooLarge."""
    try:
        return decode(cls, payload, max_size=size_max)
    except EncodingTooLarge as error:
        raise FrameTooLarge(error.size, error.size_max) from error
    except DecodeError as error:
        raise MalformedFrame(f"payload is not a valid {cls.__name__}: {error.message}") from error
