"""Reading committed data back: blocks, transactions, receipts, events and nonces.

Functions of a `KVStore`, no state of their own. Stored bytes that do not decode mean the
database is damaged: they raise `LedgerIntegrityError` naming the height, never a raw error.
Query results that clients verify carry what they need: the inclusion proof and its root.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from gongshi.codec import Block, BlockHeader, Event, Receipt, Record, Transaction, decode
from gongshi.errors import GongshiError
from gongshi.merkle.rfc6962 import InclusionProof
from gongshi.storage.errors import (
    BlockNotFound,
    InvalidQuery,
    LedgerIntegrityError,
    TransactionNotFound,
)
from gongshi.storage.kv import KVStore, prefix_stop
from gongshi.storage.schema import (
    HASH_SIZE,
    HEIGHT_MAX,
    INDEX_MAX,
    KeySpace,
    block_range,
    decode_event_position,
    decode_position,
    decode_u64,
    encode_u64,
    event_key,
    event_prefix,
    height_key,
    position_key,
)

EVENT_PAGE_SIZE_MAX = 1000

R = TypeVar("R", bound=Record)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionWithProof:
    """A committed transaction, where it is, and its RFC 6962 proof against `tx_root`
    (leaf data: the transaction hash)."""

    transaction: Transaction
    tx_hash: bytes
    height: int
    index: int
    proof: InclusionProof
    tx_root: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptWithProof:
    """A receipt and its RFC 6962 proof against `receipts_root` (leaf data: its encoding)."""

    receipt: Receipt
    tx_hash: bytes
    height: int
    index: int
    proof: InclusionProof
    receipts_root: bytes


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class EventPosition:
    """Where an event was emitted: block height, transaction index, event index."""

    height: int
    tx_index: int
    event_index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    position: EventPosition
    event: Event


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPage:
    """One page of an event query; pass `next_after` as `after` to get the next page."""

    events: tuple[EventRecord, ...]
    next_after: EventPosition | None


def decode_stored(cls: type[R], data: bytes, height: int) -> R:
    try:
        return decode(cls, data)
    except GongshiError as error:
        raise LedgerIntegrityError(
            height, f"stored {cls.__name__} does not decode: {error}"
        ) from error


def committed_header_bytes(store: KVStore, height: int) -> bytes:
    data = store.get(KeySpace.HEADERS, height_key(height))
    if data is None:
        raise BlockNotFound(f"no committed block at height {height}")
    return data


def load_header(store: KVStore, height: int) -> BlockHeader:
    return decode_stored(BlockHeader, committed_header_bytes(store, height), height)


def load_transactions(store: KVStore, height: int) -> tuple[Transaction, ...]:
    start, stop = block_range(height)
    return tuple(
        decode_stored(Transaction, data, height)
        for _, data in store.scan(KeySpace.TXS, start, stop)
    )


def load_block(store: KVStore, height: int) -> Block:
    header = load_header(store, height)
    return Block(header=header, transactions=load_transactions(store, height))


def load_receipts(store: KVStore, height: int) -> tuple[Receipt, ...]:
    start, stop = block_range(height)
    return tuple(
        decode_stored(Receipt, data, height)
        for _, data in store.scan(KeySpace.RECEIPTS, start, stop)
    )


def height_of_block(store: KVStore, block_hash: bytes) -> int:
    data = store.get(KeySpace.BLOCK_HASHES, block_hash) if isinstance(block_hash, bytes) else None
    if data is None:
        raise BlockNotFound("no committed block has this hash")
    return decode_u64(data)


def load_certificate(store: KVStore, height: int) -> bytes:
    data = store.get(KeySpace.CERTIFICATES, height_key(height))
    if data is None:
        raise BlockNotFound(f"no committed block at height {height}")
    return data


def load_block_leaves(store: KVStore, height: int) -> tuple[list[bytes], list[bytes]]:
    """(transaction hashes, receipt leaf hashes) of the block at `height`."""
    data = store.get(KeySpace.BLOCK_LEAVES, height_key(height))
    if data is None:
        raise BlockNotFound(f"no committed block at height {height}")
    if len(data) % (2 * HASH_SIZE):
        raise LedgerIntegrityError(height, "stored block leaves have a bad length")
    hashes = [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
    half = len(hashes) // 2
    return hashes[:half], hashes[half:]


def locate_transaction(store: KVStore, tx_hash: bytes) -> tuple[int, int]:
    """(height, index) of a committed transaction."""
    data = store.get(KeySpace.TX_INDEX, tx_hash) if isinstance(tx_hash, bytes) else None
    if data is None:
        raise TransactionNotFound("no committed transaction has this hash")
    return decode_position(data)


def load_transaction_at(store: KVStore, height: int, index: int) -> Transaction:
    data = store.get(KeySpace.TXS, position_key(height, index))
    if data is None:
        raise LedgerIntegrityError(height, f"indexed transaction {index} is missing")
    return decode_stored(Transaction, data, height)


def load_receipt_at(store: KVStore, height: int, index: int) -> Receipt:
    data = store.get(KeySpace.RECEIPTS, position_key(height, index))
    if data is None:
        raise LedgerIntegrityError(height, f"receipt {index} is missing")
    return decode_stored(Receipt, data, height)


def load_nonce(store: KVStore, address: bytes) -> int:
    """The next nonce the account must use (0 for an account never seen)."""
    data = store.get(KeySpace.NONCES, address) if isinstance(address, bytes) else None
    return 0 if data is None else decode_u64(data)


def query_events(
    store: KVStore,
    *,
    contract: str,
    name: str,
    from_height: int,
    to_height: int,
    limit: int,
    after: EventPosition | None = None,
) -> EventPage:
    """Events `name` of `contract` emitted at heights in [from_height, to_height], in chain
    order, at most `limit` of them, starting after `after` (the previous page's end)."""
    if not 1 <= limit <= EVENT_PAGE_SIZE_MAX:
        raise InvalidQuery(f"page size must be 1..{EVENT_PAGE_SIZE_MAX}, got {limit}")
    if not 0 <= from_height <= to_height <= HEIGHT_MAX:
        raise InvalidQuery(f"bad height range [{from_height}, {to_height}]")
    try:
        prefix = event_prefix(contract, name)
        start = event_key(contract, name, from_height, 0, 0)
        if after is not None:
            start = max(start, _after(contract, name, after))
    except (ValueError, AttributeError, TypeError) as error:
        raise InvalidQuery(f"bad event query: {error}") from error
    stop = prefix + encode_u64(to_height + 1) if to_height < HEIGHT_MAX else prefix_stop(prefix)
    records: list[EventRecord] = []
    for key, data in store.scan(KeySpace.EVENTS, start, stop):
        height, tx_index, event_index = decode_event_position(key)
        position = EventPosition(height=height, tx_index=tx_index, event_index=event_index)
        if len(records) == limit:
            return EventPage(events=tuple(records), next_after=records[-1].position)
        records.append(EventRecord(position=position, event=decode_stored(Event, data, height)))
    return EventPage(events=tuple(records), next_after=None)


def _after(contract: str, name: str, position: EventPosition) -> bytes:
    """The first EVENTS key strictly after `position`."""
    if not (
        0 <= position.height <= HEIGHT_MAX
        and 0 <= position.tx_index <= INDEX_MAX
        and 0 <= position.event_index <= INDEX_MAX
    ):
        raise ValueError("event position out of range")
    return (
        event_key(contract, name, position.height, position.tx_index, position.event_index)
        + b"\x00"
    )
