"""Execution's view of the Python contract runtime, and the bounded cache of loaded code.

Execution needs three things of the runtime (`gongshi.contracts`): check uploaded source,
load it, and invoke an export with a host. They are reached through `ContractRuntime`, so
the dispatch and lifecycle code (and its tests) do not depend on how the runtime is built;
`PythonRuntime` is the real one. `ContractCache` keeps loaded contracts by code hash, bounded,
inside an `ExecutionEnvironment` (never in a module global). Loading is pure, so whether a
contract came from the cache never changes a result or a gas charge.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from gongshi.codec import CborValue
from gongshi.execution.contract_errors import ContractCodeRejected, ContractRecordCorrupt
from gongshi.execution.contract_records import ContractRecord, ExportInfo, record_from_value
from gongshi.execution.governance_records import decode_stored

if TYPE_CHECKING:
    from gongshi.execution.contract_host import ContractCallHost

CACHE_CONTRACTS_MAX = 64
RECORDS_PER_CONTRACT = 4  # decoded records kept per cached contract (versions, freezes)
PROBLEMS_SHOWN_MAX = 20  # problems quoted in a receipt's error (all are in `problems`)


class ExportLike(Protocol):
    """What execution reads of the runtime's `ExportSpec`."""

    @property
    def name(self) -> str: ...

    @property
    def parameters(self) -> tuple[str, ...]: ...

    @property
    def roles(self) -> frozenset[str] | None: ...

    @property
    def read_only(self) -> bool: ...


class LoadedCode(Protocol):
    """A loaded contract (the runtime's `LoadedContract`): immutable, shareable."""

    @property
    def exports(self) -> Mapping[str, ExportLike]: ...

    def invoke(
        self, method: str, args: Mapping[str, CborValue], host: ContractCallHost
    ) -> CborValue: ...


class ContractRuntime(Protocol):
    def check(self, source: str) -> None:
        """Raise ContractCodeRejected listing every problem, or return."""

    def load(self, source: str) -> LoadedCode:
        """The loaded contract; ContractCodeRejected if it does not load."""


class PythonRuntime:
    """The real runtime, `gongshi.contracts`, imported when first used."""

    __slots__ = ()

    def check(self, source: str) -> None:
        from gongshi.contracts import ContractRejected, check_contract

        try:
            check_contract(source)
        except ContractRejected as error:
            raise rejected(tuple(str(problem) for problem in error.problems)) from None

    def load(self, source: str) -> LoadedCode:
        from gongshi.contracts import ContractRejected, load_contract

        try:
            loaded: LoadedCode = load_contract(source)
        except ContractRejected as error:
            raise rejected(tuple(str(problem) for problem in error.problems)) from None
        return loaded


def rejected(problems: tuple[str, ...]) -> ContractCodeRejected:
    shown = "; ".join(problems[:PROBLEMS_SHOWN_MAX])
    more = len(problems) - PROBLEMS_SHOWN_MAX
    suffix = f"; and {more} more" if more > 0 else ""
    return ContractCodeRejected(
        f"contract code rejected ({len(problems)} problems): {shown}{suffix}", problems
    )


def export_info(spec: ExportLike) -> ExportInfo:
    """An export as the lifecycle record keeps it (roles sorted, so records are canonical)."""
    roles = None if spec.roles is None else tuple(sorted(str(role) for role in spec.roles))
    return ExportInfo(
        name=spec.name,
        parameters=tuple(str(name) for name in spec.parameters),
        roles=roles,
        read_only=bool(spec.read_only),
    )


class ContractCache:
    """Loaded contracts by code hash, least recently used dropped first; thread-safe (the
    API's query threads share the node's environment)."""

    __slots__ = ("_capacity", "_entries", "_lock", "_records", "runtime")

    def __init__(
        self, runtime: ContractRuntime | None = None, *, capacity: int = CACHE_CONTRACTS_MAX
    ) -> None:
        assert capacity >= 1
        self.runtime: ContractRuntime = runtime if runtime is not None else PythonRuntime()
        self._capacity = capacity
        self._entries: OrderedDict[bytes, LoadedCode] = OrderedDict()
        # Decoded lifecycle records by their stored bytes (decoding is pure, and a call
        # would otherwise spend more time decoding its record than running small code).
        self._records: OrderedDict[bytes, ContractRecord] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, data: bytes) -> ContractRecord:
        """The lifecycle record stored as `data` (a CBOR map), decoded once."""
        with self._lock:
            found = self._records.get(data)
            if found is not None:
                self._records.move_to_end(data)
                return found
        record = record_from_value(decode_stored(data, "contract"))
        with self._lock:
            self._records[data] = record
            while len(self._records) > self._capacity * RECORDS_PER_CONTRACT:
                self._records.popitem(last=False)
        return record

    def cached(self, code_hash: bytes) -> LoadedCode | None:
        """The contract loaded from code `code_hash`, if it is in the cache."""
        with self._lock:
            found = self._entries.get(code_hash)
            if found is not None:
                self._entries.move_to_end(code_hash)
            return found

    def load(self, code_hash: bytes, source: str) -> LoadedCode:
        """The contract whose code is `source` (hash `code_hash`), loaded once.

        Stored code was checked when uploaded: failing to load it now is corruption."""
        found = self.cached(code_hash)
        if found is not None:
            return found
        try:
            loaded = self.runtime.load(source)
        except ContractCodeRejected as error:
            raise ContractRecordCorrupt(
                f"stored contract code {code_hash.hex()} no longer loads: {error.message}"
            ) from None
        with self._lock:
            self._entries[code_hash] = loaded
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return loaded
