"""The `notary` system contract: evidence notarization (存证).

A member registers a document's hash (with bounded metadata and an optional off-chain
locator) under its own address; the record also keeps the height, transaction hash and block
time, so anyone can later prove *who* registered *what* and *when*. A hash is registered once.

State (namespace `notary`; the first byte is the kind, so kinds never collide):

| key                                   | value                           |
| ------------------------------------- | ------------------------------- |
| `r` + document hash (32)              | `NotaryRecord` encoding         |
| `n` + owner address (20)              | owner's record count, u64 BE    |
| `i` + owner address + sequence u64 BE | document hash (the owner index) |
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import cbor2

from gongshi.codec import CborValue, Record, encode_value, frozendict, record
from gongshi.codec.fields import HASH, UINT64
from gongshi.codec.kinds import Bytes, Optional, Text, Value
from gongshi.errors import DecodeError
from gongshi.execution.args import Args
from gongshi.execution.context import ReadCall, WriteCall
from gongshi.execution.errors import AlreadyRegistered, CorruptRecord, InvalidArguments
from gongshi.execution.registry import (
    ContractRegistry,
    ReadMethod,
    SystemContract,
    WriteMethod,
)
from gongshi.execution.registry import query as registry_query
from gongshi.execution.state import StateReader

NAME = "notary"
DOC_HASH_SIZE = 32
ADDRESS_SIZE = 20
METADATA_ENTRIES_MAX = 32
METADATA_BYTES_MAX = 2048
LOCATOR_BYTES_MAX = 512
LIST_LIMIT_DEFAULT = 20
LIST_LIMIT_MAX = 50
_U64 = struct.Struct(">Q")


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class NotaryRecord(Record):
    """One notarized document."""

    encoded_bytes_max: ClassVar[int] = 4096

    doc_hash: Annotated[bytes, HASH]
    owner: Annotated[bytes, Bytes(sizes=(ADDRESS_SIZE,))]
    # Position in the owner's index (0 for its first record).
    sequence: Annotated[int, UINT64]
    height: Annotated[int, UINT64]
    tx_hash: Annotated[bytes, HASH]
    timestamp_ms: Annotated[int, UINT64]
    metadata: Annotated[CborValue, Value(map_only=True)]
    locator: Annotated[str | None, Optional(Text(bytes_max=LOCATOR_BYTES_MAX))] = None

    def to_value(self) -> CborValue:
        """The record as a map, as `get`, `list` and receipts return it."""
        value: dict[str, CborValue] = {
            "doc_hash": self.doc_hash,
            "owner": self.owner,
            "sequence": self.sequence,
            "height": self.height,
            "tx_hash": self.tx_hash,
            "timestamp_ms": self.timestamp_ms,
            "metadata": self.metadata,
        }
        if self.locator is not None:
            value["locator"] = self.locator
        return frozendict(value)


def record_key(doc_hash: bytes) -> bytes:
    return b"r" + doc_hash


def count_key(owner: bytes) -> bytes:
    return b"n" + owner


def index_key(owner: bytes, sequence: int) -> bytes:
    return b"i" + owner + _U64.pack(sequence)


def _decode_record(data: bytes, doc_hash: bytes) -> NotaryRecord:
    try:
        return NotaryRecord.decode(data)
    except DecodeError as error:
        raise CorruptRecord(f"notary record {doc_hash.hex()}: {error}") from error


def _load_count(call: ReadCall, owner: bytes) -> int:
    data = call.storage.get(count_key(owner))
    if data is None:
        return 0
    if len(data) != _U64.size:
        raise CorruptRecord(f"notary count of {owner.hex()} is {len(data)} bytes")
    count: int = _U64.unpack(data)[0]
    return count


def _check_metadata(metadata: Mapping[str, CborValue]) -> None:
    if len(metadata) > METADATA_ENTRIES_MAX:
        raise InvalidArguments(f"register: metadata has more than {METADATA_ENTRIES_MAX} entries")
    # Frozen and canonical when it comes from a transaction's args: dumps is its encoding.
    size = len(cbor2.dumps(metadata) if type(metadata) is frozendict else encode_value(metadata))
    if size > METADATA_BYTES_MAX:
        raise InvalidArguments(
            f"register: metadata is {size} bytes encoded, more than {METADATA_BYTES_MAX}"
        )


def register(call: WriteCall, args: Args) -> CborValue:
    """Register `doc_hash` under the sender; FAILED if anyone registered it before.

    Returns {owner, sequence}: the record's place in the owner's index (`get` has the rest)."""
    doc_hash = args.bytes_("doc_hash", sizes=(DOC_HASH_SIZE,))
    metadata = args.map_("metadata")
    _check_metadata(metadata)
    locator = args.text("locator", bytes_max=LOCATOR_BYTES_MAX, required=False)
    existing = call.storage.get(record_key(doc_hash))
    if existing is not None:
        earlier = _decode_record(existing, doc_hash)
        raise AlreadyRegistered(
            f"document {doc_hash.hex()} is already registered by 0x{earlier.owner.hex()} "
            f"at height {earlier.height}"
        )
    owner = call.sender.address
    sequence = _load_count(call, owner)
    fields: dict[str, Any] = {
        "doc_hash": doc_hash,
        "owner": owner,
        "sequence": sequence,
        "height": call.block.height,
        "tx_hash": call.tx_hash,
        "timestamp_ms": call.block.timestamp_ms,
        "metadata": metadata,
        "locator": locator,
    }
    # Every field is checked already: the arguments above (`args` is frozen, so `metadata` is
    # a canonical frozendict), the sender's address, the header's fields, the admitted
    # transaction's hash. Any other map means a caller broke `Args`' invariant: check it all.
    if type(metadata) is frozendict:
        entry = NotaryRecord.from_checked(**fields)
    else:
        entry = NotaryRecord(**fields)
    call.storage.set(record_key(doc_hash), entry.encode())
    call.storage.set(index_key(owner, sequence), doc_hash)
    call.storage.set(count_key(owner), _U64.pack(sequence + 1))
    # Built frozen, in canonical key order, so the event takes it as it is.
    event: Mapping[str, CborValue] = frozendict(
        {"owner": owner, "doc_hash": doc_hash, "sequence": sequence}
    )
    call.emit("Registered", event)
    # Keys in canonical order (shorter first), so the receipt need not re-sort them.
    return frozendict({"owner": owner, "sequence": sequence})


def get(call: ReadCall, args: Args) -> CborValue:
    """The record of `doc_hash`, or null if it was never registered."""
    doc_hash = args.bytes_("doc_hash", sizes=(DOC_HASH_SIZE,))
    data = call.storage.get(record_key(doc_hash))
    return None if data is None else _decode_record(data, doc_hash).to_value()


def list_records(call: ReadCall, args: Args) -> CborValue:
    """A page of `owner`'s records in registration order: `limit` from position `start`.

    Returns {owner, total, records, next}; `next` is the `start` of the following page, or
    null after the last one. Reads only the page's entries, never the whole index."""
    owner = args.bytes_("owner", sizes=(ADDRESS_SIZE,))
    start = args.uint("start", default=0, maximum=2**64 - 1)
    limit = args.uint("limit", default=LIST_LIMIT_DEFAULT, maximum=LIST_LIMIT_MAX)
    total = _load_count(call, owner)
    records: list[CborValue] = []
    for sequence in range(start, min(total, start + limit)):
        doc_hash = call.storage.get(index_key(owner, sequence))
        if doc_hash is None:
            raise CorruptRecord(f"notary index of {owner.hex()} lacks entry {sequence}")
        data = call.storage.get(record_key(doc_hash))
        if data is None:
            raise CorruptRecord(f"notary index of {owner.hex()} names a missing record")
        records.append(_decode_record(data, doc_hash).to_value())
    end = start + len(records)
    return frozendict(
        {
            "owner": owner,
            "total": total,
            "records": tuple(records),
            "next": end if end < total else None,
        }
    )


NOTARY = SystemContract(
    name=NAME,
    methods={
        "register": WriteMethod(
            handler=register, arguments=frozenset({"doc_hash", "metadata", "locator"})
        ),
        "get": ReadMethod(handler=get, arguments=frozenset({"doc_hash"})),
        "list": ReadMethod(handler=list_records, arguments=frozenset({"owner", "start", "limit"})),
    },
)


def query(state: StateReader, method: str, args: object) -> CborValue:
    """Run notary's read-only `method` (`get`, `list`) against `state`, without a
    transaction: the path the API serves."""
    return registry_query(ContractRegistry(contracts={NAME: NOTARY}), state, NAME, method, args)
