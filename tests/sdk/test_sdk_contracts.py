"""The SDK's contract methods against a served in-process chain: upload, deploy by proposal
and votes, call, query, and the proven record and code."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.codec import ReceiptStatus
from gongshi.execution.contract_records import contract_address
from gongshi.sdk import (
    AsyncClient,
    Client,
    Identity,
    MalformedResponse,
    NetworkInfo,
    ProofMismatch,
    TransactionFailed,
)
from gongshi.sdk.contracts import proven_code, proven_contract

SOURCE = """
from gongshi.contract import export, Value, ctx, emit, require

total = Value(default=0)


@export
def add(amount: int) -> int:
    require(amount > 0, "amount must be positive")
    total.set(total.get() + amount)
    emit("Added", who=ctx.sender, amount=amount)
    return total.get()


@export(read_only=True)
def total_of() -> int:
    return total.get()
"""


ORGS = ("org1", "org2", "org3")


def connect(chain: LocalChain, served: ServedChain, org: str, role: str) -> Client:
    network = NetworkInfo.load(chain.network_dir)
    identity = Identity.load(chain.network_dir, org, role, network=network)
    return Client(served.url, network, identity)


@pytest.fixture
def admins(chain: LocalChain, served: ServedChain) -> Iterator[dict[str, Client]]:
    clients = {org: connect(chain, served, org, "admin") for org in ("org1", "org2", "org3")}
    yield clients
    for client in clients.values():
        client.close()


def deploy(admins: dict[str, Client], name: str, source: str) -> bytes:
    code_hash = admins["org1"].contract_upload(source)
    proposal = admins["org1"].propose("deploy_contract", {"name": name, "code_hash": code_hash})
    admins["org2"].vote(proposal, True)
    status = admins["org3"].vote(proposal, True)
    assert status["status"] == "executed", status
    return code_hash


def test_deploy_call_query_and_proven_reads(
    admins: dict[str, Client], client: Client, chain: LocalChain
) -> None:
    code_hash = deploy(admins, "tally", SOURCE)
    assert code_hash == chain.suite.hash(SOURCE.encode())
    receipt = client.contract_call("tally", "add", {"amount": 4})
    assert receipt.receipt.status is ReceiptStatus.SUCCESS and receipt.receipt.return_value == 4
    assert [event.name for event in receipt.receipt.events] == ["Added"]
    assert client.contract_query("tally", "total_of") == 4
    proven = client.contract_get("tally")
    address = contract_address(chain.suite, "tally")
    assert proven.record["address"] == "0x" + address.hex()
    assert proven.record["code_hash"] == "0x" + code_hash.hex()
    assert client.contract_get("0x" + address.hex()).record == proven.record
    code = client.contract_code("tally")
    assert code.code == SOURCE and code.version == 1 and code.code_hash == code_hash


def test_failures_surface_as_errors(admins: dict[str, Client], client: Client) -> None:
    deploy(admins, "tally", SOURCE)
    with pytest.raises(TransactionFailed, match="amount must be positive"):
        client.contract_call("tally", "add", {"amount": 0})
    failed = client.contract_call("tally", "add", {"amount": 0}, check=False)
    assert failed.receipt.status is ReceiptStatus.FAILED
    with pytest.raises(TransactionFailed, match="1850"):
        admins["org1"].contract_upload("import os\n")


def test_proofs_are_checked_against_what_was_asked(
    admins: dict[str, Client], client: Client, chain: LocalChain
) -> None:
    deploy(admins, "tally", SOURCE)
    proven = client.contract_get("tally")
    state: Any = client.state("governance", b"c" + b"tally")
    with pytest.raises(ProofMismatch):
        proven_contract(state, "other")
    code_state = client.state("contracts", b"s" + bytes(32))  # absent: proven absence
    with pytest.raises(ProofMismatch):
        proven_code(code_state, chain.suite, name="tally", version=1, code_hash=bytes(32))
    wrong = replace(state, value=b"\xa0")
    with pytest.raises(MalformedResponse):  # an empty map is no record
        proven_contract(wrong, "tally")
    assert proven.name == "tally"


def test_the_async_client_has_the_same_calls(chain: LocalChain, served: ServedChain) -> None:
    network = NetworkInfo.load(chain.network_dir)

    def identity(org: str, role: str) -> Identity:
        return Identity.load(chain.network_dir, org, role, network=network)

    async def scenario() -> None:
        admins = [AsyncClient(served.url, network, identity(org, "admin")) for org in ORGS]
        user = AsyncClient(served.url, network, identity("org1", "client"))
        try:
            code_hash = await admins[0].contract_upload(SOURCE)
            payload = {"name": "tally", "code_hash": code_hash}
            proposal = await admins[0].propose("deploy_contract", payload)
            await admins[1].vote(proposal, True)
            assert (await admins[2].vote(proposal, True))["status"] == "executed"
            receipt = await user.contract_call("tally", "add", {"amount": 3})
            assert receipt.receipt.return_value == 3
            assert await user.contract_query("tally", "total_of") == 3
            assert (await user.contract_get("tally")).record["version"] == 1
            assert (await user.contract_code("tally")).code == SOURCE
        finally:
            for client in (*admins, user):
                await client.close()

    asyncio.run(scenario())
