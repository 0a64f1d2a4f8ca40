"""`gongshi bench mempool` runs end to end and reports its figures."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gongshi.cli.main import cli


def test_bench_mempool_writes_figures(tmp_path: Path) -> None:
    output = tmp_path / "figures.json"
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            "mempool",
            "--suite",
            "intl",
            "--count",
            "128",
            "--batch",
            "32",
            "--threads",
            "2",
            "--rounds",
            "1",
            "--json",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "admission, 2 threads" in result.output
    [figures] = json.loads(output.read_text())
    assert figures["suite"] == "intl" and figures["transactions"] == 128
    assert figures["serial_per_s"] > 0 and figures["parallel_per_s"] > 0
    assert figures["speedup"] == figures["parallel_per_s"] / figures["serial_per_s"]
