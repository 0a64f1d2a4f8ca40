"""What execution reads (state values, next nonces) and the journaled overlay it writes to.

Execution never touches storage: it reads through two small Protocols that the node adapts to
the ledger (and tests to dicts), and collects a block's writes in `JournaledState`, whose
snapshots let a failed call revert its own writes and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gongshi.errors import InvariantViolation

# Nested snapshots a call may open: one per transaction now, one per cross-contract call later.
SNAPSHOT_DEPTH_MAX = 64


class StateReader(Protocol):
    """Committed state at the parent height, by raw state key (`storage.schema.state_key`).

    A plain `dict[bytes, bytes]` is one."""

    def get(self, raw_key: bytes, /) -> bytes | None: ...


class NonceReader(Protocol):
    """The committed next nonce of each sender address (0 for an address never seen)."""

    def next_nonce(self, address: bytes, /) -> int: ...


class MemoryNonces:
    """A `NonceReader` over a dict: for tests, benchmarks and simulations."""

    __slots__ = ("_next",)

    def __init__(self, next_nonces: Mapping[bytes, int] | None = None) -> None:
        self._next: dict[bytes, int] = dict(next_nonces or {})

    def next_nonce(self, address: bytes, /) -> int:
        return self._next.get(address, 0)

    def advance(self, next_nonces: Mapping[bytes, int]) -> None:
        """Record a committed block's next nonces (as `BlockResult.next_nonces` gives them)."""
        for address, value in next_nonces.items():
            self._next[address] = max(value, self._next.get(address, 0))


class JournaledState:
    """A write overlay on a `StateReader` with nested snapshots.

    Reads see the newest write (open snapshots first, then the committed overlay, then the
    base). `snapshot()` opens a frame; `commit()` folds it into the one below, `revert()`
    discards it. Not thread-safe: one block executes on one thread.
    """

    __slots__ = ("_base", "_committed", "_frames")

    def __init__(self, base: StateReader) -> None:
        self._base = base
        # Invariant: holds only writes of committed frames; what `writes()` returns.
        self._committed: dict[bytes, bytes | None] = {}
        self._frames: list[dict[bytes, bytes | None]] = []

    @property
    def depth(self) -> int:
        return len(self._frames)

    def get(self, raw_key: bytes, /) -> bytes | None:
        for frame in reversed(self._frames):
            if raw_key in frame:
                return frame[raw_key]
        if raw_key in self._committed:
            return self._committed[raw_key]
        return self._base.get(raw_key)

    def set(self, raw_key: bytes, value: bytes | None) -> None:
        """Write `value` (None deletes) in the innermost open snapshot."""
        if not self._frames:
            raise InvariantViolation("state write outside a snapshot")
        self._frames[-1][raw_key] = value

    def snapshot(self) -> int:
        """Open a frame; returns the depth to pass to `commit` / `revert`."""
        if len(self._frames) >= SNAPSHOT_DEPTH_MAX:
            raise InvariantViolation(f"more than {SNAPSHOT_DEPTH_MAX} nested snapshots")
        self._frames.append({})
        return len(self._frames)

    def commit(self, depth: int) -> None:
        """Keep the writes of the innermost frame, which must be the one at `depth`."""
        frame = self._pop(depth)
        below = self._frames[-1] if self._frames else self._committed
        below.update(frame)

    def revert(self, depth: int) -> None:
        """Discard the writes of the innermost frame, which must be the one at `depth`."""
        self._pop(depth)

    def _pop(self, depth: int) -> dict[bytes, bytes | None]:
        if depth != len(self._frames) or depth == 0:
            raise InvariantViolation(f"snapshot {depth} closed out of order ({self.depth} open)")
        return self._frames.pop()

    def writes(self) -> dict[bytes, bytes | None]:
        """Every committed write, ordered by key (a canonical order for whoever hashes it)."""
        if self._frames:
            raise InvariantViolation("writes() read while a snapshot is open")
        return dict(sorted(self._committed.items()))
