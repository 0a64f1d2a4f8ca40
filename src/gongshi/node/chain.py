"""The node's application: build, validate, commit and sync blocks over the ledger.

Every method runs on the node's one execution thread (the driver hands work to it in order),
so the ledger's head and the map of executed-but-uncommitted blocks never change under a
running execution. Consensus sees a block as (height, parent, payload, hash): the payload is
the canonical `ProposalPayload` (header + transaction hashes) and the hash is the header's.

Invariant: every entry of `executed` sits above the committed head and its parent is either
the head or another entry (entries at or below the head are dropped on each commit).

After genesis, state is the source of truth for the block limits and the validator set
(`reconfig.py`): each block is built and checked with the parameters in force at its height,
its header's `config_version` is its consensus epoch, and its finality certificate is checked
against the set of that epoch.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from gongshi.codec import Block as LedgerBlock
from gongshi.codec import BlockHeader, Receipt, encode
from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus import (
    Block,
    CommittedRoot,
    Justify,
    SuiteVerifier,
    ValidatorSet,
    decode_certificate,
    encode_certificate,
    genesis_root,
    verify_commit,
)
from gongshi.consensus.types import Phase, ValidatorSetChange
from gongshi.crypto import Suite
from gongshi.errors import GongshiError, InvariantViolation
from gongshi.execution import (
    BlockContext,
    BlockLimits,
    CachedIdentityReader,
    ExecutionEnvironment,
    ParallelMap,
    PreparedTransaction,
    StateIdentityReader,
    build_block_body,
    execute_block,
    genesis_state_writes,
    require_valid_signatures,
)
from gongshi.execution.errors import InvalidBlock, NonceOutOfOrder
from gongshi.execution.governance_state import chain_params_at, validator_set_change
from gongshi.execution.identities import RESOLUTION_NAMESPACES, IdentityReader
from gongshi.mempool.admission import VerifiedSignatures
from gongshi.merkle.state_tree import StateTree, TreeUpdate
from gongshi.node.errors import EpochMismatch, GenesisMismatch, NotAValidator, UnknownParent
from gongshi.node.genesis import ChainParams, Genesis, genesis_hash
from gongshi.node.overlay import OverlayNodes, OverlayNonces, OverlayState
from gongshi.node.reconfig import (
    block_epoch,
    epoch_start,
    pending_change,
    validator_set,
)
from gongshi.node.wire import ProposalPayload
from gongshi.storage import Ledger, receipts_root, state_key, tx_root
from gongshi.storage.block_record import BlockDigests

logger = logging.getLogger(__name__)

GENESIS_EPOCH = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutedBlock:
    """A block this node executed (built or validated), waiting for its commit."""

    block: LedgerBlock
    block_hash: bytes
    prepared: tuple[PreparedTransaction, ...]
    receipts: tuple[Receipt, ...]
    writes: dict[bytes, bytes | None]
    update: TreeUpdate
    next_nonces: dict[bytes, int]
    # The receipts' canonical encodings (for the receipts root, and the commit reuses them).
    receipt_encodings: tuple[bytes, ...]
    # The validator-set change this block announces to consensus, if any.
    change: ValidatorSetChange | None = None

    def digests(self) -> BlockDigests:
        """What the ledger's commit needs and this node computed already (hashes at
        admission, receipt encodings at execution)."""
        return BlockDigests(
            tx_hashes=tuple(p.tx_hash for p in self.prepared),
            sender_addresses=tuple(p.sender_address for p in self.prepared),
            receipt_encodings=self.receipt_encodings,
        )

    @property
    def header(self) -> BlockHeader:
        return self.block.header

    @property
    def height(self) -> int:
        return self.block.header.height


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    """What `build` made: the block for consensus, and candidates the mempool should drop."""

    executed: ExecutedBlock
    consensus_block: Block
    invalid: tuple[bytes, ...]


def consensus_block_of(header: BlockHeader, tx_hashes: Sequence[bytes], suite: Suite) -> Block:
    payload = ProposalPayload(header=header, tx_hashes=tuple(tx_hashes))
    return Block(
        height=header.height,
        parent_hash=header.parent_hash,
        payload=payload.encode(),
        block_hash=header.hash(suite),
    )


# Raw-key prefixes of the namespaces a sender's identity is read from.
_RESOLUTION_PREFIXES = tuple(state_key(namespace, b"") for namespace in RESOLUTION_NAMESPACES)


def _writes_resolution_state(writes: dict[bytes, bytes | None]) -> bool:
    """Whether `writes` (a block's) touch a namespace identities are read from: a binary
    search per namespace in the sorted keys (already in order: `BlockResult.state_writes`)."""
    keys = sorted(writes)
    for prefix in _RESOLUTION_PREFIXES:
        at = bisect.bisect_left(keys, prefix)
        if at < len(keys) and keys[at].startswith(prefix):
            return True
    return False


def genesis_certificate(block_hash: bytes) -> QuorumCertificate:
    """The certificate the genesis block is stored with: configuration, no signatures."""
    return QuorumCertificate(
        phase=int(Phase.GENESIS),
        height=0,
        round=0,
        block_hash=block_hash,
        signers=(),
        signatures=(),
    )


class Chain:
    """The ledger plus the executed-but-uncommitted blocks above it. One thread only."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        genesis: Genesis,
        suite: Suite,
        parallel: ParallelMap,
        verified: VerifiedSignatures | None = None,
    ) -> None:
        self.ledger = ledger
        self.genesis = genesis
        self.suite = suite
        self.parallel = parallel
        # Signatures this node verified already (shared with mempool admission).
        self.verified = verified if verified is not None else VerifiedSignatures()
        self.chain_id = genesis.params.chain_id
        self.genesis_validators = ValidatorSet(
            epoch=GENESIS_EPOCH, public_keys=tuple(v.public_key for v in genesis.validators)
        )
        self.environment = ExecutionEnvironment(
            suite=suite, limits=BlockLimits.from_params(genesis.params)
        )
        self.verifier = SuiteVerifier(suite)
        # Sender identities at the committed head, kept across blocks until one writes what
        # they are read from: execution resolves the same senders block after block.
        self.committed_identities = CachedIdentityReader(ledger, suite)
        self.executed: dict[bytes, ExecutedBlock] = {}
        self.genesis_hash = self._ensure_genesis()

    # --- genesis and roots ------------------------------------------------------------------

    def _genesis_block(self) -> tuple[LedgerBlock, dict[bytes, bytes | None]]:
        writes = genesis_state_writes(self.genesis)
        hash_fn = self.suite.hash
        state_root = StateTree(OverlayNodes(self.ledger, ()), hash_fn).apply(None, 0, writes)
        header = BlockHeader(
            height=0,
            parent_hash=genesis_hash(self.genesis),  # binds block 0 to the genesis file
            tx_root=tx_root(hash_fn, []),
            receipts_root=receipts_root(hash_fn, []),
            state_root=state_root.root_hash,
            timestamp_ms=self.genesis.genesis_time_ms,
            proposer=self.genesis.validators[0].public_key,
            round=0,
            config_version=GENESIS_EPOCH,
        )
        return LedgerBlock(header=header, transactions=()), writes

    def _ensure_genesis(self) -> bytes:
        """Commit block 0 on an empty ledger; check it on a used one. Its hash. The ledger
        must be opened with `genesis_parent_hash=genesis_hash(genesis)`."""
        if self.ledger.committed_height is None:
            block, writes = self._genesis_block()
            block_hash = block.hash(self.suite)
            encoded = encode_certificate(genesis_certificate(block_hash))
            self.ledger.commit_block(block, (), writes, encoded)
            logger.info("genesis committed hash=%s", block_hash.hex()[:16])
            return block_hash
        stored = self.ledger.get_header(0)
        certificate = decode_certificate(self.ledger.get_certificate(0))
        if certificate.phase != Phase.GENESIS or certificate.block_hash != stored.hash(self.suite):
            raise GenesisMismatch("block 0 of the ledger is not a genesis block")
        if stored != self._genesis_block()[0].header:
            raise GenesisMismatch("the ledger was created from another genesis file")
        return stored.hash(self.suite)

    def consensus_block(self, height: int) -> Block:
        """A committed block as consensus sees it."""
        block = self.ledger.get_block(height)
        hashes = [tx.hash(self.suite) for tx in block.transactions]
        return consensus_block_of(block.header, hashes, self.suite)

    def committed_state(self) -> OverlayState:
        """The state after the committed head."""
        return OverlayState(self.ledger, self.committed_height, ())

    def committed_params(self) -> ChainParams:
        """The chain parameters in force for the next block."""
        return chain_params_at(
            self.committed_state(), self.committed_height + 1, fallback=self.genesis.params
        )

    def committed_root(self) -> CommittedRoot:
        """Where a (re)started engine resumes: the ledger's head with its certificate, in the
        epoch of the next block (the head may be the last block of its epoch)."""
        height = self.committed_height
        block = self.consensus_block(height)
        state = self.committed_state()
        if height == 0:
            return genesis_root(block, self.genesis_validators)
        epoch = self.ledger.get_header(height).config_version
        certificate = decode_certificate(self.ledger.get_certificate(height))
        justify = Justify(epoch=epoch, qc=certificate, commits=(certificate,))
        next_epoch = block_epoch(epoch, state, height + 1)
        if next_epoch != epoch:  # the head ended its epoch: it is the next one's root
            return CommittedRoot(
                block=block,
                epoch=next_epoch,
                round=0,
                validators=validator_set(state, height + 1, next_epoch),
                justify=justify,
                epoch_root_hash=block.block_hash,
            )
        root_height = max(epoch_start(state, height) - 1, 0)
        return CommittedRoot(
            block=block,
            epoch=epoch,
            round=certificate.round,
            validators=validator_set(state, height, epoch),
            justify=justify,
            epoch_root_hash=self.ledger.get_header(root_height).hash(self.suite),
            pending_change=pending_change(state, height),
        )

    @property
    def committed_height(self) -> int:
        height = self.ledger.committed_height
        assert height is not None
        return height

    # --- ancestry ---------------------------------------------------------------------------

    def _ancestors(self, parent_hash: bytes) -> list[ExecutedBlock]:
        """Uncommitted blocks from `parent_hash` down to the committed head, newest first."""
        chain: list[ExecutedBlock] = []
        cursor = parent_hash
        head = self.ledger.head_hash
        while cursor != head:
            executed = self.executed.get(cursor)
            if executed is None or len(chain) > len(self.executed):
                raise UnknownParent(f"block {cursor.hex()[:16]} is not executed here")
            chain.append(executed)
            cursor = executed.header.parent_hash
        return chain

    def _parent_header(self, ancestors: list[ExecutedBlock]) -> BlockHeader:
        if ancestors:
            return ancestors[0].header
        return self.ledger.get_header(self.committed_height)

    def _identities(self, state: OverlayState, ancestors: list[ExecutedBlock]) -> IdentityReader:
        """Sender identities in `state` (the committed state under `ancestors`' writes): the
        committed head's cached answers unless an ancestor wrote what they are read from."""
        if any(_writes_resolution_state(a.writes) for a in ancestors):
            return StateIdentityReader(state, self.suite)
        return self.committed_identities

    # --- parameters and epochs --------------------------------------------------------------

    def _block_rules(
        self, height: int, ancestors: list[ExecutedBlock]
    ) -> tuple[ExecutionEnvironment, int, ValidatorSet]:
        """For block `height` on `ancestors`: the execution environment with the limits in
        force at that height, its epoch, and the validators of that epoch."""
        state = OverlayState(self.ledger, self.committed_height, [a.writes for a in ancestors])
        params = chain_params_at(state, height, fallback=self.genesis.params)
        environment = self.environment
        limits = BlockLimits.from_params(params)
        if limits != environment.limits:
            environment = dataclasses.replace(environment, limits=limits)
        epoch = block_epoch(self._parent_header(ancestors).config_version, state, height)
        return environment, epoch, validator_set(state, height, epoch)

    def _change_after(
        self, height: int, ancestors: list[ExecutedBlock], writes: dict[bytes, bytes | None]
    ) -> ValidatorSetChange | None:
        state = OverlayState(
            self.ledger, self.committed_height, [writes, *(a.writes for a in ancestors)]
        )
        return validator_set_change(state, height)

    # --- execution --------------------------------------------------------------------------

    def _execute(
        self,
        header_fields: BlockContext,
        ancestors: list[ExecutedBlock],
        transactions: Sequence[PreparedTransaction],
        environment: ExecutionEnvironment,
    ) -> tuple[tuple[Receipt, ...], dict[bytes, bytes | None], TreeUpdate, dict[bytes, int]]:
        """Execute on the state after the newest of `ancestors` (or the committed head);
        InvalidBlock if a rule is broken."""
        base = self.committed_height
        state = OverlayState(self.ledger, base, [a.writes for a in ancestors])
        nonces = OverlayNonces(self.ledger, [a.next_nonces for a in ancestors])
        result = execute_block(
            transactions,
            context=header_fields,
            environment=environment,
            state=state,
            nonces=nonces,
            identities=self._identities(state, ancestors),
        )
        tree = StateTree(
            OverlayNodes(self.ledger, [a.update.new_nodes for a in ancestors]), self.suite.hash
        )
        update = tree.apply(header_fields.height - 1, header_fields.height, result.state_writes)
        return result.receipts, result.state_writes, update, result.next_nonces

    def build(
        self,
        *,
        height: int,
        parent_hash: bytes,
        round_number: int,
        proposer: bytes,
        timestamp_ms: int,
        candidates: Sequence[PreparedTransaction],
        epoch: int | None = None,
    ) -> Built:
        """Build, execute and remember a block on `parent_hash` from mempool `candidates`.
        `epoch`, the engine's, must be the chain's at `height` (EpochMismatch), and `proposer`
        a validator of that height (NotAValidator)."""
        ancestors = self._ancestors(parent_hash)
        parent = self._parent_header(ancestors)
        if parent.height + 1 != height:
            raise InvariantViolation(f"building {height} on a parent at {parent.height}")
        environment, block_epoch_number, validators = self._block_rules(height, ancestors)
        if epoch is not None and epoch != block_epoch_number:
            raise EpochMismatch(
                f"consensus is in epoch {epoch}, the chain in {block_epoch_number} at {height}"
            )
        if proposer not in validators.index_of:
            raise NotAValidator(f"this node is not a validator at height {height}")
        pending = {p.tx_hash for a in ancestors for p in a.prepared}
        timestamp_ms = max(timestamp_ms, parent.timestamp_ms)
        context = BlockContext(
            chain_id=self.chain_id, height=height, timestamp_ms=timestamp_ms, proposer=proposer
        )
        base = self.committed_height
        state = OverlayState(self.ledger, base, [a.writes for a in ancestors])
        body = build_block_body(
            (c for c in candidates if c.tx_hash not in pending),
            context=context,
            limits=environment.limits,
            nonces=OverlayNonces(self.ledger, [a.next_nonces for a in ancestors]),
            identities=self._identities(state, ancestors),
        )
        receipts, writes, update, next_nonces = self._execute(
            context, ancestors, body.transactions, environment
        )
        executed = self._remember(
            context,
            parent_hash,
            round_number,
            block_epoch_number,
            body.transactions,
            receipts,
            writes,
            update,
            next_nonces,
            self._change_after(height, ancestors, writes),
        )
        # A nonce already used is not proof of a bad transaction: the using block may still
        # lose its fork. The mempool drops those itself once a block commits.
        invalid = tuple(
            tx_hash for tx_hash, error in body.invalid if not isinstance(error, NonceOutOfOrder)
        )
        block = consensus_block_of(
            executed.header, [p.tx_hash for p in executed.prepared], self.suite
        )
        return Built(executed=executed, consensus_block=block, invalid=invalid)

    def _remember(
        self,
        context: BlockContext,
        parent_hash: bytes,
        round_number: int,
        epoch: int,
        transactions: Sequence[PreparedTransaction],
        receipts: tuple[Receipt, ...],
        writes: dict[bytes, bytes | None],
        update: TreeUpdate,
        next_nonces: dict[bytes, int],
        change: ValidatorSetChange | None,
    ) -> ExecutedBlock:
        hash_fn = self.suite.hash
        receipt_encodings = tuple(encode(r) for r in receipts)
        header = BlockHeader(
            height=context.height,
            parent_hash=parent_hash,
            tx_root=tx_root(hash_fn, [p.tx_hash for p in transactions]),
            receipts_root=receipts_root(hash_fn, receipt_encodings),
            state_root=update.root_hash,
            timestamp_ms=context.timestamp_ms,
            proposer=context.proposer,
            round=round_number,
            config_version=epoch,
        )
        block = LedgerBlock(header=header, transactions=tuple(p.tx for p in transactions))
        executed = ExecutedBlock(
            block=block,
            block_hash=header.hash(self.suite),
            prepared=tuple(transactions),
            receipts=receipts,
            writes=writes,
            update=update,
            next_nonces=next_nonces,
            receipt_encodings=receipt_encodings,
            change=change,
        )
        self.executed[executed.block_hash] = executed
        return executed

    def validate(
        self, block: Block, payload: ProposalPayload, transactions: Sequence[PreparedTransaction]
    ) -> bool:
        """Re-execute a proposed block on its parent's state; True if every root matches.
        `transactions` are the payload's, resolved (and verified) by the caller."""
        return self.validate_block(block, payload, transactions) is not None

    def validate_block(
        self, block: Block, payload: ProposalPayload, transactions: Sequence[PreparedTransaction]
    ) -> ExecutedBlock | None:
        """`validate`, answering the executed block (None if it is not valid)."""
        known = self.executed.get(block.block_hash)
        if known is not None:
            return known  # our own proposal, or seen in another round
        try:
            problem = self._validate(block, payload, transactions)
        except (InvalidBlock, UnknownParent) as error:
            problem = f"{type(error).__name__}: {error.message}"
        if problem:
            logger.warning("block rejected height=%d reason=%r", block.height, problem)
            return None
        return self.executed[block.block_hash]

    def _validate(
        self, block: Block, payload: ProposalPayload, transactions: Sequence[PreparedTransaction]
    ) -> str:
        header = payload.header
        if (header.height, header.parent_hash) != (block.height, block.parent_hash):
            return "payload header does not match the block"
        if header.hash(self.suite) != block.block_hash:
            return "block hash is not the header's hash"
        if tuple(p.tx_hash for p in transactions) != payload.tx_hashes:
            return "transactions do not match the payload"
        ancestors = self._ancestors(block.parent_hash)
        environment, epoch, validators = self._block_rules(header.height, ancestors)
        if header.proposer not in validators.index_of:
            return "proposer is not a validator"
        if header.config_version != epoch:
            return f"configuration version {header.config_version} is not epoch {epoch}"
        parent = self._parent_header(ancestors)
        if header.timestamp_ms < parent.timestamp_ms:
            return "timestamp before the parent's"
        if tx_root(self.suite.hash, payload.tx_hashes) != header.tx_root:
            return "tx root mismatch"
        context = BlockContext(
            chain_id=self.chain_id,
            height=header.height,
            timestamp_ms=header.timestamp_ms,
            proposer=header.proposer,
        )
        receipts, writes, update, next_nonces = self._execute(
            context, ancestors, transactions, environment
        )
        receipt_encodings = tuple(encode(r) for r in receipts)
        executed = ExecutedBlock(
            block=LedgerBlock(header=header, transactions=tuple(p.tx for p in transactions)),
            block_hash=block.block_hash,
            prepared=tuple(transactions),
            receipts=receipts,
            writes=writes,
            update=update,
            next_nonces=next_nonces,
            receipt_encodings=receipt_encodings,
            change=self._change_after(header.height, ancestors, writes),
        )
        if receipts_root(self.suite.hash, receipt_encodings) != header.receipts_root:
            return "receipts root mismatch"
        if update.root_hash != header.state_root:
            return "state root mismatch"
        self.executed[block.block_hash] = executed
        return ""

    # --- commit -----------------------------------------------------------------------------

    def commit(self, block_hash: bytes, certificate: QuorumCertificate) -> ExecutedBlock | None:
        """Commit an executed block with its finality certificate (consensus checked it).
        None if block sync committed that height already (with the very same block)."""
        if certificate.height <= self.committed_height:
            if self.ledger.get_header(certificate.height).hash(self.suite) != block_hash:
                raise InvariantViolation(f"two blocks committed at height {certificate.height}")
            return None
        executed = self.executed.get(block_hash)
        if executed is None:
            raise InvariantViolation(f"commit of block {block_hash.hex()[:16]}, never executed")
        self.ledger.offer_state_update(executed.height, executed.writes, executed.update)
        self.ledger.commit_block(
            executed.block,
            executed.receipts,
            executed.writes,
            encode_certificate(certificate),
            executed.digests(),
        )
        self._forget_committed()
        return executed

    def _forget_committed(self) -> None:
        height = self.committed_height
        for block_hash in [h for h, e in self.executed.items() if e.height <= height]:
            del self.executed[block_hash]

    def apply_synced(
        self, block: LedgerBlock, certificate: QuorumCertificate
    ) -> ExecutedBlock | None:
        """Block sync: verify a peer's committed block against its finality certificate and
        our head, re-execute it and commit it. None (nothing written) if it does not check."""
        header = block.header
        block_hash = header.hash(self.suite)
        if (
            header.height != self.committed_height + 1
            or header.parent_hash != self.ledger.head_hash
        ):
            logger.debug("synced block does not extend the head height=%d", header.height)
            return None
        _, epoch, validators = self._block_rules(header.height, [])
        if header.config_version != epoch:
            logger.warning(
                "synced block has configuration version %d, not epoch %d height=%d",
                header.config_version,
                epoch,
                header.height,
            )
            return None
        if not verify_commit(
            self.chain_id.encode(),
            validators,
            block_hash,
            header.height,
            certificate,
            self.verifier,
        ):
            logger.warning(
                "synced block has no valid finality certificate height=%d", header.height
            )
            return None
        prepared = [
            PreparedTransaction.from_transaction(tx, self.suite) for tx in block.transactions
        ]
        payload = ProposalPayload(header=header, tx_hashes=tuple(p.tx_hash for p in prepared))
        consensus = consensus_block_of(header, payload.tx_hashes, self.suite)
        unverified = self.verified.unverified(prepared)
        try:
            require_valid_signatures(unverified, self.suite, self.parallel)
        except GongshiError as error:
            logger.warning(
                "synced block carries a bad signature height=%d detail=%r",
                header.height,
                error.message,
            )
            return None
        self.verified.add_all((p.tx_hash, p.tx.signature) for p in unverified)
        if consensus.block_hash not in self.executed and not self.validate(
            consensus, payload, prepared
        ):
            # A quorum certified it, so our execution disagrees with theirs: stop.
            raise InvariantViolation(f"certified block {header.height} does not re-execute")
        return self.commit(block_hash, certificate)
