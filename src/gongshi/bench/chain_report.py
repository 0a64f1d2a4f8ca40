"""The chain benchmark's figures: per-step summaries from the load generator's record and the
node processes' CPU/memory samples, the terminal table, the JSON document and the PNG plot."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gongshi.bench.ceiling import Ceiling
from gongshi.bench.chain_stats import (
    BlockSample,
    BlockStats,
    LatencyStats,
    SeriesPoint,
    TxSample,
    Window,
    block_stats,
    committed_rate,
    latency_stats,
    steady_window,
    time_series,
)

MB = 1 << 20
SMOOTHING_S = 3  # the plot's committed tx/s is averaged over this many seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageSample:
    """One sample of a process: monotonic time, CPU seconds used so far, resident bytes."""

    at: float
    cpu_s: float
    rss: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessUsage:
    name: str
    cpu_percent: float  # over a step's steady state; 100 = one core busy
    rss_peak_mb: float  # over the whole run


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSummary:
    rate: float
    duration_s: float
    window: Window
    committed_tps: float
    sent_tps: float  # what the load generator managed to send in the window
    latency: LatencyStats | None
    blocks: BlockStats
    refusals: Mapping[str, int]
    failed: int
    sign_s: float
    processes: tuple[ProcessUsage, ...]
    series: tuple[SeriesPoint, ...]
    started: float  # monotonic

    def ratio(self, ceiling: Ceiling) -> float:
        return self.committed_tps / ceiling.tps if ceiling.tps else 0.0


def cpu_percent(samples: Sequence[UsageSample], start: float, end: float) -> float:
    """CPU use between `start` and `end` (monotonic), from the samples nearest inside them."""
    inside = [s for s in samples if start <= s.at <= end]
    if len(inside) < 2 or inside[-1].at <= inside[0].at:
        return 0.0
    return 100.0 * (inside[-1].cpu_s - inside[0].cpu_s) / (inside[-1].at - inside[0].at)


def rss_peak_mb(samples: Sequence[UsageSample], reported_peak: int | None) -> float:
    sampled = max((s.rss for s in samples), default=0)
    return max(sampled, reported_peak or 0) / MB


def parse_step(record: Mapping[str, Any]) -> tuple[list[TxSample], list[BlockSample]]:
    """The samples of one step of the load generator's result document."""
    txs = [
        TxSample(submitted=sent, committed=committed)
        for sent, committed in record["txs"]
        if sent is not None
    ]
    blocks = [
        BlockSample(height=height, seen=seen, tx_count=count, proposed=proposed)
        for height, seen, count, proposed in record["blocks"]
        if seen >= 0
    ]
    return txs, blocks


def summarize_step(
    record: Mapping[str, Any],
    usage: Mapping[str, Sequence[UsageSample]],
    peaks: Mapping[str, int | None],
) -> StepSummary:
    txs, blocks = parse_step(record)
    duration = float(record["duration_s"])
    window = steady_window(duration)
    started = float(record["started_monotonic"])
    sent_in_window = sum(1 for tx in txs if tx.submitted in window)
    processes = tuple(
        ProcessUsage(
            name=name,
            cpu_percent=cpu_percent(samples, started + window.start, started + window.end),
            rss_peak_mb=rss_peak_mb(samples, peaks.get(name)),
        )
        for name, samples in usage.items()
    )
    last_seen = max([b.seen for b in blocks] + [duration])
    return StepSummary(
        rate=float(record["rate"]),
        duration_s=duration,
        window=window,
        committed_tps=committed_rate(blocks, window),
        sent_tps=sent_in_window / window.length if window.length > 0 else 0.0,
        latency=latency_stats(txs, window),
        blocks=block_stats(blocks, window),
        refusals=dict(record["refusals"]),
        failed=int(record["failed"]),
        sign_s=float(record["sign_s"]),
        processes=processes,
        series=tuple(time_series(txs, blocks, math.ceil(last_seen))),
        started=started,
    )


def _finite(value: float) -> float | None:
    return None if math.isinf(value) or math.isnan(value) else round(value, 4)


def step_json(step: StepSummary, ceiling: Ceiling) -> dict[str, Any]:
    latency = step.latency
    return {
        "offered_tps": step.rate,
        "duration_s": step.duration_s,
        "steady_window_s": [step.window.start, step.window.end],
        "sent_tps": round(step.sent_tps, 2),
        "committed_tps": round(step.committed_tps, 2),
        "ratio_of_ceiling": round(step.ratio(ceiling), 4),
        "latency_s": None
        if latency is None
        else {
            "sent": latency.sent,
            "confirmed": latency.confirmed,
            "unconfirmed": latency.unconfirmed,
            "p50": _finite(latency.p50),
            "p95": _finite(latency.p95),
            "p99": _finite(latency.p99),
            "mean": _finite(latency.mean),
        },
        "blocks": {
            "count": step.blocks.blocks,
            "interval_mean_s": round(step.blocks.interval_mean_s, 4),
            "txs_per_block_mean": round(step.blocks.txs_per_block_mean, 2),
            "txs_per_block_max": step.blocks.txs_per_block_max,
        },
        "processes": [
            {
                "name": p.name,
                "cpu_percent": round(p.cpu_percent, 1),
                "rss_peak_mb": round(p.rss_peak_mb, 1),
            }
            for p in step.processes
        ],
        "refusals": dict(step.refusals),
        "failed": step.failed,
        "sign_s": round(step.sign_s, 3),
        "series": [
            {
                "second": point.second,
                "committed_tps": point.committed_tps,
                "latency_p50_s": point.latency_p50,
                "latency_p99_s": point.latency_p99,
            }
            for point in step.series
        ],
    }


def _ms(value: float | None) -> str:
    if value is None or math.isinf(value):
        return "    ∞"
    return f"{value * 1000:5.0f}"


def render_table(
    steps: Sequence[StepSummary],
    ceiling: Ceiling,
    header: str,
    best: float | None,
    focus: StepSummary | None = None,
) -> str:
    """The terminal summary: one line per step, then CPU/RSS per process of `focus` (by
    default the last step)."""
    lines = [
        header,
        f"ceiling: {ceiling.verify_per_s:,.0f} verify/s on {ceiling.cores} cores "
        f"÷ {ceiling.nodes} nodes = {ceiling.tps:,.0f} tx/s",
        "",
        "offered  sent/s  committed/s  of ceiling  p50 ms  p95 ms  p99 ms  "
        "block s  tx/block  unconfirmed",
    ]
    for step in steps:
        latency = step.latency
        p50, p95, p99 = (latency.p50, latency.p95, latency.p99) if latency else (None,) * 3
        lines.append(
            f"{step.rate:7,.0f}  {step.sent_tps:6,.0f}  {step.committed_tps:11,.1f}  "
            f"{100 * step.ratio(ceiling):9.1f}%   {_ms(p50)}   {_ms(p95)}   {_ms(p99)}  "
            f"{step.blocks.interval_mean_s:7.2f}  {step.blocks.txs_per_block_mean:8.1f}  "
            f"{latency.unconfirmed if latency else 0:11d}"
        )
    if best is not None:
        lines.append(f"highest sustained offered rate: {best:,.0f} tx/s")
    focus = focus or (steps[-1] if steps else None)
    if focus is not None:
        lines += ["", f"process    CPU % at {focus.rate:,.0f} tx/s  peak RSS MB (whole run)"]
        lines += [
            f"{p.name:<10} {p.cpu_percent:18.0f}  "
            + (f"{p.rss_peak_mb:22.0f}" if p.rss_peak_mb else f"{'-':>22}")
            for p in focus.processes
        ]
        lines.append(f"(CPU %: 100 = one core busy; {ceiling.cores} cores)")
    return "\n".join(lines)


def moving_average(values: Sequence[float], width: int) -> list[float]:
    """Centred moving average over `width` points (fewer at the ends): commits come a block
    at a time, so per-second counts alternate between 0 and a block's worth."""
    half = width // 2
    averaged = []
    for index in range(len(values)):
        window = values[max(0, index - half) : index + half + 1]
        averaged.append(sum(window) / len(window))
    return averaged


def plot(steps: Sequence[StepSummary], title: str, path: Path) -> None:
    """Committed tx/s (and the offered rate) and receipt latency over time, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, tps_axis = pyplot.subplots(figsize=(10, 5))
    latency_axis = tps_axis.twinx()
    origin = steps[0].started if steps else 0.0
    for index, step in enumerate(steps):
        offset = step.started - origin
        seconds = [offset + p.second + 0.5 for p in step.series]
        label = index == 0
        tps_axis.plot(
            seconds,
            moving_average([p.committed_tps for p in step.series], SMOOTHING_S),
            color="tab:blue",
            label=f"committed tx/s ({SMOOTHING_S} s average)" if label else "_nolegend_",
        )
        tps_axis.hlines(
            step.rate,
            offset,
            offset + step.duration_s,
            colors="tab:gray",
            linestyles="dashed",
            label="offered tx/s" if label else "_nolegend_",
        )
        for attribute, color, name in (
            ("latency_p50", "tab:orange", "latency p50 (s)"),
            ("latency_p99", "tab:red", "latency p99 (s)"),
        ):
            points = [(s, getattr(p, attribute)) for s, p in zip(seconds, step.series, strict=True)]
            kept = [(s, v) for s, v in points if v is not None]
            latency_axis.plot(
                [s for s, _ in kept],
                [v for _, v in kept],
                ".-",
                color=color,
                label=name if label else "_nolegend_",
            )
    tps_axis.set_xlabel("seconds since the load started")
    tps_axis.set_ylabel("transactions per second")
    latency_axis.set_ylabel("latency, submission to receipt (s)")
    tps_axis.set_ylim(bottom=0)
    latency_axis.set_ylim(bottom=0)
    handles = tps_axis.get_legend_handles_labels()
    more = latency_axis.get_legend_handles_labels()
    tps_axis.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=8)
    tps_axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
