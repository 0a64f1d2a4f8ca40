"""The `intl` suite: Ed25519, SHA-256, AES-256-GCM, and X25519 public-key encryption.

Signing and verification use PyNaCl (libsodium: strict RFC 8032 checks, about twice the speed
of OpenSSL here, and it releases the GIL); PEM/PKCS#8, AES-GCM, X25519 and HKDF use
`cryptography`.

Public-key encryption (`encrypt_to`), ciphertext format version 1::

    0x01 || E (32 bytes) || AES-256-GCM(k, n, plaintext, aad = 0x01 || E) (plaintext + 16 tag)

where E is a fresh ephemeral X25519 public key, R the recipient's Ed25519 public key converted
to X25519 (the birational map of RFC 7748 §4.1, libsodium `crypto_sign_ed25519_pk_to_curve25519`),
and k (32 bytes) || n (12 bytes) = HKDF-SHA256(ikm = X25519(e, R), salt = "",
info = "gongshi/intl/encrypt-to/v1" || E || R, length 44). Binding E and R into the key
derivation ties each ciphertext to its recipient; each ephemeral key is used once, so the
derived nonce never repeats under a key. The overhead is 49 bytes.
"""

from __future__ import annotations

import hashlib

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gongshi.crypto.errors import MalformedCiphertext
from gongshi.crypto.inputs import as_bytes, require_aead_key, require_nonce, require_seed
from gongshi.crypto.suite import PrivateKey, Suite
from gongshi.errors import DecryptionError, InvalidKey, SizeLimitExceeded

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
AES_KEY_SIZE = 32
GCM_NONCE_SIZE = 12
GCM_TAG_SIZE = 16

CIPHERTEXT_VERSION = 1
EPHEMERAL_KEY_SIZE = 32
CIPHERTEXT_HEADER_SIZE = 1 + EPHEMERAL_KEY_SIZE
CIPHERTEXT_OVERHEAD = CIPHERTEXT_HEADER_SIZE + GCM_TAG_SIZE
HKDF_INFO_PREFIX = b"gongshi/intl/encrypt-to/v1"
DERIVE_KEY_DOMAIN = b"gongshi/intl/derive-key/v1"


HKDF_SHA256_MAX_LENGTH = 255 * 32


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with SHA-256 (an empty salt means 32 zero bytes)."""
    if not 0 < length <= HKDF_SHA256_MAX_LENGTH:
        raise SizeLimitExceeded(f"HKDF-SHA256 output must be 1..{HKDF_SHA256_MAX_LENGTH} bytes")
    kdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info)
    return kdf.derive(ikm)


def x25519_shared_secret(private_key: bytes, public_key: bytes) -> bytes:
    """X25519 (RFC 7748); raises DecryptionError when the result is all zero (a low-order
    public key), as RFC 7748 §6.1 recommends."""
    try:
        return X25519PrivateKey.from_private_bytes(private_key).exchange(
            X25519PublicKey.from_public_bytes(public_key)
        )
    except ValueError as error:
        raise DecryptionError("X25519 with a low-order or malformed public key") from error


def _derive_wrap_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> tuple[bytes, bytes]:
    """Key and nonce of one `encrypt_to` ciphertext (see the module docstring)."""
    okm = hkdf_sha256(
        shared,
        salt=b"",
        info=HKDF_INFO_PREFIX + ephemeral + recipient,
        length=AES_KEY_SIZE + GCM_NONCE_SIZE,
    )
    return okm[:AES_KEY_SIZE], okm[AES_KEY_SIZE:]


def seal_to_ed25519(ephemeral_secret: bytes, recipient: bytes, plaintext: bytes) -> bytes:
    """Format-1 ciphertext of `plaintext` to Ed25519 key `recipient`, with the given ephemeral
    X25519 secret (fresh random in `encrypt_to`; fixed only in known-answer tests)."""
    try:
        recipient_x25519 = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(recipient)
    except nacl.exceptions.CryptoError as error:
        raise InvalidKey("intl public key cannot be converted to X25519") from error
    ephemeral = X25519PrivateKey.from_private_bytes(ephemeral_secret).public_key()
    ephemeral_bytes = ephemeral.public_bytes_raw()
    try:
        shared = x25519_shared_secret(ephemeral_secret, recipient_x25519)
    except DecryptionError as error:  # unreachable for a validated key; keep it typed
        raise InvalidKey("intl public key has low order") from error
    key, nonce = _derive_wrap_key(shared, ephemeral_bytes, recipient_x25519)
    header = bytes([CIPHERTEXT_VERSION]) + ephemeral_bytes
    return header + AESGCM(key).encrypt(nonce, plaintext, header)


class IntlPrivateKey(PrivateKey):
    """An Ed25519 signing key (32-byte seed); its X25519 form decrypts `encrypt_to` output."""

    __slots__ = ("_public", "_secret", "_seed", "suite")

    def __init__(self, suite: IntlSuite, seed: bytes) -> None:
        self.suite = suite
        self._seed = as_bytes(seed, "seed")
        if len(self._seed) != SEED_SIZE:
            raise InvalidKey(f"Ed25519 private key seed must be {SEED_SIZE} bytes")
        self._public, self._secret = nacl.bindings.crypto_sign_seed_keypair(self._seed)

    def sign(self, message: bytes) -> bytes:
        signed: bytes = nacl.bindings.crypto_sign(as_bytes(message, "message"), self._secret)
        return signed[:SIGNATURE_SIZE]

    def public_key_bytes(self) -> bytes:
        return bytes(self._public)

    def decrypt(self, ciphertext: bytes) -> bytes:
        data = as_bytes(ciphertext, "ciphertext")
        if len(data) < CIPHERTEXT_OVERHEAD:
            raise MalformedCiphertext("intl ciphertext is shorter than its 49-byte overhead")
        if data[0] != CIPHERTEXT_VERSION:
            raise MalformedCiphertext(f"unknown intl ciphertext version {data[0]}")
        header = data[:CIPHERTEXT_HEADER_SIZE]
        ephemeral = header[1:]
        curve_secret = nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(self._secret)
        curve_public = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(self._public)
        shared = x25519_shared_secret(curve_secret, ephemeral)
        key, nonce = _derive_wrap_key(shared, ephemeral, curve_public)
        try:
            return AESGCM(key).decrypt(nonce, data[CIPHERTEXT_HEADER_SIZE:], header)
        except InvalidTag as error:
            raise DecryptionError("intl ciphertext failed authentication") from error

    def to_pem(self) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self._seed).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:
        return f"IntlPrivateKey(public={self._public.hex()})"


class IntlSuite(Suite):
    """Ed25519 / SHA-256 / AES-256-GCM. Stateless: use the `INTL` singleton."""

    __slots__ = ()

    name = "intl"
    hash_size = 32
    public_key_size = PUBLIC_KEY_SIZE
    signature_size = SIGNATURE_SIZE
    aead_key_size = AES_KEY_SIZE
    aead_nonce_size = GCM_NONCE_SIZE

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def generate_private_key(self) -> IntlPrivateKey:
        return IntlPrivateKey(self, nacl.bindings.randombytes(SEED_SIZE))

    def derive_private_key(self, seed: bytes) -> IntlPrivateKey:
        require_seed(seed)
        return IntlPrivateKey(self, hashlib.sha256(DERIVE_KEY_DOMAIN + seed).digest())

    def load_private_key_pem(self, pem: bytes) -> IntlPrivateKey:
        try:
            loaded = serialization.load_pem_private_key(as_bytes(pem, "pem"), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as error:
            raise InvalidKey(
                f"cannot load PEM as an intl (Ed25519) private key: {error}"
            ) from error
        if not isinstance(loaded, Ed25519PrivateKey):
            raise InvalidKey(
                f"PEM holds a {type(loaded).__name__.lstrip('_')} key; suite intl needs Ed25519"
            )
        return IntlPrivateKey(self, loaded.private_bytes_raw())

    def validate_public_key(self, public_key: bytes) -> None:
        if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_SIZE:
            raise InvalidKey(f"intl public key must be {PUBLIC_KEY_SIZE} bytes")
        # canonical encoding, on the curve, in the prime-order subgroup, not of small order
        if not nacl.bindings.crypto_core_ed25519_is_valid_point(public_key):
            raise InvalidKey("intl public key is not a valid Ed25519 point")

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        if not (
            isinstance(public_key, bytes)
            and isinstance(signature, bytes)
            and isinstance(message, bytes | bytearray | memoryview)
            and len(public_key) == PUBLIC_KEY_SIZE
            and len(signature) == SIGNATURE_SIZE
        ):
            return False
        try:
            nacl.bindings.crypto_sign_open(signature + bytes(message), public_key)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            return False
        return True

    def encrypt_to(self, public_key: bytes, plaintext: bytes) -> bytes:
        self.validate_public_key(public_key)
        ephemeral_secret = X25519PrivateKey.generate().private_bytes_raw()
        return seal_to_ed25519(ephemeral_secret, public_key, as_bytes(plaintext, "plaintext"))

    def aead_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        require_aead_key(key, AES_KEY_SIZE, "AES-256-GCM")
        require_nonce(nonce, GCM_NONCE_SIZE, "AES-256-GCM")
        return AESGCM(bytes(key)).encrypt(
            bytes(nonce), as_bytes(plaintext, "plaintext"), as_bytes(aad, "aad")
        )

    def aead_decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes = b"") -> bytes:
        require_aead_key(key, AES_KEY_SIZE, "AES-256-GCM")
        require_nonce(nonce, GCM_NONCE_SIZE, "AES-256-GCM")
        if len(ciphertext) < GCM_TAG_SIZE:
            raise DecryptionError("AES-256-GCM ciphertext is shorter than its tag")
        try:
            return AESGCM(bytes(key)).decrypt(
                bytes(nonce), as_bytes(ciphertext, "ciphertext"), as_bytes(aad, "aad")
            )
        except InvalidTag as error:
            raise DecryptionError("AES-256-GCM authentication failed") from error


INTL = IntlSuite()
