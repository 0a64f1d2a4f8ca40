"""Deployed contracts' refusals at admission, end to end (issue #7): through the API's
`tx_send` on an in-process chain whose pool has the node's cached contract reader, with the
contract deployed, frozen and unfrozen by governance proposals."""

from __future__ import annotations

from typing import Any

import pytest

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.codec import ReceiptStatus, encode
from gongshi.crypto import PrivateKey
from gongshi.execution.contract_records import contract_address

from .test_api_contracts import COUNTER, Operator, Rpc  # type: ignore[import-not-found]


@pytest.fixture
def deployed(chain: LocalChain, served: ServedChain, rpc: Rpc) -> Operator:
    operator = Operator(chain, served, rpc)
    assert operator.deploy("counter", COUNTER)["status"] == "executed"
    return operator


def refused(op: Operator, rpc_raw: Rpc, key: PrivateKey, target: str, method: str) -> Any:
    """The error `tx_send` answers for `target.method` (the nonce stays unused)."""
    tx = op.tx(key, target, method, {}, 5_000_000)
    answer = rpc_raw("tx_send", {"tx": "0x" + encode(tx).hex()})
    assert "error" in answer, answer
    op.nonces[key.address()] -= 1
    return answer["error"]


def test_an_admin_only_export_is_refused_to_a_client_at_tx_send(
    deployed: Operator, rpc_raw: Rpc
) -> None:
    op = deployed
    error = refused(op, rpc_raw, op.client, "counter", "reset")
    assert error["code"] == 1661 and error["data"]["name"] == "SenderNotPermitted"
    assert "counter.reset" in error["message"] and "admin" in error["message"]
    address = "0x" + contract_address(op.chain.suite, "counter").hex()
    by_address = refused(op, rpc_raw, op.client, address, "reset")
    assert by_address["code"] == 1661 and "counter.reset" in by_address["message"]
    assert op.run(op.admins["org2"], "counter", "reset").status is ReceiptStatus.SUCCESS
    missing = refused(op, rpc_raw, op.client, "counter", "nope")
    assert missing["code"] == 1666 and missing["data"]["name"] == "ExportNotFoundRefused"
    # No such contract is not admission's to judge: the receipt says NOT_FOUND, as before.
    assert op.run(op.client, "nobody", "add").status is ReceiptStatus.NOT_FOUND
    assert op.run(op.client, "counter", "add", {"amount": 2}).status is ReceiptStatus.SUCCESS


def test_freezing_refuses_calls_from_the_next_block_and_unfreezing_admits_them(
    deployed: Operator, served: ServedChain, rpc: Rpc, rpc_raw: Rpc
) -> None:
    op = deployed
    assert op.run(op.client, "counter", "add", {"amount": 1}).status is ReceiptStatus.SUCCESS
    admin, voter, last_voter = op.admins["org1"], op.admins["org2"], op.admins["org3"]
    args = {"kind": "freeze_contract", "payload": {"name": "counter"}}
    proposal = op.run(admin, "governance", "propose", args).return_value["id"]  # type: ignore[index]
    vote = {"id": proposal, "approve": True}
    assert op.run(voter, "governance", "vote", vote).status is ReceiptStatus.SUCCESS
    # The deciding vote and a call admitted before it commits share a block: the call runs
    # after the freeze, so its receipt (not admission) refuses it.
    for key, target, method, call_args in (
        (last_voter, "governance", "vote", vote),
        (op.client, "counter", "add", {"amount": 1}),
    ):
        tx = op.tx(key, target, method, call_args, 5_000_000)
        rpc("tx_send", {"tx": "0x" + encode(tx).hex()})
    _, (voted, late) = served.commit()
    assert voted.status is ReceiptStatus.SUCCESS, voted.error
    assert late.status is ReceiptStatus.PERMISSION_DENIED and (late.error or "")[1:5] == "1852"
    for key in (op.client, op.admins["org4"]):
        error = refused(op, rpc_raw, key, "counter", "add")
        assert error["code"] == 1665 and error["data"]["name"] == "ContractFrozenRefused"
        assert "counter" in error["message"] and "frozen" in error["message"]
    assert op.approve("unfreeze_contract", {"name": "counter"})["status"] == "executed"
    again = op.run(op.client, "counter", "add", {"amount": 1})
    assert again.status is ReceiptStatus.SUCCESS and again.return_value == 2
    assert refused(op, rpc_raw, op.client, "counter", "reset")["code"] == 1661
