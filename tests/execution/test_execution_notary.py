"""The notary contract: registration, duplicates, queries, paging, bounds."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.codec import ReceiptStatus
from gongshi.crypto import get_suite
from gongshi.execution import query
from gongshi.execution.builtin import default_registry
from gongshi.execution.errors import CallNotFound, InvalidArguments, ReadOnlyCall
from gongshi.execution.notary import LIST_LIMIT_MAX, METADATA_BYTES_MAX
from gongshi.execution.notary import query as notary_query

from .conftest import BLOCK_MS, Chain, notarize, signed  # type: ignore[import-not-found]


def doc(n: int) -> bytes:
    return hashlib.sha256(b"document %d" % n).digest()


def test_register_stores_the_record_and_emits_an_event(chain: Chain) -> None:
    alice = chain.key("alice")
    tx = signed(
        alice,
        0,
        args={"doc_hash": doc(1), "metadata": {"title": "deed"}, "locator": "s3://bucket/deed"},
    )
    receipt = chain.commit([tx]).receipts[0]
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    tx_hash = tx.hash(chain.suite)
    expected = {
        "doc_hash": doc(1),
        "owner": alice.address(),
        "sequence": 0,
        "height": 1,
        "tx_hash": tx_hash,
        "timestamp_ms": BLOCK_MS,
        "metadata": {"title": "deed"},
        "locator": "s3://bucket/deed",
    }
    assert dict(receipt.return_value) == {"owner": alice.address(), "sequence": 0}  # type: ignore[arg-type]
    [event] = receipt.events
    assert (event.contract, event.name) == ("notary", "Registered")
    assert event.fields["doc_hash"] == doc(1)  # type: ignore[index]
    stored = notary_query(chain.state, "get", {"doc_hash": doc(1)})
    assert dict(stored) == expected  # type: ignore[arg-type]


def test_duplicate_is_a_failed_receipt_naming_the_first_owner(chain: Chain) -> None:
    alice, bob = chain.key("alice"), chain.key("bob")
    chain.commit([notarize(alice, 0, doc(7))])
    chain.commit([notarize(alice, 1, b"other")])
    before = dict(chain.state)
    receipt = chain.commit([notarize(bob, 0, doc(7))]).receipts[0]
    assert receipt.status is ReceiptStatus.FAILED
    assert f"already registered by 0x{alice.address().hex()} at height 1" in receipt.error
    assert receipt.gas_used > 0  # the failed call still pays
    assert chain.state == before  # and writes nothing
    assert dict(notary_query(chain.state, "get", {"doc_hash": doc(7)}))["owner"] == (  # type: ignore[arg-type]
        alice.address()
    )


def test_duplicate_within_one_block(chain: Chain) -> None:
    alice = chain.key("alice")
    result = chain.commit([notarize(alice, 0, doc(1)), notarize(alice, 1, doc(1))])
    statuses = [receipt.status for receipt in result.receipts]
    assert statuses == [ReceiptStatus.SUCCESS, ReceiptStatus.FAILED]
    assert result.next_nonces == {alice.address(): 2}  # a failed call still uses its nonce


def test_get_of_an_unknown_hash_is_null(chain: Chain) -> None:
    assert notary_query(chain.state, "get", {"doc_hash": doc(99)}) is None


def _page(chain: Chain, owner: bytes, **args: Any) -> dict[str, Any]:
    return dict(notary_query(chain.state, "list", {"owner": owner, **args}))  # type: ignore[arg-type]


@settings(max_examples=15, deadline=None)
@given(count=st.integers(0, 12), limit=st.integers(1, 5))
def test_list_pages_through_every_record_in_order(count: int, limit: int) -> None:
    chain = Chain(suite=get_suite("intl"))
    alice, bob = chain.key("alice"), chain.key("bob")
    txs = [notarize(alice, n, doc(n)) for n in range(count)]
    txs.append(notarize(bob, 0, doc(1000)))
    chain.commit(txs)
    seen: list[bytes] = []
    start: int | None = 0
    pages = 0
    while start is not None:
        page = _page(chain, alice.address(), start=start, limit=limit)
        assert page["total"] == count
        assert len(page["records"]) <= limit
        seen.extend(record["doc_hash"] for record in page["records"])
        start = page["next"]
        pages += 1
        assert pages <= count + 1
    assert seen == [doc(n) for n in range(count)]
    assert _page(chain, bob.address())["total"] == 1


def test_list_reads_only_the_page(chain: Chain) -> None:
    """Paging costs gas per record on the page, not per record of the owner."""
    alice = chain.key("alice")
    chain.commit([notarize(alice, n, doc(n)) for n in range(30)])
    small = chain.commit(
        [signed(alice, 30, "notary", "list", {"owner": alice.address(), "start": 25, "limit": 2})]
    ).receipts[0]
    large = chain.commit(
        [signed(alice, 31, "notary", "list", {"owner": alice.address(), "start": 0, "limit": 20})]
    ).receipts[0]
    assert small.status is large.status is ReceiptStatus.SUCCESS
    assert len(small.return_value["records"]) == 2  # type: ignore[index]
    assert small.return_value["next"] == 27  # type: ignore[index]
    assert small.gas_used < large.gas_used


def test_list_limit_is_bounded(chain: Chain) -> None:
    alice = chain.key("alice")
    with pytest.raises(InvalidArguments, match="limit"):
        _page(chain, alice.address(), limit=LIST_LIMIT_MAX + 1)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"doc_hash": b"short", "metadata": {}}, "doc_hash must be 32 bytes"),
        ({"metadata": {}}, "doc_hash is required"),
        ({"doc_hash": b"\0" * 32, "metadata": "text"}, "metadata must be a map"),
        ({"doc_hash": b"\0" * 32, "metadata": {"x": b"\0" * METADATA_BYTES_MAX}}, "metadata is"),
        ({"doc_hash": b"\0" * 32, "metadata": {f"k{i}": i for i in range(33)}}, "entries"),
        ({"doc_hash": b"\0" * 32, "locator": 5}, "locator must be text"),
        ({"doc_hash": b"\0" * 32, "colour": "red"}, "unknown argument colour"),
        ([b"\0" * 32], "args must be a map"),
    ],
)
def test_bad_arguments_fail_the_call(chain: Chain, args: Any, fragment: str) -> None:
    alice = chain.key("alice")
    result = chain.commit([signed(alice, 0, args=args)])
    receipt = result.receipts[0]
    assert receipt.status is ReceiptStatus.FAILED
    assert fragment in receipt.error
    assert result.state_writes == {}


def test_out_of_gas_reverts_and_charges_the_whole_limit(chain: Chain) -> None:
    alice = chain.key("alice")
    result = chain.commit([notarize(alice, 0, doc(1), gas_limit=15_000)])
    receipt = result.receipts[0]
    assert receipt.status is ReceiptStatus.OUT_OF_GAS
    assert receipt.gas_used == 15_000
    assert receipt.events == ()
    assert result.state_writes == {}
    # the same call with enough gas succeeds, and costs less than the earlier limit allowed
    ok = chain.commit([notarize(alice, 1, doc(1))]).receipts[0]
    assert ok.status is ReceiptStatus.SUCCESS
    assert ok.gas_used > 15_000


def test_query_path_refuses_writes_and_unknown_methods(chain: Chain) -> None:
    registry = default_registry()
    with pytest.raises(ReadOnlyCall):
        query(registry, chain.state, "notary", "register", {"doc_hash": doc(1)})
    with pytest.raises(CallNotFound):
        query(registry, chain.state, "notary", "delete", {})
    with pytest.raises(CallNotFound):
        query(registry, chain.state, "escrow", "get", {})
    with pytest.raises(InvalidArguments):
        query(registry, chain.state, "notary", "get", {"doc_hash": 1.5})
