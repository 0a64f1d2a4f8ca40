"""An in-memory contract host over a real `JournaledState` and `ContractStorage`.

Used by the runtime's tests and by `gongshi bench contracts`; execution has the real host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cbor2

from gongshi.codec import CborValue, Event
from gongshi.contracts import LoadedContract, load_contract
from gongshi.execution.context import ContractStorage
from gongshi.execution.gas import DEFAULT_GAS_SCHEDULE, GasMeter
from gongshi.execution.state import JournaledState

ALICE = bytes.fromhex("a1" * 20)
BOB = bytes.fromhex("b0" * 20)
CAROL = bytes.fromhex("c0" * 20)
CONTRACT = bytes.fromhex("cc" * 20)


@dataclass
class MemoryChain:
    """A state, an event log and deployed contracts, shared by the hosts of one test."""

    base: dict[bytes, bytes] = field(default_factory=dict)
    journal: JournaledState = field(init=False)
    events: list[tuple[bytes, str, dict[str, CborValue]]] = field(default_factory=list)
    contracts: dict[str, tuple[bytes, LoadedContract]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.journal = JournaledState(self.base)
        self.journal.snapshot()

    def deploy(self, name: str, source: str, address: bytes = CONTRACT) -> LoadedContract:
        loaded = load_contract(source)
        self.contracts[name] = (address, loaded)
        return loaded

    def host(
        self,
        name: str,
        *,
        sender: bytes = ALICE,
        read_only: bool = False,
        meter: GasMeter | None = None,
    ) -> MemoryHost:
        address, _ = self.contracts[name]
        return MemoryHost(
            chain=self,
            meter=meter or GasMeter(10_000_000),
            sender=sender,
            origin=sender,
            read_only=read_only,
            contract_address=address,
        )

    def invoke(
        self,
        name: str,
        method: str,
        args: Mapping[str, CborValue] | None = None,
        *,
        sender: bytes = ALICE,
        read_only: bool = False,
        meter: GasMeter | None = None,
    ) -> CborValue:
        """Invoke like execution does: in a snapshot, reverted if the call fails."""
        _, loaded = self.contracts[name]
        host = self.host(name, sender=sender, read_only=read_only, meter=meter)
        depth = self.journal.snapshot()
        events_before = len(self.events)
        try:
            result = loaded.invoke(method, args or {}, host)
        except BaseException:
            self.journal.revert(depth)
            del self.events[events_before:]
            raise
        self.journal.commit(depth)
        return result


@dataclass
class MemoryHost:
    chain: MemoryChain
    meter: GasMeter
    sender: bytes
    origin: bytes
    read_only: bool
    contract_address: bytes
    height: int = 7
    timestamp_ms: int = 1_700_000_000_000
    tx_hash: bytes = bytes(32)
    chain_id: str = "test-chain"
    storage: ContractStorage = field(init=False)

    def __post_init__(self) -> None:
        self.storage = ContractStorage(
            self.contract_address.hex(),
            self.chain.journal,
            self.meter,
            DEFAULT_GAS_SCHEDULE,
            journal=None if self.read_only else self.chain.journal,
        )

    def emit(self, name: str, fields: Mapping[str, CborValue]) -> None:
        """As execution's host does: validate the event, charge per encoded byte, keep it."""
        event = Event(contract="c" + self.contract_address.hex()[:8], name=name, fields=fields)
        size = len(cbor2.dumps(event.fields))
        prices = DEFAULT_GAS_SCHEDULE
        self.meter.charge(prices.event + prices.event_byte * size, "event")
        self.chain.events.append((self.contract_address, name, dict(fields)))

    def call(self, target: str, method: str, args: Mapping[str, CborValue]) -> CborValue:
        address, loaded = self.chain.contracts[target]
        host = MemoryHost(
            chain=self.chain,
            meter=self.meter,
            sender=self.contract_address,
            origin=self.origin,
            read_only=self.read_only,
            contract_address=address,
        )
        return loaded.invoke(method, args, host)


def run(source: str, method: str = "main", **args: CborValue) -> CborValue:
    """Deploy `source` on a fresh chain and invoke `method` once."""
    fresh = MemoryChain()
    fresh.deploy("c", source)
    return fresh.invoke("c", method, args)
