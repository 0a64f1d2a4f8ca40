"""Issuing certificates: an organisation's CA and the member certificates it signs.

Issuance is the edge of the PKI (fresh keys and serials are random); validation
(`gongshi.pki.validation`) is the pure part every node runs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gongshi.crypto import Suite
from gongshi.errors import InvalidKey
from gongshi.pki.extensions import (
    IDENTITY_EXTENSIONS_CRITICAL,
    chain_key_extension,
    role_extension,
)
from gongshi.pki.profile import (
    CertificatePrivateKey,
    CertificateProfile,
    CertificatePublicKey,
    generate_certificate_key,
    key_matches_profile,
    profile_for,
    signature_hash,
)
from gongshi.pki.roles import Role

CA_VALIDITY_DAYS = 3650
MEMBER_VALIDITY_DAYS = 730


@dataclass(frozen=True, slots=True, kw_only=True)
class Validity:
    """A certificate's validity period; both ends timezone-aware, start before end."""

    not_before: datetime
    not_after: datetime

    def __post_init__(self) -> None:
        assert self.not_before.tzinfo is not None and self.not_after.tzinfo is not None
        assert self.not_before < self.not_after

    @classmethod
    def starting(cls, start: datetime, days: int) -> Validity:
        return cls(not_before=start, not_after=start + timedelta(days=days))


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateAuthority:
    """An organisation's CA: its self-signed certificate and the key that signs members."""

    organisation: str
    profile: CertificateProfile
    certificate: x509.Certificate
    private_key: CertificatePrivateKey


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberRequest:
    """What a member certificate binds: a name, a role and the member's chain signing key."""

    common_name: str
    role: Role
    chain_public_key: bytes  # raw public key of the chain's suite
    validity: Validity
    tls_public_key: CertificatePublicKey | None = None  # `gm` only: the P-256 TLS key
    hosts: tuple[str, ...] = ()  # subjectAltName entries (DNS names or IP literals) for TLS
    serial: int | None = None  # None: a fresh random serial


def _name(organisation: str, common_name: str, role: Role | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)]
    if role is not None:  # informational only: the role extension is authoritative
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _key_usage(*, digital_signature: bool, certificate_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certificate_sign,
        crl_sign=certificate_sign,
        encipher_only=False,
        decipher_only=False,
    )


def create_certificate_authority(
    *,
    organisation: str,
    suite: Suite,
    validity: Validity,
    private_key: CertificatePrivateKey | None = None,
    serial: int | None = None,
) -> CertificateAuthority:
    """A self-signed CA for `organisation`, with a key of the suite's certificate profile."""
    profile = profile_for(suite.name)
    key = private_key if private_key is not None else generate_certificate_key(profile)
    if not key_matches_profile(key.public_key(), profile):
        raise InvalidKey(f"CA key is not {profile.key_algorithm} as suite {suite.name} needs")
    name = _name(organisation, f"{organisation} CA")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(validity.not_before)
        .not_valid_after(validity.not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=False, certificate_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, signature_hash(profile))
    )
    return CertificateAuthority(
        organisation=organisation, profile=profile, certificate=certificate, private_key=key
    )


def _subject_key(
    suite: Suite, profile: CertificateProfile, request: MemberRequest
) -> CertificatePublicKey:
    """The key the certificate certifies; checks the request against the suite's profile."""
    suite.validate_public_key(request.chain_public_key)
    if not profile.chain_key_in_extension:
        if request.tls_public_key is not None:
            raise InvalidKey(f"suite {suite.name} certificates take no separate TLS key")
        return ed25519.Ed25519PublicKey.from_public_bytes(request.chain_public_key)
    if request.tls_public_key is None or not key_matches_profile(request.tls_public_key, profile):
        raise InvalidKey(f"suite {suite.name} certificates need a {profile.key_algorithm} TLS key")
    return request.tls_public_key


def _subject_alternative_name(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def issue_member_certificate(
    authority: CertificateAuthority, suite: Suite, request: MemberRequest
) -> x509.Certificate:
    """A member certificate signed by `authority`, carrying the role (and, for `gm`, the chain
    signing key) in Gongshi's extensions."""
    profile = authority.profile
    assert profile.suite_name == suite.name, "authority and suite disagree"
    subject_key = _subject_key(suite, profile, request)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if request.role is Role.NODE:
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    ca_key = authority.private_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(authority.organisation, request.common_name, request.role))
        .issuer_name(authority.certificate.subject)
        .public_key(subject_key)
        .serial_number(
            request.serial if request.serial is not None else x509.random_serial_number()
        )
        .not_valid_before(request.validity.not_before)
        .not_valid_after(request.validity.not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, certificate_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key), critical=False)
        .add_extension(role_extension(request.role), critical=IDENTITY_EXTENSIONS_CRITICAL)
    )
    if request.hosts:
        builder = builder.add_extension(_subject_alternative_name(request.hosts), critical=False)
    if profile.chain_key_in_extension:
        extension = chain_key_extension(suite.name, request.chain_public_key)
        builder = builder.add_extension(extension, critical=IDENTITY_EXTENSIONS_CRITICAL)
    return builder.sign(authority.private_key, signature_hash(profile))
