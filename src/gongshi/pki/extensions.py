"""Gongshi's two private X.509 extensions: the member's role and its chain signing key.

Both OIDs live under our own UUID arc (ITU-T X.667: `2.25.<uuid as integer>`, one uuid drawn
once and fixed here), so they can never collide with anybody else's.

Both extensions are **non-critical** on purpose. A critical extension that a verifier does not
understand makes it reject the certificate (RFC 5280 §4.2), and OpenSSL, behind Python's `ssl`,
does exactly that: critical Gongshi extensions would break mutual TLS between nodes. Gongshi's
own validator (`gongshi.pki.validation`) treats both as mandatory whatever the flag says, and
the CA signature covers them, so non-critical loses no protection where the roles matter.

Values (DER):
- role: `UTF8String` holding one of the role names (`admin`, `client`, ...);
- chain signing key: `SEQUENCE { suite UTF8String, publicKey OCTET STRING }` holding the
  suite's raw public key (65-byte uncompressed SM2 point for `gm`). Only `gm` certificates
  carry it: in `intl` the certificate's own Ed25519 key is the chain signing key.
"""

from __future__ import annotations

from cryptography import x509

from gongshi.pki import der
from gongshi.pki.errors import BadIdentityExtension
from gongshi.pki.roles import ROLE_NAMES, Role

GONGSHI_OID_ARC = "2.25.82564456771565178490205452502668019963"
ROLE_OID = x509.ObjectIdentifier(f"{GONGSHI_OID_ARC}.1")
CHAIN_KEY_OID = x509.ObjectIdentifier(f"{GONGSHI_OID_ARC}.2")
IDENTITY_EXTENSIONS_CRITICAL = False

SUITE_NAME_SIZE_MAX = 16
PUBLIC_KEY_SIZE_MAX = 256


def role_extension(role: Role) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(ROLE_OID, der.encode_utf8_string(role.value))


def chain_key_extension(suite_name: str, public_key: bytes) -> x509.UnrecognizedExtension:
    value = der.encode_sequence(
        der.encode_utf8_string(suite_name), der.encode(der.TAG_OCTET_STRING, public_key)
    )
    return x509.UnrecognizedExtension(CHAIN_KEY_OID, value)


def _find(
    certificate: x509.Certificate, oid: x509.ObjectIdentifier
) -> x509.Extension[x509.ExtensionType] | None:
    """The extension `oid` of `certificate`, None if absent; a malformed extension list raises."""
    try:
        extension = certificate.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    except ValueError as error:  # duplicate or unparsable extensions
        raise BadIdentityExtension(f"certificate extensions are malformed: {error}") from error
    if extension.critical != IDENTITY_EXTENSIONS_CRITICAL:
        raise BadIdentityExtension(f"extension {oid.dotted_string} must be non-critical")
    return extension


def _raw_value(extension: x509.Extension[x509.ExtensionType]) -> bytes:
    value = extension.value
    if not isinstance(value, x509.UnrecognizedExtension):  # pragma: no cover - our OIDs only
        raise BadIdentityExtension(f"extension {extension.oid.dotted_string} has an odd type")
    return value.value


def read_role(certificate: x509.Certificate) -> Role:
    """The role in `certificate`'s role extension; BadIdentityExtension if missing or unknown."""
    extension = _find(certificate, ROLE_OID)
    if extension is None:
        raise BadIdentityExtension("certificate has no Gongshi role extension")
    name = der.decode_utf8_string(_raw_value(extension), "role extension")
    if name not in ROLE_NAMES:
        raise BadIdentityExtension(f"role extension names an unknown role {name[:32]!r}")
    return Role(name)


def read_chain_key(certificate: x509.Certificate) -> tuple[str, bytes] | None:
    """(suite name, raw public key) from the chain-signing-key extension, None if absent."""
    extension = _find(certificate, CHAIN_KEY_OID)
    if extension is None:
        return None
    content = der.decode_single(_raw_value(extension), der.TAG_SEQUENCE, "chain key extension")
    elements = der.split_elements(content)
    tags = [tag for tag, _ in elements]
    if tags != [der.TAG_UTF8_STRING, der.TAG_OCTET_STRING]:
        raise BadIdentityExtension("chain key extension is not SEQUENCE {UTF8String, OCTET STRING}")
    suite_bytes, public_key = elements[0][1], elements[1][1]
    if len(suite_bytes) > SUITE_NAME_SIZE_MAX or len(public_key) > PUBLIC_KEY_SIZE_MAX:
        raise BadIdentityExtension("chain key extension fields are too long")
    try:
        suite_name = suite_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadIdentityExtension("chain key extension suite name is not UTF-8") from error
    return suite_name, public_key
