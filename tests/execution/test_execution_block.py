"""execute_block: validity rules, nonce order, receipts, gas, determinism."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.codec import ReceiptStatus, encode
from gongshi.crypto import get_suite
from gongshi.execution import BlockLimits, execute_block
from gongshi.execution.errors import (
    BlockTooLarge,
    ExcessiveGasLimit,
    ExpiredTransaction,
    ForeignTransaction,
    InvalidBlock,
    NonceOutOfOrder,
    OversizedTransaction,
    UnauthorisedSender,
    UnregisteredSender,
)
from gongshi.pki import Role

from .conftest import Chain, notarize, signed  # type: ignore[import-not-found]


def doc(n: int) -> bytes:
    return hashlib.sha256(b"doc %d" % n).digest()


def test_receipts_follow_the_transactions(chain: Chain) -> None:
    alice, bob = chain.key("alice"), chain.key("bob")
    txs = [notarize(alice, 0, doc(1)), notarize(bob, 0, doc(2)), notarize(alice, 1, doc(3))]
    result = chain.commit(txs)
    assert [r.tx_hash for r in result.receipts] == [tx.hash(chain.suite) for tx in txs]
    assert all(r.status is ReceiptStatus.SUCCESS for r in result.receipts)
    assert result.gas_used == sum(r.gas_used for r in result.receipts)
    assert result.next_nonces == {alice.address(): 2, bob.address(): 1}
    assert list(result.state_writes) == sorted(result.state_writes)


@pytest.mark.parametrize(
    ("target", "method"), [("escrow", "register"), ("notary", "burn"), ("identity", "delete")]
)
def test_unknown_target_or_method_is_not_found(chain: Chain, target: str, method: str) -> None:
    alice = chain.key("alice")
    result = chain.commit([signed(alice, 0, target, method, {})])
    receipt = result.receipts[0]
    assert receipt.status is ReceiptStatus.NOT_FOUND
    assert receipt.gas_used == chain.environment.prices.transaction + 16  # base + 1 args byte
    assert result.state_writes == {}
    assert result.next_nonces == {alice.address(): 1}


def test_failed_call_reverts_only_its_own_writes(chain: Chain) -> None:
    alice = chain.key("alice")
    result = chain.commit(
        [notarize(alice, 0, doc(1)), notarize(alice, 1, doc(1)), notarize(alice, 2, doc(2))]
    )
    statuses = [r.status for r in result.receipts]
    assert statuses == [ReceiptStatus.SUCCESS, ReceiptStatus.FAILED, ReceiptStatus.SUCCESS]
    # two records, two index entries, one count key
    assert len(result.state_writes) == 5


# --- invalid blocks ---------------------------------------------------------------------------


def _expect_invalid(chain: Chain, txs: list, error: type[InvalidBlock], index: int) -> None:  # type: ignore[type-arg]
    with pytest.raises(error) as raised:
        chain.execute(txs)
    assert raised.value.index == index
    assert str(raised.value).startswith(f"invalid block: transaction {index}")


def test_wrong_chain_id_invalidates_the_block(chain: Chain) -> None:
    alice = chain.key("alice")
    txs = [notarize(alice, 0, doc(1)), notarize(alice, 1, doc(2), chain_id="other-chain")]
    _expect_invalid(chain, txs, ForeignTransaction, 1)


def test_expired_transaction_invalidates_the_block(chain: Chain) -> None:
    alice = chain.key("alice")
    chain.commit([])  # height 1
    chain.commit([notarize(alice, 0, doc(1), expiry_height=2)])  # valid at its expiry height
    _expect_invalid(chain, [notarize(alice, 1, doc(2), expiry_height=2)], ExpiredTransaction, 0)


@pytest.mark.parametrize("nonces", [[1], [0, 0], [0, 2], [1, 0]])
def test_nonce_not_exactly_next_invalidates_the_block(chain: Chain, nonces: list[int]) -> None:
    alice = chain.key("alice")
    txs = [notarize(alice, nonce, doc(i)) for i, nonce in enumerate(nonces)]
    bad = next(i for i, nonce in enumerate(nonces) if nonce != i)
    _expect_invalid(chain, txs, NonceOutOfOrder, bad)


def test_nonce_continues_from_the_committed_index(chain: Chain) -> None:
    alice = chain.key("alice")
    chain.commit([notarize(alice, 0, doc(1)), notarize(alice, 1, doc(2))])
    _expect_invalid(chain, [notarize(alice, 1, doc(3))], NonceOutOfOrder, 0)
    assert chain.execute([notarize(alice, 2, doc(3))]).next_nonces == {alice.address(): 3}


def test_gas_limit_over_the_block_limit(chain: Chain) -> None:
    chain.limits = BlockLimits(gas_max=1_000_000)
    alice = chain.key("alice")
    _expect_invalid(chain, [notarize(alice, 0, doc(1), gas_limit=1_000_001)], ExcessiveGasLimit, 0)
    txs = [notarize(alice, 0, doc(1), gas_limit=600_000)]
    txs.append(notarize(alice, 1, doc(2), gas_limit=600_000))
    _expect_invalid(chain, txs, BlockTooLarge, 1)


def test_block_count_and_byte_limits(chain: Chain) -> None:
    alice = chain.key("alice")
    txs = [notarize(alice, n, doc(n)) for n in range(3)]
    chain.limits = BlockLimits(txs_max=2)
    _expect_invalid(chain, txs, BlockTooLarge, 2)
    size = len(encode(txs[0]))
    chain.limits = BlockLimits(bytes_max=2 * size + 1, tx_bytes_max=size + 1)
    _expect_invalid(chain, txs, BlockTooLarge, 2)
    big = notarize(alice, 0, doc(0), metadata={"blob": b"x" * 2000})
    _expect_invalid(chain, [big], OversizedTransaction, 0)


def test_unregistered_sender_may_only_register(chain: Chain) -> None:
    mallory = chain.key("mallory", role=None)
    _expect_invalid(chain, [notarize(mallory, 0, doc(1))], UnregisteredSender, 0)
    result = chain.execute(
        [signed(mallory, 0, "identity", "register", {"certificate_pem": "not a pem"})]
    )
    assert result.receipts[0].status is ReceiptStatus.FAILED  # a valid block, a failed call


@pytest.mark.parametrize("role", [Role.NODE, Role.OBSERVER])
def test_node_and_observer_roles_may_not_transact(chain: Chain, role: Role) -> None:
    holder = chain.key("holder", role=role)
    _expect_invalid(chain, [notarize(holder, 0, doc(1))], UnauthorisedSender, 0)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CLIENT, Role.REGULATOR])
def test_admin_client_regulator_may_transact(chain: Chain, role: Role) -> None:
    holder = chain.key("holder", role=role)
    assert chain.execute([notarize(holder, 0, doc(1))]).receipts[0].status is ReceiptStatus.SUCCESS


def test_expired_certificate_counts_as_unregistered(chain: Chain) -> None:
    alice = chain.key("alice")
    member = chain.members.resolve(alice.public_key_bytes())
    assert member is not None
    chain.members.add(dataclasses.replace(member, not_after_ms=1))
    _expect_invalid(chain, [notarize(alice, 0, doc(1))], UnregisteredSender, 0)


def test_registration_takes_effect_from_the_next_block(chain: Chain) -> None:
    """Identities are read from the state before the block (the builder sees the same)."""
    alice = chain.key("alice")
    prepared = chain.prepare([notarize(alice, 0, doc(1))])

    class Nobody:
        def resolve(self, public_key: bytes, /) -> None:
            return None

    with pytest.raises(UnregisteredSender):
        execute_block(
            prepared,
            context=chain.context(),
            environment=chain.environment,
            state=chain.state,
            nonces=chain.nonces,
            identities=Nobody(),
        )


# --- properties ------------------------------------------------------------------------------


SENDERS = ("alice", "bob", "carol")


@settings(max_examples=40, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(SENDERS), st.integers(0, 4), st.booleans()),
        max_size=12,
    )
)
def test_nonce_sequences(plan: list[tuple[str, int, bool]]) -> None:
    """A block is valid iff each sender's nonces run 0, 1, 2... in block order."""
    chain = Chain(suite=get_suite("intl"))
    keys = {name: chain.key(name) for name in SENDERS}
    txs = [
        notarize(keys[name], nonce, doc(index) if fresh else doc(0))
        for index, (name, nonce, fresh) in enumerate(plan)
    ]
    expected: dict[str, int] = {}
    first_bad = None
    for index, (name, nonce, _) in enumerate(plan):
        if nonce != expected.get(name, 0):
            first_bad = index
            break
        expected[name] = nonce + 1
    if first_bad is None:
        result = chain.execute(txs)
        assert len(result.receipts) == len(txs)
        assert result.next_nonces == {keys[n].address(): v for n, v in expected.items()}
    else:
        with pytest.raises(NonceOutOfOrder) as raised:
            chain.execute(txs)
        assert raised.value.index == first_bad


def _encoded(result) -> tuple[list[bytes], list[tuple[bytes, bytes | None]], dict]:  # type: ignore[no-untyped-def, type-arg]
    return (
        [encode(receipt) for receipt in result.receipts],
        list(result.state_writes.items()),
        result.next_nonces,
    )


@settings(max_examples=25, deadline=None)
@given(
    plan=st.lists(
        st.tuples(
            st.sampled_from(SENDERS),
            st.integers(0, 3),  # document
            st.sampled_from([12_000, 30_000, 200_000]),  # gas: out of gas, tight, plenty
            st.sampled_from(["register", "get", "list", "nope"]),
        ),
        max_size=10,
    )
)
def test_execution_is_deterministic(plan: list[tuple[str, int, int, str]]) -> None:
    """Same block on the same state: identical receipts and writes, byte for byte, on
    independent runs (fresh objects, fresh state copies)."""
    outputs = []
    for _ in range(2):
        chain = Chain(suite=get_suite("intl"))
        keys = {name: chain.key(name) for name in SENDERS}
        chain.commit([notarize(keys["alice"], 0, doc(0))])
        nonces = {name: 1 if name == "alice" else 0 for name in SENDERS}
        txs = []
        for name, document, gas, method in plan:
            args: dict[str, object] = {"doc_hash": doc(document)}
            if method == "list":
                args = {"owner": keys[name].address()}
            txs.append(signed(keys[name], nonces[name], "notary", method, args, gas_limit=gas))
            nonces[name] += 1
        outputs.append(_encoded(chain.execute(txs)))
    assert outputs[0] == outputs[1]
    receipts, _, _ = outputs[0]
    assert len(receipts) == len(plan)


@given(st.text(max_size=40) | st.just("\udfff bad \ud800"))
def test_receipt_error_text_always_encodes(message: str) -> None:
    """Whatever text an error quotes (a contract's, lone surrogates included), the receipt's
    message encodes to UTF-8 and keeps the code, so no block fails to execute over it."""
    from gongshi.execution.errors import CallFailed
    from gongshi.execution.executor import _message

    text = _message(CallFailed(message))
    assert text.startswith(f"[{CallFailed.code}] ")
    assert len(text.encode("utf-8")) <= 4096
