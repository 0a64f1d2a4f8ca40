"""The synchronous client against a real server: everything it returns is verified."""

from __future__ import annotations

import pytest

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.codec import ReceiptStatus
from gongshi.sdk import Client, RemoteError, TransactionFailed
from gongshi.sdk.notary import NAMESPACE, record_key


def doc(n: int) -> bytes:
    return n.to_bytes(4, "big").rjust(32, b"\x5a")


def test_connect_uses_network_directory_defaults(chain: LocalChain, served: ServedChain) -> None:
    with Client.connect(chain.network_dir, url=served.url) as client:
        assert client.identity is not None and client.identity.organisation == "org1"
        assert client.identity.role == "client"
        assert client.chain_info()["chain_id"] == client.network.chain_id
    with Client.connect(chain.network_dir, url=served.url, organisation=None) as reader:
        assert reader.identity is None
        assert reader.block(0).block.height == 0


def test_notary_register_returns_a_verified_receipt(client: Client) -> None:
    receipt = client.notary_register(doc(1), {"name": "contract.pdf"}, "https://example.org/c")
    assert receipt.receipt.status is ReceiptStatus.SUCCESS
    assert receipt.block.height >= 1
    assert receipt.block.signers == receipt.block.validators == 4
    proven = client.notary_get(doc(1))
    assert proven.record is not None
    assert proven.record.owner == client.identity.address  # type: ignore[union-attr]
    assert proven.record.metadata == {"name": "contract.pdf"}
    assert proven.record.locator == "https://example.org/c"
    assert proven.record.tx_hash == receipt.tx_hash
    assert proven.state.block.signers == 4
    assert client.notary_get(doc(2)).record is None  # proven absent
    assert client.notary_list()["result"]["total"] == 1


def test_duplicate_registration_is_a_failed_transaction(client: Client) -> None:
    client.notary_register(doc(3))
    with pytest.raises(TransactionFailed, match="FAILED"):
        client.notary_register(doc(3))
    failed = client.execute("notary", "register", {"doc_hash": doc(3), "metadata": {}}, check=False)
    assert (
        failed.receipt.status is ReceiptStatus.FAILED
        and "already registered" in failed.receipt.error
    )


def test_reads_are_verified(client: Client) -> None:
    receipt = client.notary_register(doc(4))
    tx = client.transaction(receipt.tx_hash)
    assert tx is not None and tx.transaction.target == "notary"
    assert tx.block.hash == receipt.block.hash
    block = client.block(receipt.block.height, full=True)
    assert receipt.tx_hash in block.tx_hashes
    assert block.transactions is not None
    assert client.block(receipt.block.hash).block.height == receipt.block.height
    state = client.state(NAMESPACE, record_key(doc(4)))
    assert state.value is not None
    assert client.transaction(b"\x01" * 32) is None
    assert client.receipt(b"\x01" * 32) is None
    assert client.nonce() == 1
    events = client.events("notary", "Registered", page_size=1)
    assert [e["fields"]["doc_hash"] for e in events] == ["0x" + doc(4).hex()]


def test_a_burst_beyond_the_nonce_window_is_sent_in_order(client: Client) -> None:
    # 100 transactions without waiting: the local nonce count runs ahead of the chain, and
    # the mempool's window of 64 pending nonces makes `send` wait for commits.
    hashes = [
        client.submit("notary", "register", {"doc_hash": doc(100 + n), "metadata": {}})
        for n in range(100)
    ]
    receipts = [client.wait_receipt(tx_hash) for tx_hash in hashes]
    assert all(r.receipt.status is ReceiptStatus.SUCCESS for r in receipts)
    assert client.nonce() == 100


def test_nonce_too_low_resyncs(client: Client) -> None:
    client.notary_register(doc(7))
    client.core.nonces.forget(client.identity.address)  # type: ignore[union-attr]
    client.core.nonces.start(client.identity.address, 0)  # type: ignore[union-attr]
    receipt = client.notary_register(doc(8))  # nonce 0 is refused, the client asks again
    assert receipt.receipt.status is ReceiptStatus.SUCCESS
    assert client.nonce() == 2


def test_remote_errors_carry_codes(client: Client) -> None:
    with pytest.raises(RemoteError) as raised:
        client.block(10_000)
    assert raised.value.code == 1430 and raised.value.name == "BlockNotFound"
