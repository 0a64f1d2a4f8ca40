"""Faults on a real 4-node network: a node killed with SIGKILL mid-load and restarted, and a
node cut off from its peers for a while. Both must catch up with nothing lost or duplicated,
and the other three must keep committing meanwhile."""

from __future__ import annotations

import signal
import threading

import pytest

LIVE = ["node1", "node2", "node3"]
VICTIM = "node4"
LAG_BLOCKS = 12  # more than block sync's lag threshold, so block sync does the catching up


@pytest.mark.slow
@pytest.mark.multinode
@pytest.mark.timeout(300)
def test_node_killed_mid_load_restarts_and_catches_up(localnet) -> None:  # type: ignore[no-untyped-def]
    submitted: list[bytes] = []
    load = threading.Thread(
        target=lambda: submitted.extend(localnet.submit(600, via=LIVE, tag="load")), daemon=True
    )
    load.start()
    localnet.wait_height(localnet.height_max() + 2, names=[VICTIM], timeout_s=60.0)
    localnet.network.kill(VICTIM)
    load.join(timeout=120.0)
    assert not load.is_alive()
    localnet.wait_height(localnet.height_max() + LAG_BLOCKS, names=LIVE, timeout_s=60.0)

    localnet.network.start(VICTIM)
    after = localnet.submit(200, via=LIVE, tag="after")
    target = localnet.height_max()
    localnet.wait_height(target, names=[VICTIM], timeout_s=120.0)
    localnet.wait_mempools_empty(timeout_s=90.0)
    top = min(h or 0 for h in localnet.heights().values())
    localnet.stop()
    localnet.check_ledgers(set(submitted) | set(after), top)


@pytest.mark.slow
@pytest.mark.multinode
@pytest.mark.timeout(300)
def test_partitioned_node_reconnects_and_catches_up(localnet) -> None:  # type: ignore[no-untyped-def]
    # Clients talk to the three live nodes only: a transaction accepted by the victim just
    # before the cut would wait in its mempool, and a client that then reused its nonce
    # through another node would replace it (a client's choice, not a lost commit).
    before = localnet.submit(100, via=LIVE, tag="before")
    localnet.network.signal(VICTIM, signal.SIGUSR1)  # partition: close and refuse connections
    cut_at = localnet.height_max()
    during = localnet.submit(300, via=LIVE, tag="during")
    localnet.wait_height(cut_at + LAG_BLOCKS, names=LIVE, timeout_s=90.0)
    victim_height = localnet.heights([VICTIM])[VICTIM]
    assert victim_height is not None and victim_height <= cut_at + 2  # it could not commit

    localnet.network.signal(VICTIM, signal.SIGUSR2)  # heal
    target = localnet.height_max()
    localnet.wait_height(target, names=[VICTIM], timeout_s=120.0)
    after = localnet.submit(100, via=LIVE, tag="after")
    localnet.wait_mempools_empty(timeout_s=90.0)
    top = min(h or 0 for h in localnet.heights().values())
    localnet.stop()
    localnet.check_ledgers(set(before) | set(during) | set(after), top)
