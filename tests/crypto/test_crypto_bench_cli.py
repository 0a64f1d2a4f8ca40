"""`gongshi bench crypto` runs end to end with tiny durations (shape only, no timings)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from gongshi.bench.crypto import measure_rate, measure_threaded_rate
from gongshi.cli.main import cli

FIGURE_KEYS = {
    "suite",
    "primitives",
    "libraries",
    "sign_per_s",
    "verify_per_s",
    "verify_2_threads_per_s",
    "hash_mb_per_s",
    "small_hash_per_s",
    "aead_encrypt_mb_per_s",
    "thread_speedup",
}


def test_bench_crypto_all_suites_prints_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "crypto.json"
    result = CliRunner().invoke(cli, ["bench", "crypto", "--seconds", "0.01", "--json", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("suite gm:", "suite intl:"):
        assert name in result.output
    rows = [re.split(r"\s{2,}", line.strip())[0] for line in result.output.splitlines()]
    expected = [
        "sign",
        "verify",
        "verify, 2 threads",
        "hash, 64-byte inputs",
        "AEAD encrypt, 16 KiB",
    ]
    for label in expected:
        assert rows.count(label) == 2, label
    data = json.loads(out.read_text())
    assert [suite["suite"] for suite in data["suites"]] == ["gm", "intl"]
    for suite in data["suites"]:
        assert set(suite) == FIGURE_KEYS
        assert all(suite[key] > 0 for key in FIGURE_KEYS if key.endswith("_per_s"))


def test_bench_crypto_one_suite_and_bad_options() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["bench", "crypto", "--suite", "intl", "--seconds", "0.01"])
    assert result.exit_code == 0, result.output
    assert "suite intl:" in result.output and "suite gm:" not in result.output
    assert runner.invoke(cli, ["bench", "crypto", "--suite", "rsa"]).exit_code == 2
    assert runner.invoke(cli, ["bench", "crypto", "--seconds", "0"]).exit_code == 2


def test_bench_group_lists_crypto_and_storage() -> None:
    result = CliRunner().invoke(cli, ["bench", "--help"])
    assert result.exit_code == 0
    assert "crypto" in result.output and "storage" in result.output


@pytest.mark.parametrize("threads", [1, 2])
def test_rates_count_every_call(threads: int) -> None:
    calls: list[int] = []

    def operation() -> None:
        calls.append(1)

    rate = (
        measure_rate(operation, 0.01)
        if threads == 1
        else measure_threaded_rate(operation, 0.01, threads)
    )
    assert rate > 0 and len(calls) > 1
