"""A fast signature scheme for simulations: keyed BLAKE2b MACs.

Unforgeable inside a simulation because each node, honest or Byzantine, holds only its own
secret; the shared `KeyRing` verifier stands for "everyone can check everyone's public key".
About a microsecond per operation, against ~50 microseconds for Ed25519 verification, so
campaigns can run thousands of scenarios. Never use outside a simulation.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

SIGNATURE_SIZE = 16


@dataclass(frozen=True, slots=True)
class MacSigner:
    secret: bytes

    def public_key(self) -> bytes:
        return public_key_of(self.secret)

    def sign(self, message: bytes) -> bytes:
        return hashlib.blake2b(message, key=self.secret, digest_size=SIGNATURE_SIZE).digest()


def public_key_of(secret: bytes) -> bytes:
    return hashlib.blake2b(b"sim-public-key" + secret, digest_size=32).digest()


def secret_for(seed: int, index: int) -> bytes:
    return hashlib.blake2b(f"sim-secret/{seed}/{index}".encode(), digest_size=32).digest()


@dataclass(slots=True)
class KeyRing:
    """Verifier for MAC signatures: maps a public key to the secret that made it."""

    secrets: dict[bytes, bytes] = field(default_factory=dict)

    def add(self, secret: bytes) -> bytes:
        public_key = public_key_of(secret)
        self.secrets[public_key] = secret
        return public_key

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        secret = self.secrets.get(public_key)
        if secret is None or len(signature) != SIGNATURE_SIZE:
            return False
        expected = hashlib.blake2b(message, key=secret, digest_size=SIGNATURE_SIZE).digest()
        return hmac.compare_digest(expected, signature)
