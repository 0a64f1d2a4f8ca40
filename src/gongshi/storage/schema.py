"""The key layout of the ledger database: every key space and every key encoding, in one place.

All integers in keys are fixed-width big-endian, so bytewise key order is numeric order and a
"latest version <= h" lookup is one reverse seek. Variable-length parts of keys are length
prefixed, so no encoded key is a prefix of another (prefix-free): a scan over one logical key
never runs into a neighbour's entries. docs/storage.md has the same table in prose.

| space          | key                                              | value                       |
| -------------- | ------------------------------------------------ | --------------------------- |
| META           | name (ascii)                                     | see `MetaKey`               |
| HEADERS        | height u64                                       | header encoding             |
| TXS            | height u64, index u32                            | signed transaction encoding |
| CERTIFICATES   | height u64                                       | finality certificate bytes  |
| BLOCK_HASHES   | block hash                                       | height u64                  |
| TX_INDEX       | transaction hash                                 | height u64, index u32       |
| RECEIPTS       | height u64, index u32                            | receipt encoding            |
| BLOCK_LEAVES   | height u64                                       | tx hashes, then receipt     |
|                |                                                  | leaf hashes (32 bytes each) |
| EVENTS         | lp16 contract, lp16 name, height u64, tx u32,    | event encoding              |
|                | event u32                                        |                             |
| NONCES         | address (20 bytes)                               | next nonce u64              |
| STATE_VALUES   | lp16 state key, version u64                      | 0x01 value, or 0x00 deleted |
| STATE_CHANGES  | version u64, state key                           | empty                       |
| STATE_NODES    | tree node key (from the merkle package)          | encoded tree node           |
| STALE_NODES    | stale-since version u64, node key                | empty                       |
| STATE_HEAD     | state key                                        | version u64, then 0x01      |
|                |                                                  | value, or 0x00 deleted      |
| STATE_NAMESPACES | namespace (UTF-8)                              | last version written u64  |

`lp16 x` is `len(x)` as u16 followed by `x`. STATE_HEAD repeats each key's newest STATE_VALUES
entry so that reads at the head are point reads (docs/storage.md, "Head reads are point
reads").
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from enum import IntEnum
from typing import Final

from gongshi.storage.errors import InvalidStateKey

# 2: STATE_HEAD (the latest version of every state key) and STATE_NAMESPACES (the last
# version that wrote each namespace). A schema 1 database is upgraded on open
# (`state.fill_state_head_upgrade`).
SCHEMA_VERSION = 2
SCHEMA_VERSION_WITHOUT_STATE_HEAD = 1

HEIGHT_SIZE = 8
INDEX_SIZE = 4
HASH_SIZE = 32
HEIGHT_MAX = (1 << 64) - 1
INDEX_MAX = (1 << 32) - 1

# A state key is `u8 len(namespace) || namespace || key` (see `state_key`).
STATE_NAMESPACE_BYTES_MAX = 255
STATE_KEY_BYTES_MAX = 1024
EVENT_PART_BYTES_MAX = 0xFFFF

_HEIGHT = struct.Struct(">Q")
_HEIGHT_INDEX = struct.Struct(">QI")
_U16 = struct.Struct(">H")
_EVENT_POSITION = struct.Struct(">QII")


class KeySpace(IntEnum):
    """One key space each; RocksDB keeps each in its own column family."""

    META = 1
    HEADERS = 2
    TXS = 3
    CERTIFICATES = 4
    BLOCK_HASHES = 5
    TX_INDEX = 6
    RECEIPTS = 7
    BLOCK_LEAVES = 8
    EVENTS = 9
    NONCES = 10
    STATE_VALUES = 11
    STATE_CHANGES = 12
    STATE_NODES = 13
    STALE_NODES = 14
    STATE_HEAD = 15
    STATE_NAMESPACES = 16

    @property
    def column_family(self) -> str:
        return self.name.lower()


class MetaKey:
    """Keys of the META space."""

    SCHEMA_VERSION: Final = b"schema_version"  # u64
    SUITE: Final = b"suite"  # ascii suite name ("gm", "intl")
    COMMITTED_HEIGHT: Final = b"committed_height"  # u64; absent while the ledger is empty
    CONFIG_VERSION: Final = b"config_version"  # u64, the committed header's config_version
    STATE_PRUNED_BELOW: Final = b"state_pruned_below"  # u64; state below it may be pruned


# --- integers -------------------------------------------------------------------------------


def encode_u64(value: int) -> bytes:
    return _HEIGHT.pack(value)


def decode_u64(data: bytes) -> int:
    if len(data) != HEIGHT_SIZE:
        raise ValueError(f"expected {HEIGHT_SIZE} bytes, got {len(data)}")
    value: int = _HEIGHT.unpack(data)[0]
    return value


def height_key(height: int) -> bytes:
    return _HEIGHT.pack(height)


def position_key(height: int, index: int) -> bytes:
    """Key of the transaction / receipt at `index` in the block at `height`."""
    return _HEIGHT_INDEX.pack(height, index)


def block_positions(height: int, count: int) -> list[bytes]:
    """`position_key(height, index)` for index 0..count-1 (a block's transactions at once)."""
    prefix = _HEIGHT.pack(height)
    return [prefix + index.to_bytes(INDEX_SIZE, "big") for index in range(count)]


def decode_position(data: bytes) -> tuple[int, int]:
    if len(data) != HEIGHT_SIZE + INDEX_SIZE:
        raise ValueError(f"expected {HEIGHT_SIZE + INDEX_SIZE} bytes, got {len(data)}")
    height, index = _HEIGHT_INDEX.unpack(data)
    return int(height), int(index)


def block_range(height: int) -> tuple[bytes, bytes]:
    """[start, stop) of the TXS / RECEIPTS keys of the block at `height`."""
    assert 0 <= height < HEIGHT_MAX
    return position_key(height, 0), _HEIGHT.pack(height + 1)


# --- state keys -----------------------------------------------------------------------------


def state_key(namespace: str, key: bytes) -> bytes:
    """The raw state key of `key` in a contract's `namespace`: `u8 len(ns) || ns || key`.

    `namespace` is UTF-8, 1..255 bytes (a system contract name or a hex contract address);
    the length byte makes the pair encoding prefix-free: ("a", b"bc") != ("ab", b"c").
    This is the key the state tree hashes, so SDKs build it the same way to check a proof.
    """
    if not isinstance(namespace, str) or not isinstance(key, bytes):
        raise InvalidStateKey("state namespace must be str and key bytes")
    encoded = namespace.encode("utf-8")
    if not 1 <= len(encoded) <= STATE_NAMESPACE_BYTES_MAX:
        raise InvalidStateKey(
            f"state namespace must be 1..{STATE_NAMESPACE_BYTES_MAX} bytes, got {len(encoded)}"
        )
    raw = bytes([len(encoded)]) + encoded + key
    if len(raw) > STATE_KEY_BYTES_MAX:
        raise InvalidStateKey(f"state key is {len(raw)} bytes, more than {STATE_KEY_BYTES_MAX}")
    return raw


def namespace_of_state_key(raw: bytes) -> bytes:
    """The UTF-8 namespace of a raw state key checked by `check_raw_state_key`."""
    return raw[1 : 1 + raw[0]]


def split_state_key(raw: bytes) -> tuple[str, bytes]:
    """Inverse of `state_key`; raises InvalidStateKey for bytes it did not produce."""
    check_raw_state_key(raw)
    size = raw[0]
    try:
        namespace = raw[1 : 1 + size].decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidStateKey("state namespace is not UTF-8") from error
    return namespace, raw[1 + size :]


def check_raw_state_key(raw: bytes) -> None:
    """Raise InvalidStateKey unless `raw` is shaped like a `state_key` output."""
    if not isinstance(raw, bytes) or not 2 <= len(raw) <= STATE_KEY_BYTES_MAX:
        raise InvalidStateKey(f"a raw state key must be bytes of 2..{STATE_KEY_BYTES_MAX}")
    if raw[0] == 0 or 1 + raw[0] > len(raw):
        raise InvalidStateKey("raw state key has a bad namespace length")


def state_value_key(raw: bytes, version: int) -> bytes:
    return _U16.pack(len(raw)) + raw + _HEIGHT.pack(version)


def state_value_keys(raws: Iterable[bytes], version: int) -> list[bytes]:
    """`state_value_key(raw, version)` of each of `raws` (a block's writes at once)."""
    suffix = _HEIGHT.pack(version)
    return [len(raw).to_bytes(2, "big") + raw + suffix for raw in raws]


def state_value_prefix(raw: bytes) -> bytes:
    return _U16.pack(len(raw)) + raw


def version_of_state_value_key(key: bytes) -> int:
    return decode_u64(key[-HEIGHT_SIZE:])


TOMBSTONE = b"\x00"
_PRESENT = b"\x01"


def encode_state_value(value: bytes | None) -> bytes:
    return TOMBSTONE if value is None else _PRESENT + value


def encode_state_values(values: Iterable[bytes | None]) -> list[bytes]:
    """`encode_state_value` of each of `values`."""
    return [TOMBSTONE if value is None else _PRESENT + value for value in values]


def decode_state_value(data: bytes) -> bytes | None:
    if data == TOMBSTONE:
        return None
    if not data or data[:1] != _PRESENT:
        raise ValueError("bad state value tag")
    return data[1:]


def encode_state_head(version: int, value: bytes | None) -> bytes:
    """A STATE_HEAD value: the version the key was last written at, then its stored value."""
    return _HEIGHT.pack(version) + encode_state_value(value)


def split_state_head(data: bytes) -> tuple[int, bytes]:
    """(version, stored value) of a STATE_HEAD value; `decode_state_value` reads the second."""
    if len(data) <= HEIGHT_SIZE:
        raise ValueError("state head entry is too short")
    version: int = _HEIGHT.unpack_from(data)[0]
    return version, data[HEIGHT_SIZE:]


def state_change_key(version: int, raw: bytes) -> bytes:
    return _HEIGHT.pack(version) + raw


def stale_node_key(stale_since: int, node_key: bytes) -> bytes:
    return _HEIGHT.pack(stale_since) + node_key


# --- events ---------------------------------------------------------------------------------


def _lp16(part: str) -> bytes:
    encoded = part.encode("utf-8")
    if len(encoded) > EVENT_PART_BYTES_MAX:
        raise ValueError("event contract or name too long")
    return _U16.pack(len(encoded)) + encoded


def event_prefix(contract: str, name: str) -> bytes:
    return _lp16(contract) + _lp16(name)


def event_position_suffix(height: int, tx_index: int, event_index: int) -> bytes:
    """The part of an EVENTS key after `event_prefix`."""
    return _EVENT_POSITION.pack(height, tx_index, event_index)


def event_key(contract: str, name: str, height: int, tx_index: int, event_index: int) -> bytes:
    return event_prefix(contract, name) + _EVENT_POSITION.pack(height, tx_index, event_index)


def decode_event_position(key: bytes) -> tuple[int, int, int]:
    """(height, tx index, event index) from the tail of an EVENTS key."""
    height, tx_index, event_index = struct.unpack(">QII", key[-16:])
    return int(height), int(tx_index), int(event_index)
