"""A one-node chain run in-process (no API or metrics server, p2p on a free port): governance
proposals committed by it take force in the running node: parameters (block limits, block
interval, mempool capacity, round timeouts) and the network's trust anchors."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from gongshi.codec import Transaction, encode
from gongshi.crypto import get_suite
from gongshi.node.config import NodeConfig, load_node_config
from gongshi.node.config_fields import HostPort
from gongshi.node.localnet import prepare_network
from gongshi.node.node import Node
from gongshi.pki.issue import Validity, create_certificate_authority

TIMEOUT_S = 30.0


def one_node(tmp_path: Path) -> tuple[Path, NodeConfig]:
    directory = tmp_path / "net"
    prepare_network(directory, nodes=1, suite="intl", base_port=42000)
    config = load_node_config(directory / "nodes" / "node1" / "config.toml")
    config = dataclasses.replace(
        config,
        p2p=dataclasses.replace(config.p2p, listen_address=HostPort(host="127.0.0.1", port=0)),
        api=dataclasses.replace(config.api, enabled=False),
        metrics=dataclasses.replace(config.metrics, enabled=False),
    )
    return directory, config


async def until(predicate: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while not predicate():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None


def test_committed_governance_takes_force_in_the_running_node(tmp_path: Path) -> None:
    directory, config = one_node(tmp_path)
    suite = get_suite("intl")
    admin = suite.load_private_key(directory / "orgs" / "org1" / "admin" / "admin.key")
    node = Node(config)

    def propose(nonce: int, kind: str, payload: Any, **extra: Any) -> None:
        tx = Transaction(
            chain_id=node.genesis.params.chain_id,
            nonce=nonce,
            sender=admin.public_key_bytes(),
            target="governance",
            method="propose",
            args={"kind": kind, "payload": payload, **extra},
            gas_limit=5_000_000,
            expiry_height=10_000,
        ).sign(admin)
        node.mempool.admit(encode(tx))

    async def main() -> None:
        await node.start()
        try:
            assert node.params.block_txs_max == 2000
            activation = node.chain.committed_height + 4
            changes = {
                "block_txs_max": 7,
                "block_interval_ms": 200,
                "round_timeout_ms": 3000,
                "mempool_txs_max": 5000,
            }
            propose(0, "change_parameters", {"changes": changes}, activation_height=activation)
            # One organisation: its proposal is its own approval, executed at once.
            await until(lambda: node.chain.committed_height >= activation, "activation")
            assert node.params.block_txs_max == 7 and node.app.limits.txs_max == 7
            assert node.mempool.config.txs_max == 5000 and node.app.block_interval_s == 0.2
            assert node.driver.engine.config.timeout_base_ms == 3000
            assert node.metrics_snapshot().governance_updates == 0

            authority = create_certificate_authority(
                organisation="org9",
                suite=suite,
                validity=Validity.starting(datetime.now(UTC) - timedelta(hours=1), 30),
            )
            pem = authority.certificate.public_bytes(serialization.Encoding.PEM).decode()
            propose(1, "add_organisation", {"name": "org9", "ca_certificate_pem": pem})
            await until(lambda: node.governance_updates == 1, "network update")
            snapshot = node.metrics_snapshot()
            assert snapshot.epoch == 0 and snapshot.voting and snapshot.validators == 1
        finally:
            await node.stop()

    asyncio.run(main())
