"""How the `identity` contract keeps members and organisations in state.

Keys in the `identity` namespace (first byte is the kind, so keys of different kinds never
collide):

| key                       | value                                              |
| ------------------------- | -------------------------------------------------- |
| `m` + address (20 bytes)  | `MemberRecord` encoding                            |
| `c` + address             | the member's certificate, DER                      |
| `o` + organisation (utf8) | the organisation's CA certificate, DER             |
| `O`                       | organisation names, genesis order (CBOR array)     |
| `R`                       | organisations that may issue regulator certificates|
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from gongshi.codec import CborValue, Record, decode_value, encode_value, record
from gongshi.codec.fields import PUBLIC_KEY, UINT64
from gongshi.codec.kinds import Bytes, Text
from gongshi.errors import DecodeError
from gongshi.execution.errors import CorruptRecord
from gongshi.pki.roles import ROLE_NAMES, Role

NAMESPACE = "identity"
ADDRESS_SIZE = 20
SERIAL_BYTES_MAX = 20  # RFC 5280 §4.1.2.2: at most 20 octets
ORGANISATION_BYTES_MAX = 64

ORGANISATIONS_KEY = b"O"
REGULATOR_ORGANISATIONS_KEY = b"R"


def member_key(address: bytes) -> bytes:
    assert len(address) == ADDRESS_SIZE
    return b"m" + address


def certificate_key(address: bytes) -> bytes:
    assert len(address) == ADDRESS_SIZE
    return b"c" + address


def authority_key(organisation: str) -> bytes:
    return b"o" + organisation.encode("utf-8")


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberIdentity:
    """A registered member, as execution and the mempool see it."""

    organisation: str
    role: Role
    public_key: bytes
    address: bytes
    serial: int
    not_before_ms: int
    not_after_ms: int
    registered_height: int
    # Why governance stopped this member ("" if it did not): revoked certificate or key,
    # removed organisation. Set by `StateIdentityReader`, never stored.
    revocation: str = ""


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class MemberRecord(Record):
    """The stored form of a `MemberIdentity` (the address is the key)."""

    encoded_bytes_max: ClassVar[int] = 1024

    organisation: Annotated[str, Text(bytes_max=ORGANISATION_BYTES_MAX)]
    role: Annotated[str, Text(bytes_max=16, pattern="|".join(ROLE_NAMES))]
    public_key: Annotated[bytes, PUBLIC_KEY]
    serial: Annotated[bytes, Bytes(size_min=1, size_max=SERIAL_BYTES_MAX)]
    not_before_ms: Annotated[int, UINT64]
    not_after_ms: Annotated[int, UINT64]
    registered_height: Annotated[int, UINT64]


def serial_bytes(serial: int) -> bytes:
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")


def encode_member(member: MemberIdentity) -> bytes:
    return MemberRecord(
        organisation=member.organisation,
        role=member.role.value,
        public_key=member.public_key,
        serial=serial_bytes(member.serial),
        not_before_ms=member.not_before_ms,
        not_after_ms=member.not_after_ms,
        registered_height=member.registered_height,
    ).encode()


def decode_member(address: bytes, data: bytes) -> MemberIdentity:
    try:
        stored = MemberRecord.decode(data)
    except DecodeError as error:
        raise CorruptRecord(f"identity member {address.hex()}: {error}") from error
    return MemberIdentity(
        organisation=stored.organisation,
        role=Role(stored.role),
        public_key=stored.public_key,
        address=address,
        serial=int.from_bytes(stored.serial, "big"),
        not_before_ms=stored.not_before_ms,
        not_after_ms=stored.not_after_ms,
        registered_height=stored.registered_height,
    )


def encode_names(names: tuple[str, ...]) -> bytes:
    return encode_value(names)


def decode_names(data: bytes | None, what: str) -> tuple[str, ...]:
    if data is None:
        return ()
    try:
        value: CborValue = decode_value(data)
    except DecodeError as error:
        raise CorruptRecord(f"identity {what}: {error}") from error
    if not isinstance(value, tuple) or not all(isinstance(name, str) for name in value):
        raise CorruptRecord(f"identity {what}: not an array of names")
    return tuple(str(name) for name in value)
