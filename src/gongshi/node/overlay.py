"""Reading state that is executed but not yet committed.

Execute-before-propose pipelines blocks: block h+1 is built and validated while h is still
waiting for its finality certificate. Execution of h+1 must then see the committed ledger plus
the writes of every uncommitted ancestor; these readers layer those ancestors (newest first)
over the ledger, for state values, next nonces and state-tree nodes alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gongshi.storage import Ledger
from gongshi.storage.state import StoreNodeReader


class OverlayState:
    """Execution's `StateReader`: ancestors' writes over the committed state."""

    __slots__ = ("_height", "_layers", "_ledger")

    def __init__(
        self, ledger: Ledger, height: int, layers: Sequence[Mapping[bytes, bytes | None]]
    ) -> None:
        self._ledger = ledger
        self._height = height  # the committed height the layers sit on
        self._layers = tuple(layers)  # newest first

    def get(self, raw_key: bytes, /) -> bytes | None:
        for layer in self._layers:
            if raw_key in layer:
                return layer[raw_key]
        return self._ledger.get_state_value(raw_key, self._height)


class OverlayNonces:
    """Execution's `NonceReader`: ancestors' next nonces over the committed nonce index."""

    __slots__ = ("_layers", "_ledger")

    def __init__(self, ledger: Ledger, layers: Sequence[Mapping[bytes, int]]) -> None:
        self._ledger = ledger
        self._layers = tuple(layers)  # newest first

    def next_nonce(self, address: bytes, /) -> int:
        for layer in self._layers:
            value = layer.get(address)
            if value is not None:
                return value
        return self._ledger.get_nonce(address)


class OverlayNodes:
    """The state tree's `NodeReader`: ancestors' new tree nodes over the persisted ones, so a
    version whose nodes are not persisted yet can be the base of the next one. The ledger's
    nodes of the last committed versions come from memory (`Ledger.recent_nodes`)."""

    __slots__ = ("_layers", "_read_stored")

    def __init__(self, ledger: Ledger, layers: Sequence[Mapping[bytes, bytes]]) -> None:
        self._read_stored = StoreNodeReader(ledger.store).get_node
        self._layers = (*layers, ledger.recent_nodes)

    def get_node(self, node_key: bytes) -> bytes | None:
        for layer in self._layers:
            node = layer.get(node_key)
            if node is not None:
                return node
        return self._read_stored(node_key)


class LatestState:
    """A `StateReader` over whatever is committed when it is read (the mempool's view)."""

    __slots__ = ("_ledger",)

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def get(self, raw_key: bytes, /) -> bytes | None:
        return self._ledger.get_state_value(raw_key)
