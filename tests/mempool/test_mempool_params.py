"""Limits governance changes at run time (`Mempool.set_config`): capacity and admission
limits switch at once; pending transactions stay. The transaction size limit taken from the
chain parameters never exceeds what the node's wire carries."""

from __future__ import annotations

import dataclasses

import pytest

from gongshi.codec.limits import TRANSACTION_BYTES_MAX
from gongshi.errors import GongshiError
from gongshi.mempool import MempoolConfig
from gongshi.mempool.errors import GasLimitTooHigh, MempoolFull, TransactionTooLarge
from gongshi.node.genesis import ChainParams
from gongshi.node.wire import TxBatch

from .conftest import CHAIN_ID, make_world  # type: ignore[import-not-found]


def test_new_limits_apply_to_the_next_admission_and_keep_pending_ones() -> None:
    world = make_world(txs_max=10)
    pool = world.pool()
    for nonce in range(3):
        pool.admit(world.raw("alice", nonce))
    smaller = dataclasses.replace(world.config, txs_max=3, block_gas_max=50_000)
    pool.set_config(smaller)
    assert pool.config == smaller and len(pool) == 3
    with pytest.raises(MempoolFull):
        pool.admit(world.raw("bob", 0, gas_limit=10_000))
    pool.set_config(dataclasses.replace(smaller, txs_max=5))
    with pytest.raises(GasLimitTooHigh):
        pool.admit(world.raw("bob", 0, gas_limit=60_000))
    pool.admit(world.raw("bob", 0, gas_limit=10_000))
    assert len(pool) == 4


def test_governance_cannot_raise_the_transaction_size_past_what_gossip_carries() -> None:
    # Valid chain parameters (tx_bytes_max <= block_bytes_max) above the codec's bound.
    params = ChainParams(chain_id=CHAIN_ID, tx_bytes_max=1 << 20, block_bytes_max=4 << 20)
    config = MempoolConfig.from_params(params)
    assert config.tx_bytes_max == TRANSACTION_BYTES_MAX < params.tx_bytes_max
    world = make_world()
    world.config = config
    pool = world.pool()
    fits = world.raw("alice", 0, args={"blob": b"x" * (TRANSACTION_BYTES_MAX - 1024)})
    too_big = world.raw("alice", 1, args={"blob": b"x" * TRANSACTION_BYTES_MAX})
    assert pool.admit(fits).ready
    with pytest.raises(TransactionTooLarge):
        pool.admit(too_big)
    # Why: what the pool admits is gossiped in batches and served to fetches, whose
    # encodings refuse a larger transaction.
    TxBatch(transactions=(fits,)).encode()
    with pytest.raises(GongshiError):
        TxBatch(transactions=(too_big,)).encode()
    # A limit below the bound is taken as it is.
    smaller = dataclasses.replace(params, tx_bytes_max=1000)
    assert MempoolConfig.from_params(smaller).tx_bytes_max == 1000
