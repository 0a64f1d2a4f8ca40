"""A small two-organisation PKI for each suite, built in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from gongshi.crypto import PrivateKey, Suite, get_suite
from gongshi.pki import (
    CertificateAuthority,
    MemberRequest,
    OrganisationAuthority,
    Role,
    TrustStore,
    Validity,
    create_certificate_authority,
    datetime_to_ms,
    generate_certificate_key,
    issue_member_certificate,
)

SUITE_NAMES = ("intl", "gm")
START = datetime(2030, 1, 1, tzinfo=UTC)
MEMBER_DAYS = 365
INSIDE_MS = datetime_to_ms(START + timedelta(days=10))


@dataclass
class Pki:
    suite: Suite
    authorities: dict[str, CertificateAuthority] = field(default_factory=dict)
    start: datetime = START  # members are valid from here for MEMBER_DAYS
    member_days: int = MEMBER_DAYS
    inside_ms: int = INSIDE_MS  # a time inside every default validity period

    def add_organisation(self, name: str) -> CertificateAuthority:
        authority = create_certificate_authority(
            organisation=name, suite=self.suite, validity=Validity.starting(START, 3650)
        )
        self.authorities[name] = authority
        return authority

    def trust(self, regulator_organisations: frozenset[str] = frozenset({"org1"})) -> TrustStore:
        return TrustStore(
            suite=self.suite,
            authorities=tuple(
                OrganisationAuthority(organisation=name, certificate=authority.certificate)
                for name, authority in self.authorities.items()
            ),
            regulator_organisations=regulator_organisations,
        )

    def request(
        self,
        role: Role,
        key: PrivateKey,
        *,
        validity: Validity | None = None,
        serial: int | None = None,
    ) -> MemberRequest:
        tls_key = None
        if self.suite.name == "gm":
            profile = next(iter(self.authorities.values())).profile
            tls_key = generate_certificate_key(profile).public_key()
        return MemberRequest(
            common_name=f"member-{role.value}",
            role=role,
            chain_public_key=key.public_key_bytes(),
            validity=validity or Validity.starting(START, MEMBER_DAYS),
            tls_public_key=tls_key,
            serial=serial,
        )

    def member(
        self,
        organisation: str,
        role: Role,
        *,
        validity: Validity | None = None,
        serial: int | None = None,
    ) -> tuple[x509.Certificate, PrivateKey]:
        key = self.suite.generate_private_key()
        request = self.request(role, key, validity=validity, serial=serial)
        certificate = issue_member_certificate(self.authorities[organisation], self.suite, request)
        return certificate, key


@pytest.fixture(params=SUITE_NAMES)
def pki(request: pytest.FixtureRequest) -> Pki:
    built = Pki(suite=get_suite(request.param))
    built.add_organisation("org1")
    built.add_organisation("org2")
    return built
