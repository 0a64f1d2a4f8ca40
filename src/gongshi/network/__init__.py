"""The peer network: mutual-TLS connections between consensus nodes, framed envelopes.

See docs/network.md. The node builds a `Network` and drives it; everything else here is the
pure parts it is made of.
"""

from gongshi.network.config import LocalIdentity, NetworkConfig, network_config_from_node
from gongshi.network.counters import NetworkCounters, QueueGauges
from gongshi.network.inbound import InboundMessage
from gongshi.network.messages import LANE_OF_KIND, Envelope, Hello, Lane, MessageKind
from gongshi.network.network import Network, OnMessage
from gongshi.network.peers import PeerInfo, peers_from_genesis

__all__ = [
    "LANE_OF_KIND",
    "Envelope",
    "Hello",
    "InboundMessage",
    "Lane",
    "LocalIdentity",
    "MessageKind",
    "Network",
    "NetworkConfig",
    "NetworkCounters",
    "OnMessage",
    "PeerInfo",
    "QueueGauges",
    "network_config_from_node",
    "peers_from_genesis",
]
