"""Consensus epochs for light clients: the evidence that each validator set took force.

A header's `config_version` is its consensus epoch: the parent's, plus one at the height a
new validator set takes force (docs/node.md, "Epochs"). A client that trusts only the genesis
file learns epoch e+1 from a block of epoch e whose state holds the governance validator
schedule (`governance`, key `V`) with e+1's set and activation height: the block's finality
certificate is checked with epoch e's set, the schedule with its state proof against the
block's state root (docs/sdk.md, "Validator-set changes").

`chain_epochs` serves that evidence. The first block of each epoch is found by a binary
search over the headers (never pruned); the proof is read at the announcing block, or, when
that state version is pruned, at the epoch's last block before the change (whose state still
holds the entry). When both are pruned the node cannot serve the epoch: `EpochEvidencePruned`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gongshi.api.errors import ApiError, EpochEvidencePruned
from gongshi.api.wire import Json, to_hex
from gongshi.execution.governance_records import (
    NAMESPACE,
    VALIDATORS_KEY,
    NodeEntry,
    ValidatorSetEntry,
)
from gongshi.execution.governance_state import (
    chain_params_at,
    params_value,
    validator_schedule,
    validator_set_at,
)
from gongshi.node.genesis import ChainParams
from gongshi.storage import Ledger
from gongshi.storage.errors import StateVersionPruned
from gongshi.storage.schema import state_key

if TYPE_CHECKING:
    from gongshi.api.service import ChainService

EPOCHS_PAGE_MAX = 16  # epochs per chain_epochs call (each carries a header, QC and proof)


def node_json(node: NodeEntry) -> Json:
    return {
        "name": node.name,
        "organisation": node.organisation,
        "public_key": to_hex(node.public_key),
        "p2p_address": node.p2p_address,
        "api_address": node.api_address,
    }


def head_epoch(ledger: Ledger) -> int:
    height = ledger.committed_height
    assert height is not None, "the API serves a ledger with a committed genesis"
    return ledger.get_header(height).config_version


def validators_at_head(ledger: Ledger) -> ValidatorSetEntry:
    """The set that certified the committed head (its epoch's set)."""
    view = ledger.state_reader()
    return validator_set_at(view, view.height)


def params_for_next_block(ledger: Ledger, fallback: ChainParams) -> tuple[int, ChainParams]:
    """The committed head and the chain parameters in force at head + 1."""
    view = ledger.state_reader()
    return view.height, chain_params_at(view, view.height + 1, fallback=fallback)


def params_json(params: ChainParams) -> Json:
    return dict(params_value(params))


def epoch_start(ledger: Ledger, epoch: int, low: int, high: int) -> int | None:
    """The first height in [low, high] whose header is of `epoch` or later (None if none):
    epochs never decrease along the chain, so a binary search over headers finds it."""
    if ledger.get_header(high).config_version < epoch:
        return None
    while low < high:  # O(log(high - low)) header reads
        middle = (low + high) // 2
        if ledger.get_header(middle).config_version >= epoch:
            high = middle
        else:
            low = middle + 1
    return low


def _entry_activated_at(ledger: Ledger, activation: int) -> ValidatorSetEntry:
    """The schedule entry taking force at `activation`, from the state of the block before
    it (which still holds it); EpochEvidencePruned if that state is gone."""
    try:
        view = ledger.state_reader(activation - 1)
    except StateVersionPruned as error:
        raise EpochEvidencePruned(
            f"the validator schedule before height {activation} is pruned on this node "
            f"({error.message}); ask a node that keeps full state history"
        ) from None
    for entry in validator_schedule(lambda key: view.get(state_key(NAMESPACE, key))):
        if entry.activation_height == activation:
            return entry
    # Headers and state disagree: a corrupt ledger, not a request problem.
    raise ApiError(f"the state before height {activation} schedules no set from that height")


def _proven_schedule(service: ChainService, entry: ValidatorSetEntry) -> Json:
    """`state_get` of the schedule at the announcing block, else at the last block before
    the activation (both are of the previous epoch and hold the entry)."""
    for height in (entry.announce_height, entry.activation_height - 1):
        try:
            return service.state_get(NAMESPACE, VALIDATORS_KEY, height)
        except StateVersionPruned:
            continue
    raise EpochEvidencePruned(
        f"the state proving the validator set of height {entry.activation_height} (blocks "
        f"{entry.announce_height}..{entry.activation_height - 1}) is pruned on this node; "
        f"ask a node that keeps full state history"
    )


def chain_epochs(service: ChainService, from_epoch: int, limit: int) -> Json:
    """Evidence for epochs `from_epoch`.. (at most `limit`) that have taken force by the
    committed head: each with the schedule's state proof in a block of the epoch before."""
    ledger = service.ledger
    head = ledger.committed_height
    assert head is not None, "the API serves a ledger with a committed genesis"
    current = ledger.get_header(head).config_version
    epochs: list[Json] = []
    low = 1
    epoch = from_epoch
    while epoch <= current and len(epochs) < limit:
        activation = epoch_start(ledger, epoch, low, head)
        assert activation is not None, "epochs up to the head's are reached by the head"
        entry = _entry_activated_at(ledger, activation)
        epochs.append(
            {
                "epoch": epoch,
                "activation_height": activation,
                "announce_height": entry.announce_height,
                "validators": [node_json(node) for node in entry.validators],
                "state": _proven_schedule(service, entry),
            }
        )
        low = activation + 1
        epoch += 1
    return {
        "height": head,
        "epoch": current,
        "epochs": epochs,
        "next": epoch if epoch <= current else None,
    }
