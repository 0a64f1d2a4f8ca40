"""Prometheus metrics of one node.

Each node has its own `CollectorRegistry` (no process-global state). Counters that other parts
keep as plain integers (driver, network, gossip) are read at scrape time by a collector, so
nothing on the hot path touches Prometheus objects except the commit listener. The endpoint
(`GET /metrics`, `GET /health`) is served on the `[metrics]` address by `node/metrics_server.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Values read at scrape time from the node's parts."""

    round: int
    mempool_transactions: int
    mempool_bytes: int
    peers_connected: int
    local_timeouts: int
    view_changes: int
    reroots: int
    blocks_synced: int
    gossip_batches_dropped: int
    epoch: int = 0
    validators: int = 0
    voting: bool = False  # this node's key is in the validator set of the current epoch
    handshake_failures: int = 0
    governance_updates: int = 0


class _LiveCollector(Collector):
    """Values read from the node's parts at scrape time."""

    def __init__(self) -> None:
        self.snapshot: Callable[[], Snapshot] | None = None

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        if self.snapshot is None:
            return
        snap = self.snapshot()
        gauges = (
            ("gongshi_consensus_round", "Current consensus round.", snap.round),
            ("gongshi_mempool_transactions", "Pending transactions.", snap.mempool_transactions),
            ("gongshi_mempool_bytes", "Encoded size of pending transactions.", snap.mempool_bytes),
            ("gongshi_peers_connected", "Live peer connections.", snap.peers_connected),
            ("gongshi_consensus_epoch", "Current consensus epoch (validator set).", snap.epoch),
            ("gongshi_validators", "Validators in the current epoch.", snap.validators),
            ("gongshi_validator", "1 if this node votes in the current epoch.", int(snap.voting)),
        )
        for name, documentation, value in gauges:
            yield GaugeMetricFamily(name, documentation, value=value)
        counters = (
            ("gongshi_round_timeouts", "Rounds this node timed out in.", snap.local_timeouts),
            (
                "gongshi_view_changes",
                "Rounds entered through a timeout certificate.",
                snap.view_changes,
            ),
            ("gongshi_consensus_reroots", "Engine restarts after block sync.", snap.reroots),
            ("gongshi_blocks_synced", "Blocks applied by block sync.", snap.blocks_synced),
            (
                "gongshi_gossip_batches_dropped",
                "Gossip batches dropped (queue full or malformed).",
                snap.gossip_batches_dropped,
            ),
            (
                "gongshi_peer_handshake_failures",
                "Peer connections refused in the handshake (revoked, unknown, not allowed).",
                snap.handshake_failures,
            ),
            (
                "gongshi_governance_updates",
                "Times the network took peers, trust and revocations from governance state.",
                snap.governance_updates,
            ),
        )
        for name, documentation, value in counters:
            yield CounterMetricFamily(name, documentation, value=value)


class NodeMetrics:
    """The node's metrics: commit figures pushed by `observe_commit`, the rest read at
    scrape time from the snapshot function given to `bind`."""

    def __init__(self, node_name: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.height = Gauge("gongshi_height", "Committed height of the ledger.", registry=registry)
        self.committed_txs = Counter(
            "gongshi_committed_transactions",
            "Transactions committed (rate() of it is the committed tx/s).",
            registry=registry,
        )
        self.committed_blocks = Counter(
            "gongshi_committed_blocks", "Blocks committed.", registry=registry
        )
        self.commit_latency = Histogram(
            "gongshi_block_commit_latency_seconds",
            "From the block's execution on this node to its durable commit.",
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        info = Gauge("gongshi_node_info", "Node name.", ["name"], registry=registry)
        info.labels(name=node_name).set(1)
        self._live = _LiveCollector()
        registry.register(self._live)

    def bind(self, snapshot: Callable[[], Snapshot]) -> None:
        self._live.snapshot = snapshot

    def observe_commit(self, height: int, transactions: int, latency_s: float | None) -> None:
        self.height.set(height)
        self.committed_blocks.inc()
        self.committed_txs.inc(transactions)
        if latency_s is not None:
            self.commit_latency.observe(max(latency_s, 0.0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
