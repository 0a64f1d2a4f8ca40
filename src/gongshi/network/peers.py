"""Who may connect, and who dials whom (pure).

Peers are identified by their chain (validator) public key, never by address: an address only
tells a dialler where to find a key. Exactly one side of each pair dials, decided from data
both sides share (the allowed set, normally taken from genesis), so each pair keeps one
connection: when both sides have an address the smaller key dials; a side without an address
(a node behind NAT) dials a side with one; two sides without addresses never meet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gongshi.errors import ConfigError
from gongshi.node.config_fields import HostPort
from gongshi.node.genesis import Genesis

PEERS_MAX = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerInfo:
    """A node allowed to connect: its chain public key, a name for logs, where to dial it."""

    public_key: bytes
    name: str
    address: HostPort | None  # None: not dialable; it dials us


def peers_from_genesis(genesis: Genesis) -> tuple[PeerInfo, ...]:
    """The genesis validators as peers (observers join the set through governance)."""
    return tuple(
        PeerInfo(public_key=v.public_key, name=v.name, address=v.p2p_address)
        for v in genesis.validators
    )


def index_peers(peers: Iterable[PeerInfo]) -> dict[bytes, PeerInfo]:
    """The peers by public key; ConfigError when a key repeats or the set is too large."""
    indexed: dict[bytes, PeerInfo] = {}
    for peer in peers:
        if peer.public_key in indexed:
            raise ConfigError(f"peer {peer.name} is listed twice (same public key)")
        indexed[peer.public_key] = peer
        if len(indexed) > PEERS_MAX:
            raise ConfigError(f"more than {PEERS_MAX} allowed peers")
    return indexed


def is_reachable(local_key: bytes, peers: Mapping[bytes, PeerInfo]) -> bool:
    """Whether others can dial us: we are in the allowed set with an address."""
    local = peers.get(local_key)
    return local is not None and local.address is not None


def should_dial(local_key: bytes, local_reachable: bool, peer: PeerInfo) -> bool:
    """Whether we dial `peer` (the peer decides the opposite from the same data)."""
    if peer.public_key == local_key or peer.address is None:
        return False
    return not local_reachable or local_key < peer.public_key


def dial_targets(local_key: bytes, peers: Mapping[bytes, PeerInfo]) -> frozenset[bytes]:
    reachable = is_reachable(local_key, peers)
    return frozenset(key for key, peer in peers.items() if should_dial(local_key, reachable, peer))


def keep_new_connection(*, existing_preferred: bool, new_preferred: bool) -> bool:
    """Two live connections to one peer (a restart, or allowed sets that briefly disagree):
    the one in the dial rule's direction wins, and between equals the newer one (the older is
    most likely the dead half of a restarted peer). Both sides reach the same verdict."""
    return new_preferred or not existing_preferred
