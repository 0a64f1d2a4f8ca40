"""The state tree benchmark driver runs and reports consistent counts (no timing assertions)."""

from __future__ import annotations

from gongshi.merkle.bench_tree import bench_state_tree


def test_bench_driver_reports_figures() -> None:
    figures = bench_state_tree(suite="intl", tree_keys=3_000, writes_per_block=500, blocks=2)
    assert figures.suite == "intl"
    assert figures.tree_keys == 3_000
    assert figures.blocks == 2
    assert figures.writes_per_second >= 0
    # Every write rewrites its leaf; updates and inserts also stale and add internal nodes.
    assert figures.new_nodes_per_block >= 500
    assert 0 < figures.stale_nodes_per_block < figures.new_nodes_per_block
