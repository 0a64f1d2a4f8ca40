"""Building and signing transactions, and the local nonce count that lets a client send a
burst without asking the chain for every nonce. Pure: the clients do the I/O."""

from __future__ import annotations

from typing import Any

from gongshi.codec import Transaction
from gongshi.crypto import PrivateKey

DEFAULT_GAS_LIMIT = 1_000_000
# A transaction not committed within this many blocks of its building expires.
DEFAULT_EXPIRY_BLOCKS = 1000
# Names of the admission errors the clients react to (`RemoteError.name`).
NONCE_TOO_LOW = "NonceTooLow"
NONCE_TOO_HIGH = "NonceTooHigh"  # the sender's window of pending nonces is full: wait
ALREADY_KNOWN = "AlreadyKnown"


class NonceTracker:
    """The next nonce of each account this client sends from: the committed nonce when first
    used (or after `forget`), then counted locally for each transaction built."""

    def __init__(self) -> None:
        self._next: dict[bytes, int] = {}

    def known(self, address: bytes) -> bool:
        return address in self._next

    def start(self, address: bytes, committed_nonce: int) -> None:
        self._next[address] = committed_nonce

    def take(self, address: bytes) -> int:
        nonce = self._next[address]
        self._next[address] = nonce + 1
        return nonce

    def forget(self, address: bytes) -> None:
        """After a NonceTooLow: the chain moved on without us; ask it again next time."""
        self._next.pop(address, None)


def build_transaction(
    key: PrivateKey,
    *,
    chain_id: str,
    nonce: int,
    target: str,
    method: str,
    args: Any,
    gas_limit: int = DEFAULT_GAS_LIMIT,
    expiry_height: int,
) -> Transaction:
    """A transaction signed by `key` (the sender is its public key)."""
    return Transaction(
        chain_id=chain_id,
        nonce=nonce,
        sender=key.public_key_bytes(),
        target=target,
        method=method,
        args=args,
        gas_limit=gas_limit,
        expiry_height=expiry_height,
    ).sign(key)
