"""Identity and PKI: organisation CAs, member certificates with Gongshi roles, validation.

See docs/pki.md for the certificate profiles of the two suites and the extension OIDs.
"""

from gongshi.pki.extensions import CHAIN_KEY_OID, GONGSHI_OID_ARC, ROLE_OID
from gongshi.pki.issue import (
    CA_VALIDITY_DAYS,
    MEMBER_VALIDITY_DAYS,
    CertificateAuthority,
    MemberRequest,
    Validity,
    create_certificate_authority,
    issue_member_certificate,
)
from gongshi.pki.profile import CertificateProfile, generate_certificate_key, profile_for
from gongshi.pki.roles import Role
from gongshi.pki.tls import mutual_tls_context, peer_identity
from gongshi.pki.validation import (
    NO_REVOCATIONS,
    Identity,
    OrganisationAuthority,
    RevocationList,
    TrustStore,
    datetime_to_ms,
    load_certificate,
    validate_certificate,
)

__all__ = [
    "CA_VALIDITY_DAYS",
    "CHAIN_KEY_OID",
    "GONGSHI_OID_ARC",
    "MEMBER_VALIDITY_DAYS",
    "NO_REVOCATIONS",
    "ROLE_OID",
    "CertificateAuthority",
    "CertificateProfile",
    "Identity",
    "MemberRequest",
    "OrganisationAuthority",
    "RevocationList",
    "Role",
    "TrustStore",
    "Validity",
    "create_certificate_authority",
    "datetime_to_ms",
    "generate_certificate_key",
    "issue_member_certificate",
    "load_certificate",
    "mutual_tls_context",
    "peer_identity",
    "profile_for",
    "validate_certificate",
]
