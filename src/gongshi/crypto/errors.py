"""Errors of the crypto suites (codes 1210-1249)."""

from __future__ import annotations

from gongshi.errors import DecryptionError, InvalidKey, ValidationError


class MalformedCiphertext(DecryptionError):
    """Raised when a public-key ciphertext is truncated or has an unknown format version."""

    code = 1210


class InvalidNonce(ValidationError):
    """Raised when an AEAD nonce does not have the size the suite requires."""

    code = 1211


class InvalidAeadKey(InvalidKey):
    """Raised when a symmetric AEAD key does not have the size the suite requires."""

    code = 1212


class InvalidSeed(ValidationError):
    """Raised when a seed for deterministic key derivation is too short."""

    code = 1213


class EmptyPlaintext(ValidationError):
    """Raised when SM2 public-key encryption is asked to encrypt an empty plaintext."""

    code = 1214
