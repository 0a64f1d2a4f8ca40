"""Verify once: the record of verified signatures, and admission skipping what it holds."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.codec import encode
from gongshi.crypto.intl import IntlSuite
from gongshi.mempool.admission import VerifiedSignatures
from gongshi.mempool.errors import BadSignature

from .conftest import PoolWorld, transaction  # type: ignore[import-not-found]


class CountingSuite(IntlSuite):
    """The intl suite, counting `verify` calls (from any thread)."""

    def __init__(self) -> None:
        self.verifies = 0
        self._lock = threading.Lock()

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        with self._lock:
            self.verifies += 1
        return super().verify(public_key, message, signature)


def test_the_record_is_keyed_by_hash_and_signature() -> None:
    record = VerifiedSignatures(capacity=4)
    record.add(b"h1", b"sig")
    assert record.contains(b"h1", b"sig")
    assert not record.contains(b"h1", b"other signature")
    assert not record.contains(b"h2", b"sig")


@given(st.lists(st.binary(min_size=1, max_size=4), max_size=60), st.integers(1, 10))
def test_the_record_keeps_the_newest_entries_up_to_its_capacity(
    hashes: list[bytes], capacity: int
) -> None:
    record = VerifiedSignatures(capacity=capacity)
    for tx_hash in hashes:
        record.add(tx_hash, b"s" + tx_hash)
    assert len(record) <= capacity
    newest = list(dict.fromkeys(reversed(hashes)))[:capacity]
    for tx_hash in newest:
        assert record.contains(tx_hash, b"s" + tx_hash)


@pytest.mark.parametrize("batch", [False, True])
def test_admission_verifies_each_transaction_once(world: PoolWorld, batch: bool) -> None:
    counting = CountingSuite()
    world.suite = counting
    pool = world.pool()
    raws = [world.raw("alice", nonce) for nonce in range(3)]
    if batch:
        pool.checker.check_batch(raws, next_height=1)
        pool.checker.check_batch(raws, next_height=1)
    else:
        for data in raws * 2:
            pool.checker.check(data, next_height=1)
    assert counting.verifies == 3
    assert len(pool.checker.verified) == 3


def test_a_known_hash_with_another_signature_is_verified_again(world: PoolWorld) -> None:
    counting = CountingSuite()
    world.suite = counting
    pool = world.pool()
    good = transaction(world.key("alice"), 0)
    pool.checker.check(encode(good), next_height=1)
    forged = dataclasses.replace(good, signature=bytes(len(good.signature)))
    with pytest.raises(BadSignature):
        pool.checker.check(encode(forged), next_height=1)
    assert counting.verifies == 2
    assert pool.admit(encode(good)).ready  # the good one stays recorded: no new verify
    assert counting.verifies == 2


def test_a_shared_record_spares_the_verification(world: PoolWorld) -> None:
    counting = CountingSuite()
    world.suite = counting
    record = VerifiedSignatures()
    prepared = world.prepared("alice", 0)
    assert record.unverified([prepared]) == [prepared]
    record.add(prepared.tx_hash, prepared.tx.signature)
    assert record.unverified([prepared]) == []
    pool = world.pool(verified=record)
    pool.admit(encode(prepared.tx))
    assert counting.verifies == 0


def test_admission_leaves_the_hash_memoised_on_the_transaction(
    world: PoolWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = world.pool()
    prepared = pool.checker.check(world.raw("alice", 0), next_height=1)
    expected = prepared.tx_hash

    def no_signing_bytes(self: object) -> bytes:
        raise AssertionError("hashed again")

    monkeypatch.setattr(type(prepared.tx), "signing_bytes", no_signing_bytes)
    assert prepared.tx.hash(world.suite) == expected


def test_fetched_transactions_for_another_chain_or_over_the_limits_are_not_admissible(
    world: PoolWorld,
) -> None:
    """A proposal's fetched transactions skip `check`; `admissible` applies its rules that
    come before the signature, so a faulty proposer cannot park unincludable ones."""
    checker = world.pool().checker
    assert checker.admissible(world.prepared("alice", 0))
    assert not checker.admissible(world.prepared("alice", 0, chain_id="other-chain"))
    over_gas = world.config.block_gas_max + 1
    assert not checker.admissible(world.prepared("alice", 0, gas_limit=over_gas))
    big = world.prepared("alice", 0)
    assert not checker.admissible(dataclasses.replace(big, size=world.config.tx_bytes_max + 1))
