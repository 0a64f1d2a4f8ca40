"""Mutual TLS contexts from Gongshi certificates (Python's `ssl`, i.e. the system OpenSSL).

OpenSSL checks only that the peer's chain ends at one of the genesis CAs; it knows nothing of
Gongshi roles. After the handshake the caller must run `peer_identity` (our validator: the
organisation's own CA, role, validity, revocation) and drop the connection if it raises.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path

from gongshi.errors import ConfigError
from gongshi.pki.errors import CertificateMalformed
from gongshi.pki.roles import Role
from gongshi.pki.validation import (
    NO_REVOCATIONS,
    Identity,
    RevocationList,
    TrustStore,
    validate_certificate,
)


def mutual_tls_context(
    *,
    server_side: bool,
    certificate_file: Path,
    key_file: Path,
    trust: TrustStore,
    check_hostname: bool = False,
) -> ssl.SSLContext:
    """A TLS 1.3 context that presents our certificate and requires the peer's.

    Peers are identified by their certificate (checked by `peer_identity`), not by host name,
    so a client does not check host names unless asked to."""
    protocol = ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT
    context = ssl.SSLContext(protocol)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    if not server_side:
        context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    try:
        context.load_cert_chain(certfile=certificate_file, keyfile=key_file)
        context.load_verify_locations(cadata=trust.ca_certificates_pem())
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(
            f"cannot load TLS certificate {certificate_file} / key {key_file}: {error}"
        ) from error
    return context


def peer_identity(
    connection: ssl.SSLSocket | ssl.SSLObject,
    *,
    trust: TrustStore,
    now_ms: int,
    revocations: RevocationList = NO_REVOCATIONS,
    roles: Iterable[Role] = (Role.NODE,),
) -> Identity:
    """The validated identity of the peer of a completed handshake (default: a `node`)."""
    peer = connection.getpeercert(binary_form=True)
    if not peer:
        raise CertificateMalformed("peer presented no certificate")
    return validate_certificate(
        peer, trust=trust, now_ms=now_ms, revocations=revocations, roles=roles
    )
