"""How the `governance` contract keeps proposals, schedules and lists in state.

Keys in the `governance` namespace (first byte is the kind):

| key                                  | value                                               |
| ------------------------------------ | --------------------------------------------------- |
| `N`                                  | next proposal id (u64 BE)                           |
| `p` + id (u64 BE)                    | `Proposal` (CBOR map)                               |
| `P`                                  | chain-parameter schedule: `[ParamsEntry...]`        |
| `V`                                  | validator-set schedule: `[ValidatorSetEntry...]`    |
| `W`                                  | observer nodes: `[NodeEntry...]`                    |
| `r` + organisation + 0x00 + serial   | revocation of a certificate serial (CBOR map)       |
| `k` + key hash                       | revocation of a chain signing key (CBOR map)        |
| `L`                                  | revocation count (u64 BE); `l` + index: the entry   |
| `a` + address                        | role set by governance (text), kept across renewals |
| `c` + contract name                  | contract lifecycle record (CBOR map)                |

Schedules are ordered by height, never empty once genesis wrote them, and pruned of entries
that a later entry superseded at or before the height that wrote them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from gongshi.codec import CborValue, decode_value, encode_value, frozendict
from gongshi.errors import DecodeError
from gongshi.execution.errors import CorruptRecord

NAMESPACE = "governance"

NEXT_ID_KEY = b"N"
PARAMS_KEY = b"P"
VALIDATORS_KEY = b"V"
OBSERVERS_KEY = b"W"
REVOCATION_COUNT_KEY = b"L"

T = TypeVar("T")


def proposal_key(proposal_id: int) -> bytes:
    return b"p" + proposal_id.to_bytes(8, "big")


def serial_revocation_key(organisation: str, serial: int) -> bytes:
    serial_bytes = serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")
    return b"r" + organisation.encode("utf-8") + b"\x00" + serial_bytes


def key_revocation_key(key_hash: bytes) -> bytes:
    return b"k" + key_hash


def revocation_entry_key(index: int) -> bytes:
    return b"l" + index.to_bytes(8, "big")


def role_override_key(address: bytes) -> bytes:
    return b"a" + address


def contract_key(name: str) -> bytes:
    return b"c" + name.encode("utf-8")


def encode_u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def decode_u64(data: bytes | None, what: str) -> int:
    if data is None:
        return 0
    if len(data) != 8:
        raise CorruptRecord(f"governance {what}: not a u64")
    return int.from_bytes(data, "big")


def decode_stored(data: bytes, what: str) -> CborValue:
    try:
        return decode_value(data)
    except DecodeError as error:
        raise CorruptRecord(f"governance {what}: {error}") from error


def field_of(value: CborValue, name: str, kind: type[T], what: str) -> T:
    """`value[name]`, which must be of `kind` (bool is not an int here)."""
    if not isinstance(value, Mapping) or name not in value:
        raise CorruptRecord(f"governance {what}: missing {name}")
    found = value[name]
    if not isinstance(found, kind) or (kind is int and isinstance(found, bool)):
        raise CorruptRecord(f"governance {what}: {name} is not {kind.__name__}")
    return found


def map_of(value: CborValue, name: str, what: str) -> Mapping[str, CborValue]:
    """`value[name]`, which must be a map."""
    if not isinstance(value, Mapping) or name not in value:
        raise CorruptRecord(f"governance {what}: missing {name}")
    found = value[name]
    if not isinstance(found, Mapping):
        raise CorruptRecord(f"governance {what}: {name} is not a map")
    return found


class ProposalStatus(enum.StrEnum):
    """Where a proposal is in its life; EXPIRED is derived from the height, never stored."""

    OPEN = "open"
    EXECUTED = "executed"  # approved; its action was applied in the approving block
    REJECTED = "rejected"  # enough "no" votes that approval became impossible
    FAILED = "failed"  # approved, but its action could not be applied (reason kept)
    EXPIRED = "expired"  # open past its expiry height


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    """A governance proposal and its votes (organisation -> yes/no)."""

    id: int
    kind: str
    payload: Mapping[str, CborValue]
    description: str
    proposer: bytes  # address
    organisation: str
    created_height: int
    expiry_height: int
    activation_height: int | None  # requested; parameter and validator changes only
    threshold: int  # yes votes needed, fixed when proposed
    electorate: tuple[str, ...]  # organisations that may vote, fixed when proposed
    votes: Mapping[str, bool] = field(default_factory=dict)
    status: ProposalStatus = ProposalStatus.OPEN
    closed_height: int | None = None
    effective_height: int | None = None  # when an executed action takes force
    result: str = ""  # why it failed

    @property
    def yes(self) -> int:
        return sum(1 for vote in self.votes.values() if vote)

    @property
    def no(self) -> int:
        return sum(1 for vote in self.votes.values() if not vote)

    def status_at(self, height: int | None) -> ProposalStatus:
        """The status as seen at `height` (None: as stored)."""
        expired = height is not None and height > self.expiry_height
        if self.status is ProposalStatus.OPEN and expired:
            return ProposalStatus.EXPIRED
        return self.status

    def to_value(self, height: int | None = None) -> CborValue:
        """The proposal as queries return it (and as it is stored, with `height` None)."""
        return frozendict(
            {
                "id": self.id,
                "kind": self.kind,
                "payload": self.payload,
                "description": self.description,
                "proposer": self.proposer,
                "organisation": self.organisation,
                "created_height": self.created_height,
                "expiry_height": self.expiry_height,
                "activation_height": self.activation_height,
                "threshold": self.threshold,
                "electorate": self.electorate,
                "votes": frozendict(dict(sorted(self.votes.items()))),
                "yes": self.yes,
                "no": self.no,
                "status": self.status_at(height).value,
                "closed_height": self.closed_height,
                "effective_height": self.effective_height,
                "result": self.result,
            }
        )


def encode_proposal(proposal: Proposal) -> bytes:
    return encode_value(proposal.to_value())


def _optional_int(value: CborValue, name: str, what: str) -> int | None:
    if isinstance(value, Mapping) and value.get(name) is None:
        return None
    return field_of(value, name, int, what)


def decode_proposal(data: bytes) -> Proposal:
    value = decode_stored(data, "proposal")
    what = "proposal"
    votes = map_of(value, "votes", what)
    electorate = field_of(value, "electorate", tuple, what)
    status = field_of(value, "status", str, what)
    if status not in {s.value for s in ProposalStatus} or status == ProposalStatus.EXPIRED:
        raise CorruptRecord(f"governance proposal: status {status!r}")
    if not all(isinstance(v, bool) for v in votes.values()):
        raise CorruptRecord("governance proposal: votes are not booleans")
    if not all(isinstance(name, str) for name in electorate):
        raise CorruptRecord("governance proposal: electorate is not names")
    return Proposal(
        id=field_of(value, "id", int, what),
        kind=field_of(value, "kind", str, what),
        payload=map_of(value, "payload", what),
        description=field_of(value, "description", str, what),
        proposer=field_of(value, "proposer", bytes, what),
        organisation=field_of(value, "organisation", str, what),
        created_height=field_of(value, "created_height", int, what),
        expiry_height=field_of(value, "expiry_height", int, what),
        activation_height=_optional_int(value, "activation_height", what),
        threshold=field_of(value, "threshold", int, what),
        electorate=tuple(str(name) for name in electorate),
        votes={str(org): bool(vote) for org, vote in votes.items()},
        status=ProposalStatus(status),
        closed_height=_optional_int(value, "closed_height", what),
        effective_height=_optional_int(value, "effective_height", what),
        result=field_of(value, "result", str, what),
    )


# --- nodes and schedules ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeEntry:
    """A consensus or observer node as governance records it."""

    name: str
    organisation: str
    public_key: bytes
    p2p_address: str  # host:port
    api_address: str  # host:port
    certificate: bytes  # DER

    def to_value(self) -> CborValue:
        return frozendict(
            {
                "name": self.name,
                "organisation": self.organisation,
                "public_key": self.public_key,
                "p2p_address": self.p2p_address,
                "api_address": self.api_address,
                "certificate": self.certificate,
            }
        )

    @classmethod
    def from_value(cls, value: CborValue, what: str) -> NodeEntry:
        return cls(
            name=field_of(value, "name", str, what),
            organisation=field_of(value, "organisation", str, what),
            public_key=field_of(value, "public_key", bytes, what),
            p2p_address=field_of(value, "p2p_address", str, what),
            api_address=field_of(value, "api_address", str, what),
            certificate=field_of(value, "certificate", bytes, what),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatorSetEntry:
    """The validator set in force from `activation_height`, announced to consensus by the
    block at `announce_height` (< activation_height, except for the genesis set at 0)."""

    announce_height: int
    activation_height: int
    validators: tuple[NodeEntry, ...]

    @property
    def public_keys(self) -> tuple[bytes, ...]:
        return tuple(node.public_key for node in self.validators)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamsEntry:
    """The full chain parameters in force from `effective_height`."""

    effective_height: int
    params: Mapping[str, CborValue]  # ChainParams fields by name


def encode_nodes(nodes: tuple[NodeEntry, ...]) -> bytes:
    return encode_value(tuple(node.to_value() for node in nodes))


def decode_nodes(data: bytes | None, what: str) -> tuple[NodeEntry, ...]:
    if data is None:
        return ()
    value = decode_stored(data, what)
    if not isinstance(value, tuple):
        raise CorruptRecord(f"governance {what}: not an array")
    return tuple(NodeEntry.from_value(item, what) for item in value)


def encode_validator_schedule(entries: tuple[ValidatorSetEntry, ...]) -> bytes:
    return encode_value(
        tuple(
            frozendict(
                {
                    "announce_height": entry.announce_height,
                    "activation_height": entry.activation_height,
                    "validators": tuple(node.to_value() for node in entry.validators),
                }
            )
            for entry in entries
        )
    )


def decode_validator_schedule(data: bytes | None) -> tuple[ValidatorSetEntry, ...]:
    what = "validator schedule"
    if data is None:
        return ()
    value = decode_stored(data, what)
    if not isinstance(value, tuple):
        raise CorruptRecord(f"governance {what}: not an array")
    return tuple(
        ValidatorSetEntry(
            announce_height=field_of(item, "announce_height", int, what),
            activation_height=field_of(item, "activation_height", int, what),
            validators=tuple(
                NodeEntry.from_value(node, what)
                for node in field_of(item, "validators", tuple, what)
            ),
        )
        for item in value
    )


def encode_params_schedule(entries: tuple[ParamsEntry, ...]) -> bytes:
    return encode_value(
        tuple(
            frozendict({"effective_height": entry.effective_height, "params": entry.params})
            for entry in entries
        )
    )


def decode_params_schedule(data: bytes | None) -> tuple[ParamsEntry, ...]:
    what = "parameter schedule"
    if data is None:
        return ()
    value = decode_stored(data, what)
    if not isinstance(value, tuple):
        raise CorruptRecord(f"governance {what}: not an array")
    return tuple(
        ParamsEntry(
            effective_height=field_of(item, "effective_height", int, what),
            params=map_of(item, "params", what),
        )
        for item in value
    )
