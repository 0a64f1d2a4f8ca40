"""The chain benchmark's summaries, table, JSON and plot, from a synthetic record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gongshi.bench.ceiling import Ceiling
from gongshi.bench.chain_report import (
    UsageSample,
    cpu_percent,
    moving_average,
    plot,
    render_table,
    rss_peak_mb,
    step_json,
    summarize_step,
)

CEILING = Ceiling(
    suite="intl", cores=2, seconds=1.0, verify_per_s_per_core=(20_000.0, 20_000.0), nodes=4
)


def synthetic_record(rate: float = 100.0, duration: float = 10.0) -> dict[str, Any]:
    """A step at `rate` whose transactions all commit 0.8 to 1.3 s after sending, in
    blocks every 0.5 s (the block at t holds what was sent in (t - 1.3, t - 0.8])."""
    count = int(rate * duration)
    txs = [[i / rate, None] for i in range(count)]
    blocks = []
    height = 1
    for k in range(1, int((duration + 2) / 0.5) + 1):
        seen = k * 0.5
        members = [tx for tx in txs if seen - 0.5 < tx[0] + 0.8 <= seen]
        for tx in members:
            tx[1] = seen
        blocks.append([height, seen, len(members), seen + 100.0])
        height += 1
    return {
        "rate": rate,
        "duration_s": duration,
        "started_monotonic": 1000.0,
        "sign_s": 0.2,
        "txs": txs,
        "blocks": blocks,
        "refusals": {"NonceTooHigh": 3},
        "failed": 0,
        "transport_errors": 0,
    }


def usage(cores_busy: float) -> list[UsageSample]:
    return [
        UsageSample(at=1000.0 + t * 0.5, cpu_s=cores_busy * t * 0.5, rss=(50 + t) << 20)
        for t in range(30)
    ]


def test_cpu_percent_and_peak_rss() -> None:
    samples = usage(0.5)
    assert cpu_percent(samples, 1002.0, 1009.0) == pytest.approx(50.0)
    assert cpu_percent(samples, 2000.0, 2001.0) == 0.0
    assert rss_peak_mb(samples, None) == pytest.approx(79.0)
    assert rss_peak_mb(samples, 100 << 20) == pytest.approx(100.0)


def test_summary_of_a_steady_step() -> None:
    step = summarize_step(
        synthetic_record(), {"node1": usage(0.4), "loadgen": usage(0.1)}, {"node1": None}
    )
    assert step.committed_tps == pytest.approx(100.0, rel=0.02)
    assert step.sent_tps == pytest.approx(100.0, rel=0.02)
    assert step.latency is not None
    assert step.latency.unconfirmed == 0
    assert 0.8 <= step.latency.p50 <= step.latency.p99 <= 1.3
    assert step.blocks.interval_mean_s == pytest.approx(0.5)
    assert step.ratio(CEILING) == pytest.approx(100.0 / 10_000, rel=0.02)
    assert [p.name for p in step.processes] == ["node1", "loadgen"]
    assert step.processes[0].cpu_percent == pytest.approx(40.0)
    document = json.loads(json.dumps(step_json(step, CEILING)))  # JSON-safe (no inf)
    assert document["latency_s"]["unconfirmed"] == 0
    assert document["refusals"] == {"NonceTooHigh": 3}
    assert len(document["series"]) >= 10


def test_lost_transactions_make_p99_null_in_json_and_infinite_in_the_table() -> None:
    record = synthetic_record()
    for tx in record["txs"][300:320]:
        tx[1] = None
    step = summarize_step(record, {}, {})
    assert step.latency is not None and step.latency.unconfirmed == 20
    assert step_json(step, CEILING)["latency_s"]["p99"] is None
    table = render_table([step], CEILING, "header line", best=None)
    assert "header line" in table and "∞" in table and "10,000 tx/s" in table


def test_plot_writes_a_png(tmp_path: Path) -> None:
    steps = [summarize_step(synthetic_record(rate), {}, {}) for rate in (50.0, 100.0)]
    path = tmp_path / "plot.png"
    plot(steps, "title", path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_moving_average_smooths_block_bursts() -> None:
    assert moving_average([0.0, 300.0, 0.0, 300.0, 0.0], 3) == [150.0, 100.0, 200.0, 100.0, 150.0]
    assert moving_average([5.0], 3) == [5.0]
    assert moving_average([], 3) == []
