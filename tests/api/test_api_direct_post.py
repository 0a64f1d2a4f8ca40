"""POST / bypasses Starlette's routing (`server._DirectPost`): the same answers as through
the router, other paths and methods still routed, and a handler failure answered as
Starlette's error middleware did."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from gongshi.api.server import ApiServer
from gongshi.api.testing import LocalChain, ServedChain
from gongshi.codec import encode

from .conftest import Rpc  # type: ignore[import-not-found]


def _server(chain: LocalChain) -> ApiServer:
    return ServedChain(chain).server  # not started: its app is driven in process


async def _exchange(app: Any, method: str, path: str, body: bytes = b"") -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.request(method, path, content=body)


def _requests(make_tx: Any) -> list[bytes]:
    """Requests whose answers do not depend on which server admitted what first (both
    servers share the chain's pool): reads and refusals."""
    tx = make_tx(0, b"direct")
    return [
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chain_info"}).encode(),
        json.dumps(
            [
                {"jsonrpc": "2.0", "id": 2, "method": "tx_send", "params": {"tx": "0x00"}},
                {"jsonrpc": "2.0", "id": 3, "method": "tx_send", "params": [encode(tx).hex()]},
                {
                    "jsonrpc": "2.0",
                    "id": 4,
                    "method": "account_nonce",
                    "params": ["0x" + "11" * 20],
                },
                {"jsonrpc": "2.0", "method": "chain_info"},
            ]
        ).encode(),
        b'{"jsonrpc": "2.0", "id": 4, "method": "nope"}',
        b"{not json",
        json.dumps({"jsonrpc": "2.0", "method": "chain_info"}).encode(),  # notification: 204
        b"x" * ((1 << 20) + 1),  # over the default request_bytes_max: 413
    ]


def test_post_answers_equal_the_routed_answers(chain: LocalChain, make_tx: Any) -> None:
    direct, routed = _server(chain), _server(chain)

    async def both() -> list[tuple[httpx.Response, httpx.Response]]:
        return [
            (
                await _exchange(direct.app(), "POST", "/", body),
                await _exchange(routed._routed_app(), "POST", "/", body),
            )
            for body in _requests(make_tx)
        ]

    pairs = asyncio.run(both())
    statuses = [answer.status_code for answer, _ in pairs]
    assert statuses == [200, 200, 200, 200, 204, 413]
    for answer, expected in pairs:
        assert answer.status_code == expected.status_code
        assert answer.headers.multi_items() == expected.headers.multi_items()
        assert answer.content == expected.content


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/", 405), ("GET", "/openrpc.json", 200), ("POST", "/other", 404)],
)
def test_other_requests_go_through_the_router(
    chain: LocalChain, method: str, path: str, status: int
) -> None:
    answer = asyncio.run(_exchange(_server(chain).app(), method, path))
    assert answer.status_code == status


def test_a_failing_handler_gets_a_plain_500_and_the_error_propagates(
    chain: LocalChain,
) -> None:
    server = _server(chain)

    async def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    server._http = broken  # type: ignore[method-assign]
    answer = asyncio.run(_exchange(server.app(), "POST", "/", b"{}"))
    assert (answer.status_code, answer.text) == (500, "Internal Server Error")
    assert answer.headers["content-type"].startswith("text/plain")

    async def raising() -> None:
        transport = httpx.ASGITransport(app=server.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            await client.post("/", content=b"{}")

    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(raising())


def test_served_post_still_answers(served: ServedChain, rpc_raw: Rpc) -> None:
    answer = rpc_raw("chain_info")
    assert answer["result"]["chain_id"] == served.chain.genesis.params.chain_id
