"""Which X.509 keys each crypto suite uses, so certificates also serve TLS through OpenSSL.

- `intl`: Ed25519 end to end. CA and member certificates carry Ed25519 keys, and a member's
  certificate key *is* its chain signing key (one key file per member).
- `gm`: OpenSSL (behind Python's `ssl`) cannot use SM2 certificates and tongsuopy has no public
  X.509 API, so certificates are standard X.509 with ECDSA P-256 keys (CA and TLS) signed with
  SHA-256, and the member's SM2 chain signing key is bound inside the certificate by the
  chain-key extension, which the CA signature authenticates (two key files per member).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gongshi.errors import UnknownSuite

CertificatePrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
CertificatePublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class KeyAlgorithm(StrEnum):
    ED25519 = "ed25519"
    ECDSA_P256 = "ecdsa-p256"


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateProfile:
    """The certificate shape of one suite."""

    suite_name: str
    key_algorithm: KeyAlgorithm
    # True: the chain signing key is in the chain-key extension (the certificate key is for
    # TLS only). False: the certificate's own key is the chain signing key.
    chain_key_in_extension: bool


INTL_PROFILE = CertificateProfile(
    suite_name="intl", key_algorithm=KeyAlgorithm.ED25519, chain_key_in_extension=False
)
GM_PROFILE = CertificateProfile(
    suite_name="gm", key_algorithm=KeyAlgorithm.ECDSA_P256, chain_key_in_extension=True
)


def profile_for(suite_name: str) -> CertificateProfile:
    """The certificate profile of suite `suite_name`; UnknownSuite otherwise."""
    if suite_name == INTL_PROFILE.suite_name:
        return INTL_PROFILE
    if suite_name == GM_PROFILE.suite_name:
        return GM_PROFILE
    raise UnknownSuite(f"no certificate profile for crypto suite {suite_name!r}")


def generate_certificate_key(profile: CertificateProfile) -> CertificatePrivateKey:
    """A fresh CA key (both suites) or TLS key (`gm` members)."""
    if profile.key_algorithm is KeyAlgorithm.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def signature_hash(profile: CertificateProfile) -> hashes.SHA256 | None:
    """The hash the CA signs with: none for Ed25519 (it hashes internally), SHA-256 for ECDSA."""
    return None if profile.key_algorithm is KeyAlgorithm.ED25519 else hashes.SHA256()


def key_matches_profile(public_key: object, profile: CertificateProfile) -> bool:
    """True if `public_key` (a `cryptography` public key) is of the profile's algorithm."""
    if profile.key_algorithm is KeyAlgorithm.ED25519:
        return isinstance(public_key, ed25519.Ed25519PublicKey)
    return isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
        public_key.curve, ec.SECP256R1
    )


def private_key_pem(key: CertificatePrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted: what OpenSSL's `load_cert_chain` reads."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
