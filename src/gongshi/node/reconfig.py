"""What governance decided, as the running node needs it: epochs, validator sets, peers,
trust anchors and parameters, read from state.

Pure functions over a `StateReader` (the committed ledger, or uncommitted ancestors layered
over it). The epoch of a block is carried in its header (`config_version`): the parent's,
plus one when a validator set takes force at exactly this height. So every node derives the
epoch, hence the validator set whose signatures certify a block, from the chain alone.

Invariant: consensus honours every change governance announces (governance announces at
most one per epoch, at or after the previous activation), so the engine's epoch number and
the header's `config_version` always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gongshi.codec import Receipt
from gongshi.consensus import ValidatorSet
from gongshi.consensus.types import ValidatorSetChange
from gongshi.crypto import Suite
from gongshi.execution.governance_records import NodeEntry
from gongshi.execution.governance_state import (
    governance_read,
    observers,
    validator_schedule,
    validator_set_at,
)
from gongshi.execution.identity_records import (
    NAMESPACE as IDENTITY_NAMESPACE,
)
from gongshi.execution.identity_records import (
    ORGANISATIONS_KEY,
    REGULATOR_ORGANISATIONS_KEY,
    authority_key,
    decode_names,
)
from gongshi.execution.state import StateReader
from gongshi.network import PeerInfo
from gongshi.node.config_fields import HostPort
from gongshi.pki.validation import OrganisationAuthority, TrustStore, load_certificate
from gongshi.storage.schema import state_key

GOVERNANCE_CONTRACT = "governance"
# Events after which the node re-reads peers, trust anchors and revocations.
NETWORK_EVENTS = frozenset(
    {
        "OrganisationAdded",
        "OrganisationRemoved",
        "NodeAdded",
        "NodeRemoved",
        "CertificateRevoked",
    }
)


def block_epoch(parent_epoch: int, state: StateReader, height: int) -> int:
    """The epoch of block `height`; `state` is the state after its parent."""
    entry = validator_set_at(state, height)
    if height > 0 and entry.activation_height == height:
        return parent_epoch + 1
    return parent_epoch


def validator_set(state: StateReader, height: int, epoch: int) -> ValidatorSet:
    """The set that certifies block `height` (of `epoch`); `state` is at or after its parent."""
    return ValidatorSet(epoch=epoch, public_keys=validator_set_at(state, height).public_keys)


def epoch_start(state: StateReader, height: int) -> int:
    """Height of the first block of the epoch holding `height` (0 for the genesis epoch)."""
    return validator_set_at(state, height).activation_height


def pending_change(state: StateReader, height: int) -> ValidatorSetChange | None:
    """A change announced at or before committed `height` that is not in force after it."""
    for entry in validator_schedule(governance_read(state)):
        if entry.announce_height <= height < entry.activation_height:
            return ValidatorSetChange(
                public_keys=entry.public_keys, activation_height=entry.activation_height
            )
    return None


def scheduled_validators(state: StateReader, next_height: int) -> tuple[NodeEntry, ...]:
    """The validators in force at `next_height` and those of later scheduled sets (so they
    connect before they must vote)."""
    current = validator_set_at(state, next_height)
    chosen: dict[bytes, NodeEntry] = {}
    for entry in validator_schedule(governance_read(state)):
        if entry == current or entry.activation_height > next_height:
            for node in entry.validators:
                chosen.setdefault(node.public_key, node)
    return tuple(chosen.values())


def allowed_peers(state: StateReader, next_height: int) -> tuple[PeerInfo, ...]:
    """Who may connect from `next_height` on: the scheduled validators, dialled at their
    p2p address, and the observers, which dial the validators but are not dialled (their
    certificates are TLS clients only)."""
    peers = {node.public_key: _peer(node) for node in scheduled_validators(state, next_height)}
    for node in observers(state):
        peers.setdefault(
            node.public_key, PeerInfo(public_key=node.public_key, name=node.name, address=None)
        )
    return tuple(peers.values())


def _peer(node: NodeEntry) -> PeerInfo:
    try:
        address: HostPort | None = HostPort.parse(node.p2p_address)
    except ValueError:  # checked when proposed; an address that does not parse is not dialled
        address = None
    return PeerInfo(public_key=node.public_key, name=node.name, address=address)


def state_trust(
    state: StateReader, suite: Suite, extra: Sequence[OrganisationAuthority] = ()
) -> TrustStore:
    """The organisation CAs in state (governance adds and removes them), plus `extra`
    (this node's own organisation, before governance admitted it)."""

    def read(key: bytes) -> bytes | None:
        return state.get(state_key(IDENTITY_NAMESPACE, key))

    names = decode_names(read(ORGANISATIONS_KEY), "organisations")
    authorities: dict[str, OrganisationAuthority] = {}
    for name in names:  # bounded by the organisation count
        der = read(authority_key(name))
        if der is not None:
            authorities[name] = OrganisationAuthority(
                organisation=name, certificate=load_certificate(der)
            )
    for authority in extra:
        authorities.setdefault(authority.organisation, authority)
    regulators = decode_names(read(REGULATOR_ORGANISATIONS_KEY), "regulators")
    return TrustStore(
        suite=suite,
        authorities=tuple(authorities.values()),
        regulator_organisations=frozenset(regulators),
    )


def touches_network(receipts: Iterable[Receipt]) -> bool:
    """Whether a committed block changed who may connect (organisations, nodes, revocations)."""
    return any(
        event.contract == GOVERNANCE_CONTRACT and event.name in NETWORK_EVENTS
        for receipt in receipts
        for event in receipt.events
    )
