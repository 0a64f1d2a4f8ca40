"""What an approved proposal does, applied in the block whose vote reached the threshold.

Each action first checks that it still applies (reads only) and raises ProposalActionFailed
before its first write, so a failed action leaves no trace but the proposal's FAILED status.
Effects on identities (organisations, roles, revocations) take force from the next block,
because admission and execution read senders from the state before a block; parameter and
validator-set changes take force at their scheduled height. Each returns that height.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from cryptography.hazmat.primitives import serialization

from gongshi.codec import CborValue, encode_value, frozendict
from gongshi.execution.context import ContractStorage, ReadCall, WriteCall
from gongshi.execution.contract_errors import ContractCodeMissing, ReservedContractName
from gongshi.execution.contract_records import (
    CONTRACTS_MAX,
    NAMES_KEY,
    VERSIONS_MAX,
    ContractRecord,
    ExportInfo,
    VersionEntry,
    address_key,
    contract_address,
    contract_name_problem,
    exports_from_value,
    exports_key,
    names_from_value,
    record_from_value,
)
from gongshi.execution.contract_records import NAMESPACE as CODE_NAMESPACE
from gongshi.execution.governance_errors import ProposalActionFailed
from gongshi.execution.governance_payloads import Kind
from gongshi.execution.governance_records import (
    OBSERVERS_KEY,
    PARAMS_KEY,
    REVOCATION_COUNT_KEY,
    VALIDATORS_KEY,
    NodeEntry,
    ParamsEntry,
    Proposal,
    ValidatorSetEntry,
    contract_key,
    decode_nodes,
    decode_stored,
    decode_u64,
    encode_nodes,
    encode_params_schedule,
    encode_u64,
    encode_validator_schedule,
    key_revocation_key,
    revocation_entry_key,
    role_override_key,
    serial_revocation_key,
)
from gongshi.execution.governance_state import (
    REVOCATIONS_MAX,
    effective_threshold,
    majority_threshold,
    params_from_value,
    params_schedule,
    params_value,
    validator_schedule,
)
from gongshi.execution.identity import member_from_certificate, trust_store
from gongshi.execution.identity_records import (
    NAMESPACE as IDENTITY_NAMESPACE,
)
from gongshi.execution.identity_records import (
    ORGANISATIONS_KEY,
    REGULATOR_ORGANISATIONS_KEY,
    authority_key,
    certificate_key,
    decode_member,
    decode_names,
    encode_member,
    encode_names,
    member_key,
)
from gongshi.pki.errors import CertificateRejected
from gongshi.pki.profile import profile_for
from gongshi.pki.roles import Role
from gongshi.pki.validation import check_authority_certificate, load_certificate

ORGANISATIONS_MAX = 100
SCHEDULED_CHANGES_MAX = 8  # pending (not yet in force) entries per schedule
NODES_MAX = 256


class Action:
    """One approved proposal being applied in `call`'s block."""

    __slots__ = ("call", "identity", "proposal")

    def __init__(self, call: WriteCall, proposal: Proposal) -> None:
        self.call = call
        self.proposal = proposal
        self.identity: ContractStorage = call.storage.sibling(IDENTITY_NAMESPACE)

    @property
    def height(self) -> int:
        return self.call.block.height

    @property
    def payload(self) -> Mapping[str, CborValue]:
        return self.proposal.payload

    def text(self, name: str) -> str:
        value = self.payload[name]
        assert isinstance(value, str), f"{name} was checked when proposed"
        return value

    def raw(self, name: str) -> bytes:
        value = self.payload[name]
        assert isinstance(value, bytes), f"{name} was checked when proposed"
        return value

    def organisations(self) -> tuple[str, ...]:
        return decode_names(self.identity.get(ORGANISATIONS_KEY), "organisations")

    def regulators(self) -> tuple[str, ...]:
        return decode_names(self.identity.get(REGULATOR_ORGANISATIONS_KEY), "regulators")

    def emit(self, name: str, fields: dict[str, CborValue]) -> None:
        self.call.emit(name, {"proposal": self.proposal.id, **fields})


def fail(message: str) -> ProposalActionFailed:
    return ProposalActionFailed(message)


def _certificate_problem(error: CertificateRejected) -> ProposalActionFailed:
    # Only the reason: parser messages depend on the library version, receipts must not.
    return fail(f"certificate rejected ({error.reason})")


# --- organisations ----------------------------------------------------------------------------


def add_organisation(action: Action) -> int:
    name = action.text("name")
    names = action.organisations()
    if name in names:
        raise fail(f"organisation {name} already exists")
    if len(names) >= ORGANISATIONS_MAX:
        raise fail(f"the chain already has {ORGANISATIONS_MAX} organisations")
    try:
        certificate = load_certificate(action.text("ca_certificate_pem").encode("utf-8"))
        check_authority_certificate(name, certificate, profile_for(action.call.suite.name))
    except CertificateRejected as error:
        raise _certificate_problem(error) from None
    action.identity.set(ORGANISATIONS_KEY, encode_names((*names, name)))
    action.identity.set(authority_key(name), certificate.public_bytes(serialization.Encoding.DER))
    regulator = action.payload.get("regulator") is True
    if regulator:
        action.identity.set(REGULATOR_ORGANISATIONS_KEY, encode_names((*action.regulators(), name)))
    action.emit("OrganisationAdded", {"name": name, "regulator": regulator})
    return action.height + 1


def remove_organisation(action: Action) -> int:
    name = action.text("name")
    names = action.organisations()
    if name not in names:
        raise fail(f"organisation {name} does not exist")
    if len(names) == 1:
        raise fail("the last organisation cannot be removed")
    nodes = (*validator_schedule(action.call.storage.get)[-1].validators, *_observers(action))
    if any(node.organisation == name for node in nodes):
        raise fail(f"organisation {name} still runs nodes; remove them first")
    action.identity.set(ORGANISATIONS_KEY, encode_names(tuple(n for n in names if n != name)))
    action.identity.set(authority_key(name), None)
    regulators = action.regulators()
    if name in regulators:
        remaining = tuple(n for n in regulators if n != name)
        action.identity.set(REGULATOR_ORGANISATIONS_KEY, encode_names(remaining))
    action.emit("OrganisationRemoved", {"name": name})
    return action.height + 1


# --- nodes ------------------------------------------------------------------------------------


def _observers(action: Action) -> tuple[NodeEntry, ...]:
    return decode_nodes(action.call.storage.get(OBSERVERS_KEY), "observers")


def _schedule_validators(action: Action, validators: tuple[NodeEntry, ...]) -> int:
    """Append a validator set to the schedule: announced now (or, while a change is pending,
    by the first block of its epoch), in force from the requested height or the next one."""
    if not validators:
        raise fail("the last validator cannot be removed")
    entries = validator_schedule(action.call.storage.get)
    last = entries[-1]
    announce = max(action.height, last.activation_height)
    activation = max(action.proposal.activation_height or 0, announce + 1)
    pending = [e for e in entries if e.activation_height > action.height]
    if len(pending) >= SCHEDULED_CHANGES_MAX:
        raise fail(f"{SCHEDULED_CHANGES_MAX} validator-set changes are already pending")
    entry = ValidatorSetEntry(
        announce_height=announce, activation_height=activation, validators=validators
    )
    kept = [
        e
        for i, e in enumerate(entries)
        if i + 1 == len(entries) or entries[i + 1].activation_height > action.height
    ]
    action.call.storage.set(VALIDATORS_KEY, encode_validator_schedule((*kept, entry)))
    return activation


def add_node(action: Action) -> int:
    role = Role(action.text("role"))
    public_key = action.raw("public_key")
    validators = validator_schedule(action.call.storage.get)[-1].validators
    observers = _observers(action)
    nodes = (*validators, *observers)
    if any(node.public_key == public_key for node in nodes):
        raise fail("a node with this public key is already a validator or observer")
    if any(node.name == action.text("name") for node in nodes):
        raise fail(f"a node named {action.text('name')} already exists")
    if len(nodes) >= NODES_MAX:
        raise fail(f"the chain already has {NODES_MAX} nodes")
    trust = trust_store(
        ReadCall(action.identity, action.call.meter, action.call.prices), action.call.suite
    )
    try:
        member, der = member_from_certificate(
            action.text("certificate_pem").encode("utf-8"),
            trust=trust,
            now_ms=action.call.block.timestamp_ms,
            height=action.height,
        )
    except CertificateRejected as error:
        raise _certificate_problem(error) from None
    if member.role is not role or member.public_key != public_key:
        raise fail(f"the certificate must bind the node's public key with role {role.value}")
    node = NodeEntry(
        name=action.text("name"),
        organisation=member.organisation,
        public_key=public_key,
        p2p_address=action.text("p2p_address"),
        api_address=action.text("api_address"),
        certificate=der,
    )
    if role is Role.NODE:
        effective = _schedule_validators(action, (*validators, node))
    else:
        action.call.storage.set(OBSERVERS_KEY, encode_nodes((*observers, node)))
        effective = action.height + 1
    action.identity.set(member_key(member.address), encode_member(member))
    action.identity.set(certificate_key(member.address), der)
    fields: dict[str, CborValue] = {"name": node.name, "organisation": node.organisation}
    action.emit(
        "NodeAdded",
        {**fields, "role": role.value, "public_key": public_key, "effective_height": effective},
    )
    return effective


def remove_node(action: Action) -> int:
    public_key = action.raw("public_key")
    validators = validator_schedule(action.call.storage.get)[-1].validators
    observers = _observers(action)
    if any(node.public_key == public_key for node in validators):
        remaining = tuple(node for node in validators if node.public_key != public_key)
        effective = _schedule_validators(action, remaining)
        role = Role.NODE
    elif any(node.public_key == public_key for node in observers):
        remaining = tuple(node for node in observers if node.public_key != public_key)
        action.call.storage.set(OBSERVERS_KEY, encode_nodes(remaining))
        effective = action.height + 1
        role = Role.OBSERVER
    else:
        raise fail("no validator or observer has this public key")
    action.emit(
        "NodeRemoved", {"public_key": public_key, "role": role.value, "effective_height": effective}
    )
    return effective


# --- certificates and roles -------------------------------------------------------------------


def revoke_certificate(action: Action) -> int:
    storage = action.call.storage
    if "key_hash" in action.payload:
        key = key_revocation_key(action.raw("key_hash"))
        entry: dict[str, CborValue] = {"key_hash": action.raw("key_hash")}
    else:
        organisation = action.text("organisation")
        serial = int.from_bytes(action.raw("serial"), "big")
        key = serial_revocation_key(organisation, serial)
        entry = {"organisation": organisation, "serial": action.raw("serial")}
    if storage.get(key) is not None:
        raise fail("this certificate is already revoked")
    count = decode_u64(storage.get(REVOCATION_COUNT_KEY), "revocation count")
    if count >= REVOCATIONS_MAX:
        raise fail(f"the revocation list is full ({REVOCATIONS_MAX})")
    storage.set(key, encode_value({"height": action.height, "proposal": action.proposal.id}))
    storage.set(revocation_entry_key(count), encode_value(entry))
    storage.set(REVOCATION_COUNT_KEY, encode_u64(count + 1))
    action.emit("CertificateRevoked", entry)
    return action.height + 1


def change_role(action: Action) -> int:
    address = action.raw("address")
    role = Role(action.text("role"))
    data = action.identity.get(member_key(address))
    if data is None:
        raise fail(f"no member is registered at {address.hex()}")
    member = decode_member(address, data)
    if member.role is role:
        raise fail(f"member {address.hex()} already has role {role.value}")
    if role is Role.REGULATOR and member.organisation not in action.regulators():
        raise fail(f"organisation {member.organisation} may not have regulators")
    action.identity.set(member_key(address), encode_member(dataclasses.replace(member, role=role)))
    action.call.storage.set(role_override_key(address), encode_value(role.value))
    action.emit("RoleChanged", {"address": address, "from": member.role.value, "to": role.value})
    return action.height + 1


# --- chain parameters -------------------------------------------------------------------------


def change_parameters(action: Action) -> int:
    entries = params_schedule(action.call.storage.get)
    last = entries[-1]
    changes = action.payload["changes"]
    assert isinstance(changes, Mapping)
    updated = {**last.params, **changes}
    try:
        params = params_from_value(updated)
    except AssertionError as error:  # pragma: no cover - ChainParams has no post-init checks
        raise fail(str(error)) from None
    _check_parameters(params, len(action.organisations()))
    effective = max(
        action.proposal.activation_height or 0, action.height + 1, last.effective_height
    )
    pending = [e for e in entries if e.effective_height > action.height]
    if len(pending) >= SCHEDULED_CHANGES_MAX:
        raise fail(f"{SCHEDULED_CHANGES_MAX} parameter changes are already pending")
    kept = [
        e
        for i, e in enumerate(entries)
        if i + 1 == len(entries) or entries[i + 1].effective_height > action.height
    ]
    if kept[-1].effective_height == effective:
        kept.pop()  # two changes from the same height: the later one includes the earlier
    entry = ParamsEntry(effective_height=effective, params=frozendict(params_value(params)))
    action.call.storage.set(PARAMS_KEY, encode_params_schedule((*kept, entry)))
    action.emit("ParametersChanged", {"changes": changes, "effective_height": effective})
    return effective


def _check_parameters(params: object, organisation_count: int) -> None:
    """Each value within its documented range, and the rules between them."""
    from gongshi.node.genesis import ChainParams

    assert isinstance(params, ChainParams)
    for item in dataclasses.fields(ChainParams):
        value = getattr(params, item.name)
        low, high = item.metadata.get("minimum"), item.metadata.get("maximum")
        if (isinstance(low, int) and value < low) or (isinstance(high, int) and value > high):
            raise fail(f"parameter {item.name} must be in {low}..{high}, got {value}")
    if params.tx_bytes_max > params.block_bytes_max:
        raise fail("tx_bytes_max would exceed block_bytes_max")
    if params.round_timeout_max_ms < params.round_timeout_ms:
        raise fail("round_timeout_max_ms would be below round_timeout_ms")
    if params.mempool_txs_max < params.block_txs_max:
        raise fail("mempool_txs_max would be below block_txs_max")
    if params.mempool_bytes_max < params.block_bytes_max:
        raise fail("mempool_bytes_max would be below block_bytes_max")
    threshold = params.governance_threshold
    majority = majority_threshold(organisation_count)
    if threshold != 0 and not majority <= threshold <= organisation_count:
        raise fail(
            f"governance_threshold must be 0 (a majority) or {majority}..{organisation_count}"
        )
    assert effective_threshold(threshold, organisation_count) >= majority


# --- contract lifecycle -----------------------------------------------------------------------


def _contract(action: Action) -> tuple[bytes, Mapping[str, CborValue] | None]:
    key = contract_key(action.text("name"))
    data = action.call.storage.get(key)
    if data is None:
        return key, None
    value = decode_stored(data, "contract")
    assert isinstance(value, Mapping)
    return key, value


CONTRACT_EVENTS: Mapping[Kind, str] = {
    Kind.DEPLOY_CONTRACT: "ContractDeployed",
    Kind.UPGRADE_CONTRACT: "ContractUpgraded",
    Kind.FREEZE_CONTRACT: "ContractFrozen",
    Kind.UNFREEZE_CONTRACT: "ContractUnfrozen",
}


def _uploaded_exports(action: Action, code_hash: bytes) -> dict[str, ExportInfo]:
    """The exports of uploaded code `code_hash` (checked and loaded when uploaded)."""
    data = action.call.storage.sibling(CODE_NAMESPACE).get(exports_key(code_hash))
    if data is None:
        raise ContractCodeMissing(
            f"no code {code_hash.hex()} was uploaded; upload it with contracts.upload first"
        )
    return exports_from_value(decode_stored(data, "contract exports"))


def _version(action: Action, version: int, code_hash: bytes) -> VersionEntry:
    return VersionEntry(
        version=version, code_hash=code_hash, height=action.height, proposal=action.proposal.id
    )


def _deployed(action: Action, name: str) -> ContractRecord:
    problem = contract_name_problem(name)
    if problem is not None:
        raise ReservedContractName(problem)
    code_hash = action.raw("code_hash")
    exports = _uploaded_exports(action, code_hash)
    names_store = action.call.storage.sibling(CODE_NAMESPACE)
    names = names_from_value(decode_stored(names_store.get(NAMES_KEY) or b"\x80", "names"))
    if len(names) >= CONTRACTS_MAX:
        raise fail(f"the chain already has {CONTRACTS_MAX} deployed contracts")
    address = contract_address(action.call.suite, name)
    names_store.set(NAMES_KEY, encode_value((*names, name)))
    names_store.set(address_key(address), name.encode("utf-8"))
    return ContractRecord(
        name=name,
        address=address,
        version=1,
        code_hash=code_hash,
        frozen=False,
        exports=exports,
        history=(_version(action, 1, code_hash),),
    )


def _upgraded(action: Action, record: ContractRecord) -> ContractRecord:
    name = record.name
    if record.frozen:
        raise fail(f"contract {name} is frozen; unfreeze it before an upgrade")
    code_hash = action.raw("code_hash")
    if record.code_hash == code_hash:
        raise fail(f"contract {name} already runs this code")
    if len(record.history) >= VERSIONS_MAX:
        raise fail(f"contract {name} already has {VERSIONS_MAX} versions")
    exports = _uploaded_exports(action, code_hash)
    version = record.version + 1
    return dataclasses.replace(
        record,
        version=version,
        code_hash=code_hash,
        exports=exports,
        history=(*record.history, _version(action, version, code_hash)),
    )


def contract_lifecycle(action: Action) -> int:
    """Deploy (code uploaded, name free and not a system contract's), upgrade (storage is
    kept: it belongs to the name), freeze or unfreeze a contract."""
    kind = Kind(action.proposal.kind)
    key, stored = _contract(action)
    name = action.text("name")
    record = None if stored is None else record_from_value(stored)
    if kind is Kind.DEPLOY_CONTRACT:
        if record is not None:
            raise fail(f"contract {name} is already deployed")
        updated = _deployed(action, name)
    elif record is None:
        raise fail(f"contract {name} is not deployed")
    elif kind is Kind.UPGRADE_CONTRACT:
        updated = _upgraded(action, record)
    else:
        freeze = kind is Kind.FREEZE_CONTRACT
        if record.frozen is freeze:
            raise fail(f"contract {name} is already {'frozen' if freeze else 'not frozen'}")
        updated = dataclasses.replace(record, frozen=freeze)
    value = dict(updated.to_value())  # type: ignore[arg-type]
    value["deployed_height"] = updated.history[0].height
    value["updated_height"] = action.height
    value["proposal"] = action.proposal.id
    action.call.storage.set(key, encode_value(value))
    fields: dict[str, CborValue] = {"name": name, "version": updated.version}
    if kind in (Kind.DEPLOY_CONTRACT, Kind.UPGRADE_CONTRACT):
        fields |= {"address": updated.address, "code_hash": updated.code_hash}
    action.emit(CONTRACT_EVENTS[kind], fields)
    return action.height + 1


ACTIONS: Mapping[Kind, Callable[[Action], int]] = {
    Kind.ADD_ORGANISATION: add_organisation,
    Kind.REMOVE_ORGANISATION: remove_organisation,
    Kind.ADD_NODE: add_node,
    Kind.REMOVE_NODE: remove_node,
    Kind.REVOKE_CERTIFICATE: revoke_certificate,
    Kind.CHANGE_ROLE: change_role,
    Kind.CHANGE_PARAMETERS: change_parameters,
    Kind.DEPLOY_CONTRACT: contract_lifecycle,
    Kind.UPGRADE_CONTRACT: contract_lifecycle,
    Kind.FREEZE_CONTRACT: contract_lifecycle,
    Kind.UNFREEZE_CONTRACT: contract_lifecycle,
}
assert set(ACTIONS) == set(Kind), "every kind needs an action"


def apply_action(call: WriteCall, proposal: Proposal) -> int:
    """Apply approved `proposal`; returns the height from which it is in force.
    Raises ProposalActionFailed (before any write) if it no longer applies."""
    return ACTIONS[Kind(proposal.kind)](Action(call, proposal))
