"""One running node: the wiring of ledger, chain, mempool, network, consensus, sync, API and
metrics, and its life cycle.

    node = Node(load_node_config(path))
    await node.start()
    await node.wait()          # until a part fails or stop() is called (e.g. on SIGTERM)
    await node.stop()          # network, API, tasks, execution thread, RocksDB: in that order

Routing of peer messages by envelope kind lives here; each part decodes its own bodies.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cryptography.x509.oid import NameOID

from gongshi.consensus import EngineConfig, Message, SuiteSigner
from gongshi.crypto import Suite, get_suite
from gongshi.crypto.keyfile import read_file
from gongshi.errors import ConfigError, GongshiError
from gongshi.execution import (
    BlockLimits,
    ParallelMap,
    PreparedTransaction,
)
from gongshi.execution.governance_state import (
    chain_params_at,
    governance_read,
    revocation_list,
    validator_schedule,
)
from gongshi.mempool import ChainHead, MempoolConfig
from gongshi.mempool.admission import VerifiedSignatures
from gongshi.mempool.contract_calls import CachedContractCalls
from gongshi.network import (
    InboundMessage,
    LocalIdentity,
    MessageKind,
    Network,
    network_config_from_node,
)
from gongshi.node.api_adapter import ApiHandle, start_api
from gongshi.node.app import NodeApplication
from gongshi.node.blocksync import BlockSync, SyncOptions
from gongshi.node.chain import Chain, ExecutedBlock
from gongshi.node.config import NodeConfig
from gongshi.node.driver import Driver, refuse_optimised_run, refuse_other_interpreter
from gongshi.node.errors import NodeError, SigningKeyMismatch
from gongshi.node.genesis import ChainParams, Genesis, genesis_hash, load_genesis
from gongshi.node.gossip import GossipingMempool, TxFetcher, TxGossip
from gongshi.node.metrics import NodeMetrics, Snapshot
from gongshi.node.metrics_server import MetricsServer
from gongshi.node.overlay import OverlayState
from gongshi.node.reconfig import allowed_peers, state_trust, touches_network
from gongshi.node.safety import SafetyStore
from gongshi.node.wire import decode_consensus, encode_consensus
from gongshi.pki.validation import OrganisationAuthority, load_certificate
from gongshi.storage import Ledger, LedgerConfig

logger = logging.getLogger(__name__)

LEDGER_DIRECTORY = "ledger"
WATCH_INTERVAL_S = 0.2


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def engine_config(source: Genesis | ChainParams) -> EngineConfig:
    """Consensus timings from the chain parameters (the back-off doubles up to the max)."""
    params = source.params if isinstance(source, Genesis) else source
    exponent = 0
    while (params.round_timeout_ms << (exponent + 1)) <= params.round_timeout_max_ms:
        exponent += 1
    return EngineConfig(
        chain_id=params.chain_id.encode(),
        timeout_base_ms=params.round_timeout_ms,
        timeout_backoff_exponent_max=exponent,
    )


class Node:
    """A consensus node. `start` builds everything; `stop` tears it down in reverse."""

    def __init__(self, config: NodeConfig, *, sync_options: SyncOptions | None = None) -> None:
        self.config = config
        self.name = config.node.name
        self._sync_options = sync_options
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopped = asyncio.Event()
        self._failure: BaseException | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gongshi-exec")
        cores = os.cpu_count() or 1
        self._verify_pool = ThreadPoolExecutor(
            max_workers=cores, thread_name_prefix="gongshi-verify"
        )
        self._parallel = ParallelMap(executor=self._verify_pool, workers=cores)
        # One record of verified signatures for admission, fetches and block sync.
        self._verified = VerifiedSignatures()
        self.ledger: Ledger | None = None
        self.network: Network | None = None
        self.api: ApiHandle | None = None
        self.metrics_server: MetricsServer | None = None
        self.governance_updates = 0
        self._own_authorities: tuple[OrganisationAuthority, ...] = ()

    # --- start ------------------------------------------------------------------------------

    async def start(self) -> None:
        refuse_optimised_run(sys.flags.optimize)
        refuse_other_interpreter((sys.version_info.major, sys.version_info.minor))
        config = self.config
        genesis = load_genesis(config.node.genesis_file, expected_hash=config.node.genesis_hash)
        self.genesis = genesis
        suite = get_suite(genesis.suite)
        signing_key = suite.load_private_key(config.identity.signing_key_file)
        public_key = signing_key.public_key_bytes()
        config.node.data_dir.mkdir(parents=True, exist_ok=True)
        hash_value = genesis_hash(genesis)
        loop = asyncio.get_running_loop()
        self.ledger = await loop.run_in_executor(
            self._worker,
            lambda: Ledger.open(
                config.node.data_dir / LEDGER_DIRECTORY,
                suite,
                LedgerConfig(genesis_parent_hash=hash_value),
            ),
        )
        ledger = self.ledger
        chain = await loop.run_in_executor(
            self._worker,
            lambda: Chain(
                ledger=ledger,
                genesis=genesis,
                suite=suite,
                parallel=self._parallel,
                verified=self._verified,
            ),
        )
        self.chain = chain
        head = ledger.get_header(chain.committed_height)
        self.params = await loop.run_in_executor(self._worker, chain.committed_params)
        self.mempool = GossipingMempool(
            clock=loop.time,
            config=MempoolConfig.from_params(self.params),
            suite=suite,
            nonces=ledger,
            # Sender identities, cached until a block writes identity or governance state
            # (the same few senders send every transaction): one cache, shared with
            # execution, so each sender is resolved once per node.
            identities=chain.committed_identities,
            head=ChainHead(height=head.height, timestamp_ms=head.timestamp_ms),
            parallel=self._parallel,
            verified=self._verified,
            # Frozen contracts, unknown exports and export roles refused at admission.
            contract_calls=CachedContractCalls(ledger, cache=chain.environment.contracts),
        )
        self.network = self._make_network(suite, public_key, hash_value)
        self._build_parts(suite, signing_key, public_key)
        await self._start_services()
        root = self.driver.engine
        logger.info(
            "node started name=%s height=%d epoch=%d validators=%d role=%s suite=%s",
            self.name,
            chain.committed_height,
            root.epoch,
            root.validators.size,
            "validator" if root.my_index is not None else "observer",
            suite.name,
        )

    def _make_network(self, suite: Suite, public_key: bytes, hash_value: bytes) -> Network:
        """The peer network, with peers, trust anchors and revocations from committed state
        (genesis for a new node). The node's own certificate must pass the same checks."""
        config = self.config
        state = self.chain.committed_state()
        own = own_authorities(config)
        trust = state_trust(state, suite, own)
        revocations = revocation_list(state)
        identity = LocalIdentity.load(
            config, trust, now_ms=wall_clock_ms(), revocations=revocations
        )
        if identity.public_key != public_key:
            raise SigningKeyMismatch(
                f"{config.identity.signing_key_file} is not the chain key of "
                f"{config.identity.certificate_file}"
            )
        next_height = self.chain.committed_height + 1
        peers = allowed_peers(state, next_height)
        if all(peer.public_key != public_key for peer in peers):
            logger.warning(
                "this node is not a validator or observer in the chain state yet "
                "(height=%d); peers refuse it until governance adds it",
                next_height - 1,
            )
        self._own_authorities = own
        network_config = network_config_from_node(config, genesis_hash=hash_value)
        return Network(
            network_config,
            identity,
            trust,
            peers,
            self._on_message,
            revocations=revocations,
        )

    def _build_parts(self, suite: Any, signing_key: Any, public_key: bytes) -> None:
        network = self.network
        assert network is not None and self.ledger is not None
        self.fetcher = TxFetcher(
            send=network.send,
            peers=network.connected_peers,
            mempool=self.mempool,
            ledger=self.ledger,
        )
        self.app = NodeApplication(
            chain=self.chain,
            mempool=self.mempool,
            worker=self._worker,
            fetch=self.fetcher.fetch,
            admit_fetched=self._admit_fetched,
            proposer_key=public_key,
            block_interval_ms=self.params.block_interval_ms,
        )
        self.app.limits = BlockLimits.from_params(self.params)
        self.gossip = TxGossip(mempool=self.mempool, broadcast=network.broadcast)
        self.safety = SafetyStore(self.config.node.data_dir)
        self.driver = Driver(
            config=engine_config(self.params),
            signer=SuiteSigner(signing_key),
            verifier=self.chain.verifier,
            root=self.chain.committed_root(),
            safety=self.safety.load(),
            application=self.app,
            transport=self,
            safety_sink=self.safety,
        )
        self.sync = BlockSync(
            app=self.app,
            send=network.send,
            broadcast=network.broadcast,
            engine_height=lambda: self.driver.engine.committed_height,
            reroot=self.driver.reroot,
            options=self._sync_options,
        )
        self.metrics = NodeMetrics(self.name)
        self.metrics.height.set(self.chain.committed_height)
        self.metrics.bind(self.metrics_snapshot)
        self.app.add_commit_listener(self._on_commit)

    def _admit_fetched(self, prepared: Sequence[PreparedTransaction]) -> None:
        """A proposal's fetched, verified transactions join the pool without being gossiped
        (their origin gossips them): if that block is abandoned, this node still has them.
        Those for another chain or over this chain's size or gas limits stay out (a faulty
        proposer could otherwise park them here, holding their senders' nonces)."""
        admissible = [p for p in prepared if self.mempool.checker.admissible(p)]
        with self.mempool.quietly():
            self.mempool.add_checked(admissible)

    async def _start_services(self) -> None:
        assert self.network is not None
        await self.network.start()
        self._spawn(self.driver.run(), "driver")
        self._spawn(self.gossip.run_outbound(), "gossip-out")
        self._spawn(self.gossip.run_inbound(), "gossip-in")
        self._spawn(self.sync.run_status(), "status")
        self._spawn(self.sync.run(), "blocksync")
        self._spawn(self._watch(), "watch")
        metrics = self.config.metrics
        if metrics.enabled:
            self.metrics_server = MetricsServer(
                self.metrics.registry, metrics.listen_address.host, metrics.listen_address.port
            )
            await self.metrics_server.start()
        if self.config.api.enabled:
            self.api = await start_api(self)

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=f"{self.name}-{name}")
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logger.critical("node task failed task=%s", task.get_name(), exc_info=error)
        self.fail(error or NodeError(f"task {task.get_name()} ended"))

    def fail(self, error: BaseException) -> None:
        """A part hit a bug or lost a resource it cannot run without: stop the node."""
        if self._failure is None:
            self._failure = error
        self._stopped.set()

    async def _watch(self) -> None:
        """Stop the node when a part reports a bug (commits that failed, network tasks)."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            assert self.network is not None
            for failure in (self.app.failure, self.driver.failure, self.network.failure):
                if failure is not None:
                    self.fail(failure)
                    return

    # --- the driver's transport ---------------------------------------------------------------

    def send(self, to: bytes, message: Message) -> None:
        assert self.network is not None
        try:
            self.network.send(to, MessageKind.CONSENSUS, encode_consensus(message))
        except GongshiError as error:  # a message too large for a frame: the protocol recovers
            logger.warning("consensus message not sent reason=%r", error.message)

    def broadcast(self, message: Message) -> None:
        assert self.network is not None
        try:
            self.network.broadcast(MessageKind.CONSENSUS, encode_consensus(message))
        except GongshiError as error:
            logger.warning("consensus message not broadcast reason=%r", error.message)

    # --- routing ------------------------------------------------------------------------------

    async def _on_message(self, message: InboundMessage) -> None:
        """Route one peer message (GongshiErrors are logged by the network as rejections)."""
        kind = message.kind
        peer = message.peer_key
        if kind is MessageKind.CONSENSUS:
            await self.driver.received(peer, decode_consensus(message.body))
        elif kind is MessageKind.TX_GOSSIP:
            self.gossip.received(message.body)
        elif kind is MessageKind.STATUS:
            self.sync.status_received(peer, message.body)
        elif kind is MessageKind.SYNC_REQUEST:
            await self.sync.serve(peer, message.body)
        elif kind is MessageKind.SYNC_RESPONSE:
            self.sync.response_received(peer, message.body)
        elif kind is MessageKind.TX_FETCH_REQUEST:
            self.fetcher.serve(peer, message.body)
        elif kind is MessageKind.TX_FETCH_RESPONSE:
            self.fetcher.response(message.body)

    # --- commits and metrics ------------------------------------------------------------------

    def _on_commit(self, executed: ExecutedBlock, executed_at: float | None) -> None:
        latency = None
        if executed_at is not None:
            latency = asyncio.get_running_loop().time() - executed_at
        self.metrics.observe_commit(executed.height, len(executed.prepared), latency)
        self._follow_governance(executed)
        if self.api is not None:
            self.api.publish(executed.block, executed.receipts)

    # --- governance ---------------------------------------------------------------------------

    def _follow_governance(self, executed: ExecutedBlock) -> None:
        """After a commit: parameters in force for the next block, and, if the block changed
        organisations, nodes or revocations, or a validator set takes force next, the
        network's trust anchors, revocation list and allowed peers."""
        state = OverlayState(self.chain.ledger, executed.height, ())
        next_height = executed.height + 1
        try:
            params = chain_params_at(state, next_height, fallback=self.genesis.params)
            if params != self.params:
                self._apply_params(params, next_height)
            if touches_network(executed.receipts) or next_height in self._activations(state):
                self._update_network(state, next_height)
        except GongshiError as error:  # corrupt governance records: keep the old settings
            logger.error("cannot read governance state height=%d reason=%r", executed.height, error)

    def _activations(self, state: OverlayState) -> set[int]:
        return {entry.activation_height for entry in validator_schedule(governance_read(state))}

    def _apply_params(self, params: ChainParams, height: int) -> None:
        self.params = params
        self.app.set_pace(
            block_interval_ms=params.block_interval_ms, limits=BlockLimits.from_params(params)
        )
        self.mempool.set_config(MempoolConfig.from_params(params))
        self.driver.set_config(engine_config(params))
        logger.info(
            "chain parameters in force height=%d block_txs_max=%d block_interval_ms=%d "
            "round_timeout_ms=%d mempool_txs_max=%d",
            height,
            params.block_txs_max,
            params.block_interval_ms,
            params.round_timeout_ms,
            params.mempool_txs_max,
        )

    def _update_network(self, state: OverlayState, next_height: int) -> None:
        network = self.network
        assert network is not None
        suite = self.chain.suite
        # What restricts first: a trust store that fails to load (a governance-added CA the
        # TLS library refuses) must not keep a revocation or a removal from taking force.
        revocations = revocation_list(state)
        network.set_revocations(revocations)
        peers = allowed_peers(state, next_height)
        network.set_allowed_peers(peers)
        network.set_trust(state_trust(state, suite, self._own_authorities))
        self.governance_updates += 1
        logger.info(
            "network follows governance height=%d peers=%d revoked=%d",
            next_height - 1,
            len(peers),
            len(revocations.serials) + len(revocations.key_hashes),
        )

    def metrics_snapshot(self) -> Snapshot:
        assert self.network is not None
        engine = self.driver.engine
        return Snapshot(
            round=engine.round,
            mempool_transactions=len(self.mempool),
            mempool_bytes=self.mempool.size_bytes,
            peers_connected=len(self.network.connected_peers()),
            local_timeouts=self.driver.counters.local_timeouts,
            view_changes=self.driver.counters.view_changes,
            reroots=self.driver.counters.reroots,
            blocks_synced=self.sync.counters.blocks_applied,
            gossip_batches_dropped=self.gossip.counters.batches_dropped,
            epoch=engine.epoch,
            validators=engine.validators.size,
            voting=engine.my_index is not None,
            handshake_failures=self.network.counters().handshake_failures,
            governance_updates=self.governance_updates,
        )

    # --- partition switch (tests, operators) --------------------------------------------------

    def partition(self) -> None:
        """Close every peer connection and refuse new ones until `heal`."""
        assert self.network is not None
        self.network.partition()

    def heal(self) -> None:
        assert self.network is not None
        self.network.heal()

    # --- life cycle ---------------------------------------------------------------------------

    async def wait(self) -> None:
        """Until `request_stop` or a failure; re-raises the failure."""
        await self._stopped.wait()
        if self._failure is not None and not isinstance(self._failure, asyncio.CancelledError):
            raise self._failure

    def request_stop(self) -> None:
        self._stopped.set()

    async def stop(self) -> None:
        """Stop serving and syncing, let the execution thread finish, close the ledger."""
        if self.api is not None:
            await self.api.stop()
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        if self.network is not None:
            try:
                await self.network.stop()
            except Exception:
                logger.exception("network stopped with an error")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if hasattr(self, "driver"):
            await self.driver.drain()
        self._worker.shutdown(wait=True)
        self._verify_pool.shutdown(wait=True)
        if self.ledger is not None:
            self.ledger.close()
        logger.info("node stopped name=%s", self.name)


def own_authorities(config: NodeConfig) -> tuple[OrganisationAuthority, ...]:
    """This node's organisation CA from `identity.organisation_ca_file`, if set: a joining
    organisation's node trusts its own CA before governance puts it in state."""
    path = config.identity.organisation_ca_file
    if path is None:
        return ()
    certificate = load_certificate(read_file(path))
    names = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if not names:
        raise ConfigError(f"{path}: the CA certificate names no organisation (O=)")
    return (OrganisationAuthority(organisation=str(names[0].value), certificate=certificate),)


def describe_failure(error: BaseException) -> str:
    if isinstance(error, GongshiError):
        return error.message
    return f"{type(error).__name__}: {error}"
