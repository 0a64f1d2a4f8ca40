"""The node's side of the API boundary: start the JSON-RPC server, publish commits to it.

The node builds `gongshi.api`'s `ChainService` (over its ledger and mempool), `CommitHub`
and `ApiServer` (in the node's loop, with the node's Prometheus registry mounted at
`/metrics`). If the API package cannot be imported (a stripped-down install), the node serves
a minimal fallback instead: JSON-RPC 2.0 over HTTP POST with `chain_info` and `tx_send`
(`{"tx": "0x<hex>"}`), enough to submit transactions.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Protocol

from gongshi.codec import Block, Receipt
from gongshi.errors import GongshiError
from gongshi.node.http import HttpServer, Request, Response

if TYPE_CHECKING:
    from gongshi.node.node import Node

logger = logging.getLogger(__name__)

JSON = "application/json"
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


class ApiHandle(Protocol):
    @property
    def port(self) -> int: ...

    def publish(self, block: Block, receipts: tuple[Receipt, ...]) -> None: ...

    async def stop(self) -> None: ...


async def start_api(node: Node) -> ApiHandle:
    """Start the API on the node's API address."""
    try:
        from gongshi.api.hub import CommitHub
        from gongshi.api.limits import ApiLimits
        from gongshi.api.server import ApiServer
        from gongshi.api.service import ChainContext, ChainService
    except Exception as error:  # an install without the API (or a broken one): still run
        logger.warning("api package unavailable, serving the fallback api reason=%r", error)
        fallback = FallbackApi(node)
        await fallback.start()
        return fallback
    from prometheus_client import make_asgi_app

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
    server = ApiServer(
        service,
        CommitHub(service, limits),
        config.listen_address.host,
        config.listen_address.port,
        limits,
        metrics_app=make_asgi_app(node.metrics.registry),
        fatal=node.fail,
    )
    await server.start()
    return server


def _error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


class FallbackApi:
    """`chain_info` and `tx_send` over JSON-RPC 2.0 (HTTP POST /)."""

    def __init__(self, node: Node) -> None:
        self._node = node
        api = node.config.api
        self._server = HttpServer(
            self._handle,
            api.listen_address.host,
            api.listen_address.port,
            body_bytes_max=api.request_bytes_max,
        )
        self.port = 0

    async def start(self) -> None:
        await self._server.start()
        self.port = self._server.port
        logger.info("fallback api listening port=%d", self.port)

    async def stop(self) -> None:
        await self._server.stop()

    def publish(self, block: Block, receipts: tuple[Receipt, ...]) -> None:
        """Nothing subscribes to the fallback."""

    async def _handle(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status="405 Method Not Allowed", body=b"POST JSON-RPC to /\n")
        try:
            call = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return self._json(_error(None, PARSE_ERROR, "parse error"))
        if not isinstance(call, dict) or not isinstance(call.get("method"), str):
            return self._json(_error(None, INVALID_REQUEST, "invalid request"))
        request_id = call.get("id")
        params = call.get("params") or {}
        if not isinstance(params, dict):
            return self._json(_error(request_id, INVALID_PARAMS, "params must be an object"))
        method = call["method"]
        try:
            if method == "chain_info":
                result = self._chain_info()
            elif method == "tx_send":
                result = self._tx_send(params)
            else:
                return self._json(_error(request_id, METHOD_NOT_FOUND, f"no method {method}"))
        except GongshiError as error:
            data = {"name": type(error).__name__, "code": error.code}
            return self._json(_error(request_id, -error.code, error.message, data))
        return self._json({"jsonrpc": "2.0", "id": request_id, "result": result})

    def _json(self, document: dict[str, Any]) -> Response:
        return Response(content_type=JSON, body=json.dumps(document).encode())

    def _chain_info(self) -> dict[str, Any]:
        node = self._node
        ledger = node.chain.ledger
        return {
            "chain_id": node.genesis.params.chain_id,
            "node": node.name,
            "height": ledger.committed_height,
            "head_hash": "0x" + ledger.head_hash.hex(),
            "mempool_size": len(node.mempool),
        }

    def _tx_send(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("tx")
        if not isinstance(raw, str) or not raw.startswith("0x"):
            raise _BadParams("tx must be 0x-prefixed hex")
        try:
            data = bytes.fromhex(raw[2:])
        except ValueError:
            raise _BadParams("tx must be 0x-prefixed hex") from None
        admitted = self._node.mempool.admit(data)
        return {"tx_hash": "0x" + admitted.tx_hash.hex(), "ready": admitted.ready}


class _BadParams(GongshiError):
    """Raised when a fallback RPC call has parameters of the wrong form."""

    code = 1909
