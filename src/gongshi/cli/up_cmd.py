"""`gongshi up`: create (or reuse) a local network directory and run its nodes, one process
each, until Ctrl-C; then stop them all cleanly (SIGINT, wait, SIGKILL after a timeout)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType

import click

from gongshi.node.errors import LocalnetError
from gongshi.node.localnet import LocalNetwork, prepare_network

POLL_S = 0.5


@click.command("up")
@click.option("--nodes", type=int, default=4, show_default=True, help="Consensus nodes.")
@click.option(
    "--suite",
    type=click.Choice(["gm", "intl"]),
    default="gm",
    show_default=True,
    help="Crypto suite of a new network.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("localnet"),
    show_default=True,
    help="Network directory (created if absent, reused if its genesis matches).",
)
@click.option("--base-port", type=int, default=None, help="First port of a new network.")
@click.option("--force", is_flag=True, help="Replace the network in --dir (and its data).")
def up(nodes: int, suite: str, directory: Path, base_port: int | None, force: bool) -> None:
    """Run a local network of NODES nodes on 127.0.0.1 until Ctrl-C."""
    if not 1 <= nodes <= 64:
        raise LocalnetError("--nodes must be between 1 and 64")
    genesis, created = prepare_network(
        directory, nodes=nodes, suite=suite, base_port=base_port, force=force
    )
    network = LocalNetwork(directory, genesis)
    verb = "created" if created else "reusing"
    click.echo(
        f"{verb} {directory}: {nodes} nodes, suite {genesis.suite}, chain {genesis.params.chain_id}"
    )
    stopping = False
    failed = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        network.start_all()
        for info in network.nodes:
            config = info.config
            click.echo(
                f"  {info.name:<8} api http://{config.api.listen_address}  "
                f"metrics http://{config.metrics.listen_address}/metrics  log {info.log_path}"
            )
        click.echo("Press Ctrl-C to stop.")
        while not stopping:
            exited = network.exited()
            if exited:
                click.echo(f"node(s) exited: {exited}; see their node.log", err=True)
                failed = True
                break
            time.sleep(POLL_S)
    finally:
        click.echo("stopping nodes...")
        network.stop_all()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo("stopped")
    if failed:
        raise SystemExit(1)
