"""What the runtime needs from its caller (`ContractHost`) and what contracts see (`Context`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from gongshi.codec import CborValue
from gongshi.execution.context import ContractStorage
from gongshi.execution.gas import GasMeter


class ContractHost(Protocol):
    """One call frame of a contract, provided by execution (and by tests' fake hosts)."""

    # Members are read-only properties so that a class with plain attributes or properties
    # satisfies the protocol.
    @property
    def storage(self) -> ContractStorage:
        """The contract's own namespace, metered per read, write and byte by execution."""

    @property
    def meter(self) -> GasMeter:
        """Shared by the whole transaction, nested calls included."""

    @property
    def read_only(self) -> bool:
        """True on the query path and for read-only exports: no writes, no events."""

    @property
    def sender(self) -> bytes:
        """The immediate caller: the signer's address, or the calling contract's."""

    @property
    def origin(self) -> bytes:
        """The transaction signer's address."""

    @property
    def height(self) -> int: ...

    @property
    def timestamp_ms(self) -> int: ...

    @property
    def tx_hash(self) -> bytes: ...

    @property
    def chain_id(self) -> str: ...

    @property
    def contract_address(self) -> bytes:
        """This contract's own address."""

    def emit(self, name: str, fields: Mapping[str, CborValue]) -> None:
        """Emit event `name` (WriteCall.emit semantics: metered, kept only on success)."""

    def call(self, target: str, method: str, args: Mapping[str, CborValue]) -> CborValue:
        """Call `method` of contract `target` as this contract, on the same meter."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """`ctx` in contract code: who called, and the block; fixed for one call."""

    sender: bytes
    origin: bytes
    height: int
    timestamp_ms: int
    tx_hash: bytes
    chain_id: str
    this: bytes

    @classmethod
    def of(cls, host: ContractHost) -> Context:
        return cls(
            sender=host.sender,
            origin=host.origin,
            height=host.height,
            timestamp_ms=host.timestamp_ms,
            tx_hash=host.tx_hash,
            chain_id=host.chain_id,
            this=host.contract_address,
        )
