"""Gas: the fixed price list of built-in calls and the meter that charges it.

Every figure is an integer; docs/execution.md has the same table. Changing a price changes
which transactions run out of gas, so prices change only with a chain-configuration change.
"""

from __future__ import annotations

from dataclasses import dataclass

from gongshi.execution.errors import OutOfGas


@dataclass(frozen=True, slots=True, kw_only=True)
class GasSchedule:
    """What each metered operation costs."""

    transaction: int = 10_000  # every transaction, whatever it calls
    argument_byte: int = 16  # per byte of the canonical encoding of `args`
    state_read: int = 200  # per state value read
    state_write: int = 2_000  # per state value written or deleted
    state_write_byte: int = 20  # per byte of key and value written
    event: int = 1_000  # per event emitted
    event_byte: int = 8  # per byte of an event's fields, encoded
    certificate_check: int = 100_000  # one X.509 chain validation (`identity.register`)

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            assert isinstance(value, int) and value >= 0, f"gas price {name} must be a uint"


DEFAULT_GAS_SCHEDULE = GasSchedule()


class GasMeter:
    """Counts gas against a limit; `charge` raises OutOfGas and then stays exhausted."""

    __slots__ = ("_limit", "_used")

    def __init__(self, limit: int) -> None:
        assert limit >= 0
        self._limit = limit
        # Invariant: 0 <= used <= limit.
        self._used = 0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def used(self) -> int:
        return self._used

    @property
    def remaining(self) -> int:
        return self._limit - self._used

    def charge(self, amount: int, reason: str) -> None:
        assert amount >= 0, "negative gas charge"
        if amount > self._limit - self._used:
            remaining = self._limit - self._used
            self._used = self._limit
            raise OutOfGas(needed=amount, remaining=remaining, reason=reason)
        self._used += amount
