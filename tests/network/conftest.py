"""A `gongshi init` network on disk and helpers to run `Network`s on 127.0.0.1.

Every network listens on an ephemeral port; `Cluster.start` then gives each the others'
actual addresses through `set_allowed_peers` (the run-time replacement governance uses).
Every await in a test runs under `run_async`'s overall timeout, and `run_async` fails the test
if any task is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gongshi.cli.init_network import NetworkOptions, create_network
from gongshi.crypto.keyfile import read_file
from gongshi.network import (
    InboundMessage,
    LocalIdentity,
    Network,
    NetworkConfig,
    PeerInfo,
    network_config_from_node,
)
from gongshi.network.framing import encode_frame
from gongshi.network.handshake import read_frame
from gongshi.network.messages import PROTOCOL_VERSION, Hello
from gongshi.node.config import NodeConfig, load_node_config
from gongshi.node.config_fields import HostPort
from gongshi.node.genesis import Genesis, load_genesis
from gongshi.pki import RevocationList, TrustStore, datetime_to_ms, mutual_tls_context
from gongshi.pki.roles import Role
from gongshi.pki.validation import validate_certificate

TEST_TIMEOUT_S = 30.0
WAIT_STEP_S = 0.01
EPHEMERAL = HostPort(host="127.0.0.1", port=0)
# Fast timings so reconnects and timeouts happen within a test's budget.
FAST = {
    "listen_address": EPHEMERAL,
    "handshake_timeout_ms": 2000,
    "close_timeout_ms": 500,
    "reconnect_delay_min_ms": 20,
    "reconnect_delay_max_ms": 200,
}


def run_async(
    main: Callable[[], Coroutine[Any, Any, None]], timeout_s: float = TEST_TIMEOUT_S
) -> None:
    async def wrapper() -> None:
        async with asyncio.timeout(timeout_s):
            await main()
        current = asyncio.current_task()
        leftover = [task for task in asyncio.all_tasks() if task is not current]
        assert not leftover, f"tasks left behind: {leftover}"

    asyncio.run(wrapper())


async def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Poll `predicate` until it holds; a bounded wait, not a timing assertion."""
    try:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                await asyncio.sleep(WAIT_STEP_S)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None


@dataclass
class Inbox:
    """What one node's `on_message` received."""

    messages: list[InboundMessage] = field(default_factory=list)
    gate: asyncio.Event | None = None  # when set to an unset Event, the handler blocks on it

    async def __call__(self, message: InboundMessage) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.messages.append(message)

    def bodies(self) -> list[bytes]:
        return [message.body for message in self.messages]


@dataclass
class Member:
    """Certificate, TLS key and chain key of one member certificate in the network dir."""

    certificate_file: Path
    key_file: Path
    public_key: bytes
    name: str
    serial: int

    def identity(self) -> LocalIdentity:
        return LocalIdentity(
            public_key=self.public_key,
            name=self.name,
            certificate_file=self.certificate_file,
            key_file=self.key_file,
        )


@dataclass
class Cluster:
    root: Path
    genesis: Genesis
    trust: TrustStore
    configs: list[NodeConfig]
    running: list[Network] = field(default_factory=list)
    inboxes: dict[int, Any] = field(default_factory=dict)

    @property
    def now_ms(self) -> int:
        return datetime_to_ms(datetime.now(UTC))

    def node(self, index: int) -> Member:
        config = self.configs[index]
        identity = LocalIdentity.load(config, self.trust, now_ms=self.now_ms)
        found = validate_certificate(
            read_file(identity.certificate_file), trust=self.trust, now_ms=self.now_ms
        )
        return Member(
            certificate_file=identity.certificate_file,
            key_file=identity.key_file,
            public_key=identity.public_key,
            name=identity.name,
            serial=found.serial,
        )

    def member(self, organisation: str, role: Role) -> Member:
        directory = self.root / "orgs" / organisation / role.value
        certificate_file = directory / f"{role.value}.crt"
        tls_key = directory / f"{role.value}-tls.key"
        key_file = tls_key if tls_key.exists() else directory / f"{role.value}.key"
        found = validate_certificate(
            read_file(certificate_file), trust=self.trust, now_ms=self.now_ms
        )
        return Member(
            certificate_file=certificate_file,
            key_file=key_file,
            public_key=found.public_key,
            name=f"{organisation}-{role.value}",
            serial=found.serial,
        )

    def key(self, index: int) -> bytes:
        return self.genesis.validators[index].public_key

    def peer(self, index: int, address: HostPort | None) -> PeerInfo:
        return PeerInfo(public_key=self.key(index), name=f"node{index + 1}", address=address)

    def config(self, index: int, **overrides: Any) -> NetworkConfig:
        base = network_config_from_node(self.configs[index])
        return dataclasses.replace(base, **{**FAST, **overrides})

    def network(
        self,
        index: int,
        *,
        member: Member | None = None,
        trust: TrustStore | None = None,
        revocations: RevocationList | None = None,
        inbox: Callable[[InboundMessage], Coroutine[Any, Any, None]] | None = None,
        seed: int = 0,
        **overrides: Any,
    ) -> Network:
        """A network for node `index` (or another member certificate), not started, that
        allows every validator (without addresses until `connect`)."""
        self.inboxes[index] = inbox if inbox is not None else Inbox()
        chosen = member if member is not None else self.node(index)
        return Network(
            self.config(index, **overrides),
            chosen.identity(),
            trust if trust is not None else self.trust,
            [self.peer(i, None) for i in range(len(self.configs))],
            self.inboxes[index],
            revocations=revocations if revocations is not None else RevocationList(),
            rng=random.Random(seed),
        )

    async def start(self, networks: dict[int, Network]) -> None:
        """Start `networks` (by validator index) and give each the others' addresses."""
        for network in networks.values():
            await network.start()
            self.running.append(network)
        self.connect(networks)

    def connect(self, networks: dict[int, Network]) -> None:
        addresses = {index: network.listen_address for index, network in networks.items()}
        peers = [self.peer(i, addresses.get(i)) for i in range(len(self.configs))]
        for network in networks.values():
            network.set_allowed_peers(peers)

    async def stop_all(self) -> None:
        for network in self.running:
            with contextlib.suppress(Exception):
                await network.stop()
        self.running.clear()

    @property
    def genesis_hash(self) -> bytes:
        return self.configs[0].node.genesis_hash

    async def raw(
        self, target: Network, member: Member, trust: TrustStore | None = None
    ) -> RawPeer:
        """A hand-driven connection to `target` with `member`'s certificate."""
        context = self.client_context(member, trust)
        return await RawPeer.open(target.listen_address, context, genesis_hash=self.genesis_hash)

    def client_context(self, member: Member, trust: TrustStore | None = None) -> ssl.SSLContext:
        return mutual_tls_context(
            server_side=False,
            certificate_file=member.certificate_file,
            key_file=member.key_file,
            trust=trust if trust is not None else self.trust,
        )


@dataclass
class RawPeer:
    """A hand-driven TLS client speaking as `member`: sends whatever a test needs."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def open(
        cls, address: HostPort, context: ssl.SSLContext, *, genesis_hash: bytes, hello: bool = True
    ) -> RawPeer:
        reader, writer = await asyncio.open_connection(address.host, address.port)
        await writer.start_tls(context)
        peer = cls(reader=reader, writer=writer)
        if hello:
            await peer.send_payload(
                Hello(protocol_version=PROTOCOL_VERSION, genesis_hash=genesis_hash).encode()
            )
            await read_frame(reader, frame_bytes_max=Hello.encoded_bytes_max)
        return peer

    async def send_payload(self, payload: bytes) -> None:
        self.writer.write(encode_frame(payload, frame_bytes_max=1 << 30))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def closed_by_peer(self) -> bool:
        """True once the other side closes the connection (EOF or reset)."""
        try:
            data = await self.reader.read(65536)
            while data:
                data = await self.reader.read(65536)
        except (ConnectionError, ssl.SSLError):
            pass
        return True

    async def close(self) -> None:
        self.writer.transport.abort()


@pytest.fixture(scope="module")
def network_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One 4-node intl network, one 2-node gm network and an unrelated intl network."""
    dirs = {name: tmp_path_factory.mktemp(name) / "net" for name in ("intl", "gm", "other")}
    create_network(
        NetworkOptions(organisations=4, suite="intl"), dirs["intl"], now=datetime.now(UTC)
    )
    create_network(NetworkOptions(organisations=2, suite="gm"), dirs["gm"], now=datetime.now(UTC))
    create_network(
        NetworkOptions(organisations=2, suite="intl"), dirs["other"], now=datetime.now(UTC)
    )
    return dirs


def _load(root: Path) -> Cluster:
    genesis = load_genesis(root / "genesis.toml")
    count = len(genesis.validators)
    configs = [
        load_node_config(root / "nodes" / f"node{i + 1}" / "config.toml") for i in range(count)
    ]
    return Cluster(root=root, genesis=genesis, trust=genesis.trust_store(), configs=configs)


@pytest.fixture
def cluster(network_dirs: dict[str, Path]) -> Cluster:
    return _load(network_dirs["intl"])


@pytest.fixture
def gm_cluster(network_dirs: dict[str, Path]) -> Cluster:
    return _load(network_dirs["gm"])


@pytest.fixture
def stranger_cluster(network_dirs: dict[str, Path]) -> Cluster:
    return _load(network_dirs["other"])


@dataclass(frozen=True)
class Helpers:
    """What test modules use from here (importlib mode: they cannot import conftest)."""

    run: Callable[..., None] = run_async
    wait_until: Callable[..., Coroutine[Any, Any, None]] = wait_until
    Inbox: type[Inbox] = Inbox
    RawPeer: type[RawPeer] = RawPeer
    fast: dict[str, Any] = field(default_factory=lambda: dict(FAST))


@pytest.fixture
def net() -> Helpers:
    return Helpers()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A socket or transport left unclosed by a network test fails that test."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.filterwarnings("error::ResourceWarning"))
            item.add_marker(
                pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
            )
