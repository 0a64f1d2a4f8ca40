"""What a checked contract declares at module level: storage, constants, functions, exports."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """A public entry point of a contract."""

    name: str
    parameters: tuple[str, ...]
    # None: any role that may send transactions; else only these roles.
    roles: frozenset[str] | None
    # Declared read-only: callable on the query path; may not write storage or emit events.
    read_only: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageDecl:
    """`name = Map(key=...)` or `name = Value(...)` at module level."""

    name: str
    kind: str  # "Map" or "Value"
    key_types: tuple[str, ...]  # Map only: the type name of each key component
    default: object  # an immutable constant; None unless declared


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedModule:
    """A contract that passed the checker, with its declarations evaluated."""

    tree: ast.Module
    functions: Mapping[str, ast.FunctionDef]
    storage: tuple[StorageDecl, ...]
    constants: Mapping[str, object]
    exports: Mapping[str, ExportSpec]
