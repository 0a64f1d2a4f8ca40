"""A transaction ready for a block: decoded, hashed, sized, its sender's address known.

Hashing and decoding happen once, at admission (or when a replica fetches a transaction it
lacks); proposal checks, execution and the mempool all work on `PreparedTransaction`s.
"""

from __future__ import annotations

from dataclasses import dataclass

from gongshi.codec import Transaction, decode, encode
from gongshi.crypto import Suite


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedTransaction:
    tx: Transaction
    tx_hash: bytes
    # Bytes of the transaction's canonical encoding (what counts against block limits).
    size: int
    sender_address: bytes

    @classmethod
    def from_transaction(cls, tx: Transaction, suite: Suite) -> PreparedTransaction:
        return cls(
            tx=tx,
            tx_hash=tx.hash(suite),
            size=len(encode(tx)),
            sender_address=suite.address(tx.sender),
        )

    @classmethod
    def from_bytes(
        cls, data: bytes, suite: Suite, *, max_size: int | None = None
    ) -> PreparedTransaction:
        """Decode a canonical transaction encoding; DecodeError / EncodingTooLarge otherwise."""
        tx = decode(Transaction, data, max_size=max_size)
        return cls(
            tx=tx,
            tx_hash=tx.hash(suite),
            size=len(data),
            sender_address=suite.address(tx.sender),
        )

    def verify_signature(self, suite: Suite) -> bool:
        return self.tx.verify_signature(suite)
