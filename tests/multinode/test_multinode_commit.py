"""Four node processes on loopback commit 1,000 notarization transactions with identical
blocks and state on every node."""

from __future__ import annotations

import pytest

TRANSACTIONS = 1000


@pytest.mark.multinode
@pytest.mark.timeout(120)
def test_four_nodes_commit_notarizations_identically(localnet) -> None:  # type: ignore[no-untyped-def]
    submitted = localnet.submit(TRANSACTIONS, tag="commit")
    localnet.wait_mempools_empty(timeout_s=90.0)
    localnet.verify_receipts(submitted, "node2")
    top = min(h or 0 for h in localnet.heights().values())
    for name in localnet.names:
        metrics = localnet.metrics(name)
        assert metrics["gongshi_height"] >= top
        assert metrics["gongshi_committed_transactions_total"] >= TRANSACTIONS
        assert metrics["gongshi_peers_connected"] == 3
        assert metrics["gongshi_block_commit_latency_seconds_count"] >= 1
    localnet.stop()
    localnet.check_ledgers(set(submitted), top)
