"""Red-team tests of deployed Python contracts inside execution (issue #8).

A hostile consortium member has a contract deployed through governance and attacks the
chain through it: other namespaces, read-only paths, roles, freezing, reverts, shared caches,
receipts. Each test is one technique; the docstring says whether it was a new finding.
Uses the real runtime (`PythonRuntime`) on the governance test chain.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from gongshi.codec import ReceiptStatus
from gongshi.crypto import get_suite
from gongshi.errors import GongshiError
from gongshi.execution.contract_records import contract_address, storage_namespace
from gongshi.execution.contract_runtime import ContractCache, PythonRuntime
from gongshi.storage.schema import state_key

from .conftest import Network  # type: ignore[import-not-found]
from .test_execution_contracts import ContractChain, fresh  # type: ignore[import-not-found]
from .test_execution_governance import ORGS  # type: ignore[import-not-found]

HEADER = "from gongshi.contract import export, Map, Value, ctx, require, emit, call, Decimal\n"

VICTIM = HEADER + textwrap.dedent(
    """
    owner = Value()
    balances = Map(key=bytes, default=0)

    @export
    def init():
        require(owner.get() is None, "initialised")
        owner.set(ctx.sender)
        balances[ctx.sender] = 1000

    @export(read_only=True)
    def balance(who):
        return balances[who]

    @export
    def bump():
        balances[ctx.sender] += 1
        return balances[ctx.sender]

    @export(roles=("admin",))
    def mint(to, amount):
        balances[to] += amount

    @export(read_only=True)
    def peek():
        return owner.get()
    """
)

ATTACKER = HEADER + textwrap.dedent(
    """
    loot = Map(key=str)
    seen = Value(default=0)

    @export
    def relay_mint(amount):
        call("victim", "mint", to=ctx.this, amount=amount)

    @export(read_only=True)
    def sneaky_write():
        call("victim", "bump")

    @export(read_only=True)
    def read_only_write():
        loot["x"] = 1

    @export
    def bump_then_fail():
        call("victim", "bump")
        require(False, "undo everything")

    @export
    def counter():
        seen.set(seen.get() + 1)
        return seen.get()

    @export
    def call_frozen():
        return call("victim", "bump")

    @export
    def system(target, method):
        return call(target, method)

    @export
    def surrogate_return():
        return "\\ud800"

    @export
    def surrogate_require():
        require(False, "bad \\udfff")

    @export
    def surrogate_event():
        emit("E", text="\\ud800")

    @export
    def surrogate_store():
        loot["k"] = "\\ud800"

    @export
    def surrogate_event_name():
        emit("\\ud800", x=1)

    @export
    def surrogate_key():
        return {"\\ud800": 1}

    @export
    def surrogate_nested_event():
        emit("E", x={"\\udc00": [1]})
    """
)


@pytest.fixture(scope="module")
def network() -> Network:
    built = Network(suite=get_suite("intl"))
    for org in ORGS:
        built.add_organisation(org)
    return built


@pytest.fixture(scope="module")
def base(network: Network) -> ContractChain:
    chain = ContractChain(network, PythonRuntime())  # type: ignore[arg-type]
    chain.deploy("victim", VICTIM)
    chain.deploy("attacker", ATTACKER)
    receipt = chain.call(chain.client, "victim", "init", {})
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    return chain


@pytest.fixture
def chain(base: ContractChain) -> ContractChain:
    return fresh(base)


def call(chain: ContractChain, target: str, method: str, args: Any = None) -> Any:
    return chain.call(chain.client, target, method, args or {})


def victim_state(chain: ContractChain) -> dict[bytes, bytes]:
    namespace = storage_namespace(contract_address(chain.suite, "victim"))
    prefix = state_key(namespace, b"")
    return {key: value for key, value in chain.state.items() if key.startswith(prefix)}


def code_of(receipt: Any) -> int:
    assert receipt.error is not None
    return int(receipt.error[1:5])


# --- receipts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        "surrogate_return",
        "surrogate_require",  # NEW: crashed execute_block (UnicodeEncodeError in the receipt)
        "surrogate_event",
        "surrogate_store",
        "surrogate_event_name",
        "surrogate_key",  # NEW: crashed execute_block (UnicodeEncodeError sorting the keys)
        "surrogate_nested_event",
    ],
)
def test_lone_surrogates_fail_the_call_not_the_block(chain: ContractChain, method: str) -> None:
    """A str literal may hold a lone surrogate ("\\ud800"), which UTF-8 cannot encode. New
    finding: `require(False, "\\udfff")` put it in the receipt's error and the executor raised
    UnicodeEncodeError on the whole block, so no node could execute it (a chain halt); so did
    returning `{"\\ud800": 1}` (the runtime sorted the keys by their UTF-8 outside its
    error handling)."""
    receipt = call(chain, "attacker", method)
    assert receipt.status is ReceiptStatus.FAILED, receipt.error
    assert receipt.error is not None
    receipt.error.encode("utf-8")  # the text every node hashes into the block
    assert call(chain, "victim", "bump").status is ReceiptStatus.SUCCESS


# --- roles, read-only, freezing ----------------------------------------------------------------


def test_a_contract_cannot_relay_a_role_restricted_export(chain: ContractChain) -> None:
    """Known, stopped: a contract has no role, whatever its caller's (an admin here)."""
    before = victim_state(chain)
    receipt = chain.call(chain.admins["org1"], "attacker", "relay_mint", {"amount": 10**6})
    assert receipt.status is ReceiptStatus.PERMISSION_DENIED and code_of(receipt) == 1853
    assert victim_state(chain) == before


def test_a_read_only_export_cannot_call_a_writing_export(chain: ContractChain) -> None:
    """Known, stopped: read-only frames stay read-only across `call`."""
    before = victim_state(chain)
    receipt = call(chain, "attacker", "sneaky_write")
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1857
    assert victim_state(chain) == before
    with pytest.raises(GongshiError):
        chain.query("attacker", "sneaky_write")


def test_a_read_only_export_cannot_write_its_own_storage(chain: ContractChain) -> None:
    receipt = call(chain, "attacker", "read_only_write")
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1805
    with pytest.raises(GongshiError, match="read-only"):
        chain.query("attacker", "read_only_write")


def test_freezing_the_callee_stops_calls_through_another_contract(chain: ContractChain) -> None:
    chain.approve("freeze_contract", {"name": "victim"})
    receipt = call(chain, "attacker", "call_frozen")
    assert receipt.status is ReceiptStatus.PERMISSION_DENIED and code_of(receipt) == 1852


@pytest.mark.parametrize(
    ("target", "method"),
    [("governance", "propose"), ("contracts", "upload"), ("identity", "register")],
)
def test_system_contracts_are_not_callable_from_contracts(
    chain: ContractChain, target: str, method: str
) -> None:
    """Known, stopped: `call` reaches deployed contracts only, never a system namespace."""
    receipt = call(chain, "attacker", "system", {"target": target, "method": method})
    assert receipt.status is ReceiptStatus.NOT_FOUND, receipt.error


# --- state -------------------------------------------------------------------------------------


def test_a_failure_after_a_nested_write_reverts_the_callee_too(chain: ContractChain) -> None:
    before = victim_state(chain)
    receipt = call(chain, "attacker", "bump_then_fail")
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1801
    assert receipt.gas_used > 0 and receipt.events == ()
    assert victim_state(chain) == before


def test_out_of_gas_in_a_nested_call_reverts_and_keeps_the_gas(chain: ContractChain) -> None:
    before = victim_state(chain)
    tx_gas = 16_000  # the whole call needs ~18,000: it runs out after the nested write
    receipt = chain.call(chain.client, "attacker", "bump_then_fail", {}, gas_limit=tx_gas)
    assert receipt.status is ReceiptStatus.OUT_OF_GAS and receipt.gas_used == tx_gas
    assert victim_state(chain) == before


def test_state_lives_in_storage_only_and_the_cache_changes_nothing(base: ContractChain) -> None:
    """Results and gas are the same whether the loaded contract came from a warm cache or was
    loaded afresh: no module global, default or constant carries state between calls."""
    warm = fresh(base)
    cold = fresh(base)
    cold.fixed = type(base.fixed)(
        suite=base.fixed.suite,
        limits=base.fixed.limits,
        registry=base.fixed.registry,
        contracts=ContractCache(PythonRuntime()),
    )
    for chain in (warm, cold):
        chain.call(chain.client, "attacker", "counter", {})
    warm_receipt = warm.call(warm.client, "attacker", "counter", {})
    cold_receipt = cold.call(cold.client, "attacker", "counter", {})
    assert warm_receipt.return_value == cold_receipt.return_value == 2
    assert warm_receipt.gas_used == cold_receipt.gas_used
    assert warm.state == cold.state
