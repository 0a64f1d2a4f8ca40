"""Dispatch: the table from a transaction's `target` to a system contract and its methods.

A system contract is data: a name (its state namespace too) and a table of methods, each a
plain function with the argument names it accepts. Later issues register governance and the
Python contract runtime here; nothing else in execution knows which contracts exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gongshi.codec import CborValue
from gongshi.codec.cbor import ValueProblem, freeze_value
from gongshi.execution.args import Args
from gongshi.execution.context import ContractStorage, ReadCall, WriteCall
from gongshi.execution.errors import CallNotFound, InvalidArguments, ReadOnlyCall
from gongshi.execution.gas import DEFAULT_GAS_SCHEDULE, GasMeter, GasSchedule
from gongshi.execution.state import StateReader

# Gas a query may spend: queries are free, but not unbounded.
QUERY_GAS_MAX = 10_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadMethod:
    """A method that only reads: callable by a transaction and by the query path."""

    handler: Callable[[ReadCall, Args], CborValue]
    arguments: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteMethod:
    """A method that may change state and emit events: callable by a transaction only."""

    handler: Callable[[WriteCall, Args], CborValue]
    arguments: frozenset[str]


Method = ReadMethod | WriteMethod


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemContract:
    """A built-in contract; `name` is both its `target` and its state namespace."""

    name: str
    methods: Mapping[str, Method]


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractRegistry:
    """The contracts a chain dispatches to, by name."""

    contracts: Mapping[str, SystemContract] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "contracts", MappingProxyType(dict(self.contracts)))

    def with_contract(self, contract: SystemContract) -> ContractRegistry:
        """A registry that also dispatches to `contract` (a name may be registered once)."""
        assert contract.name not in self.contracts, f"contract {contract.name} registered twice"
        return ContractRegistry(contracts={**self.contracts, contract.name: contract})

    def lookup(self, target: str, method: str) -> Method:
        contract = self.contracts.get(target)
        if contract is None:
            raise CallNotFound(f"no contract {target!r}")
        found = contract.methods.get(method)
        if found is None:
            raise CallNotFound(f"contract {target!r} has no method {method!r}")
        return found


def call_args(method_name: str, method: Method, value: CborValue) -> Args:
    return Args(method_name, value, method.arguments)


def query(
    registry: ContractRegistry,
    state: StateReader,
    target: str,
    method: str,
    args: object,
    *,
    prices: GasSchedule = DEFAULT_GAS_SCHEDULE,
    gas_max: int = QUERY_GAS_MAX,
) -> CborValue:
    """Run a read-only method against `state` without a transaction (the API's path).

    Raises CallNotFound, ReadOnlyCall for a state-changing method, InvalidArguments, or
    OutOfGas past `gas_max`."""
    found = registry.lookup(target, method)
    if isinstance(found, WriteMethod):
        raise ReadOnlyCall(f"{target}.{method} changes state; send it as a transaction")
    try:
        frozen = freeze_value(args)
    except ValueProblem as problem:
        raise InvalidArguments(f"{method}: args{problem.where}: {problem.problem}") from None
    meter = GasMeter(gas_max)
    storage = ContractStorage(target, state, meter, prices)
    return found.handler(ReadCall(storage, meter, prices), call_args(method, found, frozen))
