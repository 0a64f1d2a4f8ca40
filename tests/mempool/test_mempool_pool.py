"""Pool behaviour: reaping, commits, expiry, lookups, and invariants under random operations."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gongshi.errors import GongshiError, InvariantViolation
from gongshi.execution import BlockLimits, PreparedTransaction
from gongshi.mempool import Admitted, MempoolConfig
from gongshi.mempool.errors import (
    AlreadyCommitted,
    MempoolFull,
    NonceTooLow,
    TransactionsMissing,
)
from gongshi.node.genesis import ChainParams

from .conftest import PoolWorld, make_world  # type: ignore[import-not-found]


def test_reap_interleaves_senders_by_admission_in_nonce_order(world: PoolWorld) -> None:
    pool = world.pool()
    order = [("bob", 1), ("alice", 0), ("bob", 0), ("carol", 1), ("alice", 1), ("alice", 3)]
    hashes = {key: pool.admit(world.raw(*key)).tx_hash for key in order}
    reaped = pool.reap(max_txs=100, max_bytes=10**9, max_gas=10**12)
    names = {world.key(name).address(): name for name in ("alice", "bob", "carol")}
    got = [(names[p.sender_address], p.tx.nonce) for p in reaped]
    # alice 0 (admitted 2nd) before bob 0 (3rd); bob 1 was admitted first but waits for bob 0;
    # carol 1 and alice 3 follow gaps and are not ready
    assert got == [("alice", 0), ("bob", 0), ("bob", 1), ("alice", 1)]
    assert [p.tx_hash for p in reaped] == [hashes[key] for key in got]
    assert len(pool) == len(order)  # reap changes nothing


def test_reap_respects_limits(world: PoolWorld) -> None:
    pool = world.pool()
    for nonce in range(4):
        pool.admit(world.raw("alice", nonce, gas_limit=100_000))
    pool.admit(world.raw("bob", 0, gas_limit=10_000))
    assert len(pool.reap(max_txs=2, max_bytes=10**9, max_gas=10**12)) == 2
    reaped = pool.reap(max_txs=100, max_bytes=10**9, max_gas=250_000)
    assert sum(p.tx.gas_limit for p in reaped) <= 250_000
    assert [p.tx.nonce for p in reaped if p.sender_address == world.key("alice").address()] == [
        0,
        1,
    ]
    assert any(p.sender_address == world.key("bob").address() for p in reaped)
    size = reaped[0].size
    assert len(pool.reap(max_txs=100, max_bytes=size * 2, max_gas=10**12)) == 2


def test_commit_removes_included_and_stale(world: PoolWorld) -> None:
    pool = world.pool()
    for nonce in range(3):
        pool.admit(world.raw("alice", nonce))
    pool.admit(world.raw("bob", 0))
    # a block from another proposer used alice's nonces 0 and 1 with other transactions
    foreign = [world.prepared("alice", 0, doc=b"x"), world.prepared("alice", 1, doc=b"y")]
    report = pool.on_commit(height=1, timestamp_ms=1, transactions=foreign)
    assert (report.committed, report.stale, report.expired) == (0, 2, 0)
    reaped = pool.reap(max_txs=10, max_bytes=10**9, max_gas=10**12)
    assert sorted((p.sender_address == world.key("bob").address(), p.tx.nonce) for p in reaped) == [
        (False, 2),
        (True, 0),
    ]
    with pytest.raises(AlreadyCommitted):
        pool.add(foreign[0])


def test_expired_transactions_are_evicted(world: PoolWorld) -> None:
    pool = world.pool()
    pool.admit(world.raw("alice", 0, expiry_height=2))
    pool.admit(world.raw("alice", 1, expiry_height=3))
    pool.admit(world.raw("bob", 0, expiry_height=50))
    assert pool.on_commit(height=1, timestamp_ms=1, transactions=[]).expired == 0
    # after height 2 the next block is 3: expiry 2 is past, expiry 3 is still fine
    assert pool.on_commit(height=2, timestamp_ms=2, transactions=[]).expired == 1
    assert pool.on_commit(height=3, timestamp_ms=3, transactions=[]).expired == 1
    assert len(pool) == 1


def test_lookups(world: PoolWorld) -> None:
    pool = world.pool()
    known = pool.admit(world.raw("alice", 0)).tx_hash
    unknown = b"\x42" * 32
    assert pool.contains(known) and not pool.contains(unknown)
    assert pool.missing([unknown, known]) == [unknown]
    with pytest.raises(TransactionsMissing) as raised:
        pool.resolve([known, unknown])
    assert raised.value.missing == (unknown,)
    assert [p.tx_hash for p in pool.resolve([known])] == [known]
    assert pool.remove([known, unknown]) == 1
    assert pool.get(known) is None and len(pool) == 0 and pool.size_bytes == 0


def test_removal_frees_capacity() -> None:
    world = make_world(txs_max=1)
    pool = world.pool()
    first = pool.admit(world.raw("alice", 0)).tx_hash
    with pytest.raises(MempoolFull):
        pool.admit(world.raw("bob", 0))
    pool.on_commit(height=1, timestamp_ms=1, transactions=pool.resolve([first]))
    assert pool.admit(world.raw("bob", 0)).ready


def test_recent_committed_hashes_are_bounded() -> None:
    world = make_world(recent_committed_max=2)
    pool = world.pool()
    committed = [world.prepared("alice", n) for n in range(3)]
    pool.on_commit(height=1, timestamp_ms=1, transactions=committed)
    with pytest.raises(AlreadyCommitted):
        pool.add(committed[2])
    # the oldest hash is forgotten; the committed nonce index still refuses the replay
    world.nonces.advance({world.key("alice").address(): 3})
    with pytest.raises(NonceTooLow):
        pool.add(committed[0])


def test_stats(world: PoolWorld) -> None:
    pool = world.pool()
    pool.admit(world.raw("alice", 0))
    pool.admit(world.raw("alice", 2))
    pool.admit(world.raw("bob", 0))
    stats = pool.stats()
    assert (stats.count, stats.ready, stats.senders) == (3, 2, 2)
    assert stats.size_bytes == pool.size_bytes


class PoolMachine(RuleBasedStateMachine):
    """Random admissions, commits and removals; the invariants MEM-2..4 hold after each."""

    def __init__(self) -> None:
        super().__init__()
        self.world = make_world(txs_max=12, nonce_window=4)
        self.pool = self.world.pool()
        self.height = 0
        self.names = ("a", "b", "c")

    @rule(name=st.sampled_from(("a", "b", "c")), nonce=st.integers(0, 8), doc=st.integers(0, 1))
    def admit(self, name: str, nonce: int, doc: int) -> None:
        raw = self.world.raw(name, nonce, doc=b"%d-%d" % (nonce, doc), expiry_height=30)
        try:
            result = self.pool.admit(raw)
        except GongshiError:  # every rejection is one (never a raw exception)
            return
        assert isinstance(result, Admitted)

    @rule(count=st.integers(0, 5))
    def commit_reaped(self, count: int) -> None:
        block = self.pool.reap(max_txs=count, max_bytes=10**9, max_gas=10**12)
        self.height += 1
        self.pool.on_commit(height=self.height, timestamp_ms=self.height, transactions=block)
        self.world.nonces.advance(
            {p.sender_address: p.tx.nonce + 1 for p in block}  # as storage would
        )

    @rule(data=st.data())
    def remove_one(self, data: st.DataObject) -> None:
        reaped = self.pool.reap(max_txs=100, max_bytes=10**9, max_gas=10**12)
        if reaped:
            victim: PreparedTransaction = data.draw(st.sampled_from(reaped))
            assert self.pool.remove([victim.tx_hash]) == 1

    @invariant()
    def capacity(self) -> None:
        assert len(self.pool) <= self.world.config.txs_max

    @invariant()
    def reap_is_gap_free_from_the_committed_nonce(self) -> None:
        reaped = self.pool.reap(max_txs=100, max_bytes=10**9, max_gas=10**12)
        expected: dict[bytes, int] = {}
        for prepared in reaped:
            address = prepared.sender_address
            if address not in expected:
                expected[address] = self.world.nonces.next_nonce(address)
            assert prepared.tx.nonce == expected[address]
            expected[address] += 1
        assert len({p.tx_hash for p in reaped}) == len(reaped)

    @invariant()
    def byte_count_matches(self) -> None:
        stats = self.pool.stats()
        assert stats.count == len(self.pool)
        assert stats.size_bytes == self.pool.size_bytes


PoolMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestPoolMachine = PoolMachine.TestCase


def test_commits_must_advance(world: PoolWorld) -> None:
    pool = world.pool(height=5)
    with pytest.raises(InvariantViolation):
        pool.on_commit(height=5, timestamp_ms=1, transactions=[])


def test_config_from_chain_params() -> None:
    params = ChainParams(chain_id="c1", tx_bytes_max=1000, mempool_txs_max=5000)
    config = MempoolConfig.from_params(params, nonce_window=8)
    assert (config.chain_id, config.tx_bytes_max, config.txs_max, config.nonce_window) == (
        "c1",
        1000,
        5000,
        8,
    )
    assert config.block_gas_max == params.block_gas_max
    assert config.bytes_max == params.mempool_bytes_max
    limits = BlockLimits.from_params(params)
    assert (limits.txs_max, limits.bytes_max, limits.tx_bytes_max, limits.gas_max) == (
        params.block_txs_max,
        params.block_bytes_max,
        1000,
        params.block_gas_max,
    )
