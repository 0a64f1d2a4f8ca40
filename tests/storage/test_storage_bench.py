"""`gongshi bench storage` runs end to end on a tiny workload (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gongshi.bench.storage import storage_command
from gongshi.crypto import get_suite
from gongshi.storage.ledger import Ledger


def test_bench_prints_every_figure_and_leaves_a_valid_ledger(tmp_path: Path) -> None:
    arguments = ["--blocks", "2", "--txs", "40", "--prefill", "300", "--suite", "intl"]
    result = CliRunner().invoke(storage_command, [*arguments, "--dir", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    for label in (
        "authenticated state writes",
        "block commit latency",
        "bytes on disk",
        "state proofs",
        "tx inclusion proofs",
    ):
        assert label in result.output
    with Ledger.open(tmp_path / "b" / "ledger", get_suite("intl")) as ledger:
        assert ledger.committed_height == 2  # one prefill block, then two measured ones
        ledger.check_integrity()


def test_bench_json_output(tmp_path: Path) -> None:
    output = tmp_path / "figures.json"
    result = CliRunner().invoke(
        storage_command,
        ["--blocks", "1", "--txs", "20", "--suite", "intl", "--json", str(output)],
    )
    assert result.exit_code == 0, result.output
    assert "state writes" in result.output
    figures = json.loads(output.read_text())
    assert figures["state_writes_per_block"] == 40
    assert figures["state_keys_at_end"] == 40
    assert figures["bytes_on_disk_per_tx"] > 0
    assert figures["state_proofs_per_s"] > 0


def test_bench_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(storage_command, ["--suite", "intl", "--dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "not empty" in result.output
