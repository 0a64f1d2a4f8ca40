"""Canonical types and their deterministic CBOR encoding (RFC 8949 §4.2.1).

    from gongshi.codec import Transaction, encode, decode
    data = encode(tx)                      # canonical bytes
    tx2 = decode(Transaction, data)        # DecodeError / EncodingTooLarge on anything else

Encoding rules and field tables: `SPEC.md` beside this file.
"""

from gongshi.codec.block import Block, BlockHeader
from gongshi.codec.cbor import CborValue, decode_value, encode_value, frozendict
from gongshi.codec.hashing import Hasher, digest
from gongshi.codec.qc import QuorumCertificate
from gongshi.codec.receipt import Event, Receipt, ReceiptStatus
from gongshi.codec.record import Record, decode, encode, encode_without, record
from gongshi.codec.transaction import Transaction

__all__ = [
    "Block",
    "BlockHeader",
    "CborValue",
    "Event",
    "Hasher",
    "QuorumCertificate",
    "Receipt",
    "ReceiptStatus",
    "Record",
    "Transaction",
    "decode",
    "decode_value",
    "digest",
    "encode",
    "encode_value",
    "encode_without",
    "frozendict",
    "record",
]
