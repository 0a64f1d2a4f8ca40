"""The chain benchmark's statistics, as pure functions of what the load generator recorded.

Times are seconds since the start of a load step (the load generator's monotonic clock).
A step offers load for `duration` seconds; its steady state is the window left after
dropping the warm-up (mempools filling, first blocks) and the tail (the last blocks, which
hold a partial second of load). Committed throughput is measured between block commits, not
per wall-clock bucket, so a window that cuts a block's interval does not bias it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

WARMUP_FRACTION = 0.2
WARMUP_MIN_S = 1.0
TAIL_FRACTION = 0.1
TAIL_MIN_S = 0.5
PERCENTILES = (50, 95, 99)


@dataclass(frozen=True, slots=True, kw_only=True)
class TxSample:
    """One transaction: when it was sent and when its receipt came (None: never seen)."""

    submitted: float
    committed: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockSample:
    """One committed block as the reference node announced it."""

    height: int
    seen: float
    tx_count: int
    # The header's timestamp (the proposer's clock), seconds; only differences are used.
    proposed: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start

    def __contains__(self, moment: float) -> bool:
        return self.start <= moment <= self.end


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyStats:
    """Latency from submission to receipt of the transactions sent in a window; a transaction
    never confirmed counts as infinitely late (so lost ones show in the high percentiles)."""

    sent: int
    confirmed: int
    p50: float
    p95: float
    p99: float
    mean: float  # over the confirmed ones

    @property
    def unconfirmed(self) -> int:
        return self.sent - self.confirmed


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockStats:
    blocks: int
    interval_mean_s: float
    txs_per_block_mean: float
    txs_per_block_max: int


def steady_window(duration: float) -> Window:
    """The steady-state part of a step of `duration` seconds (empty if too short)."""
    if not duration > 0:
        raise ValueError(f"a step lasts a positive time, not {duration}")
    start = max(WARMUP_MIN_S, WARMUP_FRACTION * duration)
    end = duration - max(TAIL_MIN_S, TAIL_FRACTION * duration)
    return Window(start=min(start, end), end=end) if end > 0 else Window(start=0.0, end=0.0)


def percentile(ordered: Sequence[float], rank: float) -> float:
    """The nearest-rank `rank`-th percentile (0 < rank <= 100) of ascending `ordered`."""
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 < rank <= 100:
        raise ValueError(f"percentile rank must be in (0, 100], not {rank}")
    index = math.ceil(rank / 100 * len(ordered)) - 1
    return ordered[max(0, index)]


def latency_stats(txs: Sequence[TxSample], window: Window) -> LatencyStats | None:
    """Latencies of the transactions submitted inside `window`; None if there are none."""
    latencies = sorted(
        math.inf if tx.committed is None else tx.committed - tx.submitted
        for tx in txs
        if tx.submitted in window
    )
    if not latencies:
        return None
    finite = [latency for latency in latencies if latency != math.inf]
    return LatencyStats(
        sent=len(latencies),
        confirmed=len(finite),
        p50=percentile(latencies, 50),
        p95=percentile(latencies, 95),
        p99=percentile(latencies, 99),
        mean=sum(finite) / len(finite) if finite else math.inf,
    )


def blocks_in(blocks: Sequence[BlockSample], window: Window) -> list[BlockSample]:
    return sorted((b for b in blocks if b.seen in window), key=lambda b: b.seen)


def committed_rate(blocks: Sequence[BlockSample], window: Window) -> float:
    """Committed transactions per second in `window`: the transactions of the blocks after
    the window's first commit, over the time between the first and the last block. That time
    is taken between their proposals (header timestamps) when known, since a block holds
    what arrived since the previous proposal while commits can arrive in bursts; else
    between their commits. With fewer than two commits in the window, the window's
    transactions over its length."""
    inside = blocks_in(blocks, window)
    if len(inside) >= 2:
        first, last = inside[0], inside[-1]
        if first.proposed is not None and last.proposed is not None:
            span = last.proposed - first.proposed
        else:
            span = last.seen - first.seen
        if span > 0:
            return sum(b.tx_count for b in inside[1:]) / span
    if window.length <= 0:
        return 0.0
    return sum(b.tx_count for b in inside) / window.length


def block_stats(blocks: Sequence[BlockSample], window: Window) -> BlockStats:
    inside = blocks_in(blocks, window)
    intervals = [later.seen - earlier.seen for earlier, later in itertools.pairwise(inside)]
    return BlockStats(
        blocks=len(inside),
        interval_mean_s=sum(intervals) / len(intervals) if intervals else 0.0,
        txs_per_block_mean=sum(b.tx_count for b in inside) / len(inside) if inside else 0.0,
        txs_per_block_max=max((b.tx_count for b in inside), default=0),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesPoint:
    """One second of a step, for the plot."""

    second: int
    committed_tps: float
    latency_p50: float | None  # of the transactions committed in that second
    latency_p99: float | None


def time_series(
    txs: Sequence[TxSample], blocks: Sequence[BlockSample], seconds: int
) -> list[SeriesPoint]:
    """Committed transactions and receipt latency per one-second bucket, 0 .. seconds-1."""
    committed = [0] * seconds
    for block in blocks:
        bucket = math.floor(block.seen)
        if 0 <= bucket < seconds:
            committed[bucket] += block.tx_count
    latencies: list[list[float]] = [[] for _ in range(seconds)]
    for tx in txs:
        if tx.committed is not None:
            bucket = math.floor(tx.committed)
            if 0 <= bucket < seconds:
                latencies[bucket].append(tx.committed - tx.submitted)
    points = []
    for second in range(seconds):
        ordered = sorted(latencies[second])
        points.append(
            SeriesPoint(
                second=second,
                committed_tps=float(committed[second]),
                latency_p50=percentile(ordered, 50) if ordered else None,
                latency_p99=percentile(ordered, 99) if ordered else None,
            )
        )
    return points
