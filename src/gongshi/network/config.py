"""Configuration of the peer network and the local node's TLS identity.

`NetworkConfig` fields carry `option` metadata like the node configuration's sections, so the
node can read them from a `[network]` TOML table with `read_section` and document them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gongshi.crypto.keyfile import read_file
from gongshi.network.backoff import BackoffPolicy
from gongshi.network.framing import FRAME_HEADER_BYTES
from gongshi.network.handshake import PEER_ROLES
from gongshi.network.messages import (
    BODY_BYTES_MAX,
    ENVELOPE_OVERHEAD_BYTES_MAX,
    GENESIS_HASH_BYTES_MAX,
)
from gongshi.network.queues import LaneLimits
from gongshi.node.config import DEFAULT_HOST, DEFAULT_P2P_PORT, NodeConfig
from gongshi.node.config_fields import HostPort, option
from gongshi.pki.errors import ConfigFieldError
from gongshi.pki.validation import (
    NO_REVOCATIONS,
    RevocationList,
    TrustStore,
    validate_certificate,
)

MIB = 1 << 20
FRAME_BYTES_MAX_LIMIT = BODY_BYTES_MAX + ENVELOPE_OVERHEAD_BYTES_MAX
FRAMES_MAX = 1_000_000
QUEUE_BYTES_MAX = 4 << 30


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkConfig:
    """Limits and timings of the peer transport; every option has a default."""

    listen_address: HostPort = field(
        default=HostPort(host=DEFAULT_HOST, port=DEFAULT_P2P_PORT),
        metadata=option("host:port to accept peer connections on (port 0: any free port)."),
    )
    peers_max: int = field(
        default=64, metadata=option("Most peer connections at once.", minimum=1, maximum=1024)
    )
    frame_bytes_max: int = field(
        default=16 * MIB,
        metadata=option(
            "Largest frame payload in bytes; a larger frame closes the connection.",
            minimum=1024,
            maximum=FRAME_BYTES_MAX_LIMIT,
        ),
    )
    handshake_timeout_ms: int = field(
        default=5000,
        metadata=option("Time for TCP connect, TLS and hello, ms.", minimum=1, maximum=600_000),
    )
    close_timeout_ms: int = field(
        default=2000,
        metadata=option(
            "Time for a TLS close before the socket is aborted, ms.", minimum=1, maximum=60_000
        ),
    )
    reconnect_delay_min_ms: int = field(
        default=200,
        metadata=option(
            "First reconnect delay, ms (doubles per failure).", minimum=1, maximum=600_000
        ),
    )
    reconnect_delay_max_ms: int = field(
        default=10_000,
        metadata=option(
            "Cap of the reconnect delay, ms (≥ the minimum).", minimum=1, maximum=3_600_000
        ),
    )
    gossip_queue_frames_max: int = field(
        default=1024,
        metadata=option("Per peer: gossip frames queued to send.", minimum=1, maximum=FRAMES_MAX),
    )
    gossip_queue_bytes_max: int = field(
        default=16 * MIB,
        metadata=option(
            "Per peer: gossip bytes queued to send.", minimum=1024, maximum=QUEUE_BYTES_MAX
        ),
    )
    reliable_queue_frames_max: int = field(
        default=4096,
        metadata=option(
            "Per peer: consensus/sync frames queued to send.", minimum=1, maximum=FRAMES_MAX
        ),
    )
    reliable_queue_bytes_max: int = field(
        default=64 * MIB,
        metadata=option(
            "Per peer: consensus/sync bytes queued to send.",
            minimum=1024,
            maximum=QUEUE_BYTES_MAX,
        ),
    )
    inbound_queue_frames_max: int = field(
        default=4096,
        metadata=option(
            "Received messages waiting for the node, all peers.", minimum=1, maximum=FRAMES_MAX
        ),
    )
    inbound_queue_bytes_max: int = field(
        default=128 * MIB,
        metadata=option(
            "Received bytes waiting for the node, all peers.",
            minimum=1024,
            maximum=QUEUE_BYTES_MAX,
        ),
    )
    genesis_hash: bytes = field(
        default=b"",
        metadata=option("Hex genesis hash peers must announce (empty: not checked)."),
    )

    def __post_init__(self) -> None:
        # Relations between options; each option's own range is checked by its reader.
        if not 1024 <= self.frame_bytes_max <= FRAME_BYTES_MAX_LIMIT:
            raise ConfigFieldError("frame_bytes_max", f"must be 1024..{FRAME_BYTES_MAX_LIMIT}")
        if self.reconnect_delay_min_ms < 1:
            raise ConfigFieldError("reconnect_delay_min_ms", "must be at least 1")
        if self.reconnect_delay_max_ms < self.reconnect_delay_min_ms:
            raise ConfigFieldError("reconnect_delay_max_ms", "is below reconnect_delay_min_ms")
        # Invariant: any frame we accept to send or receive fits an empty queue.
        if self.reliable_queue_bytes_max < self.frame_bytes_max + FRAME_HEADER_BYTES:
            raise ConfigFieldError("reliable_queue_bytes_max", "is below frame_bytes_max + 4")
        if self.inbound_queue_bytes_max < self.frame_bytes_max:
            raise ConfigFieldError("inbound_queue_bytes_max", "is below frame_bytes_max")
        if len(self.genesis_hash) > GENESIS_HASH_BYTES_MAX:
            raise ConfigFieldError("genesis_hash", f"is longer than {GENESIS_HASH_BYTES_MAX} bytes")

    @property
    def backoff(self) -> BackoffPolicy:
        return BackoffPolicy(
            delay_min_ms=self.reconnect_delay_min_ms, delay_max_ms=self.reconnect_delay_max_ms
        )

    @property
    def gossip_limits(self) -> LaneLimits:
        return LaneLimits(
            frames_max=self.gossip_queue_frames_max, bytes_max=self.gossip_queue_bytes_max
        )

    @property
    def reliable_limits(self) -> LaneLimits:
        return LaneLimits(
            frames_max=self.reliable_queue_frames_max, bytes_max=self.reliable_queue_bytes_max
        )


def network_config_from_node(node: NodeConfig, *, genesis_hash: bytes = b"") -> NetworkConfig:
    """The network options the node configuration holds today, other options defaulted."""
    return NetworkConfig(
        listen_address=node.p2p.listen_address,
        peers_max=node.p2p.peers_max,
        genesis_hash=genesis_hash or node.node.genesis_hash,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalIdentity:
    """This node in TLS: its certificate and TLS key files, and the chain key they bind."""

    public_key: bytes
    name: str
    certificate_file: Path
    key_file: Path

    @classmethod
    def load(
        cls,
        node: NodeConfig,
        trust: TrustStore,
        *,
        now_ms: int,
        revocations: RevocationList = NO_REVOCATIONS,
    ) -> LocalIdentity:
        """Read and validate our own node certificate (a node must not start with a
        certificate its peers would refuse)."""
        identity = validate_certificate(
            read_file(node.identity.certificate_file),
            trust=trust,
            now_ms=now_ms,
            revocations=revocations,
            roles=PEER_ROLES,
        )
        return cls(
            public_key=identity.public_key,
            name=node.node.name,
            certificate_file=node.identity.certificate_file,
            key_file=node.tls_key_file,
        )
