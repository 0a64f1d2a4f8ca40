"""Pure readers of what governance decided, for the node, the mempool, TLS and execution.

Every function reads committed state through a `StateReader` (a dict in tests) and nothing
else. After genesis, state is the source of truth for the chain parameters, the validator set,
the observers, the revocation list and contract lifecycle records:

    params = chain_params_at(state, height)          # limits in force at `height`
    change = validator_set_change(state, height)     # after executing block `height`
    revoked = revocation_list(state)                 # for TLS (`gongshi.pki.RevocationList`)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from gongshi.codec import CborValue
from gongshi.consensus.types import ValidatorSetChange
from gongshi.execution.errors import CorruptRecord
from gongshi.execution.governance_errors import GovernanceNotInitialised
from gongshi.execution.governance_records import (
    NAMESPACE,
    OBSERVERS_KEY,
    PARAMS_KEY,
    REVOCATION_COUNT_KEY,
    VALIDATORS_KEY,
    NodeEntry,
    ParamsEntry,
    ValidatorSetEntry,
    contract_key,
    decode_nodes,
    decode_params_schedule,
    decode_stored,
    decode_u64,
    decode_validator_schedule,
    encode_params_schedule,
    encode_validator_schedule,
    field_of,
    key_revocation_key,
    revocation_entry_key,
    serial_revocation_key,
)
from gongshi.execution.identity_records import NAMESPACE as IDENTITY_NAMESPACE
from gongshi.execution.identity_records import MemberIdentity, authority_key
from gongshi.execution.state import StateReader
from gongshi.pki.validation import RevocationList
from gongshi.storage.schema import state_key

if TYPE_CHECKING:
    from gongshi.node.genesis import ChainParams, Genesis

Read = Callable[[bytes], bytes | None]

# Parameters a proposal may change (every ChainParams field but the chain id).
CHANGEABLE_PARAMS: tuple[str, ...] = (
    "block_txs_max",
    "block_bytes_max",
    "tx_bytes_max",
    "block_gas_max",
    "block_interval_ms",
    "round_timeout_ms",
    "round_timeout_increase_ms",
    "round_timeout_max_ms",
    "governance_threshold",
    "mempool_txs_max",
    "mempool_bytes_max",
)
REVOCATIONS_MAX = 100_000


def governance_read(state: StateReader) -> Read:
    """Reads keys of the `governance` namespace from raw state."""
    return lambda key: state.get(state_key(NAMESPACE, key))


def majority_threshold(organisation_count: int) -> int:
    return organisation_count // 2 + 1


def effective_threshold(configured: int, organisation_count: int) -> int:
    """Yes votes a proposal needs: `configured` (0: a majority), never below a majority of
    the current organisations nor above their number."""
    majority = majority_threshold(organisation_count)
    if configured == 0:
        return majority
    return max(majority, min(configured, organisation_count))


# --- chain parameters ---------------------------------------------------------------------


def params_value(params: ChainParams) -> dict[str, CborValue]:
    return {item.name: getattr(params, item.name) for item in dataclasses.fields(params)}


def params_from_value(value: Mapping[str, CborValue]) -> ChainParams:
    from gongshi.node.genesis import ChainParams

    fields = {}
    for item in dataclasses.fields(ChainParams):
        kind = str if item.name == "chain_id" else int
        fields[item.name] = field_of(value, item.name, kind, "parameters")
    return ChainParams(**fields)  # type: ignore[arg-type]


def in_force(entries: tuple[ParamsEntry, ...], height: int) -> ParamsEntry:
    """The last entry effective at or before `height` (the first one for earlier heights)."""
    chosen = entries[0]
    for entry in entries:  # bounded: schedules are pruned
        if entry.effective_height <= height:
            chosen = entry
    return chosen


def params_schedule(read: Read) -> tuple[ParamsEntry, ...]:
    entries = decode_params_schedule(read(PARAMS_KEY))
    if not entries:
        raise GovernanceNotInitialised("state holds no chain parameters (genesis without them)")
    return entries


def chain_params_at(
    state: StateReader, height: int, *, fallback: ChainParams | None = None
) -> ChainParams:
    """The chain parameters in force at `height` (exact for heights at or after the state's
    own). `fallback` (the genesis parameters) serves a state written before governance."""
    read = governance_read(state)
    if read(PARAMS_KEY) is None and fallback is not None:
        return fallback
    return params_from_value(in_force(params_schedule(read), height).params)


# --- validators and observers -------------------------------------------------------------


def validator_schedule(read: Read) -> tuple[ValidatorSetEntry, ...]:
    entries = decode_validator_schedule(read(VALIDATORS_KEY))
    if not entries:
        raise GovernanceNotInitialised("state holds no validator set (genesis without it)")
    return entries


def validator_set_at(state: StateReader, height: int) -> ValidatorSetEntry:
    """The validator set that certifies block `height`."""
    chosen: ValidatorSetEntry | None = None
    for entry in validator_schedule(governance_read(state)):
        if chosen is None or entry.activation_height <= height:
            chosen = entry
    assert chosen is not None
    return chosen


def validator_set_change(state: StateReader, height: int) -> ValidatorSetChange | None:
    """What block `height` tells consensus about the validator set: the node calls this on
    the state *after* executing the block and passes the result in `BlockValidated` /
    `ProposalBuilt`. None unless a change is announced at exactly this height."""
    for entry in validator_schedule(governance_read(state)):
        if entry.announce_height == height and entry.activation_height > height:
            return ValidatorSetChange(
                public_keys=entry.public_keys, activation_height=entry.activation_height
            )
    return None


def observers(state: StateReader) -> tuple[NodeEntry, ...]:
    """The observer nodes governance admitted, in admission order."""
    return decode_nodes(governance_read(state)(OBSERVERS_KEY), "observers")


# --- revocations ------------------------------------------------------------------------------


def revocation_list(state: StateReader) -> RevocationList:
    """Every revoked certificate, for TLS (`Network.set_revocations`) and validation."""
    read = governance_read(state)
    count = decode_u64(read(REVOCATION_COUNT_KEY), "revocation count")
    if count > REVOCATIONS_MAX:
        raise CorruptRecord(f"governance revocation count {count} > {REVOCATIONS_MAX}")
    serials: list[tuple[str, int]] = []
    key_hashes: list[bytes] = []
    for index in range(count):
        data = read(revocation_entry_key(index))
        if data is None:
            raise CorruptRecord(f"governance revocation {index} is missing")
        value = decode_stored(data, "revocation")
        if isinstance(value, Mapping) and "key_hash" in value:
            key_hashes.append(field_of(value, "key_hash", bytes, "revocation"))
        else:
            organisation = field_of(value, "organisation", str, "revocation")
            serial = field_of(value, "serial", bytes, "revocation")
            serials.append((organisation, int.from_bytes(serial, "big")))
    return RevocationList(serials=frozenset(serials), key_hashes=frozenset(key_hashes))


def member_standing(state: StateReader, member: MemberIdentity, key_hash: bytes) -> str:
    """Why `member` may no longer act ("" if it may): its certificate serial or key is
    revoked, or its organisation was removed. Three point reads."""
    if state.get(state_key(IDENTITY_NAMESPACE, authority_key(member.organisation))) is None:
        return f"organisation {member.organisation} was removed from the chain"
    read = governance_read(state)
    if read(serial_revocation_key(member.organisation, member.serial)) is not None:
        return f"certificate serial {member.serial:x} of {member.organisation} is revoked"
    if read(key_revocation_key(key_hash)) is not None:
        return "the sender's chain signing key is revoked"
    return ""


# --- contract lifecycle -------------------------------------------------------------------


def contract_record(state: StateReader, name: str) -> Mapping[str, CborValue] | None:
    """The lifecycle record of contract `name` as stored: {name, address, version, code_hash,
    frozen, exports, history, deployed_height, updated_height, proposal}; typed:
    `contract_records.record_from_value` (docs/execution.md, "Deploying and calling
    contracts")."""
    data = governance_read(state)(contract_key(name))
    if data is None:
        return None
    value = decode_stored(data, "contract")
    if not isinstance(value, Mapping):
        raise CorruptRecord(f"governance contract {name}: not a map")
    return value


# --- genesis ------------------------------------------------------------------------------


def genesis_governance_writes(genesis: Genesis) -> dict[bytes, bytes | None]:
    """The governance records of the genesis state: parameters and validator set from 0."""
    validators = tuple(
        NodeEntry(
            name=v.name,
            organisation=v.organisation,
            public_key=v.public_key,
            p2p_address=str(v.p2p_address),
            api_address=str(v.api_address),
            certificate=v.certificate,
        )
        for v in genesis.validators
    )
    params = ParamsEntry(effective_height=0, params=params_value(genesis.params))
    schedule = ValidatorSetEntry(announce_height=0, activation_height=0, validators=validators)
    return {
        state_key(NAMESPACE, PARAMS_KEY): encode_params_schedule((params,)),
        state_key(NAMESPACE, VALIDATORS_KEY): encode_validator_schedule((schedule,)),
    }
