"""What a deployed contract sees while it runs: the `ContractHost` the runtime calls back.

One `CallScope` per transaction (or query) holds what every nested call shares: the state
overlay, the meter, the block, the origin and the events. One `ContractCallHost` per call
frame adds the callee: its storage namespace, its sender and whether it may write.

Rules (docs/execution.md, "Deploying and calling contracts"):
- a nested `call` runs the callee with its own storage, sender = the calling contract's
  address, origin unchanged, the same meter, at most CALL_DEPTH_MAX frames deep;
- a failed nested call reverts its own writes and events, then its error propagates: unless
  the runtime lets the caller handle it, the whole transaction fails and is reverted;
- a contract has no role: an export that declares roles cannot be called by a contract;
- a read-only frame (a read-only export, or any query) may not emit or call a writing export.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import cbor2

from gongshi.codec import CborValue, Event
from gongshi.codec.cbor import ValueProblem, freeze_value
from gongshi.codec.limits import RECEIPT_EVENTS_MAX
from gongshi.execution.context import ContractStorage
from gongshi.execution.contract_errors import (
    ContractCallTooDeep,
    ContractFrozen,
    ContractReadOnly,
    ExportNotFound,
    ExportRoleDenied,
)
from gongshi.execution.contract_records import (
    ContractRecord,
    ExportInfo,
    storage_namespace,
)
from gongshi.execution.contract_runtime import ContractCache, LoadedCode
from gongshi.execution.errors import InvalidArguments, ReturnValueTooLarge
from gongshi.execution.gas import GasMeter, GasSchedule
from gongshi.execution.state import JournaledState, StateReader

CALL_DEPTH_MAX = 8  # frames: the transaction's call and up to 7 nested ones
CONTRACT_CALL_GAS = 2_000  # every invocation of an export, on top of the runtime's metering


@dataclass(slots=True, kw_only=True)
class CallScope:
    """What every frame of one transaction (or query) shares."""

    state: StateReader  # the journal for a transaction, a snapshot for a query
    journal: JournaledState | None  # None: nothing may be written (the query path)
    meter: GasMeter
    prices: GasSchedule
    cache: ContractCache
    resolve: ContractResolver
    chain_id: str
    height: int
    timestamp_ms: int
    tx_hash: bytes
    origin: bytes
    events: list[Event] = field(default_factory=list)
    events_bytes: int = 0


class ContractResolver(Protocol):
    """Finds a deployed contract by name or address, and its loaded code (the one
    implementation is `contract_dispatch.StateContracts`)."""

    def record(self, target: str) -> ContractRecord: ...

    def code(self, record: ContractRecord, cache: ContractCache) -> LoadedCode: ...


def find_export(record: ContractRecord, method: str) -> ExportInfo:
    found = record.exports.get(method)
    if found is None:
        raise ExportNotFound(f"contract {record.name} has no export {method!r}")
    return found


def require_callable(record: ContractRecord) -> None:
    if record.frozen:
        raise ContractFrozen(f"contract {record.name} is frozen by governance")


def frozen_args(method: str, args: object) -> Mapping[str, CborValue]:
    """`args` as a frozen map of named arguments (null: none); InvalidArguments otherwise."""
    try:
        value = freeze_value({} if args is None else args)
    except ValueProblem as problem:
        raise InvalidArguments(f"{method}: args{problem.where}: {problem.problem}") from None
    if not isinstance(value, Mapping):
        raise InvalidArguments(f"{method}: args must be a map of named arguments")
    return value


class ReadOnlyStorage(ContractStorage):
    """A read-only frame's storage: a write is the contract's error, not a bug."""

    __slots__ = ()

    def set(self, key: bytes, value: bytes | None) -> None:
        raise ContractReadOnly(f"{self._namespace}: a read-only call cannot write storage")


class ContractCallHost:
    """The host of one call frame; satisfies the runtime's `ContractHost` protocol."""

    __slots__ = (
        "_depth",
        "_record",
        "_scope",
        "contract_address",
        "meter",
        "read_only",
        "sender",
        "storage",
    )

    def __init__(
        self,
        scope: CallScope,
        record: ContractRecord,
        *,
        sender: bytes,
        read_only: bool,
        depth: int,
    ) -> None:
        writable = scope.journal is not None and not read_only
        self._scope = scope
        self._record = record
        self._depth = depth
        self.contract_address = record.address
        self.meter = scope.meter
        self.read_only = not writable
        self.sender = sender
        namespace = storage_namespace(record.address)
        self.storage: ContractStorage
        if writable:
            self.storage = ContractStorage(
                namespace, scope.state, scope.meter, scope.prices, journal=scope.journal
            )
        else:
            self.storage = ReadOnlyStorage(namespace, scope.state, scope.meter, scope.prices)

    # --- what the contract reads -----------------------------------------------------------

    @property
    def origin(self) -> bytes:
        return self._scope.origin

    @property
    def height(self) -> int:
        return self._scope.height

    @property
    def timestamp_ms(self) -> int:
        return self._scope.timestamp_ms

    @property
    def tx_hash(self) -> bytes:
        return self._scope.tx_hash

    @property
    def chain_id(self) -> str:
        return self._scope.chain_id

    @property
    def contract_name(self) -> str:
        return self._record.name

    # --- what the contract does ------------------------------------------------------------

    def emit(self, name: str, fields: Mapping[str, CborValue]) -> None:
        """Emit event `name` of this contract; kept only if the transaction succeeds."""
        scope = self._scope
        if self.read_only:
            raise ContractReadOnly(f"{self._record.name}: a read-only call cannot emit events")
        if len(scope.events) >= RECEIPT_EVENTS_MAX:
            raise ReturnValueTooLarge(f"more than {RECEIPT_EVENTS_MAX} events")
        event = Event(contract=self._record.name, name=name, fields=fields)
        size = len(cbor2.dumps(event.fields))
        scope.meter.charge(scope.prices.event + scope.prices.event_byte * size, "event")
        scope.events.append(event)
        scope.events_bytes += size

    def call(self, target: str, method: str, args: Mapping[str, CborValue]) -> CborValue:
        """Call `method` of the contract `target` (a name or a 0x address) as this contract."""
        if self._depth + 1 >= CALL_DEPTH_MAX:
            raise ContractCallTooDeep(f"contract calls nested deeper than {CALL_DEPTH_MAX}")
        scope = self._scope
        record = scope.resolve.record(target)
        require_callable(record)
        export = find_export(record, method)
        if export.roles is not None:
            raise ExportRoleDenied(
                f"{record.name}.{method} is restricted to roles {', '.join(export.roles)}; "
                "a contract has no role"
            )
        if self.read_only and not export.read_only:
            raise ContractReadOnly(
                f"{record.name}.{method} changes state; a read-only call cannot call it"
            )
        return invoke(
            scope,
            record,
            export,
            frozen_args(method, args),
            sender=self.contract_address,
            depth=self._depth + 1,
        )


def invoke(
    scope: CallScope,
    record: ContractRecord,
    export: ExportInfo,
    args: Mapping[str, CborValue],
    *,
    sender: bytes,
    depth: int,
) -> CborValue:
    """Run one export in its own snapshot: its writes and events are kept if it returns,
    dropped if it raises (the error propagates)."""
    scope.meter.charge(CONTRACT_CALL_GAS, "contract call")
    code = scope.resolve.code(record, scope.cache)
    host = ContractCallHost(scope, record, sender=sender, read_only=export.read_only, depth=depth)
    journal = scope.journal
    snapshot = journal.snapshot() if journal is not None else 0
    events, events_bytes = len(scope.events), scope.events_bytes
    try:
        value = code.invoke(export.name, args, host)
    except BaseException:
        if journal is not None:
            journal.revert(snapshot)
        del scope.events[events:]
        scope.events_bytes = events_bytes
        raise
    if journal is not None:
        journal.commit(snapshot)
    return value
