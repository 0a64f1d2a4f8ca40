"""The asynchronous client: calls, receipts awaited by subscription, block and event streams."""

from __future__ import annotations

import asyncio

import pytest

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.codec import ReceiptStatus
from gongshi.sdk import AsyncClient, Identity, NetworkInfo, NodeUnreachable, ReceiptTimeout


def doc(n: int) -> bytes:
    return bytes([0xA0, n]).ljust(32, b"\x01")


def _client(chain: LocalChain, served: ServedChain) -> AsyncClient:
    network = NetworkInfo.load(chain.network_dir)
    identity = Identity.load(chain.network_dir, "org2", "client", network=network)
    return AsyncClient(served.url, network, identity)


def test_register_and_read_back(chain: LocalChain, served: ServedChain) -> None:
    async def scenario() -> None:
        async with _client(chain, served) as client:
            receipt = await client.notary_register(doc(1), {"kind": "invoice"})
            assert receipt.receipt.status is ReceiptStatus.SUCCESS
            assert receipt.block.signers == 4
            proven = await client.notary_get(doc(1))
            assert proven.record is not None and proven.record.metadata == {"kind": "invoice"}
            again = await client.receipt(receipt.tx_hash)
            assert again is not None and again.block.hash == receipt.block.hash
            assert await client.nonce() == 1
            assert (await client.block(receipt.block.height)).block.height == receipt.block.height

    asyncio.run(scenario())


def test_block_and_event_streams(chain: LocalChain, served: ServedChain) -> None:
    async def scenario() -> None:
        async with _client(chain, served) as client:
            blocks = client.blocks()
            events = client.events("notary", "Registered")
            first_block = asyncio.ensure_future(anext(blocks))
            first_event = asyncio.ensure_future(anext(events))
            await asyncio.sleep(0.3)  # both subscriptions are in place
            await client.submit("notary", "register", {"doc_hash": doc(2), "metadata": {}})
            block = await asyncio.wait_for(first_block, 10)
            event = await asyncio.wait_for(first_event, 10)
            assert block.block.signers == 4 and len(block.tx_hashes) == 1
            assert event["fields"]["doc_hash"] == "0x" + doc(2).hex()
            await blocks.aclose()
            await events.aclose()

    asyncio.run(scenario())


def test_wait_receipt_times_out(chain: LocalChain, served: ServedChain) -> None:
    async def scenario() -> None:
        async with _client(chain, served) as client:
            with pytest.raises(ReceiptTimeout):
                await client.wait_receipt(b"\x03" * 32, timeout_s=0.3)

    asyncio.run(scenario())


def test_unreachable_node(chain: LocalChain) -> None:
    async def scenario() -> None:
        network = NetworkInfo.load(chain.network_dir)
        async with AsyncClient("http://127.0.0.1:9", network) as client:
            with pytest.raises(NodeUnreachable):
                await client.chain_info()
            with pytest.raises(NodeUnreachable):
                await client.wait_receipt(b"\x03" * 32, timeout_s=5)

    asyncio.run(scenario())
