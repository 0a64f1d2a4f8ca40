"""The one exception hierarchy of Gongshi.

Every error a user can cause is a `GongshiError` with a stable numeric `code`. The API maps
codes one-to-one onto JSON-RPC error codes and the CLI onto exit messages, so codes are never
reused or renumbered: add new classes with new codes.

Bugs are not `GongshiError`s: a broken internal invariant raises `InvariantViolation`, which
stops the node.
"""

from __future__ import annotations


class GongshiError(Exception):
    """Root of every error caused by input, configuration or the environment."""

    code = 1000

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(GongshiError):
    """Raised when input is malformed or breaks a rule (bytes, fields, values)."""

    code = 1100


class DecodeError(ValidationError):
    """Raised when bytes are not a canonical encoding of the expected type."""

    code = 1101


class SizeLimitExceeded(ValidationError):
    """Raised when an input is larger than the configured limit."""

    code = 1102


class InvalidSignature(ValidationError):
    """Raised when a signature does not verify or is malformed."""

    code = 1103


class InvalidKey(ValidationError):
    """Raised when a key cannot be parsed or is not on the suite's curve."""

    code = 1104


class InvalidProof(ValidationError):
    """Raised when a Merkle proof is malformed or does not match the root."""

    code = 1105


class InvalidCertificate(ValidationError):
    """Raised when a certificate does not chain to a known CA, has the wrong role,
    is outside its validity period or is revoked."""

    code = 1106


class ConfigError(ValidationError):
    """Raised when a configuration or genesis file is missing, malformed or inconsistent."""

    code = 1107


class UnknownSuite(ConfigError):
    """Raised when a crypto suite name is not one of the supported suites."""

    code = 1108


class CryptoError(GongshiError):
    """Raised when a cryptographic operation fails for a reason other than bad input."""

    code = 1200


class DecryptionError(CryptoError):
    """Raised when a ciphertext fails authentication or cannot be decrypted with the key."""

    code = 1201


class NotFound(GongshiError):
    """Raised when a requested object (block, transaction, key) does not exist."""

    code = 1300


class StorageError(GongshiError):
    """Raised when the database cannot be opened, read or written."""

    code = 1400


class IntegrityError(StorageError):
    """Raised when stored data fails its integrity check (a root does not recompute)."""

    code = 1401


class InvariantViolation(Exception):
    """A broken internal invariant: a bug. Never caught by request handlers; stops the node."""


def all_error_classes() -> list[type[GongshiError]]:
    """Every GongshiError subclass, root first; used to check codes are unique."""
    found: list[type[GongshiError]] = [GongshiError]
    index = 0
    while index < len(found):
        found.extend(found[index].__subclasses__())
        index += 1
    return found
