"""The metrics endpoint (`node/metrics_server.py`): `/metrics` and `/health` over uvicorn, from
a bare registry and from a started one-node chain; the server stops without leaking a socket
(ResourceWarnings and unraisable-exception warnings fail these tests)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gongshi.node.config import NodeConfig, load_node_config
from gongshi.node.config_fields import HostPort
from gongshi.node.errors import NodeError
from gongshi.node.localnet import prepare_network
from gongshi.node.metrics import NodeMetrics, Snapshot
from gongshi.node.metrics_server import MetricsServer
from gongshi.node.node import Node

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

TIMEOUT_S = 30.0
HOST = "127.0.0.1"


def samples(text: str) -> dict[str, float]:
    """Every sample by name, labels appended as `name{k=v,...}` when present."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def snapshot(round_number: int) -> Snapshot:
    return Snapshot(
        round=round_number,
        mempool_transactions=11,
        mempool_bytes=2048,
        peers_connected=3,
        local_timeouts=4,
        view_changes=2,
        reroots=1,
        blocks_synced=9,
        gossip_batches_dropped=5,
        epoch=1,
        validators=4,
        voting=True,
        handshake_failures=6,
        governance_updates=8,
    )


def refused(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2.0)
        return probe.connect_ex((HOST, port)) != 0


def test_metrics_and_health_are_served_and_the_server_stops() -> None:
    metrics = NodeMetrics("node7")
    rounds = iter(range(100, 200))
    metrics.bind(lambda: snapshot(next(rounds)))  # a new value per scrape: read at scrape time
    metrics.observe_commit(5, 7, 0.3)
    metrics.observe_commit(6, 2, None)

    async def main() -> int:
        server = MetricsServer(metrics.registry, HOST, 0)
        await server.start()
        port = server.port
        try:
            async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}") as http:
                first = await http.get("/metrics")
                assert first.status_code == 200
                assert first.headers["content-type"].startswith("text/plain")
                values = samples(first.text)
                assert values["gongshi_height"] == 6
                assert values["gongshi_committed_blocks_total"] == 2
                assert values["gongshi_committed_transactions_total"] == 9
                assert values["gongshi_block_commit_latency_seconds_count"] == 1
                assert values["gongshi_node_info{name=node7}"] == 1
                assert values["gongshi_mempool_transactions"] == 11
                assert values["gongshi_peers_connected"] == 3
                assert values["gongshi_validator"] == 1 and values["gongshi_validators"] == 4
                assert values["gongshi_gossip_batches_dropped_total"] == 5
                assert values["gongshi_peer_handshake_failures_total"] == 6
                assert values["gongshi_governance_updates_total"] == 8
                second = samples((await http.get("/metrics")).text)
                assert second["gongshi_consensus_round"] == values["gongshi_consensus_round"] + 1

                health = await http.get("/health")
                assert (health.status_code, health.text) == (200, "ok\n")
                assert (await http.post("/metrics")).status_code == 405
                assert (await http.get("/nope")).status_code == 404
                zipped = await http.get("/metrics", headers={"accept-encoding": "gzip"})
                assert zipped.headers.get("content-encoding") == "gzip"
                assert "gongshi_height 6.0" in zipped.text  # httpx inflated it
        finally:
            await server.stop()
        await server.stop()  # twice is harmless
        return port

    port = asyncio.run(main())
    assert refused(port)


def test_stopping_closes_idle_keep_alive_connections() -> None:
    metrics = NodeMetrics("node1")

    async def main() -> None:
        server = MetricsServer(metrics.registry, HOST, 0)
        await server.start()
        port = server.port
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}") as http:
            assert (await http.get("/health")).status_code == 200  # the connection stays open
            async with asyncio.timeout(TIMEOUT_S):
                await server.stop()
            assert refused(port)
            with pytest.raises(httpx.TransportError):
                await http.get("/health")

    asyncio.run(main())


def test_a_taken_port_is_a_node_error() -> None:
    metrics = NodeMetrics("node1")

    async def main() -> None:
        first = MetricsServer(metrics.registry, HOST, 0)
        await first.start()
        try:
            with socket.socket() as holder:
                holder.bind((HOST, 0))
                holder.listen(1)
                taken = holder.getsockname()[1]
                with pytest.raises(NodeError, match="metrics: cannot listen"):
                    await MetricsServer(metrics.registry, HOST, taken).start()
        finally:
            await first.stop()

    asyncio.run(main())


def one_node(tmp_path: Path) -> NodeConfig:
    directory = tmp_path / "net"
    prepare_network(directory, nodes=1, suite="intl", base_port=43000)
    config = load_node_config(directory / "nodes" / "node1" / "config.toml")
    anywhere = HostPort(host=HOST, port=0)
    return dataclasses.replace(
        config,
        p2p=dataclasses.replace(config.p2p, listen_address=anywhere),
        api=dataclasses.replace(config.api, enabled=False),
        metrics=dataclasses.replace(config.metrics, enabled=True, listen_address=anywhere),
    )


def test_a_started_node_serves_its_metrics_until_it_stops(tmp_path: Path) -> None:
    node = Node(one_node(tmp_path))

    async def scrape(http: httpx.AsyncClient) -> dict[str, float]:
        response = await http.get("/metrics")
        assert response.status_code == 200
        return samples(response.text)

    async def main() -> int:
        await node.start()
        try:
            assert node.metrics_server is not None
            port = node.metrics_server.port
            async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}") as http:
                async with asyncio.timeout(TIMEOUT_S):
                    values = await scrape(http)
                    while values["gongshi_height"] < 2:
                        await asyncio.sleep(0.05)
                        values = await scrape(http)
                assert values["gongshi_committed_blocks_total"] >= 2
                assert values["gongshi_height"] <= node.chain.committed_height
                assert values["gongshi_node_info{name=node1}"] == 1
                assert values["gongshi_validator"] == 1 and values["gongshi_validators"] == 1
                assert values["gongshi_consensus_epoch"] == 0
                assert values["gongshi_peers_connected"] == 0
                health = await http.get("/health")
                assert (health.status_code, health.text) == (200, "ok\n")
        finally:
            await node.stop()
        return port

    port = asyncio.run(main())
    assert refused(port)
