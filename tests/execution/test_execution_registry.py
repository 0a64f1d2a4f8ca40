"""Dispatch through the registry with a custom contract: statuses, reverts, receipt bounds."""

from __future__ import annotations

import dataclasses

import pytest

from gongshi.codec import CborValue, ReceiptStatus
from gongshi.errors import InvariantViolation
from gongshi.execution import (
    ExecutionEnvironment,
    ReadCall,
    ReadMethod,
    SystemContract,
    WriteCall,
    WriteMethod,
    default_registry,
    execute_block,
    query,
)
from gongshi.execution.args import Args
from gongshi.execution.errors import CallFailed, CallNotPermitted

from .conftest import Chain, signed  # type: ignore[import-not-found]


def write_then_fail(call: WriteCall, args: Args) -> CborValue:
    call.storage.set(b"k", b"written")
    call.emit("Wrote", {"k": b"k"})
    raise CallFailed("changed my mind")


def write_ok(call: WriteCall, args: Args) -> CborValue:
    call.storage.set(b"k", b"kept")
    return True


def huge(call: WriteCall, args: Args) -> CborValue:
    return b"x" * 300_000


def denied(call: WriteCall, args: Args) -> CborValue:
    raise CallNotPermitted("admins only")


def sneaky_read(call: ReadCall, args: Args) -> CborValue:
    call.storage.set(b"k", b"oops")
    return None


TOY = SystemContract(
    name="toy",
    methods={
        "write_then_fail": WriteMethod(handler=write_then_fail, arguments=frozenset()),
        "write_ok": WriteMethod(handler=write_ok, arguments=frozenset()),
        "huge": WriteMethod(handler=huge, arguments=frozenset()),
        "denied": WriteMethod(handler=denied, arguments=frozenset()),
        "sneaky_read": ReadMethod(handler=sneaky_read, arguments=frozenset()),
    },
)


def _run(chain: Chain, methods: list[str]):  # type: ignore[no-untyped-def]
    alice = chain.key("alice")
    environment = dataclasses.replace(
        chain.environment, registry=default_registry().with_contract(TOY)
    )
    assert isinstance(environment, ExecutionEnvironment)
    txs = [signed(alice, n, "toy", method, {}) for n, method in enumerate(methods)]
    return execute_block(
        chain.prepare(txs),
        context=chain.context(),
        environment=environment,
        state=chain.state,
        nonces=chain.nonces,
        identities=chain.members,
    )


def test_statuses_and_reverts(chain: Chain) -> None:
    result = _run(chain, ["write_ok", "write_then_fail", "huge", "denied"])
    statuses = [r.status for r in result.receipts]
    assert statuses == [
        ReceiptStatus.SUCCESS,
        ReceiptStatus.FAILED,
        ReceiptStatus.FAILED,
        ReceiptStatus.PERMISSION_DENIED,
    ]
    assert result.receipts[1].error == "[1620] changed my mind"
    assert result.receipts[1].events == ()
    assert "receipt would be" in result.receipts[2].error
    assert "admins only" in result.receipts[3].error
    # the failed call's write is gone; the earlier success's write stays
    assert list(result.state_writes.values()) == [b"kept"]


def test_a_read_method_that_writes_is_a_bug(chain: Chain) -> None:
    """Read-only methods get read-only storage, on the query path and in transactions."""
    registry = default_registry().with_contract(TOY)
    with pytest.raises(InvariantViolation):
        query(registry, chain.state, "toy", "sneaky_read", {})
    with pytest.raises(InvariantViolation):
        _run(chain, ["sneaky_read"])


def test_a_contract_name_is_registered_once() -> None:
    with pytest.raises(AssertionError):
        default_registry().with_contract(TOY).with_contract(TOY)


def test_read_methods_are_callable_by_transactions(chain: Chain) -> None:
    alice = chain.key("alice")
    doc = b"\x07" * 32
    chain.commit([signed(alice, 0, "notary", "register", {"doc_hash": doc})])
    result = chain.commit([signed(alice, 1, "notary", "get", {"doc_hash": doc})])
    receipt = result.receipts[0]
    assert receipt.status is ReceiptStatus.SUCCESS
    assert receipt.return_value["owner"] == alice.address()  # type: ignore[index]
    assert result.state_writes == {}
