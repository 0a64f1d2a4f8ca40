"""Evidence notarization (存证) from the client side: hashing documents, reading records.

A record is read with its proof: `notary_get` returns the record's encoding at its state
key (`notary`, `"r" || doc_hash`) with a state proof, and the SDK decodes the *proven*
bytes, never the node's readable copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gongshi.codec import CborValue
from gongshi.crypto import Suite
from gongshi.sdk.errors import MalformedResponse, ProofMismatch, SdkError
from gongshi.sdk.verify import VerifiedState, decode_record_value

NAMESPACE = "notary"
DOC_HASH_SIZE = 32
FILE_BYTES_MAX = 1 << 30  # documents are hashed in memory (the suite hash is one call)


def record_key(doc_hash: bytes) -> bytes:
    """The key of a record in the notary namespace (as the contract stores it)."""
    return b"r" + doc_hash


def hash_file(suite: Suite, path: Path) -> bytes:
    """The document hash the chain uses: the suite hash (SM3 or SHA-256) of the file."""
    try:
        size = path.stat().st_size
        if size > FILE_BYTES_MAX:
            raise SdkError(f"{path} is larger than {FILE_BYTES_MAX} bytes")
        return suite.hash(path.read_bytes())
    except OSError as error:
        raise SdkError(f"cannot read {path}: {error.strerror or error}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class NotaryRecord:
    doc_hash: bytes
    owner: bytes
    sequence: int
    height: int
    tx_hash: bytes
    timestamp_ms: int
    metadata: Mapping[str, CborValue]
    locator: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvenRecord:
    """A notary lookup: the record (None: never registered) and the state read proving it."""

    record: NotaryRecord | None
    state: VerifiedState


def record_from_value(value: CborValue) -> NotaryRecord:
    """A record from its decoded encoding; MalformedResponse if fields are missing or wrong."""
    if not isinstance(value, Mapping):
        raise MalformedResponse("a notary record is a map")
    metadata = value.get("metadata")
    locator = value.get("locator")
    if not isinstance(metadata, Mapping) or not (locator is None or isinstance(locator, str)):
        raise MalformedResponse("a notary record's metadata or locator has the wrong type")
    return NotaryRecord(
        doc_hash=_bytes(value, "doc_hash"),
        owner=_bytes(value, "owner"),
        sequence=_uint(value, "sequence"),
        height=_uint(value, "height"),
        tx_hash=_bytes(value, "tx_hash"),
        timestamp_ms=_uint(value, "timestamp_ms"),
        metadata=metadata,
        locator=locator,
    )


def _bytes(value: Mapping[str, CborValue], name: str) -> bytes:
    item = value.get(name)
    if not isinstance(item, bytes):
        raise MalformedResponse(f"notary record field {name} is not bytes")
    return item


def _uint(value: Mapping[str, CborValue], name: str) -> int:
    item = value.get(name)
    if type(item) is not int or item < 0:
        raise MalformedResponse(f"notary record field {name} is not an unsigned integer")
    return item


def proven_record(state: VerifiedState, doc_hash: bytes) -> ProvenRecord:
    """The record in a verified state read of `record_key(doc_hash)`."""
    if state.namespace != NAMESPACE or state.key != record_key(doc_hash):
        raise ProofMismatch("the state read is not of this document's record")
    if state.value is None:
        return ProvenRecord(record=None, state=state)
    record = record_from_value(decode_record_value(state.value))
    if record.doc_hash != doc_hash:
        raise ProofMismatch("the proven record is of another document")
    return ProvenRecord(record=record, state=state)
