"""Errors of identity, PKI, genesis and node configuration (codes 1170-1199).

Certificate rejections are one class per reason, so callers (mempool admission, execution,
the TLS handshake) can react to the reason and clients see it in the error code. Each class
also names its reason in `reason`, a stable word for logs and metrics.
"""

from __future__ import annotations

from gongshi.errors import ConfigError, InvalidCertificate, ValidationError


class CertificateRejected(InvalidCertificate):
    """Raised when a certificate fails validation; subclasses say why."""

    code = 1170
    reason = "rejected"


class CertificateMalformed(CertificateRejected):
    """Raised when a certificate cannot be parsed or breaks the member certificate profile."""

    code = 1171
    reason = "malformed"


class UnknownOrganisation(CertificateRejected):
    """Raised when a certificate names an organisation that genesis does not list."""

    code = 1172
    reason = "unknown-organisation"


class WrongIssuer(CertificateRejected):
    """Raised when a certificate was not issued by its organisation's CA in genesis."""

    code = 1173
    reason = "wrong-issuer"


class BadCertificateSignature(CertificateRejected):
    """Raised when the CA signature on a certificate does not verify (it was altered)."""

    code = 1174
    reason = "bad-signature"


class CertificateNotYetValid(CertificateRejected):
    """Raised when a certificate's validity period starts after the given time."""

    code = 1175
    reason = "not-yet-valid"


class CertificateExpired(CertificateRejected):
    """Raised when a certificate's validity period ended before the given time."""

    code = 1176
    reason = "expired"


class CertificateRevoked(CertificateRejected):
    """Raised when a certificate's serial or its chain signing key is on the revocation list."""

    code = 1177
    reason = "revoked"


class BadIdentityExtension(CertificateRejected):
    """Raised when the role or chain-signing-key extension is missing, malformed or
    inconsistent with the chain's suite."""

    code = 1178
    reason = "bad-identity-extension"


class WrongRole(CertificateRejected):
    """Raised when a certificate's role is not one the caller accepts."""

    code = 1179
    reason = "wrong-role"


class ConfigFieldError(ConfigError):
    """Raised when one field of a genesis or node configuration file is missing or invalid."""

    code = 1185

    def __init__(self, field: str, problem: str, *, source: str = "") -> None:
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field}: {problem}")
        self.field = field
        self.problem = problem


class GenesisHashMismatch(ConfigError):
    """Raised when a genesis file does not hash to the value a node configuration pins."""

    code = 1186


class NetworkDirectoryError(ConfigError):
    """Raised when `gongshi init` cannot use its output directory (not empty, not writable)."""

    code = 1187


class InvalidInitOption(ValidationError):
    """Raised when an option of `gongshi init` is out of range or inconsistent."""

    code = 1188
