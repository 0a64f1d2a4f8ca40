"""A local network of node processes on 127.0.0.1: what `gongshi up` runs, and what the
multi-process tests drive.

`prepare_network` creates a network directory with `create_network`, or reuses one whose
genesis matches the options. `LocalNetwork` starts one process per node
(`python -m gongshi node start --config ...`, output appended to `nodes/<name>/node.log`) and
stops them: SIGINT to each, a bounded wait, then SIGKILL for any that did not exit.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from gongshi.cli.init_network import (
    DEFAULT_BASE_PORT,
    PORTS_PER_NODE,
    NetworkOptions,
    create_network,
)
from gongshi.errors import GongshiError
from gongshi.node.config import NodeConfig, load_node_config
from gongshi.node.errors import LocalnetError
from gongshi.node.genesis import Genesis, load_genesis

logger = logging.getLogger(__name__)

STOP_TIMEOUT_S = 15.0
LOG_FILE = "node.log"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeInfo:
    name: str
    config_path: Path
    config: NodeConfig

    @property
    def log_path(self) -> Path:
        return self.config_path.parent / LOG_FILE


def _matches(genesis: Genesis, nodes: int, suite: str, base_port: int | None) -> bool:
    if genesis.suite != suite or len(genesis.validators) != nodes:
        return False
    return base_port is None or genesis.validators[0].p2p_address.port == base_port


def prepare_network(
    directory: Path,
    *,
    nodes: int,
    suite: str,
    base_port: int | None = None,
    force: bool = False,
    extra_clients: int = 0,
) -> tuple[Genesis, bool]:
    """The network in `directory`, created if absent (or if `force`); (genesis, created).
    LocalnetError if a different network is there already. `extra_clients`: client members
    per organisation beyond the first, for a new network (see `NetworkOptions`)."""
    genesis_file = directory / "genesis.toml"
    if genesis_file.exists() and not force:
        try:
            genesis = load_genesis(genesis_file)
        except GongshiError as error:
            raise LocalnetError(f"{genesis_file}: {error.message} (use --force)") from None
        if not _matches(genesis, nodes, suite, base_port):
            raise LocalnetError(
                f"{directory} holds a {len(genesis.validators)}-node {genesis.suite} network; "
                "use --force to replace it or --dir for another directory"
            )
        return genesis, False
    options = NetworkOptions(
        organisations=nodes,
        suite=suite,
        base_port=DEFAULT_BASE_PORT if base_port is None else base_port,
        extra_clients=extra_clients,
        # A development network: curl, the explorer and the benchmarks read without signing.
        api_access="open",
    )
    plan = create_network(options, directory, force=force or directory.exists())
    return plan.genesis, True


def node_infos(directory: Path, genesis: Genesis) -> list[NodeInfo]:
    infos = []
    for validator in genesis.validators:
        path = directory / "nodes" / validator.name / "config.toml"
        infos.append(NodeInfo(name=validator.name, config_path=path, config=load_node_config(path)))
    return infos


class LocalNetwork:
    """The node processes of one network directory. Not thread-safe."""

    def __init__(self, directory: Path, genesis: Genesis, *, python: str = sys.executable) -> None:
        self.directory = directory
        self.genesis = genesis
        self.nodes = node_infos(directory, genesis)
        self._python = python
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    def info(self, name: str) -> NodeInfo:
        for info in self.nodes:
            if info.name == name:
                return info
        raise LocalnetError(f"no node {name!r} in {self.directory}")

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """Start one node (it must not be running)."""
        if self.running(name):
            raise LocalnetError(f"{name} is already running")
        info = self.info(name)
        command = [
            self._python,
            "-m",
            "gongshi",
            "node",
            "start",
            "--config",
            str(info.config_path),
        ]
        with open(info.log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(),
            )
        self._processes[name] = process
        logger.info("started name=%s pid=%d", name, process.pid)
        return process

    def start_all(self) -> None:
        for info in self.nodes:
            self.start(info.name)

    def running(self, name: str) -> bool:
        process = self._processes.get(name)
        return process is not None and process.poll() is None

    def exited(self) -> dict[str, int]:
        """Nodes whose process has ended, with its exit code."""
        codes = {}
        for name, process in self._processes.items():
            code = process.poll()
            if code is not None:
                codes[name] = code
        return codes

    def signal(self, name: str, signum: int) -> None:
        process = self._processes.get(name)
        if process is not None and process.poll() is None:
            process.send_signal(signum)

    def kill(self, name: str) -> None:
        """SIGKILL (a crash, as `kill -9`), and reap the process."""
        process = self._processes.pop(name, None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self, name: str, timeout_s: float = STOP_TIMEOUT_S) -> None:
        self.stop_all([name], timeout_s)

    def stop_all(self, names: list[str] | None = None, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGINT each, wait up to `timeout_s` for all, SIGKILL whatever is left."""
        chosen = list(self._processes) if names is None else names
        processes = [(n, self._processes.pop(n)) for n in chosen if n in self._processes]
        for _, process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        for name, process in processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("node did not stop in time; killing name=%s", name)
                process.kill()
                process.wait()

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self._processes.items()}


def child_environment() -> dict[str, str]:
    """The environment for node processes (unbuffered, no -O)."""
    environment = dict(os.environ)
    environment.pop("PYTHONOPTIMIZE", None)
    return environment


def free_base_port(nodes: int) -> int:
    """A base port whose p2p/API/metrics ports (base + 10 i + 0..2) are all free on 127.0.0.1
    now (for tests and benchmarks that run several networks side by side)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 60_000, PORTS_PER_NODE)
        ports = [base + PORTS_PER_NODE * i + k for i in range(nodes) for k in range(3)]
        if all(_port_free(port) for port in ports):
            return base
    raise LocalnetError("no free port range on 127.0.0.1")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
