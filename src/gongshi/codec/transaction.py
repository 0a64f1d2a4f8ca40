"""Transaction: a signed call of one contract method."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, ClassVar

from gongshi.codec.cbor import CborValue
from gongshi.codec.fields import CHAIN_ID, CONTRACT, HASH, IDENTIFIER, PUBLIC_KEY, UINT64
from gongshi.codec.hashing import Hasher
from gongshi.codec.kinds import Bytes, Optional, Value
from gongshi.codec.limits import SIGNATURE_SIZE, TRANSACTION_BYTES_MAX
from gongshi.codec.record import Record, encode_without, record
from gongshi.crypto.suite import PrivateKey, Suite
from gongshi.errors import InvalidKey


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class Transaction(Record):
    """A call of `method` on `target` with `args`, signed by the holder of `sender`.

    The hash and the signature cover every field but the signature; `chain_id` keeps a
    signature from being replayed on another chain, `nonce` (per sender) within this one.
    """

    encoded_bytes_max: ClassVar[int] = TRANSACTION_BYTES_MAX

    chain_id: Annotated[str, CHAIN_ID]
    nonce: Annotated[int, UINT64]
    # The sender's raw public key; its address is the suite's `address(sender)`.
    sender: Annotated[bytes, PUBLIC_KEY]
    target: Annotated[str, CONTRACT]
    method: Annotated[str, IDENTIFIER]
    args: Annotated[CborValue, Value()]
    gas_limit: Annotated[int, UINT64]
    # Invalid once the chain is past this height: a transaction cannot linger forever.
    expiry_height: Annotated[int, UINT64]
    # Content address (suite hash) of an encrypted payload in the off-chain store.
    private_ref: Annotated[bytes | None, Optional(HASH)] = None
    # Empty until signed.
    signature: Annotated[bytes, Bytes(sizes=(0, SIGNATURE_SIZE))] = b""

    def signing_bytes(self) -> bytes:
        """The canonical encoding without the signature: what is signed and hashed."""
        return encode_without(self, "signature")

    def hash(self, hasher: Hasher) -> bytes:
        """The transaction hash: suite hash of `signing_bytes()` (excludes the signature)."""
        return self.memo_digest(hasher, self.signing_bytes)

    def sign(self, private_key: PrivateKey) -> Transaction:
        """A copy signed by `private_key`, which must be the sender's key."""
        if private_key.public_key_bytes() != self.sender:
            raise InvalidKey("the private key does not belong to the transaction's sender")
        return dataclasses.replace(self, signature=private_key.sign(self.signing_bytes()))

    def verify_signature(self, suite: Suite) -> bool:
        """True if `signature` is the sender's valid signature of `signing_bytes()`."""
        if not self.signature:
            return False
        return suite.verify(self.sender, self.signing_bytes(), self.signature)

    def sender_address(self, suite: Suite) -> bytes:
        return suite.address(self.sender)
