"""Receipt of one executed transaction, and the events it emitted."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, ClassVar

from gongshi.codec.cbor import CborValue
from gongshi.codec.errors import InvalidField
from gongshi.codec.fields import CONTRACT, ERROR_MESSAGE, HASH, IDENTIFIER, UINT64
from gongshi.codec.hashing import Hasher
from gongshi.codec.kinds import Array, Enum, Nested, Value
from gongshi.codec.limits import EVENT_BYTES_MAX, RECEIPT_BYTES_MAX, RECEIPT_EVENTS_MAX
from gongshi.codec.record import Record, record


class ReceiptStatus(enum.IntEnum):
    """Outcome of a transaction. Values are part of the encoding: add, never renumber."""

    SUCCESS = 0
    # The call failed (the contract raised or a `require` failed); its state changes are
    # reverted, its gas is still charged.
    FAILED = 1
    OUT_OF_GAS = 2
    # The target contract or the method does not exist.
    NOT_FOUND = 3
    # The sender's role may not make this call.
    PERMISSION_DENIED = 4
    # The sender, the contract or an asset is frozen by the regulator.
    FROZEN = 5


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class Event(Record):
    """A named record a contract emits; indexed by (contract, name, height)."""

    encoded_bytes_max: ClassVar[int] = EVENT_BYTES_MAX

    contract: Annotated[str, CONTRACT]
    name: Annotated[str, IDENTIFIER]
    fields: Annotated[CborValue, Value(map_only=True)]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt(Record):
    """The result of executing one transaction of a block."""

    encoded_bytes_max: ClassVar[int] = RECEIPT_BYTES_MAX

    tx_hash: Annotated[bytes, HASH]
    status: Annotated[ReceiptStatus, Enum(ReceiptStatus)]
    gas_used: Annotated[int, UINT64]
    return_value: Annotated[CborValue, Value()] = None
    # Why the call failed; empty on success.
    error: Annotated[str, ERROR_MESSAGE] = ""
    events: Annotated[tuple[Event, ...], Array(Nested(Event), length_max=RECEIPT_EVENTS_MAX)] = ()

    def check_invariants(self) -> None:
        if self.status is ReceiptStatus.SUCCESS and self.error:
            raise InvalidField("Receipt", "error", "must be empty when status is SUCCESS")

    def hash(self, hasher: Hasher) -> bytes:
        """Suite hash of the receipt's encoding."""
        return self.memo_digest(hasher, self.encode)
