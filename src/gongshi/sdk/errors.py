"""Errors of the SDK (codes 1980-1999).

A node's JSON-RPC error reaches the caller as `RemoteError` carrying the node's Gongshi
error code and class name (`error.code == 1657`, `error.name == "NonceTooLow"`): the API maps
codes one to one, and so does the SDK. Every verification failure is an `InvalidProof`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gongshi.errors import ConfigError, GongshiError, InvalidProof, ValidationError

if TYPE_CHECKING:
    from gongshi.sdk.verify import VerifiedReceipt


class SdkError(GongshiError):
    """Raised when the SDK cannot do what was asked (see subclasses)."""

    code = 1980


class RemoteError(GongshiError):
    """Raised when a node answers a call with a JSON-RPC error; `code` and `name` are the
    node's Gongshi error code and class name, `rpc_code` the JSON-RPC code."""

    code = 1981

    def __init__(self, message: str, *, code: int, name: str, rpc_code: int) -> None:
        super().__init__(message)
        self.code = code
        self.name = name
        self.rpc_code = rpc_code


class NodeUnreachable(SdkError):
    """Raised when the node's API cannot be reached or answers with an HTTP failure."""

    code = 1982


class ReceiptTimeout(SdkError):
    """Raised when a transaction's receipt does not arrive within the time allowed."""

    code = 1983


class IdentityNotFound(ConfigError):
    """Raised when an identity's key or certificate is missing from the network directory."""

    code = 1984


class UnverifiedHeader(InvalidProof):
    """Raised when a block header does not hash to the claimed hash or its finality
    certificate is not a valid quorum of its epoch's validators' signatures."""

    code = 1985


class ProofMismatch(InvalidProof):
    """Raised when a proven item is not the one asked for (another hash, key or height)."""

    code = 1986


class MalformedResponse(InvalidProof):
    """Raised when a node's response does not have the documented form, so nothing in it
    can be verified (or trusted)."""

    code = 1987


class TransactionFailed(SdkError):
    """Raised when a committed transaction's receipt reports a failure (status, error)."""

    code = 1988


class InvalidGovernancePayload(ValidationError):
    """Raised when a governance proposal's payload or arguments (names, certificates, keys,
    addresses, parameters) would be refused by the contract: checked before sending."""

    code = 1989


class GovernanceCallFailed(SdkError):
    """Raised when a governance transaction's receipt is not SUCCESS; `code` is the
    contract's error code from the receipt (e.g. 1614 AlreadyVoted, 1612 ProposerNotAdmin)
    when it gives one, `receipt` the verified receipt."""

    code = 1990

    def __init__(self, message: str, *, receipt: VerifiedReceipt, receipt_code: int) -> None:
        super().__init__(message)
        if receipt_code:
            self.code = receipt_code
        self.receipt = receipt


class UnknownEpoch(UnverifiedHeader):
    """Raised when a header claims a consensus epoch whose validator set the client has no
    verified evidence for (the node did not prove it, or it does not exist); `epoch` is the
    claimed one."""

    code = 1996

    def __init__(self, message: str, *, epoch: int) -> None:
        super().__init__(message)
        self.epoch = epoch


class WrongEpoch(UnverifiedHeader):
    """Raised when a header's epoch does not fit its height in the trusted schedule (a block
    of epoch e must lie in [activation of e, activation of e + 1))."""

    code = 1997


class EpochTransitionRejected(InvalidProof):
    """Raised when evidence of a validator-set change does not prove it: the block is not of
    the previous epoch or not certified by its set, the schedule's proof fails, or the entry
    is not the one taking force next."""

    code = 1998
