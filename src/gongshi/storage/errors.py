"""Errors of the ledger storage (codes 1410-1449).

Three families: the database itself (`StorageError`: cannot open, read or write), its contents
(`IntegrityError`: stored data does not recompute; the node refuses to start) and lookups
(`NotFound`: no such block, transaction or state version). A root that does not match the
header at commit time is a bug, not an error: it raises `gongshi.errors.InvariantViolation`.
"""

from __future__ import annotations

from gongshi.errors import (
    IntegrityError,
    NotFound,
    SizeLimitExceeded,
    StorageError,
    ValidationError,
)


class DatabaseOpenError(StorageError):
    """Raised when the database cannot be opened (missing, locked by another process, corrupt)."""

    code = 1410


class DatabaseWriteError(StorageError):
    """Raised when a write batch cannot be written or synced to disk."""

    code = 1411


class DatabaseClosed(StorageError):
    """Raised when the ledger is used after it was closed."""

    code = 1412


class CommitOutOfOrder(StorageError):
    """Raised when a block is not the child of the committed head (wrong height or parent)."""

    code = 1413


class SchemaMismatch(StorageError):
    """Raised when a database was created by another schema version or crypto suite."""

    code = 1414


class LedgerIntegrityError(IntegrityError):
    """Raised when stored data at a height fails its check on open; names the height."""

    code = 1420

    def __init__(self, height: int, reason: str) -> None:
        super().__init__(
            f"ledger integrity check failed at height {height}: {reason}; "
            "refusing to start (no automatic repair)"
        )
        self.height = height
        self.reason = reason


class BlockNotFound(NotFound):
    """Raised when no committed block has the requested height or hash."""

    code = 1430


class TransactionNotFound(NotFound):
    """Raised when no committed transaction (or receipt) has the requested hash."""

    code = 1431


class StateVersionPruned(NotFound):
    """Raised when state is read at a height older than the retention window."""

    code = 1432


class StateVersionUnavailable(NotFound):
    """Raised when state is read at a height that is not committed yet (or none is)."""

    code = 1433


class InvalidStateKey(ValidationError):
    """Raised when a state namespace or key is empty, too long or not encodable."""

    code = 1440


class InvalidQuery(ValidationError):
    """Raised when query parameters are out of range (page size, height range, cursor)."""

    code = 1441


class CertificateTooLarge(SizeLimitExceeded):
    """Raised when a block's finality certificate is larger than the codec's limit."""

    code = 1442
