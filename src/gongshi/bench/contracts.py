"""`gongshi bench contracts`: metered token transfers per second, and the runtime's overhead.

Both figures run `transfer` of `examples/contracts/token.py` (read from the source tree) against
the same in-memory chain: a real `JournaledState`, `ContractStorage` and `GasMeter`.

- metered: `LoadedContract.invoke`, i.e. argument and result conversion, fresh globals,
  instrumented code (gas per block, helpers for operators), the sandbox's storage objects.
- plain: the same source compiled as ordinary Python (no checker, no instrumentation), its
  function called directly, with `Map`/`Value` reading and writing the same ContractStorage
  through the same value encoding. The storage path is shared on purpose: the ratio then
  measures what the sandbox and metering add, not the cost of the authenticated state.

Rates are per second of this process's CPU time (`time.process_time`): on a machine shared with
other work, wall-clock rates mostly measure the neighbours. Clock reads are fine here: this is
a measuring tool at the edge.
"""

from __future__ import annotations

import ast
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from gongshi.bench.options import json_option, rounds_option, write_json
from gongshi.codec import CborValue
from gongshi.contracts.checker import analyse
from gongshi.contracts.storage import Map, Value, read, write
from gongshi.contracts.testing import ALICE, BOB, MemoryChain, MemoryHost
from gongshi.contracts.values import to_cbor_map
from gongshi.execution.gas import GasMeter

ISSUER = bytes.fromhex("11" * 20)
ADMIN = bytes.fromhex("22" * 20)
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "contracts" / "token.py"
TARGET_CALLS_PER_S = 20_000
TARGET_OVERHEAD = 3.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractFigures:
    calls: int
    metered_per_s: float
    plain_per_s: float
    gas_per_call: int

    @property
    def overhead(self) -> float:
        return self.plain_per_s / self.metered_per_s if self.metered_per_s else 0.0


def token_source() -> str:
    if not EXAMPLE.is_file():
        raise click.ClickException(f"example contract not found: {EXAMPLE}")
    return EXAMPLE.read_text()


def _funded_chain(source: str, meter: GasMeter) -> tuple[MemoryChain, MemoryHost]:
    chain = MemoryChain()
    chain.deploy("token", source)
    chain.invoke("token", "init", {"issuer_address": ISSUER, "admin_address": ADMIN})
    for holder in (ALICE, BOB):
        chain.invoke("token", "allow", {"holder": holder}, sender=ADMIN)
    chain.invoke("token", "mint", {"to": ALICE, "amount": 10**15}, sender=ISSUER)
    return chain, chain.host("token", sender=ALICE, meter=meter)


def metered_rate(source: str, calls: int) -> tuple[float, int]:
    """Transfers per second through `LoadedContract.invoke`, and the gas of one."""
    meter = GasMeter(10**15)
    chain, host = _funded_chain(source, meter)
    loaded = chain.contracts["token"][1]
    args: dict[str, CborValue] = {"to": BOB, "amount": 1}
    start = time.process_time()
    for _ in range(calls):
        loaded.invoke("transfer", args, host)
    elapsed = time.process_time() - start
    return calls / elapsed, meter.used // calls


class _PlainRuntime:
    """What plain Python needs to run contract source: storage over the same ContractStorage
    and codec, `ctx`, `require`, `emit`; no gas but what storage itself charges."""

    def __init__(self, host: MemoryHost) -> None:
        self.host = host
        self.storage = host.storage
        self.charge = host.meter.charge

    def load(self, key: bytes, default: object) -> object:
        return read(self, key, default)  # type: ignore[arg-type]

    def store(self, key: bytes, value: object) -> None:
        write(self, key, value)  # type: ignore[arg-type]

    def require(self, condition: object, message: str = "requirement failed") -> None:
        if not condition:
            raise RuntimeError(message)

    def emit(self, name: str, **fields: object) -> None:
        self.host.emit(name, to_cbor_map(fields, name))


def plain_function(source: str, host: MemoryHost) -> Any:
    """The token's `transfer` compiled as ordinary Python over the plain runtime."""
    module = analyse(source)
    runtime = _PlainRuntime(host)
    scope: dict[str, Any] = {
        "ctx": type("Ctx", (), {"sender": host.sender})(),
        "require": runtime.require,
        "emit": runtime.emit,
        **module.constants,
    }
    for decl in module.storage:
        scope[decl.name] = (Map if decl.kind == "Map" else Value)(runtime, decl)  # type: ignore[arg-type]
    functions = []
    for node in module.functions.values():
        node.decorator_list = []
        functions.append(node)
    tree = ast.Module(body=list(functions), type_ignores=[])
    exec(compile(tree, "<plain token>", "exec"), scope)
    return scope["transfer"]


def plain_rate(source: str, calls: int) -> float:
    meter = GasMeter(10**15)
    _, host = _funded_chain(source, meter)
    transfer = plain_function(source, host)
    start = time.process_time()
    for _ in range(calls):
        transfer(to=BOB, amount=1)
    return calls / (time.process_time() - start)


def measure(calls: int, rounds: int) -> ContractFigures:
    """Best of `rounds`, interleaved, so a busy spell on a shared machine hurts both alike."""
    source = token_source()
    metered = plain = 0.0
    gas = 0
    for _ in range(rounds):
        rate, gas = metered_rate(source, calls)
        metered = max(metered, rate)
        plain = max(plain, plain_rate(source, calls))
    return ContractFigures(calls=calls, metered_per_s=metered, plain_per_s=plain, gas_per_call=gas)


def render(figures: ContractFigures) -> str:
    metered_ok = "ok" if figures.metered_per_s >= TARGET_CALLS_PER_S else "BELOW TARGET"
    overhead_ok = "ok" if figures.overhead <= TARGET_OVERHEAD else "ABOVE TARGET"
    return "\n".join(
        [
            f"contracts benchmark: token transfer, {figures.calls} calls, one core",
            f"  metered (LoadedContract.invoke) {figures.metered_per_s:10,.0f} calls/s  "
            f"({1e6 / figures.metered_per_s:.1f} us/call, {figures.gas_per_call} gas)  "
            f"target >= {TARGET_CALLS_PER_S:,}: {metered_ok}",
            f"  plain Python, same storage      {figures.plain_per_s:10,.0f} calls/s",
            f"  overhead                        {figures.overhead:10.2f}x  "
            f"target <= {TARGET_OVERHEAD:.0f}x: {overhead_ok}",
        ]
    )


@click.command("contracts")
@click.option(
    "--calls",
    type=click.IntRange(min=1, max=10_000_000),
    default=20_000,
    show_default=True,
    help="Transfers per measurement.",
)
@rounds_option
@json_option
def contracts_command(calls: int, rounds: int, json_path: Path | None) -> None:
    """Metered token transfers per second, and the overhead versus plain Python."""
    figures = measure(calls, rounds)
    click.echo(render(figures))
    write_json(json_path, {**asdict(figures), "overhead": figures.overhead})
