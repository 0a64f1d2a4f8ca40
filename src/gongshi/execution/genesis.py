"""The state a chain starts from: organisations and members in the `identity` contract.

`genesis_state_writes` is pure: every node computes the same writes from the same genesis and
member certificates, so every node starts from the same state root. The genesis format lists
validators and regulators; the other members `gongshi init` creates (each organisation's
admin and client) are given as `member_certificates`, and every node must be given the same
ones (the same bytes, in any order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gongshi.execution.errors import GenesisMemberRejected
from gongshi.execution.governance_state import genesis_governance_writes
from gongshi.execution.identity import member_from_certificate
from gongshi.execution.identity_records import (
    NAMESPACE,
    ORGANISATIONS_KEY,
    REGULATOR_ORGANISATIONS_KEY,
    MemberIdentity,
    authority_key,
    certificate_key,
    encode_member,
    encode_names,
    member_key,
)
from gongshi.pki.errors import CertificateRejected
from gongshi.storage.schema import state_key

if TYPE_CHECKING:
    from gongshi.node.genesis import Genesis

GENESIS_HEIGHT = 0
MEMBER_CERTIFICATES_MAX = 10_000


def genesis_members(
    genesis: Genesis, member_certificates: Sequence[bytes] = ()
) -> list[tuple[MemberIdentity, bytes]]:
    """Every member the genesis state registers, with its DER certificate, ordered by address.

    Validators, regulators and `member_certificates` (PEM or DER) are validated against the
    genesis CAs at genesis time; a certificate listed twice counts once. Raises
    GenesisMemberRejected for an invalid certificate or two certificates for one key."""
    if len(member_certificates) > MEMBER_CERTIFICATES_MAX:
        raise GenesisMemberRejected(f"more than {MEMBER_CERTIFICATES_MAX} member certificates")
    trust = genesis.trust_store()
    sources = [
        *(("validator " + v.name, v.certificate) for v in genesis.validators),
        *(("regulator " + r.name, r.certificate) for r in genesis.regulators),
        *((f"{m.role.value} {m.name}", m.certificate) for m in genesis.members),
        *((f"member certificate {i}", c) for i, c in enumerate(member_certificates)),
    ]
    members: dict[bytes, tuple[MemberIdentity, bytes]] = {}
    for what, certificate in sources:
        try:
            member, der = member_from_certificate(
                certificate, trust=trust, now_ms=genesis.genesis_time_ms, height=GENESIS_HEIGHT
            )
        except CertificateRejected as error:
            raise GenesisMemberRejected(f"{what}: {error.message}") from error
        earlier = members.get(member.address)
        if earlier is not None and earlier[1] != der:
            raise GenesisMemberRejected(
                f"{what}: another certificate already registers key {member.public_key.hex()}"
            )
        members[member.address] = (member, der)
    return [members[address] for address in sorted(members)]


def genesis_state_writes(
    genesis: Genesis, member_certificates: Sequence[bytes] = ()
) -> dict[bytes, bytes | None]:
    """The state writes of the genesis (height 0), ordered by raw key."""
    trust = genesis.trust_store()
    writes: dict[bytes, bytes | None] = {}

    def put(key: bytes, value: bytes) -> None:
        writes[state_key(NAMESPACE, key)] = value

    put(ORGANISATIONS_KEY, encode_names(tuple(org.name for org in genesis.organisations)))
    put(REGULATOR_ORGANISATIONS_KEY, encode_names(tuple(sorted(trust.regulator_organisations))))
    for organisation in genesis.organisations:
        put(authority_key(organisation.name), organisation.ca_certificate)
    for member, der in genesis_members(genesis, member_certificates):
        put(member_key(member.address), encode_member(member))
        put(certificate_key(member.address), der)
    writes.update(genesis_governance_writes(genesis))
    return dict(sorted(writes.items()))
