"""`gongshi bench execution`: blocks built, validated and committed on two real ledgers."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gongshi.bench.execution import run_execution_bench
from gongshi.cli.main import cli
from gongshi.crypto import get_suite


def test_every_stage_is_measured_and_both_ledgers_commit(tmp_path: Path) -> None:
    result = run_execution_bench(
        suite=get_suite("intl"), directory=tmp_path, blocks=4, txs_per_block=6, senders=5
    )
    assert result.senders == 5  # not a multiple of the four organisations
    assert result.build_us_per_tx > 0
    assert result.validate_us_per_tx > 0
    assert result.commit_us_per_tx > 0
    expected_rate = 1e6 / (result.validate_us_per_tx + result.commit_us_per_tx)
    assert abs(result.validator_txs_per_cpu_s - expected_rate) < 1e-6 * expected_rate
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proposer", "validator"]


def test_cli_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "execution.json"
    run = CliRunner().invoke(
        cli,
        [
            "bench",
            "execution",
            "--suite",
            "gm",
            "--blocks",
            "3",
            "--txs",
            "4",
            "--senders",
            "2",
            "--json",
            str(out),
        ],
    )
    assert run.exit_code == 0, run.output
    assert "validate (replica)" in run.output
    document = json.loads(out.read_text())
    assert document["suite"] == "gm"
    assert document["txs_per_block"] == 4


def test_too_few_blocks_to_commit_any_is_refused() -> None:
    run = CliRunner().invoke(cli, ["bench", "execution", "--blocks", "2"])
    assert run.exit_code == 2
    assert "--blocks" in run.output
