"""Dispatch of transactions and queries whose target is a deployed Python contract.

The executor tries the system contracts first (`ContractRegistry`); any other target is a
deployed contract's name or `0x` address, resolved through governance's lifecycle record.
Gas never depends on the cache: resolving the contract and reading its code are not metered;
every invocation costs CONTRACT_CALL_GAS plus what the runtime meters.
"""

from __future__ import annotations

from dataclasses import dataclass

from gongshi.codec import CborValue, Event
from gongshi.codec.cbor import ValueProblem, freeze_value
from gongshi.execution.context import BlockContext, Sender
from gongshi.execution.contract_errors import (
    ContractRecordCorrupt,
    ContractReturnInvalid,
    ExportRoleDenied,
)
from gongshi.execution.contract_host import (
    CallScope,
    find_export,
    frozen_args,
    invoke,
    require_callable,
)
from gongshi.execution.contract_records import (
    ADDRESS_TEXT_PATTERN,
    NAMESPACE,
    ContractRecord,
    address_key,
    code_key,
)
from gongshi.execution.contract_runtime import ContractCache, LoadedCode
from gongshi.execution.errors import CallNotFound, ReadOnlyCall
from gongshi.execution.gas import DEFAULT_GAS_SCHEDULE, GasMeter, GasSchedule
from gongshi.execution.governance_records import NAMESPACE as GOVERNANCE
from gongshi.execution.governance_records import contract_key
from gongshi.execution.registry import QUERY_GAS_MAX, ContractRegistry, query
from gongshi.execution.state import JournaledState, StateReader
from gongshi.storage.schema import state_key

ZERO_ADDRESS = bytes(20)  # the sender of a query: no account


class StateContracts:
    """Deployed contracts as the state at hand records them. Its reads are not metered:
    resolving a contract is part of CONTRACT_CALL_GAS, so an unknown target costs nothing."""

    __slots__ = ("_cache", "_state")

    def __init__(self, state: StateReader, cache: ContractCache) -> None:
        self._state = state
        self._cache = cache

    def name_of(self, target: str) -> str:
        """The contract name `target` denotes: itself, or the name deployed at a 0x address."""
        if not ADDRESS_TEXT_PATTERN.fullmatch(target):
            return target
        key = state_key(NAMESPACE, address_key(bytes.fromhex(target[2:])))
        found = self._state.get(key)
        if found is None:
            raise CallNotFound(f"no contract {target!r}")
        return found.decode("utf-8", errors="replace")

    def record(self, target: str) -> ContractRecord:
        name = self.name_of(target)
        data = self._state.get(state_key(GOVERNANCE, contract_key(name)))
        if data is None:
            raise CallNotFound(f"no contract {name!r}")
        return self._cache.record(data)

    def code(self, record: ContractRecord, cache: ContractCache) -> LoadedCode:
        cached = cache.cached(record.code_hash)
        if cached is not None:  # the stored code is immutable under its hash
            return cached
        raw = self._state.get(state_key(NAMESPACE, code_key(record.code_hash)))
        if raw is None:
            raise ContractRecordCorrupt(f"code {record.code_hash.hex()} of {record.name} missing")
        return cache.load(record.code_hash, raw.decode("utf-8"))


@dataclass(frozen=True, slots=True, kw_only=True)
class DeployedResult:
    """What a successful call of a deployed contract gives the receipt."""

    value: CborValue
    events: tuple[Event, ...]
    events_bytes: int


def _returned(value: object, record: ContractRecord, method: str) -> CborValue:
    try:
        return freeze_value(value)
    except ValueProblem as problem:
        raise ContractReturnInvalid(
            f"{record.name}.{method} returned{problem.where} {problem.problem}"
        ) from None


def call_deployed(
    *,
    target: str,
    method: str,
    args: CborValue,
    sender: Sender,
    tx_hash: bytes,
    overlay: JournaledState,
    context: BlockContext,
    meter: GasMeter,
    prices: GasSchedule,
    cache: ContractCache,
) -> DeployedResult:
    """Run `target.method` for a transaction; raises the call's error on failure (the
    executor reverts the transaction's snapshot)."""
    resolver = StateContracts(overlay, cache)
    record = resolver.record(target)
    require_callable(record)
    export = find_export(record, method)
    if export.roles is not None:
        role = None if sender.identity is None else sender.identity.role.value
        if role not in export.roles:
            raise ExportRoleDenied(
                f"{record.name}.{method} is restricted to roles {', '.join(export.roles)}; "
                f"the sender's role is {role or 'unregistered'}"
            )
    scope = CallScope(
        state=overlay,
        journal=overlay,
        meter=meter,
        prices=prices,
        cache=cache,
        resolve=resolver,
        chain_id=context.chain_id,
        height=context.height,
        timestamp_ms=context.timestamp_ms,
        tx_hash=tx_hash,
        origin=sender.address,
    )
    value = invoke(scope, record, export, frozen_args(method, args), sender=sender.address, depth=0)
    return DeployedResult(
        value=_returned(value, record, method),
        events=tuple(scope.events),
        events_bytes=scope.events_bytes,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryBlock:
    """The block a query reads at, as the contract's `ctx` shows it."""

    chain_id: str
    height: int
    timestamp_ms: int


def query_deployed(
    state: StateReader,
    target: str,
    method: str,
    args: object,
    *,
    block: QueryBlock,
    cache: ContractCache,
    prices: GasSchedule = DEFAULT_GAS_SCHEDULE,
    gas_max: int = QUERY_GAS_MAX,
) -> CborValue:
    """Run a deployed contract's read-only export against `state`, without a transaction.

    A frozen contract refuses queries too. Roles are not checked: a query is no transaction,
    and members may read all state anyway (`state_get`)."""
    meter = GasMeter(gas_max)
    resolver = StateContracts(state, cache)
    record = resolver.record(target)
    require_callable(record)
    export = find_export(record, method)
    if not export.read_only:
        raise ReadOnlyCall(f"{record.name}.{method} changes state; send it as a transaction")
    scope = CallScope(
        state=state,
        journal=None,
        meter=meter,
        prices=prices,
        cache=cache,
        resolve=resolver,
        chain_id=block.chain_id,
        height=block.height,
        timestamp_ms=block.timestamp_ms,
        tx_hash=bytes(32),
        origin=ZERO_ADDRESS,
    )
    value = invoke(scope, record, export, frozen_args(method, args), sender=ZERO_ADDRESS, depth=0)
    return _returned(value, record, method)


def query_any(
    registry: ContractRegistry,
    state: StateReader,
    target: str,
    method: str,
    args: object,
    *,
    block: QueryBlock,
    cache: ContractCache,
    prices: GasSchedule = DEFAULT_GAS_SCHEDULE,
    gas_max: int = QUERY_GAS_MAX,
) -> CborValue:
    """A read-only call of a system contract or of a deployed contract (the API's path)."""
    if target in registry.contracts:
        return query(registry, state, target, method, args, prices=prices, gas_max=gas_max)
    return query_deployed(
        state, target, method, args, block=block, cache=cache, prices=prices, gas_max=gas_max
    )


def deployed_record(
    state: StateReader, target: str, cache: ContractCache | None = None
) -> ContractRecord | None:
    """The lifecycle record of the contract `target` names (name or 0x address), or None."""
    try:
        return StateContracts(state, cache or ContractCache()).record(target)
    except CallNotFound:
        return None
