"""The nonce window between a commit reaching the ledger and `on_commit` reaching the pool.

The node commits a block to the ledger on its execution thread and tells the mempool on the
event loop afterwards. In between, `account_nonce` (the ledger) is ahead of the pool, and a
client signing from it must not be refused as too far ahead. `MemoryNonces` stands in for the
ledger: `advance` is the ledger commit, `on_commit` the later notice, so each interleaving is
replayed exactly.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gongshi.execution import PreparedTransaction
from gongshi.mempool import Admitted
from gongshi.mempool.errors import (
    AlreadyCommitted,
    AlreadyKnown,
    MempoolFull,
    NonceAlreadyPending,
    NonceTooHigh,
    NonceTooLow,
)

from .conftest import PoolWorld, make_world  # type: ignore[import-not-found]

WINDOW = 4
UNLIMITED = {"max_txs": 1000, "max_bytes": 10**9, "max_gas": 10**15}


def ledger_commit(world: PoolWorld, block: list[PreparedTransaction]) -> None:
    """What storage does when it commits `block`: the senders' next nonces advance."""
    world.nonces.advance({p.sender_address: p.tx.nonce + 1 for p in block})


def test_a_client_following_the_ledger_is_admitted_before_the_pool_hears_of_the_commit() -> None:
    world = make_world(nonce_window=WINDOW)
    pool = world.pool()
    for nonce in range(WINDOW):
        pool.admit(world.raw("alice", nonce))
    with pytest.raises(NonceTooHigh):
        pool.admit(world.raw("alice", WINDOW))

    block = pool.reap(max_txs=2, max_bytes=10**9, max_gas=10**15)
    assert [p.tx.nonce for p in block] == [0, 1]
    ledger_commit(world, block)  # the ledger is at next nonce 2; the pool still thinks 0
    ledger_next = world.nonces.next_nonce(world.key("alice").address())
    assert ledger_next == 2

    # The client signs the last nonce of the window the ledger gives it: admitted.
    admitted = pool.admit(world.raw("alice", ledger_next + WINDOW - 1))
    assert isinstance(admitted, Admitted) and not admitted.ready  # nonce 4 is missing
    with pytest.raises(NonceTooHigh):
        pool.admit(world.raw("alice", ledger_next + WINDOW))
    # A different transaction with a nonce the ledger used is refused as too low, not kept
    # as pending until on_commit drops it.
    with pytest.raises(NonceTooLow):
        pool.admit(world.raw("alice", 1, doc=b"another"))
    with pytest.raises(AlreadyKnown):  # the committed one itself is still pending here
        pool.admit(world.raw("alice", 1))

    report = pool.on_commit(height=1, timestamp_ms=1, transactions=block)
    assert (report.committed, report.stale) == (2, 0)
    with pytest.raises(AlreadyCommitted):
        pool.admit(world.raw("alice", 1))
    assert [p.tx.nonce for p in pool.reap(**UNLIMITED)] == [2, 3]
    assert pool.admit(world.raw("alice", 4)).ready
    assert [p.tx.nonce for p in pool.reap(**UNLIMITED)] == [2, 3, 4, 5]


def test_a_new_sender_starts_from_the_ledger_and_a_lagging_reader_cannot_lower_the_pool() -> None:
    world = make_world(nonce_window=WINDOW)
    pool = world.pool()
    bob = world.key("bob").public_key_bytes()
    world.nonces.advance({world.key("bob").address(): 10})  # committed elsewhere, never pending
    with pytest.raises(NonceTooLow):
        pool.admit(world.raw("bob", 9))
    assert pool.admit(world.raw("bob", 10)).ready
    assert not pool.admit(world.raw("bob", 13)).ready
    with pytest.raises(NonceTooHigh):
        pool.admit(world.raw("bob", 14))

    # The pool heard of a commit the reader does not show (a reader behind the pool): the
    # pool's own view still bounds the window from below.
    for nonce in range(4):
        pool.admit(world.raw("carol", nonce))
    block = [p for p in pool.reap(**UNLIMITED) if p.tx.nonce < 3 and p.tx.sender != bob]
    assert [p.tx.nonce for p in block] == [0, 1, 2]
    pool.on_commit(height=1, timestamp_ms=1, transactions=block)
    assert world.nonces.next_nonce(world.key("carol").address()) == 0
    with pytest.raises(NonceTooLow):
        pool.admit(world.raw("carol", 2, doc=b"replay"))
    assert not pool.admit(world.raw("carol", 3 + WINDOW - 1)).ready
    with pytest.raises(NonceTooHigh):
        pool.admit(world.raw("carol", 3 + WINDOW))


class NonceRaceMachine(RuleBasedStateMachine):
    """Admissions interleaved with commits split in two steps (ledger first, pool later).
    Model: the ledger's next nonce per sender decides the window; the pool's view only lags."""

    def __init__(self) -> None:
        super().__init__()
        self.world = make_world(txs_max=40, nonce_window=WINDOW)
        self.pool = self.world.pool()
        self.height = 0
        self.in_flight: list[PreparedTransaction] | None = None  # on the ledger, not the pool
        self.pool_next: dict[bytes, int] = {}  # the pool's view: advanced by on_commit only

    def ledger_next(self, name: str) -> int:
        return self.world.nonces.next_nonce(self.world.key(name).address())

    @rule(name=st.sampled_from(("a", "b")), offset=st.integers(-2, WINDOW + 1), doc=st.booleans())
    def admit(self, name: str, offset: int, doc: bool) -> None:
        nonce = max(0, self.ledger_next(name) + offset)  # what a client reading the ledger signs
        raw = self.world.raw(name, nonce, doc=b"%d-%d" % (nonce, doc), expiry_height=10**6)
        try:
            self.pool.admit(raw)
        except NonceTooHigh:
            assert nonce >= self.ledger_next(name) + WINDOW
            return
        except NonceTooLow:
            assert nonce < self.ledger_next(name)
            return
        except (AlreadyKnown, AlreadyCommitted, NonceAlreadyPending, MempoolFull):
            return
        assert self.ledger_next(name) <= nonce < self.ledger_next(name) + WINDOW

    @precondition(lambda self: self.in_flight is None)
    @rule(count=st.integers(0, 6))
    def ledger_commits(self, count: int) -> None:
        block = self.pool.reap(max_txs=count, max_bytes=10**9, max_gas=10**15)
        ledger_commit(self.world, block)
        self.in_flight = block

    @precondition(lambda self: self.in_flight is not None)
    @rule()
    def pool_hears_of_it(self) -> None:
        block = self.in_flight
        assert block is not None
        self.height += 1
        self.pool.on_commit(height=self.height, timestamp_ms=self.height, transactions=block)
        for prepared in block:
            self.pool_next[prepared.sender_address] = prepared.tx.nonce + 1
        self.in_flight = None

    @invariant()
    def reap_is_gap_free_from_the_pools_view(self) -> None:
        expected: dict[bytes, int] = {}
        for prepared in self.pool.reap(**UNLIMITED):
            address = prepared.sender_address
            expected.setdefault(address, self.pool_next.get(address, 0))
            assert prepared.tx.nonce == expected[address]
            expected[address] += 1

    @invariant()
    def pending_nonces_stay_within_the_window_of_the_ledger(self) -> None:
        for name in ("a", "b"):
            limit = self.ledger_next(name) + WINDOW
            address = self.world.key(name).address()
            for prepared in self.pool.reap(**UNLIMITED):
                if prepared.sender_address == address:
                    assert prepared.tx.nonce < limit


NonceRaceMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None
)
TestNonceRaceMachine = NonceRaceMachine.TestCase
