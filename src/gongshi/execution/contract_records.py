"""How deployed Python contracts are kept in state: code, names, addresses, lifecycle records.

Keys in the `contracts` namespace (the code store system contract's own):

| key                  | value                                                       |
| -------------------- | ----------------------------------------------------------- |
| `s` + code hash      | uploaded source, UTF-8 (the code hash is the suite hash of it) |
| `e` + code hash      | its exports, as the runtime loaded them when uploaded (CBOR map) |
| `n`                  | names of deployed contracts, in deployment order (CBOR array) |
| `a` + address        | name of the contract deployed at that address (UTF-8)       |

The lifecycle record of contract `name` is governance's (`c` + name in the `governance`
namespace, `governance_state.contract_record`): a map of name, address, version, code hash,
frozen, exports and the history of versions. A deployed contract's own storage is the
namespace `address.hex()`: it depends on the name only, so an upgrade keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from gongshi.codec import CborValue, frozendict
from gongshi.contracts.limits import SOURCE_BYTES_MAX
from gongshi.execution.contract_errors import ContractRecordCorrupt

NAMESPACE: Final = "contracts"
NAMES_KEY: Final = b"n"
ADDRESS_PREFIX: Final = b"gongshi/contract/"
ADDRESS_SIZE: Final = 20
CODE_HASH_SIZE: Final = 32
# A deployed contract is a transaction `target`, so its name follows the codec's rule.
CONTRACT_NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
ADDRESS_TEXT_PATTERN: Final = re.compile(r"0x[0-9a-f]{40}")
# Names no deployed contract may take: the system contracts and those planned.
RESERVED_NAMES: Final = frozenset(
    {"contracts", "governance", "identity", "notary", "regulation", "system"}
)
CODE_BYTES_MAX: Final = SOURCE_BYTES_MAX  # what the runtime's checker accepts
CONTRACTS_MAX: Final = 4096  # deployed contracts (the `n` list is read whole)
VERSIONS_MAX: Final = 256  # versions in a contract's history


class Hasher(Protocol):
    def hash(self, data: bytes, /) -> bytes: ...


def code_key(code_hash: bytes) -> bytes:
    return b"s" + code_hash


def exports_key(code_hash: bytes) -> bytes:
    return b"e" + code_hash


def address_key(address: bytes) -> bytes:
    return b"a" + address


def contract_address(suite: Hasher, name: str) -> bytes:
    """A deployed contract's address: the first 20 bytes of the suite hash of a fixed prefix
    and its name (the same for every version)."""
    return suite.hash(ADDRESS_PREFIX + name.encode("utf-8"))[:ADDRESS_SIZE]


def storage_namespace(address: bytes) -> str:
    """The state namespace of a deployed contract's storage (40 hex digits)."""
    return address.hex()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportInfo:
    """An export as records and queries show it (the runtime's `ExportSpec`, stored)."""

    name: str
    parameters: tuple[str, ...]
    roles: tuple[str, ...] | None  # None: every role that may transact
    read_only: bool

    def to_value(self) -> CborValue:
        return frozendict(
            {
                "parameters": self.parameters,
                "roles": self.roles,
                "read_only": self.read_only,
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionEntry:
    """One version of a contract: its code and the block that put it in force."""

    version: int
    code_hash: bytes
    height: int
    proposal: int

    def to_value(self) -> CborValue:
        return frozendict(
            {
                "version": self.version,
                "code_hash": self.code_hash,
                "height": self.height,
                "proposal": self.proposal,
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractRecord:
    """A deployed contract's lifecycle record."""

    name: str
    address: bytes
    version: int
    code_hash: bytes
    frozen: bool
    exports: Mapping[str, ExportInfo]
    history: tuple[VersionEntry, ...]  # oldest first; the last is `version`

    def to_value(self) -> CborValue:
        return frozendict(
            {
                "name": self.name,
                "address": self.address,
                "version": self.version,
                "code_hash": self.code_hash,
                "frozen": self.frozen,
                "exports": exports_to_value(self.exports),
                "history": tuple(entry.to_value() for entry in self.history),
            }
        )

    def version_entry(self, version: int) -> VersionEntry | None:
        for entry in self.history:
            if entry.version == version:
                return entry
        return None


def _field(value: CborValue, name: str, kind: type, what: str) -> CborValue:
    if not isinstance(value, Mapping) or name not in value:
        raise ContractRecordCorrupt(f"{what}: missing {name}")
    found = value[name]
    if not isinstance(found, kind) or (kind is int and isinstance(found, bool)):
        raise ContractRecordCorrupt(f"{what}: {name} is not {kind.__name__}")
    return found


def _text(value: CborValue, name: str, what: str) -> str:
    found = _field(value, name, str, what)
    assert isinstance(found, str)
    return found


def _int(value: CborValue, name: str, what: str) -> int:
    found = _field(value, name, int, what)
    assert isinstance(found, int)
    return found


def _bytes(value: CborValue, name: str, what: str) -> bytes:
    found = _field(value, name, bytes, what)
    assert isinstance(found, bytes)
    return found


def _names(value: CborValue, what: str) -> tuple[str, ...]:
    if not isinstance(value, tuple) or not all(isinstance(item, str) for item in value):
        raise ContractRecordCorrupt(f"{what}: not a list of names")
    return tuple(str(item) for item in value)


def _export(name: str, value: CborValue, what: str) -> ExportInfo:
    roles = value.get("roles") if isinstance(value, Mapping) else None
    read_only = _field(value, "read_only", bool, what)
    return ExportInfo(
        name=name,
        parameters=_names(_field(value, "parameters", tuple, what), what),
        roles=None if roles is None else _names(roles, what),
        read_only=read_only is True,
    )


def _version(value: CborValue, what: str) -> VersionEntry:
    return VersionEntry(
        version=_int(value, "version", what),
        code_hash=_bytes(value, "code_hash", what),
        height=_int(value, "height", what),
        proposal=_int(value, "proposal", what),
    )


def record_from_value(value: CborValue) -> ContractRecord:
    """Decode a lifecycle record; ContractRecordCorrupt if it is not one."""
    what = "contract record"
    exports = _field(value, "exports", Mapping, what)
    history = _field(value, "history", tuple, what)
    assert isinstance(exports, Mapping) and isinstance(history, tuple)
    return ContractRecord(
        name=_text(value, "name", what),
        address=_bytes(value, "address", what),
        version=_int(value, "version", what),
        code_hash=_bytes(value, "code_hash", what),
        frozen=_field(value, "frozen", bool, what) is True,
        exports={name: _export(name, spec, what) for name, spec in exports.items()},
        history=tuple(_version(entry, what) for entry in history),
    )


def exports_from_value(value: CborValue) -> dict[str, ExportInfo]:
    what = "contract exports"
    if not isinstance(value, Mapping):
        raise ContractRecordCorrupt(f"{what}: not a map")
    return {name: _export(name, spec, what) for name, spec in value.items()}


def exports_to_value(exports: Mapping[str, ExportInfo]) -> CborValue:
    return frozendict({name: exports[name].to_value() for name in sorted(exports)})


def contract_name_problem(name: str) -> str | None:
    """Why `name` may not be a deployed contract's name, or None."""
    if not CONTRACT_NAME_PATTERN.fullmatch(name):
        return f"contract name {name!r} must match {CONTRACT_NAME_PATTERN.pattern}"
    if name in RESERVED_NAMES:
        return f"{name!r} is the name of a system contract"
    return None


def names_from_value(value: CborValue) -> tuple[str, ...]:
    return _names(value, "deployed contract names")
