"""A `gongshi init` network on free loopback ports, run as real node processes, and clients
of the SDK (`gongshi.sdk.Client`) that submit notarization transactions through the nodes'
APIs and verify receipts' proofs.

Every process is started through `LocalNetwork` and stopped (or killed) in the fixture's
finally, so no test leaves a process behind. Waits are bounded polls, never timing assertions.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from gongshi.codec import ReceiptStatus
from gongshi.crypto import Suite, get_suite
from gongshi.node.localnet import LocalNetwork, free_base_port, prepare_network
from gongshi.sdk import Client
from gongshi.storage import Ledger

NODES = 4
PORTS_PER_NODE = 10
GAS_LIMIT = 200_000
POLL_S = 0.2


def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for: {what}")
        time.sleep(POLL_S)


@dataclass
class RpcClient:
    """JSON-RPC over HTTP to the nodes' API addresses."""

    urls: dict[str, str]
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=5.0))

    def call(self, node: str, method: str, params: dict[str, object] | None = None) -> object:
        response = self.http.post(
            self.urls[node], json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        )
        document = response.json()
        if "error" in document:
            raise RpcError(document["error"])
        return document["result"]

    def height(self, node: str) -> int | None:
        try:
            info = self.call(node, "chain_info")
        except (httpx.HTTPError, RpcError):
            return None
        assert isinstance(info, dict)
        height = info.get("height")
        return height if isinstance(height, int) else None


class RpcError(Exception):
    def __init__(self, error: dict[str, object]) -> None:
        super().__init__(error.get("message"))
        self.error = error

    @property
    def gongshi_code(self) -> int | None:
        data = self.error.get("data")
        code = data.get("code") if isinstance(data, dict) else None
        return code if isinstance(code, int) else None


@dataclass
class Localnet:
    directory: Path
    network: LocalNetwork
    suite: Suite
    rpc: RpcClient
    identities: list[tuple[str, str]]
    submitted: list[bytes] = field(default_factory=list)
    clients: dict[tuple[int, str], Client] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [info.name for info in self.network.nodes]

    def heights(self, names: list[str] | None = None) -> dict[str, int | None]:
        return {name: self.rpc.height(name) for name in names or self.names}

    def wait_height(
        self, height: int, names: list[str] | None = None, timeout_s: float = 60.0
    ) -> None:
        def reached() -> bool:
            return all(h is not None and h >= height for h in self.heights(names).values())

        wait_until(reached, f"height {height} on {names or 'all nodes'}", timeout_s)

    def client(self, sender: int, node: str) -> Client:
        """The SDK client of sender `sender` (org client or admin) talking to `node`."""
        key = (sender, node)
        if key not in self.clients:
            organisation, role = self.identities[sender]
            self.clients[key] = Client.connect(
                self.directory, node=node, organisation=organisation, role=role
            )
        return self.clients[key]

    def submit(self, count: int, *, via: list[str] | None = None, tag: str = "") -> list[bytes]:
        """Send `count` notary.register transactions through the SDK, round-robin over the
        senders; sender i always talks to node via[i % len(via)] (the SDK tracks its nonces,
        and waits while a sender's nonce window is full)."""
        via = via or self.names
        hashes: list[bytes] = []
        for index in range(count):
            sender = index % len(self.identities)
            client = self.client(sender, via[sender % len(via)])
            document = f"{tag}-{index}-{self.directory}".encode()
            args = {"doc_hash": hashlib.sha256(document).digest(), "metadata": {"n": index}}
            hashes.append(client.submit("notary", "register", args, gas_limit=GAS_LIMIT))
        self.submitted.extend(hashes)
        return hashes

    def verify_receipts(self, tx_hashes: list[bytes], node: str) -> None:
        """Each receipt's inclusion proof verifies against a quorum-signed header (the SDK
        raises otherwise) and says the notarization succeeded."""
        client = self.client(0, node)
        for tx_hash in tx_hashes:
            receipt = client.receipt(tx_hash)
            assert receipt is not None, f"no receipt for {tx_hash.hex()}"
            assert receipt.receipt.status is ReceiptStatus.SUCCESS

    def stop(self) -> None:
        self.network.stop_all()

    def metrics(self, name: str) -> dict[str, float]:
        """The node's unlabelled Prometheus samples, from its metrics endpoint."""
        address = self.network.info(name).config.metrics.listen_address
        text = self.rpc.http.get(f"http://{address}/metrics").text
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#") and "{" not in line:
                sample, _, value = line.rpartition(" ")
                samples[sample] = float(value)
        return samples

    def height_max(self) -> int:
        return max(h or 0 for h in self.heights().values())

    def open_ledgers(self) -> dict[str, Ledger]:
        """Each node's ledger, read-only use after `stop()` (RocksDB allows one opener)."""
        return {
            info.name: Ledger.open(info.config.node.data_dir / "ledger", self.suite)
            for info in self.network.nodes
        }

    def wait_mempools_empty(self, timeout_s: float) -> None:
        """Each node drops a transaction from its mempool once it committed it."""

        def empty() -> bool:
            infos = [self.rpc.call(name, "chain_info") for name in self.names]
            return all(isinstance(i, dict) and i.get("mempool_size") == 0 for i in infos)

        wait_until(empty, "every mempool empty", timeout_s)

    def check_ledgers(self, wanted: set[bytes], top: int) -> None:
        """Same chain to the lowest head on every node, each wanted transaction exactly once,
        every receipt a success."""
        ledgers = self.open_ledgers()
        try:
            common = min(ledger.committed_height or 0 for ledger in ledgers.values())
            assert common >= top
            assert_same_chain(ledgers, common)
            for name, ledger in ledgers.items():
                hashes = committed_tx_hashes(ledger)
                duplicated = [h for h, c in Counter(hashes).items() if c > 1]
                assert not duplicated, f"{name} committed {len(duplicated)} transactions twice"
                assert wanted <= set(hashes), (
                    f"{name} lacks {len(wanted - set(hashes))} transactions"
                )
                statuses = {
                    receipt.status
                    for h in range(1, (ledger.committed_height or 0) + 1)
                    for receipt in ledger.get_receipts(h)
                }
                assert statuses <= {ReceiptStatus.SUCCESS}
        finally:
            for ledger in ledgers.values():
                ledger.close()


def committed_tx_hashes(ledger: Ledger) -> list[bytes]:
    height = ledger.committed_height or 0
    hashes: list[bytes] = []
    for h in range(1, height + 1):
        hashes.extend(receipt.tx_hash for receipt in ledger.get_receipts(h))
    return hashes


def assert_same_chain(ledgers: dict[str, Ledger], up_to: int) -> None:
    """Every ledger holds the same headers (hence block hashes and state roots) to `up_to`."""
    reference_name, reference = next(iter(ledgers.items()))
    for height in range(up_to + 1):
        expected = reference.get_header(height)
        for name, ledger in ledgers.items():
            assert ledger.get_header(height) == expected, (
                f"{name} and {reference_name} differ at height {height}"
            )


@pytest.fixture
def localnet(tmp_path: Path) -> Iterator[Localnet]:
    directory = tmp_path / "net"
    genesis, _ = prepare_network(
        directory, nodes=NODES, suite="intl", base_port=free_base_port(NODES)
    )
    network = LocalNetwork(directory, genesis)
    suite = get_suite(genesis.suite)
    urls = {info.name: f"http://{info.config.api.listen_address}/" for info in network.nodes}
    identities = [(org.name, role) for org in genesis.organisations for role in ("client", "admin")]
    net = Localnet(
        directory=directory,
        network=network,
        suite=suite,
        rpc=RpcClient(urls),
        identities=identities,
    )
    try:
        network.start_all()
        net.wait_height(1, timeout_s=60.0)
        yield net
    finally:
        for client in net.clients.values():
            client.close()
        net.rpc.http.close()
        network.stop_all()
        for info in network.nodes:
            if info.log_path.exists():
                lines = info.log_path.read_text(errors="replace").splitlines()
                noise = ("peer connected", "peer disconnected", "dial failed", "peer refused")
                tail = [line for line in lines if not any(n in line for n in noise)][-25:]
                print(f"--- {info.name} log tail ---", *tail, sep="\n")
