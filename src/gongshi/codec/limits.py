"""Bounds of the canonical codec: one place, checked against each other at import."""

from __future__ import annotations

# CBOR's native integer range (major types 0 and 1); larger values would need bignum tags.
CBOR_INT_MIN = -(2**64)
CBOR_INT_MAX = 2**64 - 1
UINT64_MAX = 2**64 - 1

# Nesting of arrays and maps inside one free-form value (`args`, `return_value`, event fields).
VALUE_DEPTH_MAX = 16
# Nesting of a whole encoded item, records included; given to the CBOR decoder so hostile
# input cannot recurse deeply. Block > transactions > transaction > args leaves 29 levels.
DECODE_DEPTH_MAX = 32

HASH_SIZE = 32
ADDRESS_SIZE = 20
# Raw public keys of the two suites: Ed25519 (32 bytes) and SM2 uncompressed 04||x||y (65).
PUBLIC_KEY_SIZES = (32, 65)
# Signatures of both suites are 64 bytes (Ed25519; SM2 as raw r||s).
SIGNATURE_SIZE = 64

TEXT_NAME_BYTES_MAX = 64
ERROR_MESSAGE_BYTES_MAX = 4096

# Default `max_size` of `decode` per type: a caller with a tighter budget passes its own.
TRANSACTION_BYTES_MAX = 256 * 1024
HEADER_BYTES_MAX = 4 * 1024
BLOCK_BYTES_MAX = 64 * 1024 * 1024
RECEIPT_BYTES_MAX = 256 * 1024
EVENT_BYTES_MAX = 64 * 1024
CERTIFICATE_BYTES_MAX = 256 * 1024
VALUE_BYTES_MAX = 1024 * 1024

BLOCK_TRANSACTIONS_MAX = 100_000
RECEIPT_EVENTS_MAX = 1024
# Validator indices in a quorum certificate are below this.
VALIDATORS_MAX = 4096

# Invariant: a free-form value nested in the deepest record still fits the decoder's bound.
assert VALUE_DEPTH_MAX + 3 <= DECODE_DEPTH_MAX
assert HEADER_BYTES_MAX < BLOCK_BYTES_MAX
assert TRANSACTION_BYTES_MAX < BLOCK_BYTES_MAX
assert EVENT_BYTES_MAX <= RECEIPT_BYTES_MAX
