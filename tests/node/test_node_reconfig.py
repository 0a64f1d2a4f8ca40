"""Governance in the node, without processes: real `Chain`s over RocksDB execute governance
proposals; the announced validator-set change, the epoch in headers, the limits in force,
the engine's root across an epoch boundary, block sync's certificate checks per epoch, and
what the network is told (peers, trust, revocations)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from gongshi.cli.init_network import NetworkOptions, NetworkPlan, plan_network
from gongshi.codec import Receipt, ReceiptStatus, Transaction
from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus.quorum import build_qc
from gongshi.consensus.signing import vote_bytes
from gongshi.consensus.types import Phase
from gongshi.crypto import PrivateKey, Suite, get_suite
from gongshi.execution import ParallelMap, PreparedTransaction
from gongshi.node.chain import Built, Chain
from gongshi.node.errors import EpochMismatch, NotAValidator
from gongshi.node.genesis import genesis_hash
from gongshi.node.reconfig import (
    allowed_peers,
    block_epoch,
    pending_change,
    state_trust,
    touches_network,
    validator_set,
)
from gongshi.node.wire import ProposalPayload
from gongshi.storage import Ledger, LedgerConfig

GENESIS_TIME = datetime(2030, 1, 1, tzinfo=UTC)
BLOCK_TIME_MS = int(GENESIS_TIME.timestamp() * 1000) + 1000
GOVERNANCE_GAS = 5_000_000


@pytest.fixture(scope="module")
def plan() -> NetworkPlan:
    return plan_network(NetworkOptions(organisations=4, suite="intl"), now=GENESIS_TIME)


def key_of(plan: NetworkPlan, path: str, suite: Suite) -> PrivateKey:
    for output in plan.files:
        if output.path == PurePosixPath(path):
            return suite.load_private_key_pem(output.content)
    raise KeyError(path)


@dataclass
class Net:
    plan: NetworkPlan
    suite: Suite
    directory: Path
    validators: list[PrivateKey]
    chains: list[Chain]
    nonces: dict[bytes, int]

    def open(self, name: str) -> Chain:
        ledger = Ledger.open(
            self.directory / name,
            self.suite,
            LedgerConfig(genesis_parent_hash=genesis_hash(self.plan.genesis)),
        )
        chain = Chain(
            ledger=ledger, genesis=self.plan.genesis, suite=self.suite, parallel=ParallelMap()
        )
        self.chains.append(chain)
        return chain

    def key(self, path: str) -> PrivateKey:
        return key_of(self.plan, path, self.suite)

    def tx(self, signer: PrivateKey, target: str, method: str, args: Any) -> PreparedTransaction:
        sender = signer.public_key_bytes()
        nonce = self.nonces.get(sender, 0)
        self.nonces[sender] = nonce + 1
        tx = Transaction(
            chain_id=self.plan.genesis.params.chain_id,
            nonce=nonce,
            sender=sender,
            target=target,
            method=method,
            args=args,
            gas_limit=GOVERNANCE_GAS if target == "governance" else 200_000,
            expiry_height=1000,
        ).sign(signer)
        return PreparedTransaction.from_transaction(tx, self.suite)

    def enact(self, proposal_id: int, kind: str, payload: Any, **extra: Any) -> list[Any]:
        """A proposal by org1's admin and the votes of org2 and org3 (the threshold, 3)."""
        args = {"kind": kind, "payload": payload, **extra}
        txs = [self.tx(self.key("orgs/org1/admin/admin.key"), "governance", "propose", args)]
        for org in ("org2", "org3"):
            vote = {"id": proposal_id, "approve": True}
            txs.append(self.tx(self.key(f"orgs/{org}/admin/admin.key"), "governance", "vote", vote))
        return txs

    def notarizations(self, count: int, tag: str) -> list[PreparedTransaction]:
        client = self.key("orgs/org1/client/client.key")
        return [
            self.tx(
                client,
                "notary",
                "register",
                {"doc_hash": hashlib.sha256(f"{tag}{i}".encode()).digest(), "metadata": {}},
            )
            for i in range(count)
        ]

    def certificate(
        self, signers: list[int], keys: list[PrivateKey], epoch: int, built: Built
    ) -> QuorumCertificate:
        block = built.consensus_block
        message = vote_bytes(
            self.plan.genesis.params.chain_id.encode(),
            epoch,
            Phase.COMMIT,
            block.height,
            built.executed.header.round,
            block.block_hash,
        )
        signatures = {index: keys[index].sign(message) for index in signers}
        return build_qc(
            Phase.COMMIT, block.height, built.executed.header.round, block.block_hash, signatures
        )


@pytest.fixture
def net(plan: NetworkPlan, tmp_path: Path) -> Iterator[Net]:
    suite = get_suite("intl")
    fixture = Net(
        plan=plan,
        suite=suite,
        directory=tmp_path,
        validators=[key_of(plan, f"nodes/node{i}/node.key", suite) for i in range(1, 5)],
        chains=[],
        nonces={},
    )
    yield fixture
    for chain in fixture.chains:
        chain.ledger.close()


def build(
    net: Net,
    chain: Chain,
    height: int,
    txs: list[PreparedTransaction],
    *,
    epoch: int = 0,
    proposer: int = 0,
) -> Built:
    return chain.build(
        height=height,
        parent_hash=chain.ledger.head_hash,
        round_number=height,
        proposer=net.validators[proposer].public_key_bytes(),
        timestamp_ms=BLOCK_TIME_MS + height,
        candidates=txs,
        epoch=epoch,
    )


def successes(receipts: tuple[Receipt, ...]) -> bool:
    return all(receipt.status is ReceiptStatus.SUCCESS for receipt in receipts)


def test_removing_a_validator_changes_the_epoch_at_the_activation_height(net: Net) -> None:
    proposer, replica = net.open("proposer"), net.open("replica")
    node4 = net.validators[3].public_key_bytes()
    txs = net.enact(0, "remove_node", {"public_key": node4}, activation_height=4)
    first = build(net, proposer, 1, txs)
    assert successes(first.executed.receipts) and len(first.executed.prepared) == 3
    three = tuple(key.public_key_bytes() for key in net.validators[:3])
    change = first.executed.change
    assert change is not None and change.public_keys == three and change.activation_height == 4
    # A replica re-executing the block announces the same change to its engine.
    payload = ProposalPayload.decode(first.consensus_block.payload)
    validated = replica.validate_block(
        first.consensus_block, payload, list(first.executed.prepared)
    )
    assert validated is not None and validated.change == change
    assert touches_network(first.executed.receipts)

    blocks = [first]
    for chain in (proposer, replica):
        chain.commit(
            first.consensus_block.block_hash, net.certificate([0, 1, 2], net.validators, 0, first)
        )
    for height in (2, 3):
        built = build(net, proposer, height, [])
        assert built.executed.header.config_version == 0 and built.executed.change is None
        proposer.commit(
            built.consensus_block.block_hash, net.certificate([0, 1, 2], net.validators, 0, built)
        )
        blocks.append(built)
        if height == 2:
            root = proposer.committed_root()
            assert root.epoch == 0 and root.pending_change == change
    # Block 3 ends epoch 0: a restarted engine resumes in epoch 1 rooted at it.
    root = proposer.committed_root()
    assert (root.epoch, root.round, root.block.height) == (1, 0, 3)
    assert root.validators.public_keys == three
    assert root.epoch_root_hash == blocks[-1].consensus_block.block_hash
    # Block 4 belongs to epoch 1, where node4 no longer proposes.
    with pytest.raises(EpochMismatch):
        build(net, proposer, 4, [], epoch=0)
    with pytest.raises(NotAValidator):
        build(net, proposer, 4, [], epoch=1, proposer=3)
    fourth = build(net, proposer, 4, [], epoch=1, proposer=1)
    assert fourth.executed.header.config_version == 1
    good = net.certificate([0, 1, 2], net.validators, 1, fourth)
    proposer.commit(fourth.consensus_block.block_hash, good)
    later = proposer.committed_root()
    assert later.epoch == 1 and later.round == 4 and later.pending_change is None
    assert later.epoch_root_hash == blocks[-1].consensus_block.block_hash

    # Block sync checks each certificate against the set and epoch of its height.
    for built in blocks[1:]:
        certificate = net.certificate([0, 1, 2], net.validators, 0, built)
        assert replica.apply_synced(proposer.ledger.get_block(built.executed.height), certificate)
    block4 = proposer.ledger.get_block(4)
    old_epoch = net.certificate([0, 1, 2], net.validators, 0, fourth)
    assert replica.apply_synced(block4, old_epoch) is None  # signed as epoch 0: refused
    too_few = net.certificate([0, 1], net.validators, 1, fourth)
    assert replica.apply_synced(block4, too_few) is None  # 2 of 3 is not a quorum
    assert replica.apply_synced(block4, good) is not None
    assert replica.ledger.get_header(4) == proposer.ledger.get_header(4)


def test_a_header_in_the_wrong_epoch_is_rejected(net: Net) -> None:
    proposer, replica = net.open("proposer"), net.open("replica")
    built = build(net, proposer, 1, [])
    payload = ProposalPayload.decode(built.consensus_block.payload)
    header = replace(payload.header, config_version=1)
    forged = ProposalPayload(header=header, tx_hashes=())
    block = replace(
        built.consensus_block, payload=forged.encode(), block_hash=header.hash(net.suite)
    )
    assert replica.validate_block(block, forged, []) is None
    assert replica.validate_block(built.consensus_block, payload, []) is not None


def test_block_limits_follow_the_parameters_in_force_at_each_height(net: Net) -> None:
    chain = net.open("proposer")
    txs = net.enact(0, "change_parameters", {"changes": {"block_txs_max": 2}}, activation_height=3)
    first = build(net, chain, 1, txs)
    assert successes(first.executed.receipts) and first.executed.change is None
    chain.commit(
        first.consensus_block.block_hash, net.certificate([0, 1, 2], net.validators, 0, first)
    )
    assert chain.committed_params().block_txs_max == 2000  # next block: 2, still the old limit
    second = build(net, chain, 2, net.notarizations(5, "a"))
    assert len(second.executed.prepared) == 5
    chain.commit(
        second.consensus_block.block_hash, net.certificate([0, 1, 2], net.validators, 0, second)
    )
    assert chain.committed_params().block_txs_max == 2
    third = build(net, chain, 3, net.notarizations(5, "b"))
    assert len(third.executed.prepared) == 2


def test_network_view_of_governance_state(net: Net, plan: NetworkPlan) -> None:
    chain = net.open("proposer")
    state = chain.committed_state()
    peers = allowed_peers(state, 1)
    assert [p.public_key for p in peers] == [v.public_key for v in plan.genesis.validators]
    assert all(p.address is not None for p in peers)
    trust = state_trust(state, net.suite)
    assert {a.organisation for a in trust.authorities} == {"org1", "org2", "org3", "org4"}
    assert block_epoch(0, state, 1) == 0
    assert validator_set(state, 1, 0).size == 4 and pending_change(state, 0) is None

    node4 = net.validators[3].public_key_bytes()
    first = build(net, chain, 1, net.enact(0, "remove_node", {"public_key": node4}))
    chain.commit(
        first.consensus_block.block_hash, net.certificate([0, 1, 2], net.validators, 0, first)
    )
    state = chain.committed_state()
    # Until the change takes force (height 2), node4 stays a peer; then it is dropped.
    assert node4 in {p.public_key for p in allowed_peers(state, 1)}
    assert node4 not in {p.public_key for p in allowed_peers(state, 2)}
    assert block_epoch(0, state, 2) == 1
