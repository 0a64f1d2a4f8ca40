"""`gongshi bench contracts` runs end to end and reports its figures (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gongshi.bench.contracts import plain_function
from gongshi.cli.main import cli
from gongshi.contracts.testing import BOB


def test_bench_contracts_writes_figures(tmp_path: Path) -> None:
    output = tmp_path / "figures.json"
    result = CliRunner().invoke(
        cli, ["bench", "contracts", "--calls", "50", "--rounds", "1", "--json", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "metered (LoadedContract.invoke)" in result.output
    assert "plain Python, same storage" in result.output
    figures = json.loads(output.read_text())
    assert figures["calls"] == 50
    assert figures["metered_per_s"] > 0 and figures["plain_per_s"] > 0
    assert figures["overhead"] == figures["plain_per_s"] / figures["metered_per_s"]
    # A metered transfer pays for its storage, its event and its statements.
    assert figures["gas_per_call"] > 2 * 2_000 + 1_000


def test_plain_baseline_does_the_same_transfer() -> None:
    from gongshi.bench.contracts import _funded_chain, token_source
    from gongshi.execution.gas import GasMeter

    source = token_source()
    chain, host = _funded_chain(source, GasMeter(10**9))
    transfer = plain_function(source, host)
    transfer(to=BOB, amount=7)
    assert chain.invoke("token", "balance_of", {"holder": BOB}, read_only=True) == 7
    assert chain.events[-1][1] == "Transfer"
