"""The `identity` system contract: the on-chain registry of member certificates.

Transactions carry only the sender's public key, so a member's certificate is registered on
chain once (genesis registers the members `gongshi init` creates); admission and execution
then resolve a sender's organisation and role from state (`StateIdentityReader`). Anyone
holding a certificate that validates against its organisation's CA in state, at the block's
time, may register it, from the certificate's own chain signing key.
"""

from __future__ import annotations

import dataclasses

from cryptography.hazmat.primitives import serialization

from gongshi.codec import CborValue, frozendict
from gongshi.crypto import Suite
from gongshi.execution.args import Args
from gongshi.execution.context import ReadCall, WriteCall
from gongshi.execution.errors import (
    CertificateKeyMismatch,
    CorruptRecord,
    IdentityAlreadyRegistered,
)
from gongshi.execution.governance_records import NAMESPACE as GOVERNANCE_NAMESPACE
from gongshi.execution.governance_records import decode_stored, role_override_key
from gongshi.execution.identity_records import (
    ADDRESS_SIZE,
    NAMESPACE,
    ORGANISATIONS_KEY,
    REGULATOR_ORGANISATIONS_KEY,
    MemberIdentity,
    authority_key,
    certificate_key,
    decode_member,
    decode_names,
    encode_member,
    member_key,
    serial_bytes,
)
from gongshi.execution.registry import ReadMethod, SystemContract, WriteMethod
from gongshi.pki.roles import ROLE_NAMES, Role
from gongshi.pki.validation import (
    CERTIFICATE_SIZE_MAX,
    OrganisationAuthority,
    TrustStore,
    datetime_to_ms,
    load_certificate,
    validate_certificate,
)


def member_from_certificate(
    certificate: bytes, *, trust: TrustStore, now_ms: int, height: int
) -> tuple[MemberIdentity, bytes]:
    """The member a certificate (PEM or DER) proves at `now_ms`, and its DER encoding.

    Raises a CertificateRejected subclass (a ValidationError) naming the reason."""
    parsed = load_certificate(certificate)
    identity = validate_certificate(parsed, trust=trust, now_ms=now_ms)
    member = MemberIdentity(
        organisation=identity.organisation,
        role=identity.role,
        public_key=identity.public_key,
        address=identity.address,
        serial=identity.serial,
        not_before_ms=datetime_to_ms(parsed.not_valid_before_utc),
        not_after_ms=datetime_to_ms(parsed.not_valid_after_utc),
        registered_height=height,
    )
    return member, parsed.public_bytes(serialization.Encoding.DER)


def member_value(member: MemberIdentity) -> CborValue:
    """A member as `identity.get` returns it."""
    return frozendict(
        {
            "address": member.address,
            "public_key": member.public_key,
            "organisation": member.organisation,
            "role": member.role.value,
            "serial": serial_bytes(member.serial),
            "not_before_ms": member.not_before_ms,
            "not_after_ms": member.not_after_ms,
            "registered_height": member.registered_height,
        }
    )


def trust_store(call: ReadCall, suite: Suite) -> TrustStore:
    """The organisation CAs in state, as a trust store."""
    names = decode_names(call.storage.get(ORGANISATIONS_KEY), "organisations")
    authorities = []
    for name in names:  # bounded by the organisation count (genesis: at most 100)
        der = call.storage.get(authority_key(name))
        if der is not None:
            authorities.append(
                OrganisationAuthority(organisation=name, certificate=load_certificate(der))
            )
    regulators = decode_names(call.storage.get(REGULATOR_ORGANISATIONS_KEY), "regulators")
    return TrustStore(
        suite=suite,
        authorities=tuple(authorities),
        regulator_organisations=frozenset(regulators),
    )


def register(call: WriteCall, args: Args) -> CborValue:
    """Register the sender's certificate; FAILED unless it validates now and binds the
    sender's key."""
    pem = args.text("certificate_pem", bytes_max=CERTIFICATE_SIZE_MAX, required=True)
    assert pem is not None
    call.meter.charge(call.prices.certificate_check, "certificate validation")
    trust = trust_store(call, call.suite)
    member, der = member_from_certificate(
        pem.encode("utf-8"), trust=trust, now_ms=call.block.timestamp_ms, height=call.block.height
    )
    if member.public_key != call.sender.public_key:
        raise CertificateKeyMismatch(
            "the certificate binds another chain signing key than the sender's; "
            "send identity.register from the certificate's own key"
        )
    member = _governed_role(call, member)
    existing = call.storage.get(member_key(member.address))
    if existing is not None:
        earlier = decode_member(member.address, existing)
        if (earlier.organisation, earlier.serial) == (member.organisation, member.serial):
            raise IdentityAlreadyRegistered(
                f"certificate serial {member.serial:x} of {member.organisation} is already "
                f"registered (height {earlier.registered_height})"
            )
    call.storage.set(member_key(member.address), encode_member(member))
    call.storage.set(certificate_key(member.address), der)
    call.emit(
        "Registered",
        {
            "address": member.address,
            "organisation": member.organisation,
            "role": member.role.value,
        },
    )
    return member_value(member)


def _governed_role(call: WriteCall, member: MemberIdentity) -> MemberIdentity:
    """The member with the role governance gave its address, if any: a renewed certificate
    does not undo a role change."""
    governance = call.storage.sibling(GOVERNANCE_NAMESPACE)
    data = governance.get(role_override_key(member.address))
    if data is None:
        return member
    role = decode_stored(data, "role")
    if role not in ROLE_NAMES:
        raise CorruptRecord(f"governance role of {member.address.hex()}: {role!r}")
    return dataclasses.replace(member, role=Role(str(role)))


def get(call: ReadCall, args: Args) -> CborValue:
    """The member registered at `address` (org, role, certificate serial and validity), or
    null."""
    address = args.bytes_("address", sizes=(ADDRESS_SIZE,))
    data = call.storage.get(member_key(address))
    return None if data is None else member_value(decode_member(address, data))


def certificate(call: ReadCall, args: Args) -> CborValue:
    """The DER certificate registered at `address`, or null."""
    address = args.bytes_("address", sizes=(ADDRESS_SIZE,))
    return call.storage.get(certificate_key(address))


IDENTITY = SystemContract(
    name=NAMESPACE,
    methods={
        "register": WriteMethod(handler=register, arguments=frozenset({"certificate_pem"})),
        "get": ReadMethod(handler=get, arguments=frozenset({"address"})),
        "certificate": ReadMethod(handler=certificate, arguments=frozenset({"address"})),
    },
)
