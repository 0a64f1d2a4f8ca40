"""The engine's parts (engine_state.py) stay separate: each method belongs to one part, a part
touches only its own methods, the shared state and helpers, and the declared interface of the
other parts, and `Engine` leaves no part of that interface unimplemented."""

from __future__ import annotations

import ast
import inspect
import textwrap

from gongshi.consensus.engine import Engine
from gongshi.consensus.engine_state import EngineState

PARTS = [base for base in Engine.__bases__ if base is not EngineState]


def own_members(cls: type) -> set[str]:
    return {
        name
        for name, value in vars(cls).items()
        if inspect.isfunction(value) or isinstance(value, property)
    }


def self_attributes(cls: type) -> set[str]:
    """Every `self.<name>` the class's own source reads, writes or calls."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


def shared() -> set[str]:
    """What any part may use: the declared fields, the helpers and the abstract interface."""
    return set(EngineState.__annotations__) | own_members(EngineState)


def test_every_part_is_an_engine_state_mixin() -> None:
    assert len(PARTS) >= 7
    for part in PARTS:
        assert issubclass(part, EngineState), part.__name__
        assert part.__module__ != Engine.__module__, part.__name__


def test_no_method_is_defined_by_two_parts() -> None:
    owners: dict[str, str] = {}
    concrete_shared = own_members(EngineState) - EngineState.__abstractmethods__
    for cls in (*PARTS, Engine):
        for name in own_members(cls) - {"__init__"}:
            assert name not in owners, f"{name} in {owners.get(name)} and {cls.__name__}"
            assert name not in concrete_shared, f"{cls.__name__} overrides {name}"
            owners[name] = cls.__name__


def test_engine_implements_the_whole_interface() -> None:
    assert not Engine.__abstractmethods__
    implemented = set().union(*(own_members(cls) for cls in (*PARTS, Engine)))
    assert EngineState.__abstractmethods__ <= implemented


def test_parts_use_only_their_own_members_and_the_shared_interface() -> None:
    allowed = shared()
    for part in PARTS:
        stray = self_attributes(part) - own_members(part) - allowed
        assert not stray, f"{part.__name__} reaches into another part: {sorted(stray)}"


def test_engine_state_declares_every_field_the_engine_sets() -> None:
    undeclared = {
        name
        for cls in (*PARTS, Engine)
        for name in self_attributes(cls)
        if not hasattr(Engine, name) and name not in EngineState.__annotations__
    }
    assert not undeclared, sorted(undeclared)
