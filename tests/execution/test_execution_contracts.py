"""Deployed contracts in execution: upload, lifecycle by governance, dispatch, nested calls,
failures and queries, against a stand-in runtime (contract_fakes.py)."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongshi.codec import Receipt, ReceiptStatus
from gongshi.crypto import get_suite
from gongshi.execution import BlockLimits, ExecutionEnvironment, StateIdentityReader
from gongshi.execution.builtin import default_registry
from gongshi.execution.contract_dispatch import QueryBlock, deployed_record, query_any
from gongshi.execution.contract_errors import ContractFrozen, ContractReadOnly
from gongshi.execution.contract_records import (
    ADDRESS_PREFIX,
    CODE_BYTES_MAX,
    contract_address,
    storage_namespace,
)
from gongshi.execution.contract_runtime import ContractCache
from gongshi.execution.errors import CallNotFound, OutOfGas, ReadOnlyCall
from gongshi.storage.schema import state_key

from .conftest import Network  # type: ignore[import-not-found]
from .contract_fakes import FakeRuntime, fake_runtime  # type: ignore[import-not-found]
from .test_execution_governance import ORGS, GovChain, code_of  # type: ignore[import-not-found]


class ContractChain(GovChain):
    """The governance chain with a fake contract runtime in its environment."""

    def __init__(self, network: Network, runtime: FakeRuntime) -> None:
        super().__init__(network)
        self.runtime = runtime
        self.fixed = ExecutionEnvironment(
            suite=self.suite,
            limits=self.limits,
            registry=default_registry(runtime),
            contracts=ContractCache(runtime),
        )

    @property
    def environment(self) -> ExecutionEnvironment:
        return self.fixed

    def call(self, key: Any, target: str, method: str, args: Any, **extra: Any) -> Receipt:
        tx = self.tx(key, target, method, args)
        if extra:
            from dataclasses import replace

            tx = replace(tx, **extra).sign(key)
        receipt: Receipt = self.commit([tx]).receipts[0]
        return receipt

    def upload(self, source: str, org: str = "org1") -> Receipt:
        return self.call(self.admins[org], "contracts", "upload", {"code": source})

    def code_hash(self, source: str) -> bytes:
        return self.suite.hash(source.encode())

    def deploy(self, name: str, source: str, kind: str = "deploy_contract") -> Any:
        self.upload(source)
        final, stored = self.approve(kind, {"name": name, "code_hash": self.code_hash(source)})
        assert final.status is ReceiptStatus.SUCCESS, final.error
        return stored

    def query(self, target: str, method: str, args: Any = None) -> Any:
        block = QueryBlock(chain_id="test-chain", height=self.height, timestamp_ms=0)
        return query_any(
            self.fixed.registry,
            self.state,
            target,
            method,
            args,
            block=block,
            cache=self.fixed.contracts,
        )

    @property
    def client(self) -> Any:
        return self.clients["org1"]


@pytest.fixture(scope="module")
def network() -> Network:
    built = Network(suite=get_suite("intl"))
    for org in ORGS:
        built.add_organisation(org)
    return built


@pytest.fixture(scope="module")
def deployed_base(network: Network) -> ContractChain:
    chain = ContractChain(network, fake_runtime())
    stored = chain.deploy("counter", "counter v1")
    assert stored["status"] == "executed", stored["result"]
    chain.deploy("relay", "counter v1")
    return chain


def fresh(base: ContractChain) -> ContractChain:
    """A copy of `base` that executes and commits apart from it."""
    copied = copy.copy(base)
    copied.state = dict(base.state)
    copied.members = StateIdentityReader(copied.state, copied.suite)  # type: ignore[assignment]
    copied.nonces = copy.deepcopy(base.nonces)
    copied.sent = dict(base.sent)
    return copied


@pytest.fixture
def chain(deployed_base: ContractChain) -> ContractChain:
    """A copy of the chain with `counter` and `relay` deployed (both run counter v1)."""
    return fresh(deployed_base)


@pytest.fixture
def empty(network: Network) -> ContractChain:
    return ContractChain(network, fake_runtime())


# --- upload ------------------------------------------------------------------------------------


def test_an_admin_uploads_code_once_by_its_hash(empty: ContractChain) -> None:
    first = empty.upload("counter v1")
    assert first.status is ReceiptStatus.SUCCESS, first.error
    result = first.return_value
    assert isinstance(result, dict | type(result)) and result["new"] is True  # type: ignore[index]
    assert result["code_hash"] == empty.code_hash("counter v1")  # type: ignore[index]
    assert set(result["exports"]) >= {"increment", "value"}  # type: ignore[index]
    assert [e.name for e in first.events] == ["CodeUploaded"]
    again = empty.upload("counter v1", org="org2")
    assert again.return_value["new"] is False and again.events == ()  # type: ignore[index]
    stored = empty.query("contracts", "code", {"code_hash": empty.code_hash("counter v1")})
    assert stored["code"] == "counter v1"
    assert stored["exports"]["value"]["read_only"] is True
    assert empty.query("contracts", "code", {"code_hash": bytes(32)}) is None


def test_upload_refusals(empty: ContractChain) -> None:
    by_client = empty.call(empty.client, "contracts", "upload", {"code": "counter v1"})
    assert by_client.status is ReceiptStatus.PERMISSION_DENIED
    bad = empty.upload("import os")
    assert bad.status is ReceiptStatus.FAILED and code_of(bad) == 1850
    assert "1:1: not a known fake contract" in (bad.error or "")
    assert "2:5: and a second problem" in (bad.error or "")
    # a chain whose transactions may be larger than the code limit
    empty.limits = BlockLimits(tx_bytes_max=CODE_BYTES_MAX * 2)
    empty.fixed = dataclasses.replace(empty.fixed, limits=empty.limits)
    huge = empty.upload("x" * (CODE_BYTES_MAX + 1))
    assert huge.status is ReceiptStatus.FAILED and code_of(huge) == 1851


def test_upload_gas_grows_with_the_code(empty: ContractChain) -> None:
    small = empty.upload("counter v1")
    large = empty.upload("counter v1" + " " * 0)  # same code: idempotent, same per-byte charge
    assert small.gas_used > large.gas_used  # the first also paid for the writes
    assert empty.upload("y" * 1000).gas_used > empty.upload("y" * 10).gas_used


# --- lifecycle ---------------------------------------------------------------------------------


def test_a_deployed_contract_has_an_address_a_record_and_a_list_entry(
    chain: ContractChain,
) -> None:
    record = chain.query("contracts", "get", {"name": "counter"})
    address = contract_address(chain.suite, "counter")
    assert address == chain.suite.hash(ADDRESS_PREFIX + b"counter")[:20]
    assert record["address"] == address and record["version"] == 1
    assert record["code_hash"] == chain.code_hash("counter v1") and record["frozen"] is False
    assert record["exports"]["reset"]["roles"] == ("admin",)
    assert record["exports"]["increment"]["parameters"] == ("by",)
    assert [entry["version"] for entry in record["history"]] == [1]
    by_address = chain.query("contracts", "get", {"name": "0x" + address.hex()})
    assert by_address == record
    listed = chain.query("contracts", "list", {})
    assert [c["name"] for c in listed["contracts"]] == ["counter", "relay"]
    assert listed["total"] == 2 and listed["next"] is None
    assert chain.query("contracts", "get", {"name": "nothing"}) is None


def test_deploy_fails_without_uploaded_code_or_with_a_taken_name(chain: ContractChain) -> None:
    _, stored = chain.approve("deploy_contract", {"name": "other", "code_hash": b"\7" * 32})
    assert stored["status"] == "failed" and stored["result"].startswith("[1858]")
    _, stored = chain.approve(
        "deploy_contract", {"name": "counter", "code_hash": chain.code_hash("counter v1")}
    )
    assert stored["status"] == "failed" and "already deployed" in stored["result"]


@pytest.mark.parametrize("name", ["notary", "contracts", "governance", "Counter", "a-b"])
def test_system_and_untargetable_names_are_refused_when_proposed(
    chain: ContractChain, name: str
) -> None:
    receipt = chain.propose("org1", "deploy_contract", {"name": name, "code_hash": b"\1" * 32})
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1859


def test_upgrade_keeps_storage_and_history(chain: ContractChain) -> None:
    chain.call(chain.client, "counter", "increment", {"by": 5})
    stored = chain.deploy("counter", "counter v2", kind="upgrade_contract")
    assert stored["status"] == "executed"
    assert chain.query("counter", "value") == {"count": 5, "version": 2, "height": chain.height}
    record = deployed_record(chain.state, "counter")
    assert record is not None and record.version == 2
    assert [(e.version, e.code_hash) for e in record.history] == [
        (1, chain.code_hash("counter v1")),
        (2, chain.code_hash("counter v2")),
    ]


def test_a_frozen_contract_refuses_calls_and_queries(chain: ContractChain) -> None:
    chain.approve("freeze_contract", {"name": "counter"})
    receipt = chain.call(chain.client, "counter", "increment", {})
    assert receipt.status is ReceiptStatus.PERMISSION_DENIED and code_of(receipt) == 1852
    with pytest.raises(ContractFrozen):
        chain.query("counter", "value")
    nested = chain.call(chain.client, "relay", "relay", {"target": "counter", "method": "value"})
    assert nested.status is ReceiptStatus.PERMISSION_DENIED and code_of(nested) == 1852
    chain.approve("unfreeze_contract", {"name": "counter"})
    assert chain.call(chain.client, "counter", "increment", {}).status is ReceiptStatus.SUCCESS


# --- dispatch ----------------------------------------------------------------------------------


def test_a_call_returns_its_value_and_events_by_name_or_address(chain: ContractChain) -> None:
    receipt = chain.call(chain.client, "counter", "increment", {"by": 2})
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    assert receipt.return_value == 2
    (event,) = receipt.events
    assert event.contract == "counter" and event.name == "Incremented"
    sender = chain.client.address()
    assert event.fields == {"count": 2, "sender": sender, "origin": sender}
    address = "0x" + contract_address(chain.suite, "counter").hex()
    again = chain.call(chain.client, address, "increment", {})
    assert again.return_value == 3
    assert chain.query(address, "value")["count"] == 3


def test_unknown_contracts_and_methods_are_not_found(chain: ContractChain) -> None:
    missing = chain.call(chain.client, "counter", "decrement", {})
    assert missing.status is ReceiptStatus.NOT_FOUND and code_of(missing) == 1854
    nobody = chain.call(chain.client, "nobody", "x", {})
    assert nobody.status is ReceiptStatus.NOT_FOUND and code_of(nobody) == 1630
    with pytest.raises(CallNotFound):
        chain.query("0x" + "00" * 20, "value")


def test_export_roles_are_checked_against_the_sender(chain: ContractChain) -> None:
    chain.call(chain.client, "counter", "increment", {})
    denied = chain.call(chain.client, "counter", "reset", {})
    assert denied.status is ReceiptStatus.PERMISSION_DENIED and code_of(denied) == 1853
    assert chain.query("counter", "value")["count"] == 1
    allowed = chain.call(chain.admins["org2"], "counter", "reset", {})
    assert allowed.status is ReceiptStatus.SUCCESS, allowed.error
    assert chain.query("counter", "value")["count"] == 0


def test_a_failed_call_reverts_its_writes_and_keeps_its_gas(chain: ContractChain) -> None:
    chain.call(chain.client, "counter", "increment", {})
    before = dict(chain.state)
    receipt = chain.call(chain.client, "counter", "fail_after_write", {})
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1869
    assert receipt.gas_used > 0 and receipt.events == ()
    assert chain.query("counter", "value")["count"] == 1
    prefix = state_key(storage_namespace(contract_address(chain.suite, "counter")), b"")
    assert {k: v for k, v in chain.state.items() if k.startswith(prefix)} == {
        k: v for k, v in before.items() if k.startswith(prefix)
    }


def test_out_of_gas_reverts_and_charges_the_whole_limit(chain: ContractChain) -> None:
    receipt = chain.call(chain.client, "counter", "burn", {})
    assert receipt.status is ReceiptStatus.OUT_OF_GAS
    assert receipt.gas_used == 5_000_000  # GovChain's gas limit
    assert chain.query("counter", "value")["count"] == 0


def test_arguments_must_be_a_map(chain: ContractChain) -> None:
    receipt = chain.call(chain.client, "counter", "increment", [1, 2])
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1631


# --- nested calls ------------------------------------------------------------------------------


def test_a_nested_call_runs_as_the_calling_contract(chain: ContractChain) -> None:
    args = {"target": "counter", "method": "increment", "args": {"by": 4}}
    receipt = chain.call(chain.client, "relay", "relay", args)
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    assert receipt.return_value == 4
    (event,) = receipt.events
    assert event.contract == "counter"
    assert event.fields["sender"] == contract_address(chain.suite, "relay")  # type: ignore[index]
    assert event.fields["origin"] == chain.client.address()  # type: ignore[index]
    assert chain.query("counter", "value")["count"] == 4
    assert chain.query("relay", "value")["count"] == 0  # the relay's own storage is apart


def test_a_nested_call_may_name_the_callee_by_address(chain: ContractChain) -> None:
    address = "0x" + contract_address(chain.suite, "counter").hex()
    args = {"target": address, "method": "increment", "args": {"by": 2}}
    receipt = chain.call(chain.client, "relay", "relay", args)
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    assert receipt.events[0].contract == "counter"
    missing = {"target": "0x" + "ab" * 20, "method": "increment"}
    assert chain.call(chain.client, "relay", "relay", missing).status is ReceiptStatus.NOT_FOUND


def test_a_contract_has_no_role(chain: ContractChain) -> None:
    args = {"target": "counter", "method": "reset"}
    receipt = chain.call(chain.admins["org1"], "relay", "relay", args)
    assert receipt.status is ReceiptStatus.PERMISSION_DENIED and code_of(receipt) == 1853


def test_nested_calls_are_bounded_in_depth(chain: ContractChain) -> None:
    args: dict[str, Any] = {"target": "counter", "method": "value"}
    for _ in range(10):
        args = {"target": "relay", "method": "relay", "args": args}
    receipt = chain.call(chain.client, "relay", "relay", args)
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1856


def test_a_recovered_nested_failure_reverts_only_the_callee(chain: ContractChain) -> None:
    receipt = chain.call(chain.client, "relay", "relay_and_recover", {"target": "counter"})
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    assert receipt.return_value == "recovered from [1869]"
    assert receipt.events == ()  # the callee's event went with its writes
    assert chain.query("counter", "value")["count"] == 0


def test_a_failed_nested_call_fails_the_transaction(chain: ContractChain) -> None:
    args = {"target": "counter", "method": "fail_after_write"}
    receipt = chain.call(chain.client, "relay", "relay", args)
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1869
    assert chain.query("counter", "value")["count"] == 0


# --- queries -----------------------------------------------------------------------------------


def test_queries_run_read_only_exports_only(chain: ContractChain) -> None:
    assert chain.query("counter", "value")["version"] == 1
    with pytest.raises(ReadOnlyCall):
        chain.query("counter", "increment", {})
    with pytest.raises(ContractReadOnly):
        chain.query("counter", "emit_in_read")
    with pytest.raises(ContractReadOnly):
        chain.query("relay", "relay_read", {"target": "counter", "method": "increment"})
    receipt = chain.call(chain.client, "counter", "emit_in_read", {})
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1857
    receipt = chain.call(chain.client, "counter", "write_in_read", {})
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1857
    with pytest.raises(ContractReadOnly):
        chain.query("counter", "write_in_read")


def test_a_query_is_bounded_by_query_gas(chain: ContractChain) -> None:
    with pytest.raises(OutOfGas):
        query_any(
            chain.fixed.registry,
            chain.state,
            "relay",
            "relay_read",
            {"target": "counter", "method": "value"},
            block=QueryBlock(chain_id="c", height=1, timestamp_ms=0),
            cache=chain.fixed.contracts,
            gas_max=100,
        )


# --- cache and determinism ---------------------------------------------------------------------


def test_the_code_cache_is_bounded_and_does_not_change_results(chain: ContractChain) -> None:
    tiny = ContractCache(chain.runtime, capacity=1)
    hashes = (chain.code_hash("counter v1"), chain.code_hash("counter v2"))
    for _ in range(3):
        for code_hash, source in zip(hashes, ("counter v1", "counter v2"), strict=True):
            tiny.load(code_hash, source)
    assert len(tiny) == 1
    twin = copy.copy(chain)
    twin.state = dict(chain.state)
    twin.nonces = copy.deepcopy(chain.nonces)
    twin.members = StateIdentityReader(twin.state, twin.suite)  # type: ignore[assignment]
    twin.fixed = ExecutionEnvironment(
        suite=chain.suite, limits=chain.limits, registry=chain.fixed.registry, contracts=tiny
    )
    block = [
        chain.tx(chain.client, "counter", "increment", {"by": 3}),
        chain.tx(chain.client, "relay", "relay", {"target": "counter", "method": "increment"}),
        chain.tx(chain.client, "counter", "fail_after_write", {}),
    ]
    assert chain.execute(block) == twin.execute(block)


def test_out_of_gas_in_a_nested_call_reverts_everything(chain: ContractChain) -> None:
    receipt = chain.call(chain.client, "relay", "relay", {"target": "counter", "method": "burn"})
    assert receipt.status is ReceiptStatus.OUT_OF_GAS and receipt.gas_used == 5_000_000
    assert chain.query("counter", "value")["count"] == 0
    relayed = state_key(storage_namespace(contract_address(chain.suite, "relay")), b"relayed")
    assert relayed not in chain.state


OPERATIONS = {
    # name -> (target, method, args, succeeds, counter increment)
    "add": ("counter", "increment", {"by": 3}, True, 3),
    "fail": ("counter", "fail_after_write", {}, False, 0),
    "relay_add": ("relay", "relay", {"target": "counter", "method": "increment"}, True, 1),
    "relay_fail": ("relay", "relay", {"target": "counter", "method": "fail_after_write"}, False, 0),
    "recover": ("relay", "relay_and_recover", {"target": "counter"}, True, 0),
}


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.sampled_from(sorted(OPERATIONS)), min_size=1, max_size=12))
def test_blocks_of_calls_follow_the_model(deployed_base: ContractChain, names: list[str]) -> None:
    chain = fresh(deployed_base)
    block = []
    for name in names:
        target, method, args, _, _ = OPERATIONS[name]
        block.append(chain.tx(chain.client, target, method, args))
    twin = fresh(chain)
    result = chain.commit(block)
    assert result == twin.execute(block)  # deterministic, whatever the cache holds
    for name, receipt in zip(names, result.receipts, strict=True):
        expected = ReceiptStatus.SUCCESS if OPERATIONS[name][3] else ReceiptStatus.FAILED
        assert receipt.status is expected, (name, receipt.error)
    assert chain.query("counter", "value")["count"] == sum(OPERATIONS[n][4] for n in names)
