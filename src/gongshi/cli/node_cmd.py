"""`gongshi node start --config FILE`: run one node until SIGINT/SIGTERM.

Signals: SIGINT and SIGTERM stop the node cleanly (network, API, tasks, execution thread,
RocksDB); SIGUSR1 partitions it from its peers (closes every connection and refuses new
ones) and SIGUSR2 heals the partition, for operators and the multi-process tests.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from gongshi.node.config import load_node_config
from gongshi.node.logs import configure_logging

logger = logging.getLogger(__name__)


async def run_node(config_path: Path) -> None:
    from gongshi.node.node import Node
    from gongshi.node.runtime import tune_garbage_collector

    config = load_node_config(config_path)
    configure_logging(config.log.level, config.log.format)
    node = Node(config)
    loop = asyncio.get_running_loop()
    try:
        await node.start()
        tune_garbage_collector()
        loop.add_signal_handler(signal.SIGINT, node.request_stop)
        loop.add_signal_handler(signal.SIGTERM, node.request_stop)
        loop.add_signal_handler(signal.SIGUSR1, node.partition)
        loop.add_signal_handler(signal.SIGUSR2, node.heal)
        await node.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2):
            loop.remove_signal_handler(signum)
        await node.stop()


@click.group("node")
def node() -> None:
    """Run a node."""


@node.command("start")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="The node's config.toml (as `gongshi init` writes it).",
)
def start(config_path: Path) -> None:
    """Run one node until SIGINT or SIGTERM (SIGUSR1 / SIGUSR2: partition / heal)."""
    asyncio.run(run_node(config_path))
