"""One running invocation of a contract: its meter, frames, storage, `ctx` and helpers.

A fresh `Machine` is made per `LoadedContract.invoke`; the instrumented code reaches it only
through the `__gs_*` names bound in that invocation's globals (which contract source cannot
spell: names starting with `_` are rejected).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from gongshi.codec import CborValue
from gongshi.codec.limits import VALUE_BYTES_MAX
from gongshi.contracts.builtins import Builtins
from gongshi.contracts.errors import RequireFailed
from gongshi.contracts.faults import ContractFault, FramesFault, LimitFault, printable
from gongshi.contracts.host import ContractHost
from gongshi.contracts.keys import build_dict, check_new_key
from gongshi.contracts.limits import (
    CONTAINER_ITEMS_MAX,
    FRAMES_MAX,
    GAS_BOUNDARY_VALUE,
    GAS_BUILTIN,
    GAS_ITERATION,
    GAS_KEY_PROBE,
    ITEM_BYTES,
    MESSAGE_LENGTH_MAX,
    OBJECT_BYTES,
)
from gongshi.contracts.methods import call_method
from gongshi.contracts.operators import Operators
from gongshi.contracts.sizes import check_length, footprint, items_gas, size_gas, text_gas
from gongshi.contracts.storage import read, write
from gongshi.contracts.values import from_cbor, new_budget, to_cbor, to_cbor_map
from gongshi.errors import GongshiError, ValidationError
from gongshi.execution.context import ContractStorage

# Contract frames already open on this thread when a nested `call` re-enters the runtime:
# the frame limit holds across contracts. A context variable, not a global counter, so
# threads (the API's query threads) each count their own.
OPEN_FRAMES: ContextVar[int] = ContextVar("gongshi_contract_open_frames", default=0)

_CODE = "contract code"
# Methods whose result is a new value (the others return a part of the receiver or a number).
_CREATING = frozenset(
    {"lower", "upper", "strip", "lstrip", "rstrip", "split", "replace", "join", "encode"}
    | {"hex", "decode", "copy"}
)


class ReadOnlyFault(ContractFault):
    """A write, an event or a writing call from a read-only call."""

    def __init__(self, detail: str) -> None:
        super().__init__("ReadOnlyViolation", detail)


class Machine(Operators, Builtins):
    """State of one invocation; helpers are its bound methods."""

    __slots__ = ("charge", "depth", "host", "storage", "writable")

    def __init__(self, host: ContractHost, *, writable: bool) -> None:
        self.host = host
        self.storage: ContractStorage = host.storage
        self.charge: Callable[[int, str], None] = host.meter.charge
        self.writable = writable
        self.allocated = 0
        self.depth = OPEN_FRAMES.get()

    # --- frames and gas ---------------------------------------------------------------------
    def enter(self, gas: int) -> None:
        """First statement of every contract function: charge the call, count the frame."""
        self.charge(gas, _CODE)
        self.depth += 1
        if self.depth > FRAMES_MAX:
            raise FramesFault(f"more than {FRAMES_MAX} nested contract function calls")

    def leave(self, value: object) -> object:
        """Every return of a contract function goes through here (exceptions need not: they
        end the whole invocation)."""
        self.depth -= 1
        return value

    def tick(self) -> bool:
        """Charge one comprehension iteration; always true (it is an `if` of the loop)."""
        self.charge(GAS_ITERATION, _CODE)
        return True

    # --- storage ----------------------------------------------------------------------------
    def load(self, key: bytes, default: object) -> object:
        return read(self, key, default)

    def store(self, key: bytes, value: object) -> None:
        if not self.writable:
            raise ReadOnlyFault("a read-only call cannot write storage")
        write(self, key, value)

    # --- runtime API ------------------------------------------------------------------------
    def require(self, condition: object, message: object = "requirement failed") -> None:
        if condition:
            return
        text = message if type(message) is str else "requirement failed"
        raise RequireFailed(printable(text[:MESSAGE_LENGTH_MAX]))

    def emit(self, name: object, **fields: object) -> None:
        if not self.writable:
            raise ReadOnlyFault("a read-only call cannot emit events")
        if type(name) is not str:
            raise ContractFault("TypeError", "emit() event name must be a str")
        self.charge(GAS_BUILTIN, _CODE)
        budget = new_budget()
        try:
            converted = to_cbor_map(fields, f"event {name[:40]}", budget)
        except GongshiError as error:
            raise ContractFault("TypeError", error.message) from None
        self.charge(boundary_gas(budget), _CODE)
        try:
            self.host.emit(name, converted)
        except ValidationError as error:  # a bad event name or shape: the contract's error
            raise ContractFault("ValueError", f"event {name[:40]!r}: {error.message}") from None

    def call(self, target: object, method: object, **args: object) -> object:
        if type(target) is not str or type(method) is not str:
            raise ContractFault("TypeError", "call() takes a target and a method name (str)")
        self.charge(GAS_BUILTIN, _CODE)
        budget = new_budget()
        try:
            converted = to_cbor_map(args, f"call {method[:40]}", budget)
        except GongshiError as error:
            raise ContractFault("TypeError", error.message) from None
        # The arguments are converted here, checked by the host and rebuilt in the callee.
        self.charge(boundary_gas(budget), _CODE)
        token = OPEN_FRAMES.set(self.depth)
        try:
            result: CborValue = self.host.call(target, method, converted)
        finally:
            OPEN_FRAMES.reset(token)
        return from_cbor(result)

    def getitem(self, container: Any, key: Any) -> Any:
        """`container[key]`; a tuple key is charged for the hashing and comparing it costs."""
        if type(key) is tuple:
            self.charge(size_gas(key), _CODE)
        return container[key]

    def dict_of(self, pairs: tuple[tuple[Any, Any], ...] | list[tuple[Any, Any]]) -> Any:
        """A dict display or comprehension with computed keys: tuple keys are charged as in
        `getitem`, and keys that could share a hash are checked (`keys.py`)."""
        check_length(dict, len(pairs))
        gas = items_gas(len(pairs)) + sum(size_gas(key) for key, _ in pairs if type(key) is tuple)
        if gas:
            self.charge(gas, _CODE)
        result, probes = build_dict(pairs)
        if probes:
            self.charge(GAS_KEY_PROBE * probes, _CODE)
        return result

    def delitem(self, container: Any, key: Any) -> None:
        """`del container[key]`; a tuple key is charged as in `getitem`."""
        if type(key) is tuple:
            self.charge(size_gas(key), _CODE)
        del container[key]

    def setitem(self, container: Any, key: Any, value: Any) -> None:
        """`container[key] = value`; a dict may not grow past the container limit, and a
        tuple key is charged as in `getitem`."""
        if type(key) is tuple:
            self.charge(size_gas(key), _CODE)
        if type(container) is dict:
            if len(container) >= CONTAINER_ITEMS_MAX and key not in container:
                raise LimitFault(f"dict of more than {CONTAINER_ITEMS_MAX} items")
            if check_new_key(container, key):
                self.charge(GAS_KEY_PROBE, _CODE)
        container[key] = value

    def method(self, receiver: object, name: str, *args: Any, **named: Any) -> object:
        result = call_method(self.charge, receiver, name, args, named)
        if name in _CREATING:
            # What text methods and copies make counts against the allocation budget: a
            # retained `split()` of 1 MiB is ~25 MiB of small strings for 0.26M gas.
            if isinstance(result, str | bytes):
                self.account(footprint(result))
            elif isinstance(result, list) and name == "split":
                self.account(len(result) * (ITEM_BYTES + OBJECT_BYTES) + sum(map(len, result)))
                self.charge(items_gas(len(result)), _CODE)  # a new str per item
            elif isinstance(result, list | dict):
                self.account(len(result) * ITEM_BYTES * (1 if type(result) is list else 3))
        return result


def result_value(value: object, charge: Callable[[int, str], None]) -> CborValue:
    """The CBOR form of an export's return value, charged like `call` arguments (a caller
    contract gets it rebuilt: returning a large value in a loop of calls is work)."""
    budget = new_budget()
    converted = to_cbor(value, "return value", budget)
    if budget[1]:
        charge(boundary_gas(budget), _CODE)
    return converted


def boundary_gas(budget: list[int]) -> int:
    """Gas for values converted at the call boundary (`values.new_budget`): each one is
    walked in Python several times (converted, checked, rebuilt), text copied per byte."""
    values = budget[1]
    return values * GAS_BOUNDARY_VALUE + text_gas(max(VALUE_BYTES_MAX - budget[0] - values, 0))
