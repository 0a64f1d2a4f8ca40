"""Answers computed from the latest committed state, cached across blocks until a block
writes a namespace they read: what admission asks of the same few senders and contract
methods for every transaction (`identities.CachedIdentityReader`,
`mempool.contract_calls.CachedContractCalls`).

Exact: every answer is `compute(state at h)` for the committed height h seen by the call.
The cache holds answers computed at `_height`; when the head moves to h', they stay valid
unless a block in (`_height`, h'] wrote one of `namespaces`, which the ledger's last written
height per namespace tells (it only grows, so reading it late, after more commits, can only
clear more). A change committed at h therefore shows in the first answer that sees h
committed. Thread-safe; a hit is a height comparison and a dict look-up.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from gongshi.execution.state import StateReader

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class PinnedState(StateReader, Protocol):
    """State fixed at one committed `height` (`storage.ledger.StateView`)."""

    @property
    def height(self) -> int: ...


class CommittedState(Protocol):
    """What a `CommittedStateCache` needs of the ledger (`storage.Ledger` is one)."""

    @property
    def committed_height(self) -> int | None: ...

    def state_reader(self, height: int | None = None, /) -> PinnedState: ...

    def namespace_written_height(self, namespace: str, /) -> int | None: ...


class CommittedStateCache(Generic[K, V]):
    """A bounded LRU of answers by key, valid at one committed height; see the module."""

    __slots__ = ("_entries", "_height", "_lock", "_namespaces", "_size_max", "_source")

    def __init__(
        self, source: CommittedState, *, namespaces: tuple[str, ...], size_max: int
    ) -> None:
        if size_max < 1:
            raise ValueError("a committed-state cache needs room for at least one entry")
        self._source = source
        self._namespaces = namespaces  # everything `compute` reads
        self._size_max = size_max
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._height: int | None = None  # the committed height the entries are valid at
        self._lock = threading.Lock()

    def get(self, key: K, compute: Callable[[PinnedState], V]) -> V:
        """The answer for `key` at the committed height now: cached, or `compute(state)`."""
        with self._lock:
            if self._source.committed_height == self._height and key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            state = self._source.state_reader()  # pinned at the committed height now
            self._advance(state.height)
            if key in self._entries:  # still valid at the new height
                self._entries.move_to_end(key)
                return self._entries[key]
            value = compute(state)
            self._entries[key] = value
            if len(self._entries) > self._size_max:
                self._entries.popitem(last=False)
            return value

    def __len__(self) -> int:
        return len(self._entries)

    def _advance(self, height: int) -> None:
        """Keep the entries for `height` if no block after `_height` touched what they read."""
        previous = self._height
        if previous == height:
            return
        if previous is None or height < previous or self._touched_after(previous):
            self._entries.clear()
        self._height = height

    def _touched_after(self, height: int) -> bool:
        for namespace in self._namespaces:
            written = self._source.namespace_written_height(namespace)
            if written is not None and written > height:
                return True
        return False
