"""A one-process chain for tests, examples and the SDK's own tests: no consensus, no network.

`LocalChain` creates a network directory exactly as `gongshi init` does (so SDK identities
load from it), commits the genesis block as a node does, and commits blocks of pending
transactions through the real execution and ledger, each with a COMMIT certificate signed
by (a chosen number of) the validators in force at its height. Validator-set changes that
governance schedules take force as in the node: a header's `config_version` is its parent's
epoch, plus one at the activation height of a new set, and its certificate is signed by that
set for that epoch (keys of validators added later are given with `add_validator_key`).
`ServedChain` runs it behind a real `ApiServer` in an event loop of its own thread, for
synchronous test code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from gongshi.api.access import AccessMode, ledger_authenticator
from gongshi.api.hub import CommitHub
from gongshi.api.limits import ApiLimits
from gongshi.api.server import ApiServer
from gongshi.api.service import ChainContext, ChainService
from gongshi.cli.init_network import NetworkOptions, NetworkPlan, plan_network, write_network
from gongshi.codec import Block, BlockHeader, Receipt, encode
from gongshi.consensus import encode_certificate
from gongshi.consensus.quorum import build_qc
from gongshi.consensus.signing import vote_bytes
from gongshi.consensus.types import Phase
from gongshi.crypto import PrivateKey, Suite, get_suite
from gongshi.execution import (
    BlockContext,
    BlockLimits,
    ExecutionEnvironment,
    StateIdentityReader,
    build_block_body,
    execute_block,
    genesis_state_writes,
)
from gongshi.execution.governance_state import validator_set_at
from gongshi.mempool import ChainHead, Mempool, MempoolConfig
from gongshi.mempool.contract_calls import CachedContractCalls
from gongshi.merkle.state_tree import MemoryNodeStore, StateTree
from gongshi.storage import Ledger, LedgerConfig, receipts_root, tx_root

T = TypeVar("T")

BLOCK_INTERVAL_MS = 1000  # block time steps: deterministic, not the wall clock
GENESIS_TIME = datetime(2030, 1, 1, tzinfo=UTC)


class _LatestState:
    """State as committed when read (what the mempool checks senders against)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def get(self, raw_key: bytes, /) -> bytes | None:
        return self._ledger.get_state_value(raw_key)


class LocalChain:
    """A chain of one process: ledger, mempool, execution and validator keys."""

    def __init__(self, network_dir: Path, plan: NetworkPlan, ledger: Ledger) -> None:
        self.network_dir = network_dir
        self.plan = plan
        self.genesis = plan.genesis
        self.suite: Suite = get_suite(plan.genesis.suite)
        self.ledger = ledger
        self.validator_keys: tuple[PrivateKey, ...] = tuple(
            self.suite.load_private_key(network_dir / "nodes" / v.name / "node.key")
            for v in self.genesis.validators
        )
        # Signing keys by public key: the genesis validators' and those added later.
        self._keys_by_public: dict[bytes, PrivateKey] = {
            key.public_key_bytes(): key for key in self.validator_keys
        }
        params = self.genesis.params
        self.limits = BlockLimits.from_params(params)
        self.environment = ExecutionEnvironment(suite=self.suite, limits=self.limits)
        head = ledger.get_header(self.height)
        self.pool = Mempool(
            config=MempoolConfig.from_params(params),
            suite=self.suite,
            nonces=ledger,
            identities=StateIdentityReader(_LatestState(ledger), self.suite),
            head=ChainHead(height=head.height, timestamp_ms=head.timestamp_ms),
            contract_calls=CachedContractCalls(ledger, cache=self.environment.contracts),
        )

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        organisations: int = 4,
        suite: str = "intl",
        state_retention_blocks: int | None = None,
    ) -> LocalChain:
        """A new network under `directory/network` and its ledger under `directory/ledger`
        (pruning state older than `state_retention_blocks`, if given)."""
        options = NetworkOptions(organisations=organisations, suite=suite)
        plan = plan_network(options, now=GENESIS_TIME)
        network_dir = directory / "network"
        write_network(plan, network_dir, force=False)
        ledger = Ledger.open(
            directory / "ledger",
            get_suite(suite),
            LedgerConfig(
                genesis_parent_hash=plan.genesis_hash,
                state_retention_blocks=state_retention_blocks,
            ),
        )
        _commit_genesis(ledger, plan)
        return cls(network_dir, plan, ledger)

    @property
    def height(self) -> int:
        height = self.ledger.committed_height
        assert height is not None
        return height

    def add_validator_key(self, key: PrivateKey) -> None:
        """The signing key of a validator governance adds (so its epochs can be certified)."""
        self._keys_by_public[key.public_key_bytes()] = key

    def epoch_at(self, height: int) -> tuple[int, tuple[bytes, ...]]:
        """The epoch of block `height` (committed, or the next one) and the public keys of
        the set certifying it, as the node derives them (`node.reconfig.block_epoch`)."""
        parent = self.ledger.get_header(height - 1)
        entry = validator_set_at(self.ledger.state_reader(height - 1), height)
        epoch = parent.config_version + (1 if entry.activation_height == height else 0)
        return epoch, entry.public_keys

    def context(self, node_name: str = "local") -> ChainContext:
        return ChainContext(genesis=self.genesis, suite=self.suite, node_name=node_name)

    def commit_pending(self, *, signers: int | None = None) -> tuple[Block, tuple[Receipt, ...]]:
        """Commit one block of the pool's ready transactions (possibly none), certified by
        the first `signers` validators (default: all)."""
        ledger, suite = self.ledger, self.suite
        height = self.height + 1
        parent = ledger.get_header(height - 1)
        epoch, validators = self.epoch_at(height)
        context = BlockContext(
            chain_id=self.genesis.params.chain_id,
            height=height,
            timestamp_ms=parent.timestamp_ms + BLOCK_INTERVAL_MS,
            proposer=validators[0],
        )
        state = ledger.state_reader()
        identities = StateIdentityReader(state, suite)
        candidates = self.pool.reap(
            max_txs=self.limits.txs_max,
            max_bytes=self.limits.bytes_max,
            max_gas=self.limits.gas_max,
        )
        body = build_block_body(
            candidates, context=context, limits=self.limits, nonces=ledger, identities=identities
        )
        result = execute_block(
            body.transactions,
            context=context,
            environment=self.environment,
            state=state,
            nonces=ledger,
            identities=identities,
        )
        header = BlockHeader(
            height=height,
            parent_hash=ledger.head_hash,
            tx_root=tx_root(suite.hash, body.tx_hashes),
            receipts_root=receipts_root(suite.hash, [encode(r) for r in result.receipts]),
            state_root=ledger.compute_state_root(height, result.state_writes),
            timestamp_ms=context.timestamp_ms,
            proposer=context.proposer,
            round=height,
            config_version=epoch,
        )
        block = Block(header=header, transactions=tuple(p.tx for p in body.transactions))
        certificate = self.certificate(header, signers=signers)
        ledger.commit_block(block, result.receipts, result.state_writes, certificate)
        self.pool.on_commit(
            height=height, timestamp_ms=header.timestamp_ms, transactions=body.transactions
        )
        self.pool.remove(tx_hash for tx_hash, _ in body.invalid)
        return block, result.receipts

    def certificate(self, header: BlockHeader, *, signers: int | None = None) -> bytes:
        """The encoded COMMIT certificate of `header` by the first `signers` validators of
        the set in force at its height (default: all), for its epoch."""
        _, validators = self.epoch_at(header.height)
        missing = [key.hex()[:16] for key in validators if key not in self._keys_by_public]
        if missing:
            raise KeyError(f"no signing key for validators {missing} (add_validator_key)")
        block_hash = header.hash(self.suite)
        message = vote_bytes(
            self.genesis.params.chain_id.encode(),
            header.config_version,
            Phase.COMMIT,
            header.height,
            header.round,
            block_hash,
        )
        count = len(validators) if signers is None else signers
        signatures = {
            i: self._keys_by_public[key].sign(message) for i, key in enumerate(validators[:count])
        }
        qc = build_qc(Phase.COMMIT, header.height, header.round, block_hash, signatures)
        return encode_certificate(qc)

    def close(self) -> None:
        self.ledger.close()


def _commit_genesis(ledger: Ledger, plan: NetworkPlan) -> None:
    """Block 0 as a node commits it: the genesis state, a GENESIS certificate."""
    genesis = plan.genesis
    suite = get_suite(genesis.suite)
    writes = genesis_state_writes(genesis)
    root = StateTree(MemoryNodeStore(), suite.hash).apply(None, 0, writes).root_hash
    header = BlockHeader(
        height=0,
        parent_hash=plan.genesis_hash,
        tx_root=tx_root(suite.hash, []),
        receipts_root=receipts_root(suite.hash, []),
        state_root=root,
        timestamp_ms=genesis.genesis_time_ms,
        proposer=genesis.validators[0].public_key,
        round=0,
        config_version=0,
    )
    block_hash = header.hash(suite)
    qc = build_qc(Phase.GENESIS, 0, 0, block_hash, {})
    ledger.commit_block(Block(header=header, transactions=()), (), writes, encode_certificate(qc))


class ServedChain:
    """A `LocalChain` behind a real `ApiServer` on 127.0.0.1 (a free port), in an event loop
    on a thread of its own. With `auto_commit_ms`, a block of pending transactions is
    committed (and published) that often; otherwise tests call `commit()`. `access`: open by
    default (tests of other parts call without signing); MEMBERS checks requests as a node
    configured with `[api] access = "members"` does."""

    def __init__(
        self,
        chain: LocalChain,
        *,
        limits: ApiLimits | None = None,
        auto_commit_ms: int | None = None,
        access: AccessMode = AccessMode.OPEN,
    ) -> None:
        self.chain = chain
        self._limits = limits or ApiLimits()
        self._auto_commit_ms = auto_commit_ms
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.service = ChainService(
            ledger=chain.ledger, pool=chain.pool, context=chain.context("node1")
        )
        self.hub = CommitHub(self.service, self._limits)
        # access = members: requests are authenticated against the chain's members.
        self.authenticator = None
        if access is AccessMode.MEMBERS:
            self.authenticator = ledger_authenticator(
                chain.ledger,
                chain.suite,
                chain_id=chain.genesis.params.chain_id,
                genesis_hash=chain.plan.genesis_hash,
            )
        self.server = ApiServer(
            self.service, self.hub, port=0, limits=self._limits, authenticator=self.authenticator
        )
        self._committer: asyncio.Task[None] | None = None

    def start(self) -> ServedChain:
        self._thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        await self.server.start()
        if self._auto_commit_ms is not None:
            self._committer = asyncio.create_task(self._commit_loop(self._auto_commit_ms))

    async def _commit_loop(self, interval_ms: int) -> None:
        while True:
            await asyncio.sleep(interval_ms / 1000)
            if len(self.chain.pool):
                self._commit_and_publish(None)

    def _commit_and_publish(self, signers: int | None) -> tuple[Block, tuple[Receipt, ...]]:
        block, receipts = self.chain.commit_pending(signers=signers)
        self.server.publish(block, receipts)
        return block, receipts

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws"

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the chain's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    def call(self, function: Callable[[], T]) -> T:
        """Run `function` on the chain's loop thread (which owns the mempool)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def invoke() -> None:
            try:
                future.set_result(function())
            except BaseException as error:
                future.set_exception(error)

        self._loop.call_soon_threadsafe(invoke)
        return future.result(timeout=60)

    def commit(self, *, signers: int | None = None) -> tuple[Block, tuple[Receipt, ...]]:
        return self.call(lambda: self._commit_and_publish(signers))

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._committer is not None:
                self._committer.cancel()
                await asyncio.gather(self._committer, return_exceptions=True)
            await self.server.stop()

        try:
            self.run(shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self.chain.close()
