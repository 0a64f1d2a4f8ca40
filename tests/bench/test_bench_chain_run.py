"""`gongshi bench chain` end to end: real node processes, the load-generator process, the JSON
and PNG outputs; and no process left behind, after a normal run or a Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.multinode

RUN_TIMEOUT_S = 180


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Live processes whose command line mentions `text` (our network's directory)."""
    found = []
    for process in psutil.process_iter(["cmdline", "pid"]):
        try:
            if process.pid != os.getpid() and text in " ".join(process.info["cmdline"] or ()):
                found.append(process)
        except psutil.Error:
            continue
    return found


def bench_command(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gongshi",
        "bench",
        "chain",
        "--nodes",
        "4",
        "--suite",
        "intl",
        "--ceiling-seconds",
        "0.3",
        "--out",
        str(out),
        *extra,
    ]


def test_a_short_run_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "out"
    completed = subprocess.run(
        bench_command(out, "--duration", "5", "--rate", "50"),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    document = json.loads((out / "bench-chain-intl.json").read_text())
    assert document["benchmark"] == "chain" and document["mode"] == "rate"
    assert document["suite"] == "intl" and document["nodes"] == 4
    assert document["senders"] >= 64
    assert document["ceiling"]["verify_per_s"] > 0
    assert document["ceiling"]["ceiling_tps"] == pytest.approx(
        document["ceiling"]["verify_per_s"] / 4
    )
    result = document["result"]
    assert result["committed_tps"] > 0
    assert result["ratio_of_ceiling"] > 0
    assert 0 < result["latency_s"]["p50"] <= result["latency_s"]["p95"]
    assert result["latency_s"]["p95"] <= result["latency_s"]["p99"]
    assert set(result["rss_peak_mb"]) == {"node1", "node2", "node3", "node4"}
    (step,) = document["steps"]
    assert step["offered_tps"] == 50
    assert step["blocks"]["count"] > 0 and step["blocks"]["interval_mean_s"] > 0
    assert {p["name"] for p in step["processes"]} == {
        "machine",
        "node1",
        "node2",
        "node3",
        "node4",
        "loadgen",
    }
    assert any(point["committed_tps"] > 0 for point in step["series"])
    assert (out / "bench-chain-intl.png").read_bytes()[:4] == b"\x89PNG"
    assert "committed/s" in completed.stdout
    assert not processes_mentioning(str(out))


def test_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        bench_command(out, "--duration", "60", "--rate", "20"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the signal goes to the benchmark alone, not its children
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "step 0 at" in line or "signing" in line:
                break
        time.sleep(1.0)
        assert processes_mentioning(str(out)), "the nodes should be running by now"
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    leftovers = processes_mentioning(str(out))
    for leftover in leftovers:
        leftover.kill()
    assert not leftovers
