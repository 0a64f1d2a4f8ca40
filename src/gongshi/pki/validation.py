"""Member certificate validation: pure, given the genesis trust anchors, a time and a
revocation list.

`validate_certificate` answers "who is this, and may it act in this role now?" for mempool
admission, execution and the TLS handshake. The checks run in a fixed order, so a certificate
with several faults always gets the same reason: parse, organisation, issuer and CA signature
(nothing the certificate says is trusted before that), profile, validity period, identity
extensions, revocation, role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from gongshi.crypto import Suite
from gongshi.errors import InvalidKey
from gongshi.pki.errors import (
    BadCertificateSignature,
    BadIdentityExtension,
    CertificateExpired,
    CertificateMalformed,
    CertificateNotYetValid,
    CertificateRevoked,
    UnknownOrganisation,
    WrongIssuer,
    WrongRole,
)
from gongshi.pki.extensions import read_chain_key, read_role
from gongshi.pki.profile import CertificateProfile, key_matches_profile, profile_for
from gongshi.pki.roles import Role

CERTIFICATE_SIZE_MAX = 16 * 1024
MESSAGE_TEXT_MAX = 100  # certificate text quoted in an error message
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# what `cryptography` raises for malformed certificate fields, some of them only on access
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
_MILLISECOND = timedelta(milliseconds=1)


def datetime_to_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, in integers only (no float timestamps)."""
    assert moment.tzinfo is not None, "naive datetime"
    return (moment - _EPOCH) // _MILLISECOND


def ms_to_datetime(milliseconds: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=milliseconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrganisationAuthority:
    """An organisation and its CA certificate, as listed in genesis."""

    organisation: str
    certificate: x509.Certificate


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustStore:
    """The trust anchors of one chain: its suite and each organisation's CA."""

    suite: Suite
    authorities: tuple[OrganisationAuthority, ...]
    # organisations allowed to issue `regulator` certificates
    regulator_organisations: frozenset[str] = frozenset()

    def authority(self, organisation: str) -> x509.Certificate | None:
        for entry in self.authorities:  # bounded by the organisation count in genesis
            if entry.organisation == organisation:
                return entry.certificate
        return None

    def ca_certificates_pem(self) -> str:
        """Every CA certificate as one PEM bundle, for `ssl.SSLContext.load_verify_locations`."""
        return "".join(
            entry.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
            for entry in self.authorities
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RevocationList:
    """Revoked certificates, by (organisation, serial) or by suite hash of the chain key."""

    serials: frozenset[tuple[str, int]] = frozenset()
    key_hashes: frozenset[bytes] = frozenset()


NO_REVOCATIONS = RevocationList()


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who a valid certificate speaks for."""

    organisation: str
    role: Role
    public_key: bytes  # raw chain signing public key of the chain's suite
    address: bytes  # suite address of `public_key`
    serial: int
    common_name: str


def load_certificate(data: bytes) -> x509.Certificate:
    """Parse a PEM or DER certificate completely; CertificateMalformed otherwise."""
    if not isinstance(data, bytes) or len(data) > CERTIFICATE_SIZE_MAX:
        raise CertificateMalformed(f"certificate must be bytes of at most {CERTIFICATE_SIZE_MAX}")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            certificate = x509.load_pem_x509_certificate(data)
        else:
            certificate = x509.load_der_x509_certificate(data)
    except _PARSE_ERRORS as error:
        raise CertificateMalformed(f"not an X.509 certificate: {error}") from error
    require_parsable(certificate)
    return certificate


def require_parsable(certificate: x509.Certificate) -> None:
    """`cryptography` parses most fields lazily, on first access: touch every field we use
    now, so a malformed one is CertificateMalformed here and never a ValueError later."""
    try:
        certificate.subject.rfc4514_string()
        certificate.issuer.rfc4514_string()
        len(certificate.extensions)
        certificate.public_key()
        certificate.not_valid_before_utc  # noqa: B018 - parsed on access
        certificate.not_valid_after_utc  # noqa: B018
        serial = certificate.serial_number
        certificate.signature_hash_algorithm  # noqa: B018
    except _PARSE_ERRORS as error:
        raise CertificateMalformed(f"certificate is malformed: {error}") from error
    if serial <= 0:
        raise CertificateMalformed("certificate serial number is not positive (RFC 5280)")


def _quoted(text: str) -> str:
    """`text` from a certificate, quoted and cut short for an error message."""
    return repr(text if len(text) <= MESSAGE_TEXT_MAX else text[:MESSAGE_TEXT_MAX] + "…")


def _single_name(name: x509.Name, oid: x509.ObjectIdentifier, what: str) -> str:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str):
        raise CertificateMalformed(f"certificate {what} must hold exactly one {oid.dotted_string}")
    return values[0].value


def _key_identifier(certificate: x509.Certificate, authority: bool) -> bytes | None:
    try:
        if authority:
            aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
            return aki.value.key_identifier
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        return ski.value.digest
    except x509.ExtensionNotFound:
        return None
    except ValueError as error:
        raise CertificateMalformed(f"certificate extensions are malformed: {error}") from error


def check_signed_by(certificate: x509.Certificate, issuer: x509.Certificate, what: str) -> None:
    """Raise WrongIssuer or BadCertificateSignature unless `issuer` signed `certificate`."""
    if certificate.issuer != issuer.subject:
        raise WrongIssuer(
            f"{what} is issued by {_quoted(certificate.issuer.rfc4514_string())}, not "
            f"by {_quoted(issuer.subject.rfc4514_string())}"
        )
    authority_key = _key_identifier(certificate, authority=True)
    issuer_key = _key_identifier(issuer, authority=False)
    if authority_key is not None and issuer_key is not None and authority_key != issuer_key:
        raise WrongIssuer(f"{what} names a CA key other than its organisation's CA key")
    try:
        certificate.verify_directly_issued_by(issuer)
    except InvalidSignature as error:
        raise BadCertificateSignature(f"{what}: CA signature does not verify") from error
    except (ValueError, TypeError) as error:
        raise BadCertificateSignature(f"{what}: CA signature cannot be checked: {error}") from error


def check_authority_certificate(
    organisation: str, certificate: x509.Certificate, profile: CertificateProfile
) -> None:
    """Raise a CertificateRejected unless `certificate` is a proper self-signed CA of
    `organisation` with a key of the suite's profile."""
    named = _single_name(certificate.subject, NameOID.ORGANIZATION_NAME, "subject")
    if named != organisation:
        raise UnknownOrganisation(f"CA certificate names organisation {_quoted(named)}")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound as error:
        raise CertificateMalformed("CA certificate has no basicConstraints") from error
    except ValueError as error:
        raise CertificateMalformed(f"CA certificate extensions are malformed: {error}") from error
    if not constraints.value.ca:
        raise CertificateMalformed("CA certificate is not marked as a CA")
    if not key_matches_profile(certificate.public_key(), profile):
        raise CertificateMalformed(f"CA key is not {profile.key_algorithm}")
    check_signed_by(certificate, certificate, "CA certificate")


def _check_validity(certificate: x509.Certificate, now_ms: int) -> None:
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    if now_ms < datetime_to_ms(not_before):
        raise CertificateNotYetValid(f"certificate is valid only from {not_before.isoformat()}")
    if now_ms > datetime_to_ms(not_after):
        raise CertificateExpired(f"certificate expired at {not_after.isoformat()}")


def _chain_public_key(
    certificate: x509.Certificate, suite: Suite, profile: CertificateProfile
) -> bytes:
    """The member's chain signing key, from the certificate key or the chain-key extension."""
    subject_key = certificate.public_key()
    if not key_matches_profile(subject_key, profile):
        raise CertificateMalformed(f"certificate key is not {profile.key_algorithm}")
    bound = read_chain_key(certificate)
    if not profile.chain_key_in_extension:
        if bound is not None:
            raise BadIdentityExtension(f"suite {suite.name} certificates carry no chain key")
        assert isinstance(subject_key, ed25519.Ed25519PublicKey)
        public_key = subject_key.public_bytes_raw()
    else:
        if bound is None:
            raise BadIdentityExtension("certificate has no chain signing key extension")
        suite_name, public_key = bound
        if suite_name != suite.name:
            raise BadIdentityExtension(f"chain key is for suite {suite_name[:16]!r}")
    try:
        suite.validate_public_key(public_key)
    except InvalidKey as error:
        raise BadIdentityExtension(f"chain signing key is invalid: {error}") from error
    return public_key


def _check_role(
    role: Role, organisation: str, trust: TrustStore, roles: Iterable[Role] | None
) -> None:
    if role is Role.REGULATOR and organisation not in trust.regulator_organisations:
        raise WrongRole(
            f"organisation {_quoted(organisation)} may not issue regulator certificates"
        )
    if roles is not None:
        accepted = sorted(role.value for role in roles)
        if role.value not in accepted:
            raise WrongRole(f"certificate role is {role.value}; expected {' or '.join(accepted)}")


def validate_certificate(
    certificate: bytes | x509.Certificate,
    *,
    trust: TrustStore,
    now_ms: int,
    revocations: RevocationList = NO_REVOCATIONS,
    roles: Iterable[Role] | None = None,
) -> Identity:
    """The identity a member certificate proves at time `now_ms` (Unix milliseconds), or a
    CertificateRejected subclass naming the reason. `roles`: the roles accepted (None: any)."""
    if isinstance(certificate, x509.Certificate):
        require_parsable(certificate)
        parsed = certificate
    else:
        parsed = load_certificate(certificate)
    organisation = _single_name(parsed.subject, NameOID.ORGANIZATION_NAME, "subject")
    authority = trust.authority(organisation)
    if authority is None:
        raise UnknownOrganisation(f"organisation {_quoted(organisation)} is not in genesis")
    check_signed_by(parsed, authority, "certificate")
    try:
        constraints = parsed.extensions.get_extension_for_class(x509.BasicConstraints)
        if constraints.value.ca:
            raise CertificateMalformed("a CA certificate is not a member certificate")
    except x509.ExtensionNotFound:
        pass
    except ValueError as error:
        raise CertificateMalformed(f"certificate extensions are malformed: {error}") from error
    _check_validity(parsed, now_ms)
    profile = profile_for(trust.suite.name)
    public_key = _chain_public_key(parsed, trust.suite, profile)
    role = read_role(parsed)
    if (organisation, parsed.serial_number) in revocations.serials:
        raise CertificateRevoked(f"certificate serial {parsed.serial_number:x} is revoked")
    if trust.suite.hash(public_key) in revocations.key_hashes:
        raise CertificateRevoked("certificate's chain signing key is revoked")
    _check_role(role, organisation, trust, roles)
    return Identity(
        organisation=organisation,
        role=role,
        public_key=public_key,
        address=trust.suite.address(public_key),
        serial=parsed.serial_number,
        common_name=_single_name(parsed.subject, NameOID.COMMON_NAME, "subject"),
    )
