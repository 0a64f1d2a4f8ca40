"""Errors of the Python contract runtime (codes 1800-1849).

Two families with different consequences:

- `ContractRejected` (a `ValidationError`): uploaded source breaks the language's rules; it
  lists every problem as `line:col: reason` and nothing is deployed.
- Call failures (`gongshi.execution.errors.CallFailed` subclasses): a running contract failed.
  Execution reverts the call's writes, keeps its gas and writes the message into the receipt,
  so every message here is deterministic (no memory addresses, no Python version wording).
  Running out of gas is `gongshi.execution.errors.OutOfGas`, raised by the meter itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from gongshi.errors import IntegrityError, ValidationError
from gongshi.execution.errors import CallFailed


@dataclass(frozen=True, slots=True)
class Problem:
    """One violation of the contract language at a source position (line and column 1-based)."""

    line: int
    col: int
    reason: str

    def __str__(self) -> str:
        return f"{self.line}:{self.col}: {self.reason}"


class ContractRejected(ValidationError):
    """Raised when contract source breaks the language's rules; `problems` lists each one."""

    code = 1800

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        assert problems, "a rejection names at least one problem"
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


class RequireFailed(CallFailed):
    """Raised when a contract's `require(cond, message)` finds `cond` false."""

    code = 1801


class ContractRuntimeError(CallFailed):
    """Raised when contract code fails at run time (bad types, division by zero, missing key),
    naming the Python error type and the contract's line."""

    code = 1802


class LimitExceeded(CallFailed):
    """Raised when a contract value or operation passes a runtime bound (integer bits, string
    or container size, stored value size)."""

    code = 1803


class RecursionTooDeep(LimitExceeded):
    """Raised when contract functions nest deeper than the frame limit (across calls too)."""

    code = 1804


class ReadOnlyViolation(CallFailed):
    """Raised when a read-only call writes storage, emits an event or calls `call`-for-write."""

    code = 1805


class InvalidContractValue(CallFailed):
    """Raised when a value crossing the contract boundary (return value, event field, call
    argument) has no CBOR form: a function, a storage object, an integer past 64 bits."""

    code = 1806


class CorruptStoredValue(IntegrityError):
    """Raised when a value read from a contract's storage is not a valid stored encoding."""

    code = 1807
