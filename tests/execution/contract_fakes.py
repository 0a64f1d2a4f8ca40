"""A stand-in for the Python contract runtime: contracts written as Python handlers.

Execution's dispatch, host and lifecycle are tested against this, so their tests do not
depend on the real runtime (tested end to end in tests/api/test_api_contracts.py).
A fake contract's "source" is its name and version text; the runtime maps it to handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gongshi.codec import CborValue, decode_value, encode_value
from gongshi.execution.contract_runtime import rejected
from gongshi.execution.errors import CallFailed

Handler = Callable[[Mapping[str, CborValue], Any], CborValue]
COUNT = b"count"


@dataclass(frozen=True, slots=True)
class FakeExport:
    name: str
    parameters: tuple[str, ...]
    roles: frozenset[str] | None
    read_only: bool


class FakeFailure(CallFailed):
    """Raised when a fake contract fails on purpose (a require() of the real runtime)."""

    code = 1869


@dataclass
class FakeContract:
    handlers: dict[str, tuple[FakeExport, Handler]]

    @property
    def exports(self) -> Mapping[str, FakeExport]:
        return {name: spec for name, (spec, _) in self.handlers.items()}

    def invoke(self, method: str, args: Mapping[str, CborValue], host: Any) -> CborValue:
        return self.handlers[method][1](args, host)


@dataclass
class FakeRuntime:
    contracts: dict[str, FakeContract] = field(default_factory=dict)
    loads: int = 0

    def check(self, source: str) -> None:
        if source not in self.contracts:
            raise rejected(("1:1: not a known fake contract", "2:5: and a second problem"))

    def load(self, source: str) -> FakeContract:
        self.check(source)
        self.loads += 1
        return self.contracts[source]


def count_of(host: Any) -> int:
    data = host.storage.get(COUNT)
    value = 0 if data is None else decode_value(data)
    assert isinstance(value, int)
    return value


def export(
    handlers: dict[str, tuple[FakeExport, Handler]],
    name: str,
    handler: Handler,
    *,
    parameters: tuple[str, ...] = (),
    roles: frozenset[str] | None = None,
    read_only: bool = False,
) -> None:
    handlers[name] = (FakeExport(name, parameters, roles, read_only), handler)


def counter(version: int) -> FakeContract:
    """A counter: the storage layout is the same in every version, `value` shows the version."""
    handlers: dict[str, tuple[FakeExport, Handler]] = {}

    def increment(args: Mapping[str, CborValue], host: Any) -> CborValue:
        by = args.get("by", 1)
        assert isinstance(by, int)
        count = count_of(host) + by
        host.storage.set(COUNT, encode_value(count))
        host.emit("Incremented", {"count": count, "sender": host.sender, "origin": host.origin})
        return count

    def value(args: Mapping[str, CborValue], host: Any) -> CborValue:
        return {"count": count_of(host), "version": version, "height": host.height}

    def fail_after_write(args: Mapping[str, CborValue], host: Any) -> CborValue:
        host.storage.set(COUNT, encode_value(10**6))
        host.emit("Written", {})
        raise FakeFailure("failed halfway")

    def burn(args: Mapping[str, CborValue], host: Any) -> CborValue:
        host.storage.set(COUNT, encode_value(-1))
        for _ in range(10**6):
            host.meter.charge(1_000, "loop")
        return None

    def relay(args: Mapping[str, CborValue], host: Any) -> CborValue:
        target, method = args["target"], args["method"]
        assert isinstance(target, str) and isinstance(method, str)
        inner = args.get("args") or {}
        assert isinstance(inner, Mapping)
        if not host.read_only:
            host.storage.set(b"relayed", encode_value(True))
        return host.call(target, method, dict(inner))

    def relay_and_recover(args: Mapping[str, CborValue], host: Any) -> CborValue:
        host.storage.set(b"relayed", encode_value(True))
        try:
            host.call(args["target"], "fail_after_write", {})
        except CallFailed as error:
            return f"recovered from [{error.code}]"
        return "no failure"

    def emit_in_read(args: Mapping[str, CborValue], host: Any) -> CborValue:
        host.emit("Nope", {})
        return None

    def write_in_read(args: Mapping[str, CborValue], host: Any) -> CborValue:
        host.storage.set(COUNT, encode_value(7))
        return None

    export(handlers, "increment", increment, parameters=("by",))
    export(handlers, "value", value, read_only=True)
    export(handlers, "reset", lambda a, h: h.storage.set(COUNT, None), roles=frozenset({"admin"}))
    export(handlers, "fail_after_write", fail_after_write)
    export(handlers, "burn", burn)
    export(handlers, "relay", relay, parameters=("target", "method", "args"))
    export(handlers, "relay_read", relay, parameters=("target", "method", "args"), read_only=True)
    export(handlers, "relay_and_recover", relay_and_recover, parameters=("target",))
    export(handlers, "emit_in_read", emit_in_read, read_only=True)
    export(handlers, "write_in_read", write_in_read, read_only=True)
    return FakeContract(handlers)


def fake_runtime() -> FakeRuntime:
    return FakeRuntime(contracts={"counter v1": counter(1), "counter v2": counter(2)})
