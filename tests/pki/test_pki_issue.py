"""Issuance: certificate profiles per suite and the identity extensions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gongshi.crypto import get_suite
from gongshi.errors import InvalidKey, UnknownSuite
from gongshi.pki import (
    CHAIN_KEY_OID,
    GONGSHI_OID_ARC,
    ROLE_OID,
    MemberRequest,
    Role,
    Validity,
    create_certificate_authority,
    generate_certificate_key,
    issue_member_certificate,
    profile_for,
)
from gongshi.pki.extensions import read_chain_key, read_role
from gongshi.pki.profile import GM_PROFILE, INTL_PROFILE


def test_oids_are_distinct_children_of_the_uuid_arc() -> None:
    arc = GONGSHI_OID_ARC.split(".")
    assert arc[:2] == ["2", "25"] and 0 < int(arc[2]) < 1 << 128
    assert ROLE_OID.dotted_string == f"{GONGSHI_OID_ARC}.1"
    assert CHAIN_KEY_OID.dotted_string == f"{GONGSHI_OID_ARC}.2"


def test_unknown_suite_has_no_profile() -> None:
    with pytest.raises(UnknownSuite):
        profile_for("rot13")


@pytest.mark.parametrize("role", list(Role))
def test_member_certificate_shape(pki, role: Role) -> None:
    certificate, key = pki.member("org1", role)
    extensions = certificate.extensions
    assert read_role(certificate) is role
    assert not extensions.get_extension_for_oid(ROLE_OID).critical
    assert extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usages = list(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    server_auth = x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
    assert (server_auth in usages) is (role is Role.NODE)
    if pki.suite.name == "gm":
        assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
        assert read_chain_key(certificate) == ("gm", key.public_key_bytes())
        assert not extensions.get_extension_for_oid(CHAIN_KEY_OID).critical
    else:
        public_key = certificate.public_key()
        assert isinstance(public_key, ed25519.Ed25519PublicKey)
        assert public_key.public_bytes_raw() == key.public_key_bytes()
        assert read_chain_key(certificate) is None


def test_ca_certificate_shape(pki) -> None:
    certificate = pki.authorities["org1"].certificate
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert certificate.issuer == certificate.subject


def test_node_certificate_names_its_hosts(pki) -> None:
    key = pki.suite.generate_private_key()
    request = pki.request(Role.NODE, key)
    request = MemberRequest(
        common_name="node1",
        role=Role.NODE,
        chain_public_key=request.chain_public_key,
        validity=request.validity,
        tls_public_key=request.tls_public_key,
        hosts=("node1", "127.0.0.1", "::1"),
    )
    certificate = issue_member_certificate(pki.authorities["org1"], pki.suite, request)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["node1"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]


def test_issuance_checks_the_keys_against_the_profile() -> None:
    intl, gm = get_suite("intl"), get_suite("gm")
    validity = Validity.starting(datetime(2030, 1, 1, tzinfo=UTC), 10)
    with pytest.raises(InvalidKey, match="CA key is not ecdsa-p256"):
        create_certificate_authority(
            organisation="org1",
            suite=gm,
            validity=validity,
            private_key=generate_certificate_key(INTL_PROFILE),
        )
    intl_ca = create_certificate_authority(organisation="org1", suite=intl, validity=validity)
    gm_ca = create_certificate_authority(organisation="org1", suite=gm, validity=validity)
    tls_key = generate_certificate_key(GM_PROFILE).public_key()

    def request(suite_key: bytes, tls: object = None) -> MemberRequest:
        return MemberRequest(
            common_name="m",
            role=Role.CLIENT,
            chain_public_key=suite_key,
            validity=validity,
            tls_public_key=tls,
        )

    intl_key = intl.generate_private_key().public_key_bytes()
    gm_key = gm.generate_private_key().public_key_bytes()
    with pytest.raises(InvalidKey, match="no separate TLS key"):
        issue_member_certificate(intl_ca, intl, request(intl_key, tls_key))
    with pytest.raises(InvalidKey, match="need a ecdsa-p256 TLS key"):
        issue_member_certificate(gm_ca, gm, request(gm_key))
    with pytest.raises(InvalidKey):
        issue_member_certificate(gm_ca, gm, request(intl_key, tls_key))  # not an SM2 point
    with pytest.raises(InvalidKey):
        issue_member_certificate(intl_ca, intl, request(b"\x00" * 31))
