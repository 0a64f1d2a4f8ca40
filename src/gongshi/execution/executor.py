"""Applying a block: validity rules, dispatch, gas, receipts and the block's state writes.

`execute_block` is a pure function of its inputs (the block's transactions and context, the
parent state, nonces and identities): no clock, no randomness, no set iteration, no floats.
Every replica that runs it on the same inputs gets the same receipts and writes, byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cbor2

from gongshi.codec import CborValue, Event, Receipt, ReceiptStatus
from gongshi.codec.cbor import ValueProblem, freeze_value
from gongshi.codec.limits import (
    ERROR_MESSAGE_BYTES_MAX,
    RECEIPT_BYTES_MAX,
    RECEIPT_EVENTS_MAX,
    TEXT_NAME_BYTES_MAX,
)
from gongshi.crypto import Suite
from gongshi.errors import GongshiError, ValidationError
from gongshi.execution.builtin import default_registry
from gongshi.execution.context import BlockContext, ContractStorage, ReadCall, Sender, WriteCall
from gongshi.execution.contract_dispatch import call_deployed
from gongshi.execution.contract_runtime import ContractCache
from gongshi.execution.errors import (
    CallFailed,
    CallNotFound,
    CallNotPermitted,
    OutOfGas,
    ReturnValueTooLarge,
)
from gongshi.execution.gas import DEFAULT_GAS_SCHEDULE, GasMeter, GasSchedule
from gongshi.execution.identities import IdentityReader
from gongshi.execution.permissions import require_call_permitted
from gongshi.execution.prepared import PreparedTransaction
from gongshi.execution.registry import ContractRegistry, ReadMethod, call_args
from gongshi.execution.rules import BlockChecker, BlockLimits
from gongshi.execution.state import JournaledState, NonceReader, StateReader
from gongshi.pki.errors import BadCertificateSignature, CertificateMalformed

# Upper bounds of a receipt's and an event's encoding besides the free-form values: field
# names, hash, status, gas, and an event's contract and name.
RECEIPT_OVERHEAD_BYTES = 128
EVENT_OVERHEAD_BYTES = 32 + 2 * TEXT_NAME_BYTES_MAX


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionEnvironment:
    """What stays the same from block to block: the suite, limits, contracts and prices.

    `contracts` caches deployed contracts' loaded code (bounded, by code hash); give it the
    same runtime as the registry's code store."""

    suite: Suite
    limits: BlockLimits = field(default_factory=BlockLimits)
    registry: ContractRegistry = field(default_factory=default_registry)
    prices: GasSchedule = DEFAULT_GAS_SCHEDULE
    contracts: ContractCache = field(default_factory=ContractCache, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockResult:
    """Everything a block's execution produced."""

    receipts: tuple[Receipt, ...]
    # Raw state key -> new value (None: deleted), ordered by key.
    state_writes: dict[bytes, bytes | None]
    gas_used: int
    # Sender address -> its next nonce after this block, for each sender in the block.
    next_nonces: dict[bytes, int]


def execute_block(
    transactions: Sequence[PreparedTransaction],
    *,
    context: BlockContext,
    environment: ExecutionEnvironment,
    state: StateReader,
    nonces: NonceReader,
    identities: IdentityReader,
) -> BlockResult:
    """Apply `transactions` in order to `state` (the state at the parent height).

    Raises an `InvalidBlock` subclass if any transaction breaks a block validity rule; a call
    that fails inside a contract only gets a failed receipt. Signatures are not checked here:
    admission verified them, and a replica checks fetched ones with `require_valid_signatures`.
    `identities` must read the same parent state (see `StateIdentityReader`).
    """
    checker = BlockChecker(
        context=context, limits=environment.limits, nonces=nonces, identities=identities
    )
    overlay = JournaledState(state)
    receipts: list[Receipt] = []
    gas_used = 0
    for index, prepared in enumerate(transactions):
        sender = checker.check(index, prepared)
        checker.accept(prepared)
        receipt = execute_transaction(prepared, sender, overlay, context, environment)
        gas_used += receipt.gas_used
        receipts.append(receipt)
    return BlockResult(
        receipts=tuple(receipts),
        state_writes=overlay.writes(),
        gas_used=gas_used,
        next_nonces=checker.next_nonces(),
    )


def execute_transaction(
    prepared: PreparedTransaction,
    sender: Sender,
    overlay: JournaledState,
    context: BlockContext,
    environment: ExecutionEnvironment,
) -> Receipt:
    """Run one admitted transaction in its own snapshot: kept on success, reverted on failure
    (its gas is charged either way)."""
    tx_hash = prepared.tx_hash
    meter = GasMeter(prepared.tx.gas_limit)
    depth = overlay.snapshot()
    try:
        receipt = _call(prepared, sender, overlay, context, environment, meter)
    except OutOfGas as error:
        overlay.revert(depth)
        return _failure(tx_hash, ReceiptStatus.OUT_OF_GAS, prepared.tx.gas_limit, error)
    except CallNotFound as error:
        overlay.revert(depth)
        return _failure(tx_hash, ReceiptStatus.NOT_FOUND, meter.used, error)
    except CallNotPermitted as error:
        overlay.revert(depth)
        return _failure(tx_hash, ReceiptStatus.PERMISSION_DENIED, meter.used, error)
    except (CallFailed, ValidationError) as error:
        overlay.revert(depth)
        return _failure(tx_hash, ReceiptStatus.FAILED, meter.used, error)
    overlay.commit(depth)
    return receipt


def _call(
    prepared: PreparedTransaction,
    sender: Sender,
    overlay: JournaledState,
    context: BlockContext,
    environment: ExecutionEnvironment,
    meter: GasMeter,
) -> Receipt:
    """Charge the base cost, dispatch, and build the success receipt (raises on failure)."""
    tx = prepared.tx
    prices = environment.prices
    # `args` of a decoded transaction is frozen and canonical: dumps is its encoding.
    arguments_size = len(cbor2.dumps(tx.args))
    meter.charge(prices.transaction + prices.argument_byte * arguments_size, "transaction")
    if tx.target not in environment.registry.contracts:
        require_call_permitted(sender.identity, tx.target, tx.method)
        result = call_deployed(
            target=tx.target,
            method=tx.method,
            args=tx.args,
            sender=sender,
            tx_hash=prepared.tx_hash,
            overlay=overlay,
            context=context,
            meter=meter,
            prices=prices,
            cache=environment.contracts,
        )
        return _success(
            prepared.tx_hash, meter.used, result.value, result.events, result.events_bytes
        )
    method = environment.registry.lookup(tx.target, tx.method)
    require_call_permitted(sender.identity, tx.target, tx.method)
    args = call_args(tx.method, method, tx.args)
    if isinstance(method, ReadMethod):
        storage = ContractStorage(tx.target, overlay, meter, prices)
        value = method.handler(ReadCall(storage, meter, prices), args)
        return _success(prepared.tx_hash, meter.used, value, (), 0)
    call = WriteCall(
        contract=tx.target,
        storage=ContractStorage(tx.target, overlay, meter, prices, journal=overlay),
        meter=meter,
        prices=prices,
        block=context,
        sender=sender,
        tx_hash=prepared.tx_hash,
        suite=environment.suite,
    )
    value = method.handler(call, args)
    return _success(prepared.tx_hash, meter.used, value, tuple(call.events), call.events_bytes)


def _success(
    tx_hash: bytes, gas_used: int, value: CborValue, events: tuple[Event, ...], events_bytes: int
) -> Receipt:
    receipt = _success_receipt(tx_hash, gas_used, value, events)
    # The receipt's size without encoding it: return value and event fields dominate it.
    size = len(cbor2.dumps(receipt.return_value)) + events_bytes
    size += RECEIPT_OVERHEAD_BYTES + EVENT_OVERHEAD_BYTES * len(receipt.events)
    if size > RECEIPT_BYTES_MAX:
        raise ReturnValueTooLarge(f"receipt would be {size} bytes, limit {RECEIPT_BYTES_MAX}")
    return receipt


def _success_receipt(
    tx_hash: bytes, gas_used: int, value: CborValue, events: tuple[Event, ...]
) -> Receipt:
    """`Receipt(status=SUCCESS, ...)`, checking only the return value: the hash is the
    admitted transaction's, gas is within its uint64 limit and the events were checked when
    emitted. Anything the checks refuse goes through the checked constructor, for its very
    error."""
    try:
        frozen = freeze_value(value)
    except ValueProblem:
        return _checked_success_receipt(tx_hash, gas_used, value, events)
    if len(events) > RECEIPT_EVENTS_MAX:  # emit refuses more; a cheap guard all the same
        return _checked_success_receipt(tx_hash, gas_used, value, events)
    return Receipt.from_checked(
        tx_hash=tx_hash,
        status=ReceiptStatus.SUCCESS,
        gas_used=gas_used,
        return_value=frozen,
        events=events,
    )


def _checked_success_receipt(
    tx_hash: bytes, gas_used: int, value: CborValue, events: tuple[Event, ...]
) -> Receipt:
    return Receipt(
        tx_hash=tx_hash,
        status=ReceiptStatus.SUCCESS,
        gas_used=gas_used,
        return_value=value,
        events=events,
    )


def _failure(tx_hash: bytes, status: ReceiptStatus, gas_used: int, error: GongshiError) -> Receipt:
    return Receipt(tx_hash=tx_hash, status=status, gas_used=gas_used, error=_message(error))


def _message(error: GongshiError) -> str:
    """The error as a receipt states it: `[code] message`, cut to the codec's limit.

    Receipts are hashed into the block, so the text must not depend on library versions: the
    certificate rejections whose message quotes the X.509 parser get a fixed text instead."""
    if isinstance(error, CertificateMalformed | BadCertificateSignature):
        message = f"certificate rejected ({error.reason})"
    else:
        message = str(error)
    text = f"[{error.code}] {message}"
    # A message may quote text a contract made, lone surrogates included: escape rather than
    # let an encoding error stop the block's execution on every node.
    encoded = text.encode("utf-8", errors="backslashreplace")
    text = encoded.decode("utf-8")
    if len(encoded) <= ERROR_MESSAGE_BYTES_MAX:
        return text
    return encoded[: ERROR_MESSAGE_BYTES_MAX - 3].decode("utf-8", errors="ignore") + "..."
