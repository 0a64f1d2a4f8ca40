"""Python contracts end to end on an in-process chain (real runtime, execution, ledger and
API): upload, deploy by proposal and votes, call, query, upgrade, freeze, failures, nested
calls, roles, and the contract_get / contract_code reads with their proofs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.codec import Receipt, ReceiptStatus, Transaction, decode_value, encode
from gongshi.crypto import PrivateKey
from gongshi.execution import (
    BlockContext,
    PreparedTransaction,
    StateIdentityReader,
    execute_block,
)
from gongshi.execution.contract_records import contract_address
from gongshi.execution.contract_runtime import ContractCache

Rpc = Callable[..., Any]

COUNTER = """
from gongshi.contract import export, Map, Value, ctx, emit, require, call

total = Value(default=0)
added = Map(key=bytes, default=0)


@export
def add(amount: int) -> int:
    require(amount > 0, "amount must be positive")
    added[ctx.sender] = added[ctx.sender] + amount
    total.set(total.get() + amount)
    emit("Added", who=ctx.sender, amount=amount, total=total.get())
    return total.get()


@export(read_only=True)
def total_of() -> int:
    return total.get()


@export(read_only=True)
def added_by(who: bytes) -> int:
    return added[who]


@export(roles=("admin",))
def reset() -> None:
    total.set(0)


@export
def add_via(target: str, amount: int) -> int:
    total.set(total.get() + 1000)
    return call(target, "add", amount=amount)


@export
def spin(rounds: int) -> int:
    total.set(-1)
    n = 0
    for i in range(rounds):
        for j in range(rounds):
            n = n + j
    return n
"""

# Version 2 reads the same storage and doubles what it reports.
COUNTER_V2 = COUNTER.replace(
    "    return total.get()\n\n\n@export(read_only=True)\ndef added_by",
    "    return 2 * total.get()\n\n\n@export(read_only=True)\ndef added_by",
)


class Operator:
    """Signs with the network's admins and org1's client, sends through the API, commits."""

    def __init__(self, chain: LocalChain, served: ServedChain, rpc: Rpc) -> None:
        self.chain = chain
        self.served = served
        self.rpc = rpc
        orgs = chain.network_dir / "orgs"
        load = chain.suite.load_private_key
        self.admins = {f"org{i}": load(orgs / f"org{i}/admin/admin.key") for i in range(1, 5)}
        self.client = load(orgs / "org1/client/client.key")
        self.nonces: dict[bytes, int] = {}

    def tx(self, key: PrivateKey, target: str, method: str, args: Any, gas: int) -> Transaction:
        nonce = self.nonces.get(key.address(), 0)
        self.nonces[key.address()] = nonce + 1
        return Transaction(
            chain_id=self.chain.genesis.params.chain_id,
            nonce=nonce,
            sender=key.public_key_bytes(),
            target=target,
            method=method,
            args=args,
            gas_limit=gas,
            expiry_height=self.chain.height + 100,
        ).sign(key)

    def run(
        self, key: PrivateKey, target: str, method: str, args: Any = None, gas: int = 5_000_000
    ) -> Receipt:
        tx = self.tx(key, target, method, args or {}, gas)
        self.rpc("tx_send", {"tx": "0x" + encode(tx).hex()})
        _, receipts = self.served.commit()
        (receipt,) = receipts
        return receipt

    def upload(self, source: str) -> bytes:
        receipt = self.run(self.admins["org1"], "contracts", "upload", {"code": source})
        assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
        code_hash = receipt.return_value["code_hash"]  # type: ignore[index]
        assert isinstance(code_hash, bytes)
        return code_hash

    def approve(self, kind: str, payload: dict[str, Any]) -> Any:
        args = {"kind": kind, "payload": payload}
        receipt = self.run(self.admins["org1"], "governance", "propose", args)
        assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
        proposal = receipt.return_value["id"]  # type: ignore[index]
        for org in ("org2", "org3"):
            vote = self.run(
                self.admins[org], "governance", "vote", {"id": proposal, "approve": True}
            )
            assert vote.status is ReceiptStatus.SUCCESS, vote.error
        return self.rpc("gov_proposal", {"id": proposal})["proposal"]

    def deploy(self, name: str, source: str, kind: str = "deploy_contract") -> Any:
        code_hash = self.upload(source)
        return self.approve(kind, {"name": name, "code_hash": code_hash})

    def query(self, name: str, method: str, args: Any = None) -> Any:
        return self.rpc("contract_query", {"target": name, "method": method, "args": args or {}})


@pytest.fixture
def op(chain: LocalChain, served: ServedChain, rpc: Rpc) -> Operator:
    operator = Operator(chain, served, rpc)
    stored = operator.deploy("counter", COUNTER)
    assert stored["status"] == "executed", stored
    return operator


def code_of(receipt: Receipt) -> int:
    assert receipt.error is not None
    return int(receipt.error[1:5])


def test_deploy_call_and_query(op: Operator) -> None:
    receipt = op.run(op.client, "counter", "add", {"amount": 5})
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    assert receipt.return_value == 5
    (event,) = receipt.events
    assert event.contract == "counter" and event.name == "Added"
    assert event.fields == {"who": op.client.address(), "amount": 5, "total": 5}
    again = op.run(op.admins["org2"], "counter", "add", {"amount": 7})
    assert again.return_value == 12
    result = op.query("counter", "total_of")
    assert result == {"height": op.chain.height, "result": 12}
    mine = op.query("counter", "added_by", {"who": "0x" + op.client.address().hex()})
    assert mine["result"] == 5
    address = "0x" + contract_address(op.chain.suite, "counter").hex()
    assert op.query(address, "total_of")["result"] == 12
    by_address = op.run(op.client, address, "add", {"amount": 1})
    assert by_address.return_value == 13


def test_contract_get_and_code_come_with_proofs(op: Operator, rpc: Rpc) -> None:
    found = rpc("contract_get", {"name": "counter"})
    record = found["contract"]
    address = contract_address(op.chain.suite, "counter")
    assert record["address"] == "0x" + address.hex() and record["version"] == 1
    assert record["exports"]["reset"] == {"parameters": [], "roles": ["admin"], "read_only": False}
    stored = decode_value(bytes.fromhex(found["state"]["value"][2:]))
    assert stored["code_hash"].hex() == record["code_hash"][2:]  # type: ignore[index]
    code = rpc("contract_code", {"name": "counter"})
    assert code["code"] == COUNTER and code["version"] == 1
    proven = bytes.fromhex(code["state"]["value"][2:])
    assert op.chain.suite.hash(proven).hex() == record["code_hash"][2:]


def test_unknown_contracts_and_versions_are_errors(op: Operator, rpc_raw: Rpc) -> None:
    missing = rpc_raw("contract_get", {"name": "nobody"})
    assert missing["error"]["data"]["name"] == "CallNotFound"
    version = rpc_raw("contract_code", {"name": "counter", "version": 9})
    assert version["error"]["data"]["name"] == "CallNotFound"
    write = rpc_raw("contract_query", {"target": "counter", "method": "add", "args": {}})
    assert write["error"]["data"]["name"] == "ReadOnlyCall"
    export = rpc_raw("contract_query", {"target": "counter", "method": "nope"})
    assert export["error"]["data"]["name"] == "ExportNotFound"


def test_upgrade_keeps_storage_and_lists_versions(op: Operator, rpc: Rpc) -> None:
    op.run(op.client, "counter", "add", {"amount": 4})
    stored = op.deploy("counter", COUNTER_V2, kind="upgrade_contract")
    assert stored["status"] == "executed", stored
    assert op.query("counter", "total_of")["result"] == 8  # same storage, new code
    record = rpc("contract_get", {"name": "counter"})["contract"]
    assert [entry["version"] for entry in record["history"]] == [1, 2]
    assert rpc("contract_code", {"name": "counter", "version": 1})["code"] == COUNTER
    assert rpc("contract_code", {"name": "counter"})["code"] == COUNTER_V2


def test_a_frozen_contract_refuses_calls(op: Operator, rpc_raw: Rpc) -> None:
    assert op.approve("freeze_contract", {"name": "counter"})["status"] == "executed"
    frozen = op.tx(op.client, "counter", "add", {"amount": 1}, 5_000_000)
    op.nonces[op.client.address()] -= 1  # refused at admission (test_api_contract_admission)
    refused = rpc_raw("tx_send", {"tx": "0x" + encode(frozen).hex()})
    assert refused["error"]["data"]["name"] == "ContractFrozenRefused"
    query = rpc_raw("contract_query", {"target": "counter", "method": "total_of"})
    assert query["error"]["data"]["name"] == "ContractFrozen"
    op.approve("unfreeze_contract", {"name": "counter"})
    assert op.run(op.client, "counter", "add", {"amount": 1}).status is ReceiptStatus.SUCCESS


def test_failures_revert_and_keep_gas(op: Operator) -> None:
    op.run(op.client, "counter", "add", {"amount": 3})
    refused = op.run(op.client, "counter", "add", {"amount": 0})
    assert refused.status is ReceiptStatus.FAILED and "amount must be positive" in refused.error
    assert refused.gas_used > 0 and refused.events == ()
    spent = op.run(op.client, "counter", "spin", {"rounds": 100_000}, gas=300_000)
    assert spent.status is ReceiptStatus.OUT_OF_GAS and spent.gas_used == 300_000
    assert op.query("counter", "total_of")["result"] == 3  # spin's write was reverted
    # A client's call of the admin-only `reset` is refused at admission
    # (test_api_contract_admission); an admin's runs.
    assert op.run(op.admins["org3"], "counter", "reset").status is ReceiptStatus.SUCCESS
    assert op.query("counter", "total_of")["result"] == 0


def test_a_nested_call_runs_as_the_calling_contract(op: Operator) -> None:
    assert op.deploy("front", COUNTER)["status"] == "executed"
    receipt = op.run(op.client, "front", "add_via", {"target": "counter", "amount": 2})
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    assert receipt.return_value == 2
    (event,) = receipt.events
    assert event.contract == "counter"
    front = contract_address(op.chain.suite, "front")
    assert event.fields["who"] == front  # type: ignore[index]
    assert op.query("front", "total_of")["result"] == 1000
    failing = op.run(op.client, "front", "add_via", {"target": "counter", "amount": 0})
    assert failing.status is ReceiptStatus.FAILED
    assert op.query("front", "total_of")["result"] == 1000  # the caller's write went too


def test_rejected_uploads_list_their_problems(op: Operator, rpc_raw: Rpc) -> None:
    bad = "import os\n\ndef f():\n    return eval('1')\n"
    receipt = op.run(op.admins["org1"], "contracts", "upload", {"code": bad})
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1850
    assert "1:1:" in (receipt.error or "") and "4:" in (receipt.error or "")
    by_client = op.tx(op.client, "contracts", "upload", {"code": COUNTER}, 5_000_000)
    refused = rpc_raw("tx_send", {"tx": "0x" + encode(by_client).hex()})
    assert refused["error"]["data"]["name"] == "SenderNotPermitted"  # only admins upload


# --- the shipped examples ------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"


def hexed(key: PrivateKey) -> str:
    return "0x" + key.address().hex()


@pytest.fixture
def clients(op: Operator) -> dict[str, PrivateKey]:
    orgs = op.chain.network_dir / "orgs"
    return {
        org: op.chain.suite.load_private_key(orgs / f"{org}/client/client.key")
        for org in ("org1", "org2")
    }


def test_example_token(op: Operator, clients: dict[str, PrivateKey]) -> None:
    assert op.deploy("token", (EXAMPLES / "token.py").read_text())["status"] == "executed"
    issuer, admin = op.admins["org1"], op.admins["org2"]
    alice, bob = clients["org1"], clients["org2"]
    init = {"issuer_address": issuer.address(), "admin_address": admin.address()}
    assert op.run(issuer, "token", "init", init).status is ReceiptStatus.SUCCESS
    for holder in (alice, bob):
        allowed = op.run(admin, "token", "allow", {"holder": holder.address()})
        assert allowed.status is ReceiptStatus.SUCCESS, allowed.error
    minted = op.run(issuer, "token", "mint", {"to": alice.address(), "amount": 100})
    assert minted.status is ReceiptStatus.SUCCESS, minted.error
    forged = op.run(alice, "token", "mint", {"to": alice.address(), "amount": 100})
    assert forged.status is ReceiptStatus.FAILED and "only the issuer" in (forged.error or "")
    sent = op.run(alice, "token", "transfer", {"to": bob.address(), "amount": 30})
    assert sent.status is ReceiptStatus.SUCCESS, sent.error
    assert [(e.contract, e.name) for e in sent.events] == [("token", "Transfer")]
    overdraft = op.run(bob, "token", "transfer", {"to": alice.address(), "amount": 31})
    assert overdraft.status is ReceiptStatus.FAILED and "insufficient" in (overdraft.error or "")
    assert op.query("token", "balance_of", {"holder": hexed(alice)})["result"] == 70
    assert op.query("token", "balance_of", {"holder": hexed(bob)})["result"] == 30
    assert op.query("token", "info")["result"]["supply"] == 100


def test_example_supply_chain(op: Operator, clients: dict[str, PrivateKey]) -> None:
    source = (EXAMPLES / "supply_chain.py").read_text()
    assert op.deploy("supply", source)["status"] == "executed"
    maker, carrier = clients["org1"], clients["org2"]
    created = op.run(maker, "supply", "create_item", {"item_id": "box-1", "description": "tea"})
    assert created.status is ReceiptStatus.SUCCESS, created.error
    handed = op.run(maker, "supply", "hand_over", {"item_id": "box-1", "to": carrier.address()})
    assert handed.status is ReceiptStatus.SUCCESS, handed.error
    evidence = {"item_id": "box-1", "evidence_hash": b"\x11" * 32, "note": "port of Ningbo"}
    stale = op.run(maker, "supply", "attach_checkpoint", evidence)
    assert stale.status is ReceiptStatus.FAILED and "custodian" in (stale.error or "")
    checked = op.run(carrier, "supply", "attach_checkpoint", evidence)
    assert checked.status is ReceiptStatus.SUCCESS, checked.error
    history = op.query("supply", "history", {"item_id": "box-1"})["result"]
    assert [step["kind"] for step in history] == ["created", "handover", "checkpoint"]
    assert history[2]["evidence"] == "0x" + "11" * 32 and history[2]["by"] == hexed(carrier)
    assert op.query("supply", "item", {"item_id": "box-1"})["result"]["custodian"] == hexed(carrier)


def test_example_receivables(op: Operator, clients: dict[str, PrivateKey]) -> None:
    source = (EXAMPLES / "receivables.py").read_text()
    assert op.deploy("receivables", source)["status"] == "executed"
    creditor, debtor, buyer = clients["org1"], clients["org2"], op.admins["org4"]
    args = {"debtor": debtor.address(), "amount": "1250.50", "due_height": op.chain.height + 50}
    issued = op.run(creditor, "receivables", "issue", args)
    assert issued.status is ReceiptStatus.SUCCESS, issued.error
    first = issued.return_value
    split = op.run(creditor, "receivables", "split", {"receivable_id": first, "amount": "250.25"})
    assert split.status is ReceiptStatus.SUCCESS, split.error
    second = split.return_value
    moved = op.run(
        creditor, "receivables", "transfer", {"receivable_id": second, "to": buyer.address()}
    )
    assert moved.status is ReceiptStatus.SUCCESS, moved.error
    thief = op.run(creditor, "receivables", "settle", {"receivable_id": first})
    assert thief.status is ReceiptStatus.FAILED and "debtor" in (thief.error or "")
    settled = op.run(debtor, "receivables", "settle", {"receivable_id": first})
    assert settled.status is ReceiptStatus.SUCCESS, settled.error
    assert op.query("receivables", "get", {"receivable_id": first})["result"]["status"] == "settled"
    part = op.query("receivables", "get", {"receivable_id": second})["result"]
    assert part["creditor"] == hexed(buyer) and part["parent"] == first
    outstanding = op.query("receivables", "outstanding", {"receivable_ids": [first, second]})
    assert outstanding["result"] == "250.25"  # Decimals cross the boundary as text


def test_results_do_not_depend_on_the_code_cache(op: Operator) -> None:
    """The same block executed with the chain's warm cache and with an empty one gives the
    same receipts, gas and writes (loading is pure and unmetered)."""
    op.run(op.client, "counter", "add", {"amount": 1})  # warms the chain's cache
    chain = op.chain
    block = [
        PreparedTransaction.from_transaction(
            op.tx(op.client, "counter", method, args, 500_000), chain.suite
        )
        for method, args in (
            ("add", {"amount": 2}),
            ("add", {"amount": 0}),
            ("spin", {"rounds": 5}),
        )
    ]
    context = BlockContext(
        chain_id=chain.genesis.params.chain_id,
        height=chain.height + 1,
        timestamp_ms=chain.ledger.get_header(chain.height).timestamp_ms + 1000,
        proposer=chain.genesis.validators[0].public_key,
    )
    state = chain.ledger.state_reader()
    results = [
        execute_block(
            block,
            context=context,
            environment=environment,
            state=state,
            nonces=chain.ledger,
            identities=StateIdentityReader(state, chain.suite),
        )
        for environment in (
            chain.environment,
            dataclasses.replace(chain.environment, contracts=ContractCache()),
        )
    ]
    assert results[0] == results[1]
    assert [r.status for r in results[0].receipts] == [
        ReceiptStatus.SUCCESS,
        ReceiptStatus.FAILED,
        ReceiptStatus.SUCCESS,
    ]
