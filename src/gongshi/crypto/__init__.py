"""Crypto suites: `gm` (SM2/SM3/SM4) and `intl` (Ed25519/SHA-256/AES-GCM).

`get_suite(name)` returns a suite's stateless singleton; everything else in Gongshi uses only
the `Suite` / `PrivateKey` interface and raw bytes.
"""

from gongshi.crypto.registry import SUITE_NAMES, get_suite
from gongshi.crypto.suite import ADDRESS_SIZE, PrivateKey, Suite

__all__ = ["ADDRESS_SIZE", "SUITE_NAMES", "PrivateKey", "Suite", "get_suite"]
