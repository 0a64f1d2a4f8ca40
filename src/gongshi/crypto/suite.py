"""The crypto suite interface: one per chain, chosen in genesis.

A suite bundles a hash, a signature scheme, public-key encryption and a symmetric AEAD. The
rest of Gongshi sees only this interface and raw bytes (public keys, signatures, hashes), so
consensus, codec and execution never depend on which suite a chain uses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

ADDRESS_SIZE = 20


class PrivateKey(ABC):
    """A signing key of one suite; it can also decrypt what was encrypted to its public key."""

    suite: Suite

    @abstractmethod
    def sign(self, message: bytes) -> bytes:
        """Sign `message` (the suite hashes it as its scheme prescribes)."""

    @abstractmethod
    def public_key_bytes(self) -> bytes:
        """The raw public key: 32 bytes for Ed25519, 65 bytes (04 || x || y) for SM2."""

    @abstractmethod
    def decrypt(self, ciphertext: bytes) -> bytes:
        """Decrypt a ciphertext made by `Suite.encrypt_to(self.public_key_bytes(), ...)`."""

    @abstractmethod
    def to_pem(self) -> bytes:
        """PKCS#8 PEM encoding, unencrypted."""

    def address(self) -> bytes:
        return self.suite.address(self.public_key_bytes())

    def save(self, path: Path) -> None:
        """Write the PEM to `path`, readable by the owner only (mode 0600)."""
        from gongshi.crypto.keyfile import write_private_file

        write_private_file(path, self.to_pem())


class Suite(ABC):
    """A crypto suite: `gm` (SM2/SM3/SM4) or `intl` (Ed25519/SHA-256/AES-GCM)."""

    name: str
    hash_size: int = 32
    public_key_size: int
    signature_size: int
    aead_key_size: int
    aead_nonce_size: int = 12

    @abstractmethod
    def hash(self, data: bytes) -> bytes:
        """The suite hash: SM3 or SHA-256."""

    @abstractmethod
    def generate_private_key(self) -> PrivateKey: ...

    @abstractmethod
    def derive_private_key(self, seed: bytes) -> PrivateKey:
        """A deterministic key from a secret `seed` of at least 32 bytes (same seed, same key).

        For tests, simulations and reproducible fixtures; real keys come from
        `generate_private_key`. Raises InvalidSeed for a short seed."""

    @abstractmethod
    def load_private_key_pem(self, pem: bytes) -> PrivateKey:
        """Parse a PEM private key of this suite; raises InvalidKey otherwise."""

    @abstractmethod
    def validate_public_key(self, public_key: bytes) -> None:
        """Raise InvalidKey unless `public_key` is a well-formed raw public key of this suite."""

    @abstractmethod
    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """True if `signature` is valid for `message` under `public_key`; never raises on bad
        input (malformed keys or signatures verify as False)."""

    @abstractmethod
    def encrypt_to(self, public_key: bytes, plaintext: bytes) -> bytes:
        """Public-key encryption: SM2 (C1C3C2) or X25519 + HKDF + AES-GCM."""

    @abstractmethod
    def aead_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        """Authenticated encryption; returns ciphertext || tag."""

    @abstractmethod
    def aead_decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes = b"") -> bytes:
        """Inverse of `aead_encrypt`; raises DecryptionError on a bad tag."""

    def load_private_key(self, path: Path) -> PrivateKey:
        from gongshi.crypto.keyfile import read_file

        return self.load_private_key_pem(read_file(path))

    def address(self, public_key: bytes) -> bytes:
        """Account address: the first 20 bytes of the suite hash of the raw public key."""
        return self.hash(public_key)[:ADDRESS_SIZE]
