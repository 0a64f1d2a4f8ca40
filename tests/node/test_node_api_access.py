"""The node's own wiring of API access control (`node/api_adapter.py`): a one-node chain run
in-process with `[api] access = "members"` authenticates requests against its ledger's
members (HTTP, WebSocket handshake, the SDK with and without an identity) and withholds
`/metrics` on the API address; with `access = "open"` unsigned reads work. The node stops
without leaking a socket (ResourceWarnings and unraisable-exception warnings fail these
tests)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from gongshi.api.access import AUTH_HEADER, auth_header
from gongshi.codec import ReceiptStatus
from gongshi.node.config import NodeConfig, load_node_config
from gongshi.node.config_fields import HostPort
from gongshi.node.genesis import genesis_hash
from gongshi.node.localnet import prepare_network
from gongshi.node.node import Node
from gongshi.sdk import AsyncClient
from gongshi.sdk.errors import RemoteError

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

TIMEOUT_S = 30.0
HOST = "127.0.0.1"


def one_node(tmp_path: Path, access: str) -> tuple[Path, NodeConfig]:
    """A one-node network (as `gongshi up` makes it) served with `access`, on free ports."""
    directory = tmp_path / "net"
    prepare_network(directory, nodes=1, suite="intl", base_port=44000)
    config = load_node_config(directory / "nodes" / "node1" / "config.toml")
    anywhere = HostPort(host=HOST, port=0)
    config = dataclasses.replace(
        config,
        p2p=dataclasses.replace(config.p2p, listen_address=anywhere),
        api=dataclasses.replace(config.api, enabled=True, listen_address=anywhere, access=access),
        metrics=dataclasses.replace(config.metrics, enabled=True, listen_address=anywhere),
    )
    return directory, config


def refused(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2.0)
        return probe.connect_ex((HOST, port)) != 0


def call(method: str, params: Any = None) -> dict[str, Any]:
    document: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        document["params"] = params
    return document


def error_code(response: httpx.Response) -> int:
    return int(response.json()["error"]["data"]["code"])


def signed_by(node: Node, directory: Path, role: str) -> dict[str, str]:
    """The `X-Gongshi-Auth` header of org1's `role` for this node's chain, signed now."""
    key = node.chain.suite.load_private_key(directory / "orgs" / "org1" / role / f"{role}.key")
    header = auth_header(
        key,
        chain_id=node.genesis.params.chain_id,
        genesis_hash=genesis_hash(node.genesis),
        timestamp_ms=time.time_ns() // 1_000_000,
    )
    return {AUTH_HEADER: header}


async def until_height(node: Node, height: int) -> None:
    async with asyncio.timeout(TIMEOUT_S):
        while (node.chain.committed_height or 0) < height:
            await asyncio.sleep(0.05)


def run_node(config: NodeConfig, scenario: Any) -> tuple[int, int]:
    """Start a node, run `scenario(node, api_url, metrics_url)`, stop the node; the ports."""
    node = Node(config)

    async def main() -> tuple[int, int]:
        await node.start()
        try:
            assert node.api is not None and node.metrics_server is not None
            ports = node.api.port, node.metrics_server.port
            await until_height(node, 1)
            await scenario(node, f"http://{HOST}:{ports[0]}", f"http://{HOST}:{ports[1]}")
        finally:
            await node.stop()
        return ports

    return asyncio.run(main())


def test_a_members_node_authenticates_against_its_ledger(tmp_path: Path) -> None:
    directory, config = one_node(tmp_path, "members")

    async def scenario(node: Node, api_url: str, metrics_url: str) -> None:
        async with httpx.AsyncClient(base_url=api_url, timeout=TIMEOUT_S) as http:
            info = await http.post("/", json=call("chain_info"))
            assert info.status_code == 200
            assert info.json()["result"]["chain_id"] == node.genesis.params.chain_id
            unsigned = await http.post("/", json=call("block_get", [0]))
            assert unsigned.status_code == 401 and error_code(unsigned) == 1967
            assert unsigned.headers["www-authenticate"].startswith(AUTH_HEADER)
            signed = await http.post(
                "/", json=call("block_get", [0]), headers=signed_by(node, directory, "client")
            )
            assert signed.status_code == 200 and signed.json()["result"]["height"] == 0
            denied = await http.post(
                "/", json=call("node_status"), headers=signed_by(node, directory, "client")
            )
            assert denied.status_code == 403 and error_code(denied) == 1969
            admin = await http.post(
                "/", json=call("node_status"), headers=signed_by(node, directory, "admin")
            )
            assert admin.status_code == 200 and admin.json()["result"]["node"] == "node1"
            stranger = node.chain.suite.generate_private_key()
            unknown = await http.post(
                "/",
                json=call("block_get", [0]),
                headers={
                    AUTH_HEADER: auth_header(
                        stranger,
                        chain_id=node.genesis.params.chain_id,
                        genesis_hash=genesis_hash(node.genesis),
                        timestamp_ms=time.time_ns() // 1_000_000,
                    )
                },
            )
            assert unknown.status_code == 401 and error_code(unknown) == 1968
            assert "unknown member" in unknown.json()["error"]["message"]

        ws_url = api_url.replace("http://", "ws://") + "/ws"
        with pytest.raises(InvalidStatus) as handshake:
            async with connect(ws_url):
                pass
        assert handshake.value.response.status_code == 401
        assert json.loads(handshake.value.response.body)["error"]["data"]["code"] == 1967

        # The SDK signs with its identity: verified reads, a notarization sent and its
        # receipt delivered over a (signed) WebSocket subscription.
        async with AsyncClient.connect(directory, url=api_url, organisation="org1") as member:
            head = await member.block(0)
            assert head.block.height == 0
            doc_hash = node.chain.suite.hash(b"node api access")
            receipt = await member.notary_register(doc_hash, {"name": "a.pdf"}, timeout_s=TIMEOUT_S)
            assert receipt.receipt.status is ReceiptStatus.SUCCESS
            proven = await member.notary_get(doc_hash)
            assert proven.record is not None and proven.record.doc_hash == doc_hash
        async with AsyncClient.connect(directory, url=api_url, organisation=None) as anonymous:
            assert (await anonymous.chain_info())["chain_id"] == node.genesis.params.chain_id
            with pytest.raises(RemoteError) as needs_identity:
                await anonymous.block(0)
            assert needs_identity.value.code == 1967
            assert "give the client an identity" in needs_identity.value.message

        # Metrics stay on the metrics address; the API address does not serve them.
        async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=True) as http:
            withheld = await http.get(api_url + "/metrics/")
            assert withheld.status_code == 404 and "[metrics] address" in withheld.text
            scraped = await http.get(metrics_url + "/metrics")
            assert scraped.status_code == 200 and "gongshi_height" in scraped.text

    api_port, metrics_port = run_node(config, scenario)
    assert refused(api_port) and refused(metrics_port)


def test_an_open_node_answers_unsigned_reads(tmp_path: Path) -> None:
    directory, config = one_node(tmp_path, "open")

    async def scenario(node: Node, api_url: str, metrics_url: str) -> None:
        async with httpx.AsyncClient(base_url=api_url, timeout=TIMEOUT_S) as http:
            for method, params in (("block_get", [0]), ("node_status", None)):
                answer = await http.post("/", json=call(method, params))
                assert answer.status_code == 200 and "result" in answer.json(), method
            metrics = await http.get("/metrics/")
            assert metrics.status_code == 200 and "gongshi_height" in metrics.text
        ws_url = api_url.replace("http://", "ws://") + "/ws"
        async with connect(ws_url) as subscriber:
            await subscriber.send(json.dumps(call("subscribe_blocks")))
            assert "result" in json.loads(await subscriber.recv())
        async with AsyncClient.connect(directory, url=api_url, organisation=None) as anonymous:
            assert (await anonymous.block(0)).block.height == 0

    api_port, metrics_port = run_node(config, scenario)
    assert refused(api_port) and refused(metrics_port)
