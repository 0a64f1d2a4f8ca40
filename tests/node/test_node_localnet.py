"""`gongshi up`'s directory handling and command line, and the node's start-up refusals
(no processes are started here; tests/multinode runs real ones)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from gongshi.cli.main import cli
from gongshi.node.config import load_node_config
from gongshi.node.errors import LocalnetError, SigningKeyMismatch
from gongshi.node.localnet import LocalNetwork, prepare_network
from gongshi.node.node import Node, engine_config


def test_network_is_created_then_reused_and_a_different_one_refused(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    genesis, created = prepare_network(directory, nodes=2, suite="intl", base_port=41000)
    assert created and len(genesis.validators) == 2
    again, created_again = prepare_network(directory, nodes=2, suite="intl")
    assert not created_again and again == genesis
    with pytest.raises(LocalnetError, match="--force"):
        prepare_network(directory, nodes=3, suite="intl")
    with pytest.raises(LocalnetError):
        prepare_network(directory, nodes=2, suite="gm")
    replaced, created_third = prepare_network(directory, nodes=3, suite="intl", force=True)
    assert created_third and len(replaced.validators) == 3
    network = LocalNetwork(directory, replaced)
    assert [info.name for info in network.nodes] == ["node1", "node2", "node3"]
    assert network.info("node2").log_path == directory / "nodes" / "node2" / "node.log"
    with pytest.raises(LocalnetError):
        network.info("node9")
    network.stop_all()  # nothing running: a no-op


def test_up_refuses_a_bad_node_count(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["up", "--nodes", "0", "--dir", str(tmp_path / "x")])
    assert result.exit_code != 0
    assert not (tmp_path / "x").exists()


def test_node_refuses_a_signing_key_its_certificate_does_not_bind(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    prepare_network(directory, nodes=1, suite="intl", base_port=41100)
    config = load_node_config(directory / "nodes" / "node1" / "config.toml")
    client_key = directory / "orgs" / "org1" / "client" / "client.key"
    config = dataclasses.replace(
        config, identity=dataclasses.replace(config.identity, signing_key_file=client_key)
    )
    node = Node(config)

    async def start_and_stop() -> None:
        try:
            await node.start()
        finally:
            await node.stop()

    with pytest.raises(SigningKeyMismatch):
        asyncio.run(start_and_stop())


def test_engine_timings_come_from_the_chain_parameters(tmp_path: Path) -> None:
    genesis, _ = prepare_network(tmp_path / "net", nodes=1, suite="intl", base_port=41200)
    config = engine_config(genesis)
    params = genesis.params
    assert config.chain_id == params.chain_id.encode()
    assert config.timeout_base_ms == params.round_timeout_ms
    top = params.round_timeout_ms << config.timeout_backoff_exponent_max
    assert top <= params.round_timeout_max_ms < top * 2
