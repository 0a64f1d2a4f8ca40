"""Errors of execution (codes 1600-1649).

Two families, with different consequences:

- `InvalidBlock` (a `ValidationError`): a block breaks a validity rule (wrong chain id, expired
  transaction, nonce out of order, gas or size over the limits, unregistered or unauthorised
  sender, bad signature). The whole block is rejected; a Byzantine proposer made it.
- Call errors (`CallFailed`, `CallNotFound`, `InvalidArguments`): one transaction's call failed.
  The block stays valid; the transaction gets a failed receipt, its writes are reverted and its
  gas is kept.
"""

from __future__ import annotations

from gongshi.errors import ConfigError, GongshiError, IntegrityError, NotFound, ValidationError


class InvalidBlock(ValidationError):
    """Raised when a block breaks a validity rule; subclasses name the rule, `index` the
    offending transaction (-1 for the block as a whole)."""

    code = 1600

    def __init__(self, message: str, *, index: int = -1) -> None:
        where = f"transaction {index}: " if index >= 0 else ""
        super().__init__(f"invalid block: {where}{message}")
        self.index = index


class BlockTooLarge(InvalidBlock):
    """Raised when a block has more transactions, bytes or total gas limit than allowed."""

    code = 1601


class OversizedTransaction(InvalidBlock):
    """Raised when one transaction of a block is larger than the chain's transaction limit."""

    code = 1602


class ForeignTransaction(InvalidBlock):
    """Raised when a transaction of a block carries another chain's id."""

    code = 1603


class ExpiredTransaction(InvalidBlock):
    """Raised when a transaction of a block expired before the block's height."""

    code = 1604


class NonceOutOfOrder(InvalidBlock):
    """Raised when a transaction's nonce is not exactly its sender's next nonce."""

    code = 1605

    def __init__(self, *, index: int, expected: int, actual: int) -> None:
        super().__init__(
            f"nonce {actual}, expected the sender's next nonce {expected}", index=index
        )
        self.expected = expected
        self.actual = actual


class ExcessiveGasLimit(InvalidBlock):
    """Raised when one transaction's gas limit exceeds the block gas limit."""

    code = 1606


class UnregisteredSender(InvalidBlock):
    """Raised when a sender with no valid registered certificate calls anything but
    `identity.register`."""

    code = 1607


class UnauthorisedSender(InvalidBlock):
    """Raised when a sender's role may not send transactions (node, observer)."""

    code = 1608


class BadTransactionSignature(InvalidBlock):
    """Raised when a transaction of a block does not carry its sender's valid signature."""

    code = 1609


class CallFailed(GongshiError):
    """Raised when a contract call fails; the transaction gets a FAILED receipt."""

    code = 1620


class OutOfGas(CallFailed):
    """Raised when a call needs more gas than its transaction's limit leaves."""

    code = 1621

    def __init__(self, *, needed: int, remaining: int, reason: str) -> None:
        super().__init__(f"out of gas: {reason} needs {needed}, {remaining} left")
        self.needed = needed
        self.remaining = remaining
        self.reason = reason


class CallNotPermitted(CallFailed):
    """Raised when the sender's role may not call this method (PERMISSION_DENIED receipt)."""

    code = 1622


class AlreadyRegistered(CallFailed):
    """Raised when a notarization repeats a document hash that already has a record."""

    code = 1623


class CertificateKeyMismatch(CallFailed):
    """Raised when `identity.register` is sent by a key other than the certificate's own."""

    code = 1624


class IdentityAlreadyRegistered(CallFailed):
    """Raised when `identity.register` repeats the certificate already registered."""

    code = 1625


class ReturnValueTooLarge(CallFailed):
    """Raised when a call's return value or events do not fit in a receipt."""

    code = 1626


class CallNotFound(NotFound):
    """Raised when a call names an unknown contract or method (NOT_FOUND receipt)."""

    code = 1630


class InvalidArguments(ValidationError):
    """Raised when a call's arguments are missing, unknown, of the wrong type or too large."""

    code = 1631


class ReadOnlyCall(ValidationError):
    """Raised when a state-changing method is called through the read-only query path."""

    code = 1632


class CorruptRecord(IntegrityError):
    """Raised when a value a system contract stored no longer decodes (storage corruption)."""

    code = 1640


class GenesisMemberRejected(ConfigError):
    """Raised when a member certificate given for the genesis state is invalid or repeated."""

    code = 1641
