"""What contract source may name: the allow-lists the checker enforces and the runtime binds.

Everything not listed here is rejected at deploy; `FORBIDDEN_NAMES` only gives the usual
suspects a more telling reason.
"""

from __future__ import annotations

# Names a contract imports from `gongshi.contract` (the import is a no-op for editors).
RUNTIME_NAMES = frozenset({"export", "Map", "Value", "Decimal", "ctx", "emit", "require", "call"})
# Runtime names usable only in module-level declarations, never inside functions.
DECLARATION_NAMES = frozenset({"export", "Map", "Value"})
CONTRACT_MODULE = "gongshi.contract"

BUILTIN_NAMES = frozenset(
    {
        "abs",
        "all",
        "any",
        "bool",
        "bytes",
        "dict",
        "enumerate",
        "hex",
        "int",
        "isinstance",
        "len",
        "list",
        "max",
        "min",
        "range",
        "reversed",
        "sorted",
        "str",
        "sum",
        "tuple",
        "zip",
    }
)

CTX_FIELDS = frozenset(
    {"sender", "origin", "height", "timestamp_ms", "tx_hash", "chain_id", "this"}
)

FORBIDDEN_NAMES: dict[str, str] = {
    name: "dynamic code and introspection are not allowed"
    for name in (
        "exec",
        "eval",
        "compile",
        "open",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "globals",
        "locals",
        "vars",
        "dir",
        "type",
        "id",
        "hash",
        "format",
        "print",
        "input",
        "breakpoint",
        "help",
        "memoryview",
        "object",
        "super",
        "classmethod",
        "staticmethod",
        "property",
        "iter",
        "next",
        "callable",
        "issubclass",
        "repr",
        "ascii",
        "chr",
        "ord",
        "float",
        "complex",
        "set",
        "frozenset",
        "bytearray",
        "slice",
        "map",
        "filter",
        "pow",
        "round",
        "divmod",
        "exit",
        "quit",
        "license",
        "copyright",
        "credits",
    )
}
FORBIDDEN_NAMES.update({"float": "floats are not allowed: use Decimal or int"})

# Methods a contract may call, by receiver type name (the runtime dispatches on the real type).
METHODS: dict[str, frozenset[str]] = {
    "str": frozenset(
        {
            "lower",
            "upper",
            "strip",
            "lstrip",
            "rstrip",
            "split",
            "join",
            "replace",
            "startswith",
            "endswith",
            "find",
            "count",
            "isdigit",
            "isalpha",
            "isalnum",
            "encode",
        }
    ),
    "bytes": frozenset({"hex", "decode", "startswith", "endswith", "find", "count"}),
    "list": frozenset({"append", "extend", "pop", "insert", "remove", "index", "count", "copy"}),
    "dict": frozenset({"get", "keys", "values", "items", "pop", "setdefault", "update", "copy"}),
    "tuple": frozenset({"index", "count"}),
    "Map": frozenset({"get"}),
    "Value": frozenset({"get", "set"}),
}
# `bytes.fromhex(text)`: the one method called on a type.
CLASS_METHODS = frozenset({("bytes", "fromhex")})
ALL_METHOD_NAMES = frozenset().union(*METHODS.values()) | {name for _, name in CLASS_METHODS}
