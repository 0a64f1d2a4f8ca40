"""The node's application over a real ledger in a temp dir: genesis, pipelined building and
validation on uncommitted parents, commits, and block sync's checks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import pytest
from cryptography.hazmat.primitives import serialization

from gongshi.cli.init_network import NetworkOptions, NetworkPlan, plan_network
from gongshi.codec import ReceiptStatus, Transaction, encode
from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus.quorum import build_qc
from gongshi.consensus.signing import vote_bytes
from gongshi.consensus.types import Phase
from gongshi.crypto import PrivateKey, Suite, get_suite
from gongshi.execution import ParallelMap, PreparedTransaction
from gongshi.node.chain import Chain
from gongshi.node.errors import GenesisMismatch
from gongshi.node.genesis import genesis_hash
from gongshi.node.wire import ProposalPayload
from gongshi.pki import MemberRequest, Role, Validity, issue_member_certificate
from gongshi.pki.issue import CertificateAuthority
from gongshi.pki.profile import profile_for
from gongshi.pki.validation import load_certificate
from gongshi.storage import Ledger, LedgerConfig, receipts_root, tx_root

GENESIS_TIME = datetime(2030, 1, 1, tzinfo=UTC)
BLOCK_TIME_MS = int(GENESIS_TIME.timestamp() * 1000) + 1000


@pytest.fixture(scope="module")
def plan() -> NetworkPlan:
    return plan_network(NetworkOptions(organisations=4, suite="intl"), now=GENESIS_TIME)


def key_of(plan: NetworkPlan, path: str, suite: Suite) -> PrivateKey:
    for output in plan.files:
        if output.path == PurePosixPath(path):
            return suite.load_private_key_pem(output.content)
    raise KeyError(path)


@dataclass
class Fixture:
    plan: NetworkPlan
    suite: Suite
    client: PrivateKey
    validators: list[PrivateKey]
    directory: Path
    chains: list[Chain]

    def open(self, name: str, plan: NetworkPlan | None = None) -> Chain:
        plan = plan or self.plan
        ledger = Ledger.open(
            self.directory / name,
            self.suite,
            LedgerConfig(genesis_parent_hash=genesis_hash(plan.genesis)),
        )
        chain = Chain(ledger=ledger, genesis=plan.genesis, suite=self.suite, parallel=ParallelMap())
        self.chains.append(chain)
        return chain

    def transactions(self, count: int, start_nonce: int = 0) -> list[PreparedTransaction]:
        prepared = []
        for index in range(count):
            tx = Transaction(
                chain_id=self.plan.genesis.params.chain_id,
                nonce=start_nonce + index,
                sender=self.client.public_key_bytes(),
                target="notary",
                method="register",
                args={
                    "doc_hash": hashlib.sha256(b"%d" % (start_nonce + index)).digest(),
                    "metadata": {},
                },
                gas_limit=200_000,
                expiry_height=1000,
            ).sign(self.client)
            prepared.append(PreparedTransaction.from_transaction(tx, self.suite))
        return prepared

    def certificate(self, height: int, round_number: int, block_hash: bytes) -> QuorumCertificate:
        chain_id = self.plan.genesis.params.chain_id.encode()
        message = vote_bytes(chain_id, 0, Phase.COMMIT, height, round_number, block_hash)
        signatures = {index: key.sign(message) for index, key in enumerate(self.validators[:3])}
        return build_qc(Phase.COMMIT, height, round_number, block_hash, signatures)


@pytest.fixture
def fx(plan: NetworkPlan, tmp_path: Path) -> Iterator[Fixture]:
    suite = get_suite("intl")
    fixture = Fixture(
        plan=plan,
        suite=suite,
        client=key_of(plan, "orgs/org1/client/client.key", suite),
        validators=[key_of(plan, f"nodes/node{i}/node.key", suite) for i in range(1, 5)],
        directory=tmp_path,
        chains=[],
    )
    yield fixture
    for chain in fixture.chains:
        chain.ledger.close()


def build(fx: Fixture, chain: Chain, parent: bytes, height: int, txs: list[PreparedTransaction]):  # type: ignore[no-untyped-def]
    return chain.build(
        height=height,
        parent_hash=parent,
        round_number=height,
        proposer=fx.validators[0].public_key_bytes(),
        timestamp_ms=BLOCK_TIME_MS + height,
        candidates=txs,
    )


def test_genesis_is_committed_once_and_checked_on_reopen(fx: Fixture, plan: NetworkPlan) -> None:
    chain = fx.open("a")
    assert chain.committed_height == 0
    first_hash = chain.genesis_hash
    chain.ledger.close()
    fx.chains.remove(chain)
    again = fx.open("a")
    assert again.genesis_hash == first_hash and again.committed_height == 0
    other = fx.open("b")
    assert other.genesis_hash == first_hash  # same genesis, same block 0 everywhere
    different = plan_network(NetworkOptions(organisations=4, suite="intl"), now=GENESIS_TIME)
    again.ledger.close()
    fx.chains.remove(again)
    with pytest.raises(GenesisMismatch):
        fx.open("a", different)


def test_pipelined_blocks_validate_and_commit_identically(fx: Fixture) -> None:
    proposer, replica = fx.open("proposer"), fx.open("replica")
    txs = fx.transactions(6)
    genesis = proposer.ledger.head_hash
    first = build(fx, proposer, genesis, 1, txs[:3])
    # The second block builds on the first before the first is committed.
    second = build(fx, proposer, first.consensus_block.block_hash, 2, txs)
    assert [p.tx_hash for p in first.executed.prepared] == [p.tx_hash for p in txs[:3]]
    assert [p.tx_hash for p in second.executed.prepared] == [p.tx_hash for p in txs[3:]]
    for built in (first, second):
        payload = ProposalPayload.decode(built.consensus_block.payload)
        assert replica.validate(built.consensus_block, payload, list(built.executed.prepared))
    for height, built in enumerate((first, second), start=1):
        certificate = fx.certificate(height, height, built.consensus_block.block_hash)
        for chain in (proposer, replica):
            committed = chain.commit(built.consensus_block.block_hash, certificate)
            assert committed is not None
    assert proposer.ledger.get_header(2) == replica.ledger.get_header(2)
    assert replica.ledger.get_nonce(fx.suite.address(fx.client.public_key_bytes())) == 6
    assert replica.executed == {}


def test_replica_rejects_a_block_whose_roots_do_not_recompute(fx: Fixture) -> None:
    proposer, replica = fx.open("proposer"), fx.open("replica")
    built = build(fx, proposer, proposer.ledger.head_hash, 1, fx.transactions(2))
    payload = ProposalPayload.decode(built.consensus_block.payload)
    forged_header = replace(payload.header, state_root=bytes(32))
    forged = ProposalPayload(header=forged_header, tx_hashes=payload.tx_hashes)
    block = replace(
        built.consensus_block,
        payload=forged.encode(),
        block_hash=forged_header.hash(fx.suite),
    )
    assert not replica.validate(block, forged, list(built.executed.prepared))
    # Transactions that are not the payload's are refused too.
    assert not replica.validate(built.consensus_block, payload, list(built.executed.prepared)[:1])


def test_block_sync_applies_certified_blocks_and_refuses_forged_certificates(
    fx: Fixture,
) -> None:
    source, syncing = fx.open("source"), fx.open("syncing")
    built = build(fx, source, source.ledger.head_hash, 1, fx.transactions(3))
    block_hash = built.consensus_block.block_hash
    good = fx.certificate(1, 1, block_hash)
    source.commit(block_hash, good)
    block = source.ledger.get_block(1)
    too_few = replace(good, signers=good.signers[:2], signatures=good.signatures[:2])
    assert syncing.apply_synced(block, too_few) is None
    wrong_block = fx.certificate(1, 1, bytes(32))
    assert syncing.apply_synced(block, wrong_block) is None
    assert syncing.committed_height == 0
    applied = syncing.apply_synced(block, good)
    assert applied is not None and syncing.committed_height == 1
    assert syncing.ledger.get_header(1) == source.ledger.get_header(1)
    assert syncing.apply_synced(block, good) is None  # no longer extends the head
    root = syncing.committed_root()
    assert root.block.height == 1 and root.justify.qc == good


class _NoApply:
    def apply(self, *args: object) -> None:
        raise AssertionError("the commit recomputed the state tree")


def test_commit_reuses_the_tree_update_made_at_execution(fx: Fixture) -> None:
    chain = fx.open("proposer")
    first = build(fx, chain, chain.ledger.head_hash, 1, fx.transactions(2))
    second = build(fx, chain, first.consensus_block.block_hash, 2, fx.transactions(2, 2))
    chain.ledger._tree = _NoApply()  # type: ignore[assignment]
    for height, built in enumerate((first, second), start=1):
        block_hash = built.consensus_block.block_hash
        assert chain.commit(block_hash, fx.certificate(height, height, block_hash)) is not None
    assert chain.ledger.get_header(2).state_root == second.executed.update.root_hash


def test_commit_uses_the_admission_hashes_and_they_match(
    fx: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = fx.open("proposer")
    built = build(fx, chain, chain.ledger.head_hash, 1, fx.transactions(4))
    executed = built.executed
    digests = executed.digests()
    transactions = executed.block.transactions
    assert digests.tx_hashes == tuple(tx.hash(fx.suite) for tx in transactions)
    assert digests.sender_addresses == tuple(fx.suite.address(tx.sender) for tx in transactions)
    assert digests.receipt_encodings == tuple(encode(r) for r in executed.receipts)
    assert executed.header.tx_root == tx_root(fx.suite.hash, digests.tx_hashes)
    assert executed.header.receipts_root == receipts_root(fx.suite.hash, digests.receipt_encodings)

    def no_hash(self: Transaction, suite: object) -> bytes:
        raise AssertionError("the commit hashed a transaction again")

    monkeypatch.setattr(Transaction, "hash", no_hash)
    block_hash = built.consensus_block.block_hash
    assert chain.commit(block_hash, fx.certificate(1, 1, block_hash)) is not None
    monkeypatch.undo()
    stored = chain.ledger.get_block(1)
    assert [tx.hash(fx.suite) for tx in stored.transactions] == list(digests.tx_hashes)


def test_a_validated_block_has_the_built_blocks_digests_and_header(fx: Fixture) -> None:
    proposer, replica = fx.open("proposer"), fx.open("replica")
    built = build(fx, proposer, proposer.ledger.head_hash, 1, fx.transactions(3))
    payload = ProposalPayload.decode(built.consensus_block.payload)
    validated = replica.validate_block(
        built.consensus_block, payload, list(built.executed.prepared)
    )
    assert validated is not None
    assert validated.digests() == built.executed.digests()
    block_hash = built.consensus_block.block_hash
    assert replica.commit(block_hash, fx.certificate(1, 1, block_hash)) is not None
    assert replica.ledger.get_header(1) == built.executed.header


def test_block_sync_skips_signatures_this_node_verified(
    fx: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, syncing = fx.open("source"), fx.open("syncing")
    built = build(fx, source, source.ledger.head_hash, 1, fx.transactions(3))
    block_hash = built.consensus_block.block_hash
    certificate = fx.certificate(1, 1, block_hash)
    source.commit(block_hash, certificate)
    block = source.ledger.get_block(1)
    # Gossip admission verified two of the three already.
    syncing.verified.add_all((tx.hash(fx.suite), tx.signature) for tx in block.transactions[:2])
    checked: list[bytes] = []
    original = PreparedTransaction.verify_signature

    def counting(self: PreparedTransaction, suite: Suite) -> bool:
        checked.append(self.tx_hash)
        return original(self, suite)

    monkeypatch.setattr(PreparedTransaction, "verify_signature", counting)
    assert syncing.apply_synced(block, certificate) is not None
    assert checked == [block.transactions[2].hash(fx.suite)]
    assert len(syncing.verified) == 3


def newcomer_certificate(fx: Fixture, key: PrivateKey) -> str:
    """A client certificate of org1 for `key`, signed with the plan's org1 CA."""
    files = {str(output.path): output.content for output in fx.plan.files}
    authority = CertificateAuthority(
        organisation="org1",
        profile=profile_for(fx.suite.name),
        certificate=load_certificate(files["orgs/org1/ca/ca.crt"]),
        private_key=serialization.load_pem_private_key(files["orgs/org1/ca/ca.key"], None),  # type: ignore[arg-type]
    )
    request = MemberRequest(
        common_name="newcomer",
        role=Role.CLIENT,
        chain_public_key=key.public_key_bytes(),
        validity=Validity.starting(GENESIS_TIME - timedelta(days=1), 365),
    )
    certificate = issue_member_certificate(authority, fx.suite, request)
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_identities_cached_at_the_head_give_way_to_an_ancestor_that_registers(
    fx: Fixture,
) -> None:
    proposer, replica = fx.open("proposer"), fx.open("replica")
    newcomer = fx.suite.generate_private_key()

    def tx(nonce: int, target: str, method: str, args: dict[str, object]) -> PreparedTransaction:
        signed = Transaction(
            chain_id=fx.plan.genesis.params.chain_id,
            nonce=nonce,
            sender=newcomer.public_key_bytes(),
            target=target,
            method=method,
            args=args,
            gas_limit=5_000_000,
            expiry_height=1000,
        ).sign(newcomer)
        return PreparedTransaction.from_transaction(signed, fx.suite)

    register = tx(
        0, "identity", "register", {"certificate_pem": newcomer_certificate(fx, newcomer)}
    )
    notarize = [tx(n, "notary", "register", {"doc_hash": bytes([n]) * 32}) for n in (1, 2)]
    # At the head the newcomer is unknown (and the chain's identity cache now says so): it
    # may only register, so its notarization waits.
    first = build(fx, proposer, proposer.ledger.head_hash, 1, [register, notarize[0]])
    assert [p.tx_hash for p in first.executed.prepared] == [register.tx_hash]
    # Block 2 executes on block 1, uncommitted, which registered it.
    second = build(fx, proposer, first.consensus_block.block_hash, 2, notarize[:1])
    assert [p.tx_hash for p in second.executed.prepared] == [notarize[0].tx_hash]
    assert [r.status for r in second.executed.receipts] == [ReceiptStatus.SUCCESS]
    for built in (first, second):
        payload = ProposalPayload.decode(built.consensus_block.payload)
        assert replica.validate(built.consensus_block, payload, list(built.executed.prepared))
    # Once block 1 is committed, the head's answers see the registration too.
    for chain in (proposer, replica):
        block_hash = first.consensus_block.block_hash
        assert chain.commit(block_hash, fx.certificate(1, 1, block_hash)) is not None
    third = build(fx, proposer, second.consensus_block.block_hash, 3, notarize[1:])
    assert [p.tx_hash for p in third.executed.prepared] == [notarize[1].tx_hash]
