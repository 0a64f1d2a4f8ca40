"""Errors of the running node (codes 1900-1909, 1910-1929)."""

from __future__ import annotations

from gongshi.errors import ConfigError, DecodeError, GongshiError, NotFound


class NodeError(GongshiError):
    """Raised when the node cannot start or keep running (see the message)."""

    code = 1900


class MalformedPeerMessage(DecodeError):
    """Raised when a peer's message body is not the canonical encoding the node expects."""

    code = 1901


class SafetyStateCorrupt(NodeError):
    """Raised when the persisted consensus safety state cannot be read back."""

    code = 1902


class GenesisMismatch(ConfigError):
    """Raised when the ledger on disk was made from another genesis than the configured one."""

    code = 1903


class NotAValidator(ConfigError):
    """Raised when the node is asked to propose where its key is not in the validator set."""

    code = 1904


class UnknownParent(NotFound):
    """Raised when a block's parent is neither committed nor executed on this node."""

    code = 1905


class TransactionsUnavailable(NodeError):
    """Raised when a proposal's transactions cannot be had from this node or its peers."""

    code = 1906


class OptimisedRun(NodeError):
    """Raised when the node is started under `python -O`, which strips its assertions."""

    code = 1907


class LocalnetError(ConfigError):
    """Raised when `gongshi up` cannot create, reuse or start the local network directory."""

    code = 1908


class EpochMismatch(NodeError):
    """Raised when consensus asks for a block in another epoch than the chain's state says."""

    code = 1910


class SigningKeyMismatch(ConfigError):
    """Raised when the node's signing key is not the chain key its certificate binds."""

    code = 1911


class UnsupportedInterpreter(NodeError):
    """Raised when the node runs on a Python minor version other than the one contracts are
    checked and executed with (its parser and tokenizer decide which contracts are valid)."""

    code = 1912
