"""The chain benchmark's statistics: percentiles, steady-state window, committed rate,
latency with lost transactions, per-second series."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.bench.chain_stats import (
    BlockSample,
    TxSample,
    Window,
    block_stats,
    committed_rate,
    latency_stats,
    percentile,
    steady_window,
    time_series,
)

values = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1)


def test_percentile_nearest_rank_on_one_to_hundred() -> None:
    ordered = [float(v) for v in range(1, 101)]
    assert percentile(ordered, 50) == 50.0
    assert percentile(ordered, 95) == 95.0
    assert percentile(ordered, 99) == 99.0
    assert percentile(ordered, 100) == 100.0
    assert percentile([7.0], 1) == 7.0


@given(values, st.floats(min_value=0.01, max_value=100))
def test_percentile_is_a_member_with_enough_values_at_or_below(
    raw: list[float], rank: float
) -> None:
    ordered = sorted(raw)
    value = percentile(ordered, rank)
    assert value in ordered
    at_or_below = sum(1 for v in ordered if v <= value)
    assert at_or_below >= rank / 100 * len(ordered) - 1e-9
    # and it is the smallest such value
    below = sum(1 for v in ordered if v < value)
    assert below < rank / 100 * len(ordered) + 1e-9


def test_percentile_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 0)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@given(st.floats(min_value=0.01, max_value=10_000))
def test_steady_window_lies_inside_the_step(duration: float) -> None:
    window = steady_window(duration)
    assert 0 <= window.start <= window.end <= duration
    if duration >= 5:
        assert window.start >= 0.2 * duration - 1e-9
        assert window.end <= 0.9 * duration + 1e-9
        assert window.length >= 0.6 * duration - 1e-9


def test_steady_window_of_five_seconds() -> None:
    assert steady_window(5.0) == Window(start=1.0, end=4.5)
    assert steady_window(100.0) == Window(start=20.0, end=90.0)
    with pytest.raises(ValueError):
        steady_window(0.0)


def blocks_every(interval: float, per_block: int, until: float) -> list[BlockSample]:
    count = int(until / interval)
    return [
        BlockSample(height=h + 1, seen=(h + 1) * interval, tx_count=per_block) for h in range(count)
    ]


@given(
    st.floats(min_value=0.1, max_value=2.0),
    st.integers(min_value=0, max_value=5000),
    st.floats(min_value=0.0, max_value=0.99),
)
def test_committed_rate_of_a_regular_chain(interval: float, per_block: int, phase: float) -> None:
    blocks = [
        BlockSample(height=b.height, seen=b.seen + phase * interval, tx_count=b.tx_count)
        for b in blocks_every(interval, per_block, 200.0)
    ]
    rate = committed_rate(blocks, Window(start=20.0, end=180.0))
    assert rate == pytest.approx(per_block / interval)


def test_committed_rate_ignores_blocks_outside_the_window() -> None:
    blocks = [
        BlockSample(height=1, seen=0.5, tx_count=10_000),  # warm-up burst
        BlockSample(height=2, seen=2.0, tx_count=50),
        BlockSample(height=3, seen=3.0, tx_count=100),
        BlockSample(height=4, seen=4.0, tx_count=100),
        BlockSample(height=5, seen=9.5, tx_count=10_000),  # tail
    ]
    assert committed_rate(blocks, Window(start=1.0, end=8.0)) == pytest.approx(100.0)
    # one commit only: its transactions over the window
    assert committed_rate(blocks[:2], Window(start=1.0, end=3.0)) == pytest.approx(25.0)
    assert committed_rate([], Window(start=1.0, end=3.0)) == 0.0


def test_latency_counts_lost_transactions_as_infinite() -> None:
    txs = [TxSample(submitted=1.0 + i / 100, committed=2.0 + i / 100) for i in range(98)]
    txs += [TxSample(submitted=1.5, committed=None), TxSample(submitted=1.6, committed=None)]
    txs.append(TxSample(submitted=0.1, committed=50.0))  # outside the window: ignored
    stats = latency_stats(txs, Window(start=1.0, end=4.0))
    assert stats is not None
    assert (stats.sent, stats.confirmed, stats.unconfirmed) == (100, 98, 2)
    assert stats.p50 == pytest.approx(1.0)
    assert stats.p95 == pytest.approx(1.0)
    assert stats.p99 == math.inf
    assert stats.mean == pytest.approx(1.0)
    assert latency_stats(txs, Window(start=10.0, end=11.0)) is None


@given(st.lists(st.tuples(st.floats(0, 20), st.floats(0, 5)), min_size=1, max_size=200))
def test_latency_percentiles_are_ordered(pairs: list[tuple[float, float]]) -> None:
    txs = [TxSample(submitted=s, committed=s + d) for s, d in pairs]
    stats = latency_stats(txs, Window(start=0.0, end=20.0))
    assert stats is not None
    assert stats.p50 <= stats.p95 <= stats.p99
    if stats.sent < 100:  # nearest rank: the 99th percentile of fewer than 100 is the largest
        assert stats.p99 == pytest.approx(max(d for _, d in pairs), abs=1e-9)


def test_block_stats_in_window() -> None:
    blocks = blocks_every(0.5, 20, 10.0)
    stats = block_stats(blocks, Window(start=2.0, end=8.0))
    assert stats.blocks == 13
    assert stats.interval_mean_s == pytest.approx(0.5)
    assert stats.txs_per_block_mean == 20
    assert stats.txs_per_block_max == 20


def test_time_series_buckets_commits_and_latency() -> None:
    blocks = [
        BlockSample(height=1, seen=0.4, tx_count=3),
        BlockSample(height=2, seen=1.2, tx_count=5),
        BlockSample(height=3, seen=1.9, tx_count=1),
        BlockSample(height=4, seen=7.0, tx_count=9),  # past the end: dropped
    ]
    txs = [
        TxSample(submitted=0.0, committed=1.2),
        TxSample(submitted=0.2, committed=1.9),
        TxSample(submitted=0.3, committed=None),
    ]
    series = time_series(txs, blocks, 3)
    assert [p.committed_tps for p in series] == [3.0, 6.0, 0.0]
    assert series[0].latency_p50 is None
    assert series[1].latency_p50 == pytest.approx(1.2)
    assert series[1].latency_p99 == pytest.approx(1.7)
    assert series[2].latency_p99 is None


def test_committed_rate_prefers_proposal_times_over_bursty_commits() -> None:
    # proposals every 0.5 s with 50 transactions each (100 tx/s), but commits announced in
    # bursts: heights 2-3 together at 1.9, 4-5 together at 2.95 ...
    seen = [1.0, 1.9, 1.9, 2.95, 2.95, 3.9, 3.9]
    blocks = [
        BlockSample(height=h + 1, seen=s, tx_count=50, proposed=100.0 + 0.5 * h)
        for h, s in enumerate(seen)
    ]
    window = Window(start=0.5, end=4.0)
    assert committed_rate(blocks, window) == pytest.approx(100.0)
    by_commit = [BlockSample(height=b.height, seen=b.seen, tx_count=50) for b in blocks]
    assert committed_rate(by_commit, window) == pytest.approx(300 / 2.9)
