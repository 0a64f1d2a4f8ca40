"""What committing a block writes, computed and checked without touching a database.

`prepare_block` turns (block, receipts, certificate) into a `BlockRecord`: every encoding,
hash and index entry, after checking that the header's tx and receipts roots recompute (the
header is what the proposer signed and the quorum certified; a mismatch means our execution
disagrees with it: `InvariantViolation`, the node must stop). `fill_block_batch` puts the
record in a write batch. Both are pure; the ledger does the I/O.

A committer that already knows a block's transaction hashes, senders' addresses and receipt
encodings (the node: hashed at admission, encoded for the receipts root) passes them as
`BlockDigests`, so a commit does not hash every transaction again. They are trusted to
belong to the block's transactions (the committer computed them from those); the roots are
still derived from them and checked against the header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gongshi.codec import Block, BlockHeader, Receipt, encode
from gongshi.codec.limits import CERTIFICATE_BYTES_MAX
from gongshi.crypto.suite import Suite
from gongshi.errors import InvariantViolation
from gongshi.storage.errors import CertificateTooLarge
from gongshi.storage.kv import Batch
from gongshi.storage.roots import receipt_leaf_hashes, receipts_root_of_leaves, tx_root
from gongshi.storage.schema import (
    KeySpace,
    MetaKey,
    block_positions,
    encode_u64,
    event_position_suffix,
    event_prefix,
    height_key,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockRecord:
    """A block ready to be written: encodings, hashes and index entries, roots checked."""

    header: BlockHeader
    block_hash: bytes
    header_bytes: bytes
    tx_encodings: tuple[bytes, ...]
    tx_hashes: tuple[bytes, ...]
    receipt_encodings: tuple[bytes, ...]
    receipt_leaf_hashes: tuple[bytes, ...]
    events: tuple[tuple[bytes, bytes], ...]  # (EVENTS key, event encoding)
    next_nonces: Mapping[bytes, int]  # sender address -> nonce after this block
    certificate: bytes

    @property
    def height(self) -> int:
        return self.header.height


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockDigests:
    """What the committer computed already for a block, in block order: the transactions'
    hashes (`Transaction.hash`), their senders' addresses (`Suite.address`) and the receipts'
    canonical encodings. The commit derives both header roots from them (so what it stores
    provably matches the header)."""

    tx_hashes: tuple[bytes, ...]
    sender_addresses: tuple[bytes, ...]
    receipt_encodings: tuple[bytes, ...]


def prepare_block(
    suite: Suite,
    block: Block,
    receipts: Sequence[Receipt],
    certificate: bytes,
    digests: BlockDigests | None = None,
) -> BlockRecord:
    """Encode and check a block for commit; raises InvariantViolation if a root differs.
    `digests`, if given, replaces hashing the transactions and encoding the receipts again."""
    header = block.header
    height = header.height
    if not isinstance(certificate, bytes) or not certificate:
        raise InvariantViolation(f"block {height}: the finality certificate must be bytes")
    if len(certificate) > CERTIFICATE_BYTES_MAX:
        raise CertificateTooLarge(
            f"block {height}: certificate of {len(certificate)} bytes exceeds "
            f"{CERTIFICATE_BYTES_MAX}"
        )
    transactions = block.transactions
    if len(receipts) != len(transactions):
        raise InvariantViolation(
            f"block {height}: {len(receipts)} receipts for {len(transactions)} transactions"
        )
    if digests is None:
        tx_hashes = tuple(tx.hash(suite) for tx in transactions)
        senders = tuple(suite.address(tx.sender) for tx in transactions)
        receipt_encodings = tuple(encode(receipt) for receipt in receipts)
    else:
        _check_digest_counts(height, len(transactions), digests)
        tx_hashes = digests.tx_hashes
        senders = digests.sender_addresses
        receipt_encodings = digests.receipt_encodings
    for index, (tx_hash, receipt) in enumerate(zip(tx_hashes, receipts, strict=True)):
        if receipt.tx_hash != tx_hash:
            raise InvariantViolation(
                f"block {height}: receipt {index} is not for transaction {index}"
            )
    leaf_hashes = receipt_leaf_hashes(suite.hash, receipt_encodings)  # checked and stored
    check_roots(suite, header, tx_hashes, leaf_hashes)
    next_nonces: dict[bytes, int] = {}
    for tx, address in zip(transactions, senders, strict=True):
        next_nonces[address] = max(next_nonces.get(address, 0), tx.nonce + 1)
    header_bytes = encode(header)
    return BlockRecord(
        header=header,
        block_hash=suite.hash(header_bytes),
        header_bytes=header_bytes,
        tx_encodings=tuple(encode(tx) for tx in transactions),
        tx_hashes=tx_hashes,
        receipt_encodings=receipt_encodings,
        receipt_leaf_hashes=tuple(leaf_hashes),
        events=_event_entries(height, receipts),
        next_nonces=next_nonces,
        certificate=certificate,
    )


def _check_digest_counts(height: int, count: int, digests: BlockDigests) -> None:
    lengths = (
        len(digests.tx_hashes),
        len(digests.sender_addresses),
        len(digests.receipt_encodings),
    )
    if lengths != (count, count, count):
        raise InvariantViolation(
            f"block {height}: digests of {lengths} items for {count} transactions"
        )


def check_roots(
    suite: Suite,
    header: BlockHeader,
    tx_hashes: Sequence[bytes],
    receipt_leaf_hashes: Sequence[bytes],
) -> None:
    """Raise InvariantViolation unless the header's tx and receipts roots recompute from the
    transactions' hashes and the receipts' leaf hashes (`roots.receipt_leaf_hashes`)."""
    computed = tx_root(suite.hash, tx_hashes)
    if computed != header.tx_root:
        raise InvariantViolation(
            f"block {header.height}: tx root {computed.hex()} does not match the header's "
            f"{header.tx_root.hex()}"
        )
    computed = receipts_root_of_leaves(suite.hash, receipt_leaf_hashes)
    if computed != header.receipts_root:
        raise InvariantViolation(
            f"block {header.height}: receipts root {computed.hex()} does not match the "
            f"header's {header.receipts_root.hex()}"
        )


def _event_entries(height: int, receipts: Sequence[Receipt]) -> tuple[tuple[bytes, bytes], ...]:
    # A block's events come from a few (contract, name) pairs: encode each key prefix once.
    prefixes: dict[tuple[str, str], bytes] = {}
    entries = []
    for tx_index, receipt in enumerate(receipts):
        for event_index, event in enumerate(receipt.events):
            names = (event.contract, event.name)
            prefix = prefixes.get(names)
            if prefix is None:
                prefix = prefixes[names] = event_prefix(*names)
            key = prefix + event_position_suffix(height, tx_index, event_index)
            entries.append((key, encode(event)))
    return tuple(entries)


def fill_block_batch(batch: Batch, record: BlockRecord, stored_nonces: Mapping[bytes, int]) -> None:
    """Put the block, its certificate, receipts, indexes, nonces and the new committed height
    in `batch`. `stored_nonces` holds the committed next nonce of the block's senders: a nonce
    never goes down."""
    height = record.height
    put = batch.put
    key = height_key(height)
    put(KeySpace.HEADERS, key, record.header_bytes)
    put(KeySpace.CERTIFICATES, key, record.certificate)
    put(KeySpace.BLOCK_HASHES, record.block_hash, key)
    put(
        KeySpace.BLOCK_LEAVES,
        key,
        b"".join(record.tx_hashes) + b"".join(record.receipt_leaf_hashes),
    )
    positions = block_positions(height, len(record.tx_hashes))
    batch.put_many(KeySpace.TXS, zip(positions, record.tx_encodings, strict=True))
    batch.put_many(KeySpace.RECEIPTS, zip(positions, record.receipt_encodings, strict=True))
    batch.put_many(KeySpace.TX_INDEX, zip(record.tx_hashes, positions, strict=True))
    batch.put_many(KeySpace.EVENTS, record.events)
    for address, next_nonce in record.next_nonces.items():
        put(KeySpace.NONCES, address, encode_u64(max(next_nonce, stored_nonces.get(address, 0))))
    put(KeySpace.META, MetaKey.COMMITTED_HEIGHT, key)
    put(KeySpace.META, MetaKey.CONFIG_VERSION, encode_u64(record.header.config_version))
