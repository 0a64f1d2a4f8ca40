"""Counters of the peer network, for metrics (Prometheus counters, monotonic)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(slots=True, kw_only=True)
class NetworkCounters:
    """Totals since start. The network's one mutable record: it only ever adds; readers get
    a copy from `snapshot`."""

    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0  # payload and header bytes of frames received
    bytes_out: int = 0
    connects: int = 0  # connections that completed the handshake
    disconnects: int = 0
    handshake_failures: int = 0  # TLS, certificate, allowed set, hello or timeout
    refused: int = 0  # closed before the handshake: partitioned, peer held, too many peers
    oversized_frames: int = 0
    malformed_frames: int = 0
    gossip_dropped: int = 0  # gossip frames discarded from full outbound queues
    inbound_dropped: int = 0  # gossip received while the inbound queue was full
    unsent: int = 0  # send() to a peer that is not connected
    slow_peer_closes: int = 0  # connections closed because their reliable queue was full
    dial_failures: int = 0  # TCP connect failures (refused, unreachable, timeout)

    def snapshot(self) -> NetworkCounters:
        return dataclasses.replace(self)

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueGauges:
    """What is waiting right now (Prometheus gauges): received messages not yet taken by the
    node, and frames queued to send, over all peers."""

    inbound_messages: int
    inbound_bytes: int
    outbound_frames: int
    outbound_bytes: int
