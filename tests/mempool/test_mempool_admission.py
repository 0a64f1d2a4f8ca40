"""Admission: every rejection has its own error and code; batches verify in parallel."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest

from gongshi.codec import encode
from gongshi.execution import ParallelMap
from gongshi.mempool import Admitted
from gongshi.mempool.errors import (
    AdmissionRejected,
    AlreadyCommitted,
    AlreadyKnown,
    BadSignature,
    BatchTooLarge,
    GasLimitTooHigh,
    MalformedTransaction,
    MempoolFull,
    NonceAlreadyPending,
    NonceTooHigh,
    NonceTooLow,
    SenderNotPermitted,
    SenderNotRegistered,
    TransactionExpired,
    TransactionTooLarge,
    WrongChain,
)
from gongshi.pki import Role

from .conftest import PoolWorld, make_world, transaction  # type: ignore[import-not-found]


def test_a_valid_transaction_is_admitted(world: PoolWorld) -> None:
    pool = world.pool()
    data = world.raw("alice", 0)
    admitted = pool.admit(data)
    assert admitted.ready
    prepared = pool.get(admitted.tx_hash)
    assert prepared is not None and prepared.size == len(data)
    assert prepared.sender_address == world.key("alice").address()
    assert len(pool) == 1 and pool.size_bytes == len(data)


def _reject(world: PoolWorld, data: bytes, error: type[AdmissionRejected]) -> AdmissionRejected:
    pool = world.pool(height=10)
    with pytest.raises(error) as raised:
        pool.admit(data)
    assert type(raised.value) is error
    assert len(pool) == 0
    return raised.value


def test_each_static_rejection(world: PoolWorld) -> None:
    alice = world.key("alice")
    _reject(world, b"\xff" * (world.config.tx_bytes_max + 1), TransactionTooLarge)
    _reject(world, b"\xa1\x61", MalformedTransaction)
    _reject(world, encode(transaction(alice, 0))[:-1], MalformedTransaction)
    _reject(world, world.raw("alice", 0, chain_id="elsewhere"), WrongChain)
    _reject(world, world.raw("alice", 0, expiry_height=10), TransactionExpired)
    _reject(world, world.raw("alice", 0, gas_limit=world.config.block_gas_max + 1), GasLimitTooHigh)
    _reject(world, encode(transaction(alice, 0, sign=False)), BadSignature)
    forged = dataclasses.replace(transaction(alice, 0), nonce=1)
    _reject(world, encode(forged), BadSignature)
    foreign_key = world.key("mallory", role=None)
    stolen = dataclasses.replace(transaction(alice, 0), sender=foreign_key.public_key_bytes())
    _reject(world, encode(stolen), BadSignature)


def test_sender_rules(world: PoolWorld) -> None:
    world.key("stranger", role=None)
    world.key("node", role=Role.NODE)
    world.key("observer", role=Role.OBSERVER)
    message = str(_reject(world, world.raw("stranger", 0), SenderNotRegistered))
    assert "identity.register" in message
    _reject(world, world.raw("node", 0), SenderNotPermitted)
    _reject(world, world.raw("observer", 0), SenderNotPermitted)
    registration = world.raw(
        "stranger",
        0,
        target="identity",
        method="register",
        args={"certificate_pem": "-----BEGIN CERTIFICATE-----"},
    )
    assert world.pool(height=10).admit(registration).ready


def test_nonce_window(world: PoolWorld) -> None:
    world = make_world(nonce_window=4)
    world.nonces.advance({world.key("alice").address(): 5})
    pool = world.pool()
    with pytest.raises(NonceTooLow):
        pool.admit(world.raw("alice", 4))
    with pytest.raises(NonceTooHigh):
        pool.admit(world.raw("alice", 9))
    assert not pool.admit(world.raw("alice", 8)).ready  # future: 5..7 missing
    assert pool.admit(world.raw("alice", 5)).ready
    with pytest.raises(NonceAlreadyPending):
        pool.admit(world.raw("alice", 5, doc=b"another"))
    assert len(pool) == 2


def test_duplicates(world: PoolWorld) -> None:
    pool = world.pool()
    data = world.raw("alice", 0)
    admitted = pool.admit(data)
    with pytest.raises(AlreadyKnown):
        pool.admit(data)
    pool.on_commit(height=1, timestamp_ms=0, transactions=pool.resolve([admitted.tx_hash]))
    assert len(pool) == 0
    with pytest.raises(AlreadyCommitted):
        pool.admit(data)


def test_capacity_by_count_and_bytes() -> None:
    world = make_world(txs_max=3)
    pool = world.pool()
    for nonce in range(3):
        pool.admit(world.raw("alice", nonce))
    with pytest.raises(MempoolFull):
        pool.admit(world.raw("bob", 0))
    assert len(pool) == 3
    size = len(world.raw("alice", 0))
    world = make_world(bytes_max=2 * size + size // 2, tx_bytes_max=size + 10)
    pool = world.pool()
    pool.admit(world.raw("alice", 0))
    pool.admit(world.raw("alice", 1))
    with pytest.raises(MempoolFull, match="bytes"):
        pool.admit(world.raw("alice", 2))
    assert pool.size_bytes <= world.config.bytes_max


def test_batch_admission_reports_each_item(suite_world: PoolWorld) -> None:
    world = suite_world
    good = [world.raw("alice", n) for n in range(6)]
    bad_signature = encode(dataclasses.replace(transaction(world.key("bob"), 0), nonce=3))
    batch = [*good[:3], bad_signature, good[0], b"junk", *good[3:]]
    with ThreadPoolExecutor(max_workers=2) as executor:
        pool = world.pool(parallel=ParallelMap(executor=executor, workers=2))
        results = pool.admit_batch(batch)
    kinds = [type(result) for result in results]
    assert kinds == [
        Admitted,
        Admitted,
        Admitted,
        BadSignature,
        AlreadyKnown,
        MalformedTransaction,
        Admitted,
        Admitted,
        Admitted,
    ]
    assert len(pool) == 6


def test_parallel_and_serial_admission_agree(suite_world: PoolWorld) -> None:
    world = suite_world
    batch = [world.raw(name, n) for name in ("a", "b", "c") for n in range(5)]
    batch[7] = encode(transaction(world.key("b"), 2, sign=False))
    serial = world.pool().admit_batch(batch)
    with ThreadPoolExecutor(max_workers=2) as executor:
        parallel = world.pool(parallel=ParallelMap(executor=executor, workers=2)).admit_batch(batch)
    assert [type(r) for r in serial] == [type(r) for r in parallel]
    assert [r.tx_hash for r in serial if isinstance(r, Admitted)] == [
        r.tx_hash for r in parallel if isinstance(r, Admitted)
    ]


def test_batch_limit() -> None:
    world = make_world(batch_max=2)
    with pytest.raises(BatchTooLarge):
        world.pool().admit_batch([b"", b"", b""])


def test_error_codes_are_distinct() -> None:
    classes = [
        AdmissionRejected,
        TransactionTooLarge,
        MalformedTransaction,
        WrongChain,
        TransactionExpired,
        BadSignature,
        GasLimitTooHigh,
        NonceTooLow,
        NonceTooHigh,
        NonceAlreadyPending,
        SenderNotRegistered,
        SenderNotPermitted,
        AlreadyKnown,
        AlreadyCommitted,
        BatchTooLarge,
        MempoolFull,
    ]
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes)
    assert all(1650 <= code <= 1699 for code in codes)
