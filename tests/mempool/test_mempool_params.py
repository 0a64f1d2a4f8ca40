"""Limits governance changes at run time (`Mempool.set_config`): capacity and admission
limits switch at once; pending transactions stay."""

from __future__ import annotations

import dataclasses

import pytest

from gongshi.mempool.errors import GasLimitTooHigh, MempoolFull

from .conftest import make_world  # type: ignore[import-not-found]


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
