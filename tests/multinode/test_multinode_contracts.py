"""Four node processes deploy a Python contract by governance and run it from several clients:
dict iteration, big integers, Decimal arithmetic and calls that fail halfway (after writing)
give the same receipts and state roots on every node."""

from __future__ import annotations

from typing import Any

import pytest

from gongshi.codec import ReceiptStatus

from .conftest import assert_same_chain  # type: ignore[import-not-found]

WORKLOAD = """
from gongshi.contract import export, Map, Value, Decimal, ctx, emit, require

buckets = Map(key=str, default=0)
digest = Value(default=0)
fees = Value(default=Decimal("0"))
calls = Map(key=bytes, default=0)


@export
def step(n: int, fail: bool) -> str:
    counts = {}
    for i in range(n):
        name = "k" + str((i * 7919) % 11)
        counts[name] = counts.get(name, 0) + i
    total = 0
    for name, value in counts.items():
        buckets[name] = buckets[name] + value
        total = total + value
    big = 3 ** (300 + n) + 2 ** (n + 64)
    digest.set((digest.get() * 1000003 + big) % (2 ** 521 - 1))
    fee = fees.get() + Decimal("0.0125") * n / 3
    fees.set(fee)
    calls[ctx.sender] = calls[ctx.sender] + 1
    emit("Stepped", n=n, total=total, fee=str(fee))
    require(not fail, "failed halfway")
    return str(fee)


@export(read_only=True)
def summary() -> dict:
    keys = sorted(["k" + str(i) for i in range(11)])
    return {
        "digest": hex(digest.get()),
        "fees": str(fees.get()),
        "buckets": [buckets[k] for k in keys],
    }
"""

CALLS = 40
CLIENTS = (0, 2, 4, 6)  # org1..org4 clients in the fixture's identities
ADMINS = {"org1": 1, "org2": 3, "org3": 5}
GAS_LIMIT = 3_000_000


def deploy(localnet: Any) -> None:
    """org1's admin uploads and proposes through node1; org2 and org3 approve via others."""
    proposer = localnet.client(ADMINS["org1"], "node1")
    code_hash = proposer.contract_upload(WORKLOAD)
    proposal = proposer.propose("deploy_contract", {"name": "workload", "code_hash": code_hash})
    localnet.client(ADMINS["org2"], "node2").vote(proposal, True)
    status = localnet.client(ADMINS["org3"], "node3").vote(proposal, True)
    assert status["status"] == "executed", status


@pytest.mark.multinode
@pytest.mark.timeout(180)
def test_contracts_give_identical_state_on_every_node(localnet: Any) -> None:
    deploy(localnet)
    submitted: list[tuple[bytes, bool]] = []
    for index in range(CALLS):
        sender = CLIENTS[index % len(CLIENTS)]
        client = localnet.client(sender, localnet.names[index % len(localnet.names)])
        fail = index % 3 == 2
        args = {"n": 5 + (index * 13) % 60, "fail": fail}
        submitted.append((client.submit("workload", "step", args, gas_limit=GAS_LIMIT), fail))
    reader = localnet.client(0, "node4")
    for tx_hash, fail in submitted:
        receipt = reader.wait_receipt(tx_hash, timeout_s=60.0).receipt
        expected = ReceiptStatus.FAILED if fail else ReceiptStatus.SUCCESS
        assert receipt.status is expected, receipt.error
        if fail:
            assert receipt.events == () and "failed halfway" in (receipt.error or "")
    height = min(h or 0 for h in localnet.heights().values())
    summaries = [
        localnet.rpc.call(
            name, "contract_query", {"target": "workload", "method": "summary", "height": height}
        )
        for name in localnet.names
    ]
    assert all(summary == summaries[0] for summary in summaries)
    assert int(summaries[0]["result"]["digest"], 16) > 0
    localnet.stop()
    ledgers = localnet.open_ledgers()
    try:
        roots = {name: ledger.get_header(height).state_root for name, ledger in ledgers.items()}
        assert len(set(roots.values())) == 1, roots
        assert_same_chain(ledgers, height)
    finally:
        for ledger in ledgers.values():
            ledger.close()
