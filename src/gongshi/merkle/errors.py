"""Errors of the Merkle trees (codes 1150-1169)."""

from __future__ import annotations

from gongshi.errors import DecodeError, IntegrityError, InvalidProof, NotFound, ValidationError


class MalformedProof(InvalidProof):
    """Raised when a proof has the wrong shape: a hash of the wrong length, an index or size
    out of range, or not exactly the number of hashes the sizes call for."""

    code = 1150


class RootMismatch(InvalidProof):
    """Raised when a well-formed proof does not lead to the expected root (or leaf data)."""

    code = 1151


class ProofDecodeError(DecodeError):
    """Raised when bytes are not the canonical encoding of a state proof."""

    code = 1152


class VersionNotFound(NotFound):
    """Raised when the state tree has no root at the requested version (never written or
    pruned)."""

    code = 1153


class MissingNode(IntegrityError):
    """Raised when a state tree node referenced by its parent is absent from the node store."""

    code = 1154


class CorruptNode(IntegrityError):
    """Raised when stored bytes are not a well-formed state tree node."""

    code = 1155


class InvalidVersion(ValidationError):
    """Raised when a state tree version is negative, too large or not after its base
    version."""

    code = 1156


class TreeRangeError(ValidationError):
    """Raised when a leaf index or tree size is outside the Merkle tree asked about."""

    code = 1157
