"""build_block_body: the proposer's filter never yields a block execution rejects."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.codec import ReceiptStatus
from gongshi.crypto import get_suite
from gongshi.execution import BlockLimits, build_block_body, execute_block
from gongshi.execution.errors import (
    ExpiredTransaction,
    ForeignTransaction,
    NonceOutOfOrder,
    UnauthorisedSender,
)
from gongshi.pki import Role

from .conftest import Chain, notarize  # type: ignore[import-not-found]


def doc(n: int) -> bytes:
    return hashlib.sha256(b"builder %d" % n).digest()


def _build(chain: Chain, txs: list, **limits: int):  # type: ignore[no-untyped-def, type-arg]
    if limits:
        chain.limits = BlockLimits(**limits)
    return build_block_body(
        chain.prepare(txs),
        context=chain.context(),
        limits=chain.limits,
        nonces=chain.nonces,
        identities=chain.members,
    )


def test_keeps_valid_transactions_in_order(chain: Chain) -> None:
    alice, bob = chain.key("alice"), chain.key("bob")
    txs = [notarize(alice, 0, doc(0)), notarize(bob, 0, doc(1)), notarize(alice, 1, doc(2))]
    body = _build(chain, txs)
    assert body.tx_hashes == tuple(tx.hash(chain.suite) for tx in txs)
    assert body.invalid == ()


def test_skips_invalid_and_reports_why(chain: Chain) -> None:
    alice, bob, node = chain.key("alice"), chain.key("bob"), chain.key("node", Role.NODE)
    chain.nonces.advance({bob.address(): 3})
    txs = [
        notarize(alice, 0, doc(0), chain_id="elsewhere"),  # never valid
        notarize(alice, 1, doc(1)),  # follows the skipped one: left for later, not invalid
        notarize(bob, 2, doc(2)),  # stale nonce
        notarize(bob, 3, doc(3)),  # blocked: its sender already had a left-out transaction
        notarize(node, 0, doc(4)),  # role may not transact
        notarize(chain.key("carol"), 0, doc(5), expiry_height=0),
        notarize(chain.key("dave"), 0, doc(6)),
    ]
    body = _build(chain, txs)
    assert body.tx_hashes == (txs[6].hash(chain.suite),)
    reasons = {tx_hash: type(error) for tx_hash, error in body.invalid}
    assert reasons == {
        txs[0].hash(chain.suite): ForeignTransaction,
        txs[2].hash(chain.suite): NonceOutOfOrder,
        txs[4].hash(chain.suite): UnauthorisedSender,
        txs[5].hash(chain.suite): ExpiredTransaction,
    }


def test_respects_limits_and_leaves_the_rest(chain: Chain) -> None:
    alice, bob = chain.key("alice"), chain.key("bob")
    txs = [notarize(alice, n, doc(n), gas_limit=400_000) for n in range(3)]
    txs.append(notarize(bob, 0, doc(10), gas_limit=100_000))
    body = _build(chain, txs, gas_max=1_000_000)
    # alice's third does not fit (1.2M); bob's still does
    assert body.tx_hashes == tuple(tx.hash(chain.suite) for tx in (txs[0], txs[1], txs[3]))
    assert body.invalid == ()
    assert len(_build(chain, txs, txs_max=2).transactions) == 2


@settings(max_examples=40, deadline=None)
@given(
    plan=st.lists(
        st.tuples(
            st.sampled_from(["alice", "bob", "node", "stranger"]),
            st.integers(0, 3),  # nonce
            st.integers(0, 3),  # expiry height
            st.sampled_from([20_000, 300_000, 900_000]),
        ),
        max_size=14,
    ),
    txs_max=st.integers(1, 8),
)
def test_built_bodies_always_execute(plan: list[tuple[str, int, int, int]], txs_max: int) -> None:
    chain = Chain(suite=get_suite("intl"), limits=BlockLimits(txs_max=txs_max, gas_max=1_500_000))
    keys = {
        "alice": chain.key("alice"),
        "bob": chain.key("bob"),
        "node": chain.key("node", Role.NODE),
        "stranger": chain.key("stranger", None),
    }
    chain.commit([])
    txs = [
        notarize(keys[name], nonce, doc(i), expiry_height=expiry, gas_limit=gas)
        for i, (name, nonce, expiry, gas) in enumerate(plan)
    ]
    body = build_block_body(
        chain.prepare(txs),
        context=chain.context(),
        limits=chain.limits,
        nonces=chain.nonces,
        identities=chain.members,
    )
    assert len(body.transactions) <= txs_max
    result = execute_block(
        body.transactions,
        context=chain.context(),
        environment=chain.environment,
        state=chain.state,
        nonces=chain.nonces,
        identities=chain.members,
    )
    assert all(r.status is not ReceiptStatus.NOT_FOUND for r in result.receipts)
    chosen = {p.tx_hash for p in body.transactions}
    assert not chosen & {tx_hash for tx_hash, _ in body.invalid}
