"""Fixtures for API tests: a real chain (ledger, mempool, execution, validator-signed
certificates) behind a real ApiServer on loopback, and helpers to talk to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gongshi.api.limits import ApiLimits
from gongshi.api.testing import LocalChain, ServedChain
from gongshi.codec import Transaction, encode
from gongshi.crypto import PrivateKey

Rpc = Callable[..., Any]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[LocalChain]:
    local = LocalChain.create(tmp_path, organisations=4)
    yield local


@pytest.fixture
def limits() -> ApiLimits:
    return ApiLimits(batch_max=5, request_bytes_max=64 * 1024, subscriptions_per_connection_max=3)


@pytest.fixture
def served(chain: LocalChain, limits: ApiLimits) -> Iterator[ServedChain]:
    server = ServedChain(chain, limits=limits).start()
    yield server
    server.stop()


@pytest.fixture
def client_key(chain: LocalChain) -> PrivateKey:
    return chain.suite.load_private_key(chain.network_dir / "orgs/org1/client/client.key")


@pytest.fixture
def make_tx(chain: LocalChain, client_key: PrivateKey) -> Callable[..., Transaction]:
    def make(
        nonce: int,
        doc: bytes = b"",
        *,
        key: PrivateKey | None = None,
        method: str = "register",
        args: Any = None,
        chain_id: str | None = None,
    ) -> Transaction:
        signer = key or client_key
        if args is None:
            args = {"doc_hash": doc.ljust(32, b"\0")[:32], "metadata": {"name": "a.pdf"}}
        return Transaction(
            chain_id=chain_id or chain.genesis.params.chain_id,
            nonce=nonce,
            sender=signer.public_key_bytes(),
            target="notary",
            method=method,
            args=args,
            gas_limit=1_000_000,
            expiry_height=1000,
        ).sign(signer)

    return make


@pytest.fixture
def http(served: ServedChain) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client


@pytest.fixture
def rpc_raw(http: httpx.Client) -> Rpc:
    """The whole JSON-RPC response object of one call."""

    def call(method: str, params: Any = None, request_id: Any = 1) -> Any:
        document: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            document["params"] = params
        response = http.post("/", json=document)
        assert response.status_code == 200
        return response.json()

    return call


@pytest.fixture
def rpc(rpc_raw: Rpc) -> Rpc:
    """The result of one call; fails the test on an error response."""

    def call(method: str, params: Any = None) -> Any:
        answer = rpc_raw(method, params)
        assert "error" not in answer, answer
        return answer["result"]

    return call


@pytest.fixture
def send(rpc: Rpc) -> Callable[[Transaction], str]:
    def submit(tx: Transaction) -> str:
        result = rpc("tx_send", {"tx": "0x" + encode(tx).hex()})
        return str(result["tx_hash"])

    return submit
