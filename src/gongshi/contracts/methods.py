"""Method calls of contract code: `obj.name(...)` becomes `__gs_method(obj, "name", ...)`.

Dispatch is on the receiver's exact type and the method's name, from a fixed table, so no
attribute is ever looked up by a name the contract controls. Each entry checks what the
method could allocate and charges for the bytes or items it touches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from gongshi.contracts.faults import ContractFault, LimitFault
from gongshi.contracts.keys import check_new_key, update_dict
from gongshi.contracts.limits import (
    CONTAINER_ITEMS_MAX,
    GAS_BUILTIN,
    GAS_KEY_PROBE,
    STR_LENGTH_MAX,
)
from gongshi.contracts.sizes import check_length, items_gas, size_gas, text_gas
from gongshi.contracts.storage import Map, Value
from gongshi.contracts.values import type_name

Charge = Callable[[int, str], None]
Handler = Callable[[Charge, Any, tuple[Any, ...], dict[str, Any]], object]
_REASON = "contract method"


def _scan(name: str) -> Handler:
    """A method whose work and result are at most proportional to the receiver and args."""

    def handler(
        charge: Charge, receiver: Any, args: tuple[Any, ...], named: dict[str, Any]
    ) -> object:
        gas = GAS_BUILTIN + size_gas(receiver)
        for argument in args:
            gas += size_gas(argument)
        charge(gas, _REASON)
        result = getattr(receiver, name)(*args, **named)
        if type(result) is list and len(result) > CONTAINER_ITEMS_MAX:
            raise LimitFault(f"{name}() gives {len(result)} items, more than {CONTAINER_ITEMS_MAX}")
        if type(result) in (str, bytes) and len(result) > STR_LENGTH_MAX:
            raise LimitFault(f"{name}() gives more than {STR_LENGTH_MAX} characters")
        return result

    return handler


def _constant(name: str) -> Handler:
    """A method whose cost does not grow with the receiver (dict lookups, list.append)."""

    def handler(
        charge: Charge, receiver: Any, args: tuple[Any, ...], named: dict[str, Any]
    ) -> object:
        # A tuple key costs its size to hash and compare.
        charge(GAS_BUILTIN + sum(size_gas(a) for a in args if type(a) is tuple), _REASON)
        return getattr(receiver, name)(*args, **named)

    return handler


def _growing(name: str) -> Handler:
    """A method that adds items to a container (append, insert, setdefault, extend, update)."""

    def handler(
        charge: Charge, receiver: Any, args: tuple[Any, ...], named: dict[str, Any]
    ) -> object:
        added = 1
        if name in ("extend", "update"):
            if len(args) != 1 or type(args[0]) not in (list, tuple, dict):
                raise ContractFault("TypeError", f"{name}() takes one list, tuple or dict")
            added = len(args[0])
        check_length(type(receiver), len(receiver) + added)
        work = len(receiver) if name == "insert" else added
        # A dict hashes what it is given (setdefault's key, update's keys).
        hashed = sum(size_gas(a) for a in args) if type(receiver) is dict else 0
        charge(GAS_BUILTIN + items_gas(work) + hashed, _REASON)
        if type(receiver) is dict and name == "update":
            charge(GAS_KEY_PROBE * update_dict(receiver, args[0]), _REASON)
            return receiver.update(**named)
        if type(receiver) is dict and args and check_new_key(receiver, args[0]):  # setdefault
            charge(GAS_KEY_PROBE, _REASON)
        return getattr(receiver, name)(*args, **named)

    return handler


def _str_replace(
    charge: Charge, receiver: Any, args: tuple[Any, ...], named: dict[str, Any]
) -> object:
    if named or not 2 <= len(args) <= 3 or not all(type(a) is str for a in args[:2]):
        raise ContractFault("TypeError", "replace() takes old, new and an optional count")
    old, new = args[0], args[1]
    charge(GAS_BUILTIN + text_gas(len(receiver)), _REASON)
    if len(new) > len(old):
        occurrences = receiver.count(old) if old else len(receiver) + 1
        if len(args) == 3 and type(args[2]) is int and args[2] >= 0:
            occurrences = min(occurrences, args[2])
        check_length(str, len(receiver) + occurrences * (len(new) - len(old)))
    result = receiver.replace(*args)
    charge(text_gas(len(result)), _REASON)
    return result


def _str_join(
    charge: Charge, receiver: Any, args: tuple[Any, ...], named: dict[str, Any]
) -> object:
    if named or len(args) != 1 or type(args[0]) not in (list, tuple):
        raise ContractFault("TypeError", "join() takes one list or tuple of str")
    items = args[0]
    if not all(type(item) is str for item in items):
        raise ContractFault("TypeError", "join() items must be str")
    length = sum(len(item) for item in items) + len(receiver) * max(len(items) - 1, 0)
    check_length(str, length)
    charge(GAS_BUILTIN + items_gas(len(items)) + text_gas(length), _REASON)
    return receiver.join(items)


def _codec(name: str) -> Handler:
    """`str.encode` / `bytes.decode`: UTF-8 only, so no codec lookup depends on the node."""
    scan = _scan(name)

    def handler(
        charge: Charge, receiver: Any, args: tuple[Any, ...], named: dict[str, Any]
    ) -> object:
        if named or args not in ((), ("utf-8",), ("utf8",)):
            raise ContractFault("ValueError", f"{name}() supports only 'utf-8'")
        return scan(charge, receiver, (), {})

    return handler


def _storage(name: str) -> Handler:
    def handler(
        charge: Charge, receiver: Any, args: tuple[Any, ...], named: dict[str, Any]
    ) -> object:
        return getattr(receiver, name)(*args, **named)

    return handler


def _table() -> Mapping[tuple[type, str], Handler]:
    scan = {
        str: (
            "lower",
            "upper",
            "strip",
            "lstrip",
            "rstrip",
            "split",
            "startswith",
            "endswith",
            "find",
            "count",
            "isdigit",
            "isalpha",
            "isalnum",
        ),
        bytes: ("hex", "startswith", "endswith", "find", "count"),
        list: ("pop", "remove", "index", "count", "copy"),
        dict: ("copy",),
        tuple: ("index", "count"),
    }
    table: dict[tuple[type, str], Handler] = {}
    for kind, names in scan.items():
        for name in names:
            table[kind, name] = _scan(name)
    for name in ("get", "keys", "values", "items", "pop"):
        table[dict, name] = _constant(name)
    for kind, name in (
        (list, "append"),
        (list, "insert"),
        (list, "extend"),
        (dict, "setdefault"),
        (dict, "update"),
    ):
        table[kind, name] = _growing(name)
    table[str, "encode"] = _codec("encode")
    table[bytes, "decode"] = _codec("decode")
    table[str, "replace"] = _str_replace
    table[str, "join"] = _str_join
    table[Map, "get"] = _storage("get")
    table[Value, "get"] = _storage("get")
    table[Value, "set"] = _storage("set")
    return MappingProxyType(table)


METHOD_TABLE = _table()


def call_method(
    charge: Charge, receiver: object, name: str, args: tuple[Any, ...], named: dict[str, Any]
) -> object:
    handler = METHOD_TABLE.get((type(receiver), name))
    if handler is None:
        raise ContractFault("AttributeError", f"{type_name(receiver)} has no method {name!r}")
    return handler(charge, receiver, args, named)
