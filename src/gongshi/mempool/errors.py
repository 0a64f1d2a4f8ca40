"""Errors of the mempool (codes 1650-1699).

Every rejection of a transaction at admission is an `AdmissionRejected` subclass with a stable
code, returned to the client (JSON-RPC `tx_send`) as is. `MempoolFull` is not a judgement of
the transaction: it is back-pressure, and the client may retry later.
"""

from __future__ import annotations

from collections.abc import Sequence

from gongshi.errors import GongshiError, NotFound, ValidationError


class AdmissionRejected(ValidationError):
    """Raised when a transaction is refused admission; subclasses say why."""

    code = 1650


class TransactionTooLarge(AdmissionRejected):
    """Raised when a transaction's encoding is larger than the chain's transaction limit."""

    code = 1651


class MalformedTransaction(AdmissionRejected):
    """Raised when bytes are not the canonical encoding of a valid transaction."""

    code = 1652


class WrongChain(AdmissionRejected):
    """Raised when a transaction carries another chain's id."""

    code = 1653


class TransactionExpired(AdmissionRejected):
    """Raised when a transaction's expiry height is below the next block's height."""

    code = 1654


class BadSignature(AdmissionRejected):
    """Raised when a transaction is unsigned or its signature does not verify."""

    code = 1655


class GasLimitTooHigh(AdmissionRejected):
    """Raised when a transaction's gas limit exceeds the block gas limit (it could never fit)."""

    code = 1656


class NonceTooLow(AdmissionRejected):
    """Raised when a transaction's nonce was already used by a committed transaction."""

    code = 1657


class NonceTooHigh(AdmissionRejected):
    """Raised when a transaction's nonce is beyond the sender's nonce window."""

    code = 1658


class NonceAlreadyPending(AdmissionRejected):
    """Raised when another transaction of the sender with the same nonce is already pending."""

    code = 1659


class SenderNotRegistered(AdmissionRejected):
    """Raised when a sender without a valid registered certificate calls anything but
    `identity.register`."""

    code = 1660


class SenderNotPermitted(AdmissionRejected):
    """Raised when a sender's role may not send transactions (node, observer), or may not
    call the method (a system contract's rule or a deployed contract's export roles)."""

    code = 1661


class AlreadyKnown(AdmissionRejected):
    """Raised when a transaction with the same hash is already pending."""

    code = 1662


class AlreadyCommitted(AdmissionRejected):
    """Raised when a transaction with the same hash was recently committed."""

    code = 1663


class BatchTooLarge(AdmissionRejected):
    """Raised when one admission call carries more transactions than the batch limit."""

    code = 1664


class ContractFrozenRefused(AdmissionRejected):
    """Raised when a transaction calls a deployed contract that governance froze (it may be
    sent again once an unfreeze is committed)."""

    code = 1665


class ExportNotFoundRefused(AdmissionRejected):
    """Raised when a transaction calls a method the deployed contract does not export."""

    code = 1666


class MempoolFull(GongshiError):
    """Raised when admitting a transaction would exceed the mempool's count or byte capacity;
    retry later."""

    code = 1680


class TransactionsMissing(NotFound):
    """Raised when a proposal names transactions this mempool does not hold (fetch them)."""

    code = 1681

    def __init__(self, missing: Sequence[bytes]) -> None:
        super().__init__(f"{len(missing)} transactions of the proposal are not in the mempool")
        self.missing = tuple(missing)
