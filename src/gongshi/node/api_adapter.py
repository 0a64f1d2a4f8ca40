"""The node's side of the API boundary: start the JSON-RPC server, publish commits to it.

The node builds `gongshi.api`'s `ChainService` (over its ledger and mempool), `CommitHub`
and `ApiServer` (in the node's loop; the node's Prometheus registry is mounted at `/metrics`
when the API is open, and refused there when it serves members only).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from prometheus_client import make_asgi_app

from gongshi.api.access import AccessMode, ledger_authenticator
from gongshi.api.hub import CommitHub
from gongshi.api.limits import ApiLimits
from gongshi.api.server import ApiServer
from gongshi.api.service import ChainContext, ChainService
from gongshi.codec import Block, Receipt
from gongshi.node.genesis import genesis_hash

if TYPE_CHECKING:
    from gongshi.node.node import Node

logger = logging.getLogger(__name__)


class ApiHandle(Protocol):
    @property
    def port(self) -> int: ...

    def publish(self, block: Block, receipts: tuple[Receipt, ...]) -> None: ...

    async def stop(self) -> None: ...


async def start_api(node: Node) -> ApiHandle:
    """Start the API on the node's API address."""
    network = node.network
    assert network is not None and node.ledger is not None
    config = node.config.api
    limits = ApiLimits(
        request_bytes_max=config.request_bytes_max,
        subscriptions_max=max(1, config.subscriptions_max),
    )
    service = ChainService(
        ledger=node.ledger,
        pool=node.mempool,
        context=ChainContext(
            genesis=node.genesis,
            suite=node.chain.suite,
            node_name=node.name,
            peers=lambda: len(network.connected_peers()),
        ),
    )
    authenticator = None
    if config.access == AccessMode.MEMBERS.value:
        authenticator = ledger_authenticator(
            node.ledger,
            node.chain.suite,
            chain_id=node.genesis.params.chain_id,
            genesis_hash=genesis_hash(node.genesis),
        )
    server = ApiServer(
        service,
        CommitHub(service, limits),
        config.listen_address.host,
        config.listen_address.port,
        limits,
        metrics_app=make_asgi_app(node.metrics.registry),
        fatal=node.fail,
        authenticator=authenticator,
    )
    await server.start()
    return server
