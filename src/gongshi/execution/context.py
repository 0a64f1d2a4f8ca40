"""What a system-contract method sees: its block, its sender, metered storage and events.

`ReadCall` is what read-only methods get (the query path and transactions alike); `WriteCall`
adds the transaction, the block and `emit`. Storage is scoped to the contract's namespace,
so a contract can only touch its own keys, and every access is charged to the call's meter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cbor2

from gongshi.codec import CborValue, Event, frozendict
from gongshi.codec.cbor import ValueProblem, freeze_value
from gongshi.codec.fields import IDENTIFIER
from gongshi.codec.limits import RECEIPT_EVENTS_MAX
from gongshi.crypto import Suite
from gongshi.errors import InvariantViolation
from gongshi.execution.errors import ReturnValueTooLarge
from gongshi.execution.gas import GasMeter, GasSchedule
from gongshi.execution.identity_records import MemberIdentity
from gongshi.execution.state import JournaledState, StateReader
from gongshi.storage.schema import STATE_KEY_BYTES_MAX as KEY_MAX
from gongshi.storage.schema import state_key


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockContext:
    """The block being executed, as its header states it; contracts see no other clock."""

    chain_id: str
    height: int
    # The proposer's timestamp (ms since the Unix epoch): the block time contracts see.
    timestamp_ms: int
    # The proposer's raw public key.
    proposer: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Sender:
    """Who signed the transaction being executed."""

    public_key: bytes
    address: bytes
    # None for a sender without a registered certificate (it may only call identity.register).
    identity: MemberIdentity | None


class ContractStorage:
    """One contract's namespace of the state, metered.

    Writable only when given the block's `journal`; a read-only method gets read-only storage
    (on the query path and in transactions alike), and a write through it is a bug.
    """

    __slots__ = ("_journal", "_meter", "_namespace", "_prefix", "_prices", "_state")

    def __init__(
        self,
        namespace: str,
        state: StateReader,
        meter: GasMeter,
        prices: GasSchedule,
        *,
        journal: JournaledState | None = None,
    ) -> None:
        self._namespace = namespace
        self._state: StateReader = state if journal is None else journal
        self._journal = journal
        self._meter = meter
        self._prices = prices
        # `state_key(namespace, b"")`, known after the first key: a raw key is this prefix
        # and the key (`state_key`'s layout), so the namespace is encoded once per call.
        self._prefix: bytes | None = None

    @property
    def writable(self) -> bool:
        return self._journal is not None

    def sibling(self, namespace: str) -> ContractStorage:
        """The same call's storage of another namespace (same meter, same writability): for
        system contracts that keep each other's records, as governance does identity's."""
        return ContractStorage(
            namespace, self._state, self._meter, self._prices, journal=self._journal
        )

    def get(self, key: bytes) -> bytes | None:
        self._meter.charge(self._prices.state_read, "state read")
        return self._state.get(self._raw_key(key))

    def set(self, key: bytes, value: bytes | None) -> None:
        """Write `value` under `key`; None deletes."""
        if self._journal is None:
            raise InvariantViolation(f"{self._namespace}: write through read-only storage")
        raw_key = self._raw_key(key)
        size = len(raw_key) + (0 if value is None else len(value))
        self._meter.charge(
            self._prices.state_write + self._prices.state_write_byte * size, "state write"
        )
        self._journal.set(raw_key, value)

    def _raw_key(self, key: bytes) -> bytes:
        """`state_key(namespace, key)`; InvalidStateKey for a key it refuses."""
        prefix = self._prefix
        if prefix is not None and type(key) is bytes and len(prefix) + len(key) <= KEY_MAX:
            return prefix + key
        raw = state_key(self._namespace, key)
        self._prefix = raw[: len(raw) - len(key)]
        return raw


class ReadCall:
    """A call of a read-only method."""

    __slots__ = ("meter", "prices", "storage")

    def __init__(self, storage: ContractStorage, meter: GasMeter, prices: GasSchedule) -> None:
        self.storage = storage
        self.meter = meter
        self.prices = prices


class WriteCall(ReadCall):
    """A call made by a transaction: it may write, emit events and see its block and sender."""

    __slots__ = ("block", "contract", "events", "events_bytes", "sender", "suite", "tx_hash")

    def __init__(
        self,
        *,
        contract: str,
        storage: ContractStorage,
        meter: GasMeter,
        prices: GasSchedule,
        block: BlockContext,
        sender: Sender,
        tx_hash: bytes,
        suite: Suite,
    ) -> None:
        super().__init__(storage, meter, prices)
        self.contract = contract
        self.suite = suite
        self.block = block
        self.sender = sender
        self.tx_hash = tx_hash
        self.events: list[Event] = []
        self.events_bytes = 0  # encoded size of the events' fields, for the receipt bound

    def emit(self, name: str, fields: Mapping[str, CborValue]) -> None:
        """Emit event `name`; it reaches the receipt only if the call succeeds."""
        if len(self.events) >= RECEIPT_EVENTS_MAX:
            raise ReturnValueTooLarge(f"more than {RECEIPT_EVENTS_MAX} events")
        event = _event(self.contract, name, fields)
        size = len(cbor2.dumps(event.fields))  # frozen and in canonical order by now
        self.meter.charge(self.prices.event + self.prices.event_byte * size, "event")
        self.events.append(event)
        self.events_bytes += size


def _event(contract: str, name: str, fields: Mapping[str, CborValue]) -> Event:
    """`Event(contract=contract, name=name, fields=fields)`, checking only `name` and `fields`:
    `contract` is the calling transaction's target, checked when it was decoded. Anything
    the checks refuse goes through the checked constructor, for its very error."""
    try:
        IDENTIFIER.check(name)
        frozen = freeze_value(fields)
    except ValueProblem:
        return Event(contract=contract, name=name, fields=fields)
    if type(frozen) is not frozendict:  # not a map
        return Event(contract=contract, name=name, fields=fields)
    return Event.from_checked(contract=contract, name=name, fields=frozen)
