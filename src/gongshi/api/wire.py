"""The JSON form of Gongshi's data, shared by the API (which writes it) and the SDK (which
reads it). Depends only on the codec and the Merkle package, so the SDK can import it.

Conventions (docs/api.md):
- bytes are strings of lowercase hex with a `0x` prefix, everywhere;
- a record (header, transaction, receipt, certificate) is sent twice: as a readable object
  and as `<name>_raw`, its canonical CBOR encoding in hex. Clients that verify decode the raw
  form and never trust the readable one;
- CBOR values (contract args, return values, event fields) become JSON with bytes as `0x` hex
  strings; that readable form cannot tell bytes from a text that looks like hex, the raw form
  can.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gongshi.codec import (
    BlockHeader,
    CborValue,
    Event,
    QuorumCertificate,
    Receipt,
    Transaction,
)
from gongshi.errors import ValidationError
from gongshi.merkle.rfc6962 import PROOF_HASHES_MAX, InclusionProof

HEX_PREFIX = "0x"
HASH_SIZE = 32

Json = dict[str, Any]


class WireFormatError(ValidationError):
    """Raised when a JSON value is not of the documented wire form (hex, proof, ...)."""

    code = 1963


def to_hex(data: bytes) -> str:
    return HEX_PREFIX + data.hex()


def from_hex(
    text: object, *, what: str, sizes: tuple[int, ...] | None = None, size_max: int = 1 << 24
) -> bytes:
    """Bytes from `0x` hex; WireFormatError if it is not that, or not one of `sizes`."""
    if not isinstance(text, str) or not text.startswith(HEX_PREFIX):
        raise WireFormatError(f"{what} must be a 0x-prefixed hex string")
    if len(text) > 2 + 2 * size_max:
        raise WireFormatError(f"{what} is longer than {size_max} bytes")
    data = _hex_digits(text[2:])
    if data is None:
        raise WireFormatError(f"{what} is not valid hex (an even number of hex digits)")
    if sizes is not None and len(data) not in sizes:
        expected = " or ".join(str(size) for size in sizes)
        raise WireFormatError(f"{what} must be {expected} bytes, got {len(data)}")
    return data


def _hex_digits(body: str) -> bytes | None:
    """The bytes of `body` if it is an even number of hex digits and nothing else, else None.

    `bytes.fromhex` alone also skips whitespace; a skipped character shows as a length that
    is not twice the result's. (A regular expression for the same rule costs 20 times more
    on a transaction's 500 digits, once per `tx_send`.)"""
    try:
        data = bytes.fromhex(body)
    except ValueError:
        return None
    return data if 2 * len(data) == len(body) else None


def value_to_json(value: CborValue) -> Any:
    """A CBOR value as JSON: bytes as 0x hex, arrays as lists, maps as objects."""
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, tuple | list):
        return [value_to_json(item) for item in value]
    if isinstance(value, Mapping):
        return {key: value_to_json(item) for key, item in value.items()}
    return value


def value_from_json(value: Any, *, hex_as_bytes: bool = True) -> Any:
    """The inverse of `value_to_json` for input written by people (CLI `--args`): a string
    of `0x` and an even number of hex digits becomes bytes (the documented convention)."""
    if isinstance(value, str) and hex_as_bytes and value.startswith(HEX_PREFIX):
        try:
            return from_hex(value, what="value")
        except WireFormatError:
            return value
    if isinstance(value, list):
        return [value_from_json(item, hex_as_bytes=hex_as_bytes) for item in value]
    if isinstance(value, dict):
        return {
            key: value_from_json(item, hex_as_bytes=hex_as_bytes) for key, item in value.items()
        }
    return value


def header_to_json(header: BlockHeader) -> Json:
    return {
        "height": header.height,
        "parent_hash": to_hex(header.parent_hash),
        "tx_root": to_hex(header.tx_root),
        "receipts_root": to_hex(header.receipts_root),
        "state_root": to_hex(header.state_root),
        "timestamp_ms": header.timestamp_ms,
        "proposer": to_hex(header.proposer),
        "round": header.round,
        "config_version": header.config_version,
    }


def certificate_to_json(certificate: QuorumCertificate) -> Json:
    return {
        "phase": certificate.phase,
        "height": certificate.height,
        "round": certificate.round,
        "block_hash": to_hex(certificate.block_hash),
        "signers": list(certificate.signers),
        "signatures": [to_hex(signature) for signature in certificate.signatures],
    }


def transaction_to_json(tx: Transaction) -> Json:
    return {
        "chain_id": tx.chain_id,
        "nonce": tx.nonce,
        "sender": to_hex(tx.sender),
        "target": tx.target,
        "method": tx.method,
        "args": value_to_json(tx.args),
        "gas_limit": tx.gas_limit,
        "expiry_height": tx.expiry_height,
        "private_ref": None if tx.private_ref is None else to_hex(tx.private_ref),
        "signature": to_hex(tx.signature),
    }


def event_to_json(event: Event) -> Json:
    return {
        "contract": event.contract,
        "name": event.name,
        "fields": value_to_json(event.fields),
    }


def receipt_to_json(receipt: Receipt) -> Json:
    return {
        "tx_hash": to_hex(receipt.tx_hash),
        "status": receipt.status.name,
        "status_code": int(receipt.status),
        "gas_used": receipt.gas_used,
        "return_value": value_to_json(receipt.return_value),
        "error": receipt.error,
        "events": [event_to_json(event) for event in receipt.events],
    }


def inclusion_proof_to_json(proof: InclusionProof) -> Json:
    return {
        "leaf_index": proof.leaf_index,
        "tree_size": proof.tree_size,
        "hashes": [to_hex(node) for node in proof.hashes],
    }


def inclusion_proof_from_json(value: object) -> InclusionProof:
    """Parse a proof object strictly; WireFormatError on anything else."""
    if not isinstance(value, dict) or set(value) != {"leaf_index", "tree_size", "hashes"}:
        raise WireFormatError("an inclusion proof has leaf_index, tree_size and hashes")
    index, size, hashes = value["leaf_index"], value["tree_size"], value["hashes"]
    if type(index) is not int or type(size) is not int:
        raise WireFormatError("leaf_index and tree_size must be integers")
    if not isinstance(hashes, list) or len(hashes) > PROOF_HASHES_MAX:
        raise WireFormatError(f"hashes must be a list of at most {PROOF_HASHES_MAX}")
    return InclusionProof(
        leaf_index=index,
        tree_size=size,
        hashes=tuple(from_hex(h, what="proof hash", sizes=(HASH_SIZE,)) for h in hashes),
    )
