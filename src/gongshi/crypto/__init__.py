"""Crypto suites: `gm` (SM2/SM3/SM4) and `intl` (Ed25519/SHA-256/AES-GCM)."""

from gongshi.crypto.suite import ADDRESS_SIZE, PrivateKey, Suite

__all__ = ["ADDRESS_SIZE", "PrivateKey", "Suite"]
