"""Certificate validation: every rejection reason, for both suites."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongshi.errors import InvalidCertificate
from gongshi.pki import (
    RevocationList,
    Role,
    Validity,
    create_certificate_authority,
    datetime_to_ms,
    issue_member_certificate,
    validate_certificate,
)
from gongshi.pki.errors import (
    BadCertificateSignature,
    BadIdentityExtension,
    CertificateExpired,
    CertificateMalformed,
    CertificateNotYetValid,
    CertificateRejected,
    CertificateRevoked,
    UnknownOrganisation,
    WrongIssuer,
    WrongRole,
)
from gongshi.pki.extensions import CHAIN_KEY_OID, ROLE_OID, chain_key_extension
from gongshi.pki.profile import generate_certificate_key, signature_hash

ALL_ROLES = tuple(Role)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_member_certificate_validates_with_its_role(pki, role: Role) -> None:
    certificate, key = pki.member("org1", role)
    der = certificate.public_bytes(serialization.Encoding.DER)
    identity = validate_certificate(der, trust=pki.trust(), now_ms=pki.inside_ms, roles=[role])
    assert identity.organisation == "org1"
    assert identity.role is role
    assert identity.public_key == key.public_key_bytes()
    assert identity.address == pki.suite.address(key.public_key_bytes())
    assert identity.serial == certificate.serial_number
    assert identity.common_name == f"member-{role.value}"


def test_pem_and_parsed_forms_give_the_same_identity(pki) -> None:
    certificate, _ = pki.member("org2", Role.CLIENT)
    trust = pki.trust()
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    assert validate_certificate(pem, trust=trust, now_ms=pki.inside_ms) == validate_certificate(
        certificate, trust=trust, now_ms=pki.inside_ms
    )


@pytest.mark.parametrize(
    ("actual", "accepted"),
    [(Role.CLIENT, [Role.NODE]), (Role.NODE, [Role.ADMIN, Role.CLIENT]), (Role.ADMIN, [])],
)
def test_wrong_role_is_rejected(pki, actual: Role, accepted: list[Role]) -> None:
    certificate, _ = pki.member("org1", actual)
    with pytest.raises(WrongRole, match=f"role is {actual.value}"):
        validate_certificate(certificate, trust=pki.trust(), now_ms=pki.inside_ms, roles=accepted)


def test_regulator_only_from_designated_organisations(pki) -> None:
    certificate, _ = pki.member("org2", Role.REGULATOR)
    with pytest.raises(WrongRole, match="may not issue regulator"):
        validate_certificate(certificate, trust=pki.trust(), now_ms=pki.inside_ms)
    designated = pki.trust(frozenset({"org2"}))
    identity = validate_certificate(certificate, trust=designated, now_ms=pki.inside_ms)
    assert identity.role is Role.REGULATOR


def test_certificate_from_an_impostor_ca_with_the_same_name_is_rejected(pki) -> None:
    genuine = pki.authorities["org1"]
    impostor = create_certificate_authority(
        organisation="org1", suite=pki.suite, validity=Validity.starting(pki.start, 3650)
    )
    assert impostor.certificate.subject == genuine.certificate.subject
    key = pki.suite.generate_private_key()
    forged = issue_member_certificate(impostor, pki.suite, pki.request(Role.ADMIN, key))
    with pytest.raises(WrongIssuer, match="CA key other than"):
        validate_certificate(forged, trust=pki.trust(), now_ms=pki.inside_ms)


def test_certificate_of_one_organisation_issued_by_another_ca_is_rejected(pki) -> None:
    other = pki.authorities["org2"]
    org1_subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org1")])
    key = pki.suite.generate_private_key()
    request = pki.request(Role.ADMIN, key)
    genuine = issue_member_certificate(other, pki.suite, request)
    builder = _copy_builder(genuine, subject=org1_subject)
    crossed = builder.sign(other.private_key, signature_hash(other.profile))
    with pytest.raises(WrongIssuer, match="not by 'CN=org1 CA,O=org1'"):
        validate_certificate(crossed, trust=pki.trust(), now_ms=pki.inside_ms)


def test_unknown_organisation_is_rejected(pki) -> None:
    stranger = pki.add_organisation("org9")
    key = pki.suite.generate_private_key()
    certificate = issue_member_certificate(stranger, pki.suite, pki.request(Role.CLIENT, key))
    del pki.authorities["org9"]
    with pytest.raises(UnknownOrganisation, match="org9"):
        validate_certificate(certificate, trust=pki.trust(), now_ms=pki.inside_ms)


def test_validity_period_bounds(pki) -> None:
    certificate, _ = pki.member("org1", Role.CLIENT)
    first_ms = datetime_to_ms(pki.start)
    last_ms = datetime_to_ms(pki.start + timedelta(days=pki.member_days))
    trust = pki.trust()
    for valid_ms in (first_ms, last_ms):
        validate_certificate(certificate, trust=trust, now_ms=valid_ms)
    with pytest.raises(CertificateNotYetValid, match="valid only from 2030-01-01"):
        validate_certificate(certificate, trust=trust, now_ms=first_ms - 1)
    with pytest.raises(CertificateExpired, match="expired at 2031-01-01"):
        validate_certificate(certificate, trust=trust, now_ms=last_ms + 1)


def test_revoked_by_serial_within_its_organisation_only(pki) -> None:
    certificate, _ = pki.member("org1", Role.CLIENT, serial=4242)
    trust = pki.trust()
    other_org = RevocationList(serials=frozenset({("org2", 4242)}))
    validate_certificate(certificate, trust=trust, now_ms=pki.inside_ms, revocations=other_org)
    revoked = RevocationList(serials=frozenset({("org1", 4242)}))
    with pytest.raises(CertificateRevoked, match="serial 1092 is revoked"):
        validate_certificate(certificate, trust=trust, now_ms=pki.inside_ms, revocations=revoked)


def test_revoked_by_key_hash(pki) -> None:
    certificate, key = pki.member("org1", Role.NODE)
    revoked = RevocationList(key_hashes=frozenset({pki.suite.hash(key.public_key_bytes())}))
    with pytest.raises(CertificateRevoked, match="signing key is revoked"):
        validate_certificate(
            certificate, trust=pki.trust(), now_ms=pki.inside_ms, revocations=revoked
        )


def test_ca_certificate_is_not_a_member_certificate(pki) -> None:
    authority = pki.authorities["org1"]
    with pytest.raises(CertificateMalformed, match="CA certificate is not a member"):
        validate_certificate(authority.certificate, trust=pki.trust(), now_ms=pki.inside_ms)


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n", 3])
def test_unparsable_input_is_malformed(pki, data: object) -> None:
    with pytest.raises(CertificateMalformed):
        validate_certificate(data, trust=pki.trust(), now_ms=pki.inside_ms)  # type: ignore[arg-type]


# --- tampering and broken extensions ---------------------------------------------------------


def _copy_builder(
    certificate: x509.Certificate,
    *,
    skip: frozenset = frozenset(),
    subject: x509.Name | None = None,
    public_key: object = None,
) -> x509.CertificateBuilder:
    """A builder reproducing `certificate` minus the extensions whose OIDs are in `skip`,
    optionally with another subject or public key."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or certificate.subject)
        .issuer_name(certificate.issuer)
        .public_key(public_key or certificate.public_key())
        .serial_number(certificate.serial_number)
        .not_valid_before(certificate.not_valid_before_utc)
        .not_valid_after(certificate.not_valid_after_utc)
    )
    for extension in certificate.extensions:
        if extension.oid not in skip:
            builder = builder.add_extension(extension.value, critical=extension.critical)
    return builder


def _resign(pki, certificate: x509.Certificate, builder: x509.CertificateBuilder) -> bytes:
    authority = pki.authorities["org1"]
    signed = builder.sign(authority.private_key, signature_hash(authority.profile))
    return signed.public_bytes(serialization.Encoding.DER)


def test_tampered_role_extension_breaks_the_signature(pki) -> None:
    certificate, _ = pki.member("org1", Role.NODE)
    der = certificate.public_bytes(serialization.Encoding.DER)
    role_value = b"\x0c\x04node"  # also in the subject (OU); the extension comes later
    at = der.rindex(role_value)
    assert at > der.index(role_value)
    tampered = der[:at] + b"\x0c\x04nodf" + der[at + len(role_value) :]
    with pytest.raises(BadCertificateSignature, match="CA signature does not verify"):
        validate_certificate(tampered, trust=pki.trust(), now_ms=pki.inside_ms)


def test_tampered_chain_key_breaks_the_signature(pki) -> None:
    certificate, key = pki.member("org1", Role.CLIENT)
    der = certificate.public_bytes(serialization.Encoding.DER)
    public_key = key.public_key_bytes()
    assert der.count(public_key) == 1
    altered = public_key[:-1] + bytes([public_key[-1] ^ 1])
    with pytest.raises(BadCertificateSignature):
        validate_certificate(
            der.replace(public_key, altered), trust=pki.trust(), now_ms=pki.inside_ms
        )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"\x0c\x05mayor", "unknown role 'mayor'"),
        (b"\x04\x05admin", "not a single DER value"),
        (b"\x0c\x81\x05admin", "not minimally encoded"),
        (b"\x0c\x05admin\x00", "truncated"),
        (b"\x0c\x02\xff\xfe", "not valid UTF-8"),
    ],
)
def test_ca_signed_but_malformed_role_extension(pki, value: bytes, message: str) -> None:
    certificate, _ = pki.member("org1", Role.ADMIN)
    builder = _copy_builder(certificate, skip=frozenset({ROLE_OID})).add_extension(
        x509.UnrecognizedExtension(ROLE_OID, value), critical=False
    )
    with pytest.raises(BadIdentityExtension, match=message):
        validate_certificate(
            _resign(pki, certificate, builder), trust=pki.trust(), now_ms=pki.inside_ms
        )


def test_missing_role_extension(pki) -> None:
    certificate, _ = pki.member("org1", Role.ADMIN)
    builder = _copy_builder(certificate, skip=frozenset({ROLE_OID}))
    with pytest.raises(BadIdentityExtension, match="no Gongshi role extension"):
        validate_certificate(
            _resign(pki, certificate, builder), trust=pki.trust(), now_ms=pki.inside_ms
        )


def test_critical_role_extension_is_rejected(pki) -> None:
    certificate, _ = pki.member("org1", Role.ADMIN)
    role = certificate.extensions.get_extension_for_oid(ROLE_OID).value
    builder = _copy_builder(certificate, skip=frozenset({ROLE_OID})).add_extension(
        role, critical=True
    )
    with pytest.raises(BadIdentityExtension, match="must be non-critical"):
        validate_certificate(
            _resign(pki, certificate, builder), trust=pki.trust(), now_ms=pki.inside_ms
        )


def test_chain_key_extension_must_match_the_suite(pki) -> None:
    certificate, key = pki.member("org1", Role.CLIENT)
    other_suite = "intl" if pki.suite.name == "gm" else "gm"
    builder = _copy_builder(certificate, skip=frozenset({CHAIN_KEY_OID})).add_extension(
        chain_key_extension(other_suite, key.public_key_bytes()), critical=False
    )
    expected = "chain key is for suite 'intl'" if pki.suite.name == "gm" else "carry no chain key"
    with pytest.raises(BadIdentityExtension, match=expected):
        validate_certificate(
            _resign(pki, certificate, builder), trust=pki.trust(), now_ms=pki.inside_ms
        )


def test_gm_certificate_needs_a_valid_chain_key(pki) -> None:
    if pki.suite.name != "gm":
        pytest.skip("only gm certificates carry the chain key in an extension")
    certificate, _ = pki.member("org1", Role.CLIENT)
    without = _copy_builder(certificate, skip=frozenset({CHAIN_KEY_OID}))
    with pytest.raises(BadIdentityExtension, match="no chain signing key extension"):
        validate_certificate(
            _resign(pki, certificate, without), trust=pki.trust(), now_ms=pki.inside_ms
        )
    not_on_curve = b"\x04" + b"\x01" * 64
    bad_key = _copy_builder(certificate, skip=frozenset({CHAIN_KEY_OID})).add_extension(
        chain_key_extension("gm", not_on_curve), critical=False
    )
    with pytest.raises(BadIdentityExtension, match="chain signing key is invalid"):
        validate_certificate(
            _resign(pki, certificate, bad_key), trust=pki.trust(), now_ms=pki.inside_ms
        )


def test_certificate_key_of_the_wrong_algorithm_is_rejected(pki) -> None:
    certificate, _ = pki.member("org1", Role.CLIENT)
    other = "ecdsa" if pki.suite.name == "intl" else "ed25519"
    from gongshi.pki.profile import GM_PROFILE, INTL_PROFILE

    wrong_key = generate_certificate_key(GM_PROFILE if other == "ecdsa" else INTL_PROFILE)
    builder = _copy_builder(certificate, public_key=wrong_key.public_key())
    with pytest.raises(CertificateMalformed, match="certificate key is not"):
        validate_certificate(
            _resign(pki, certificate, builder), trust=pki.trust(), now_ms=pki.inside_ms
        )


# a mutated serial may turn negative: `cryptography` warns, and we reject it as malformed
@pytest.mark.filterwarnings(
    "ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning"
)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_byte_change_is_rejected_cleanly(pki, data: st.DataObject) -> None:
    """A corrupted certificate raises a CertificateRejected, never a raw exception; the only
    changes that validate leave the identity unchanged (`cryptography` ignores the "unused
    bits" octet of the signature BIT STRING, a harmless malleability)."""
    certificate, _ = pki.member("org1", Role.NODE)
    trust = pki.trust()
    original = validate_certificate(certificate, trust=trust, now_ms=pki.inside_ms)
    der = bytearray(certificate.public_bytes(serialization.Encoding.DER))
    # certificates differ in length (random serials, ECDSA signatures): draw a position first
    index = data.draw(st.integers(0, 1 << 16), label="position") % len(der)
    der[index] ^= data.draw(st.integers(1, 255), label="xor")
    try:
        identity = validate_certificate(bytes(der), trust=trust, now_ms=pki.inside_ms)
    except InvalidCertificate as error:
        assert isinstance(error, CertificateRejected)
    else:
        assert identity == original
