"""Running contracts: gas, frames, failures, read-only calls, arguments and results."""

from __future__ import annotations

import textwrap

import pytest

from gongshi.codec import CborValue
from gongshi.contracts import (
    ContractRuntimeError,
    InvalidContractValue,
    LimitExceeded,
    ReadOnlyViolation,
    RecursionTooDeep,
    RequireFailed,
)
from gongshi.contracts.limits import (
    FRAMES_MAX,
    GAS_CALL,
    GAS_ITERATION,
    GAS_STATEMENT,
)
from gongshi.contracts.testing import ALICE, BOB, CONTRACT, MemoryChain, run
from gongshi.errors import InvariantViolation
from gongshi.execution.errors import (
    CallNotFound,
    InvalidArguments,
    OutOfGas,
    ReadOnlyCall,
)
from gongshi.execution.gas import GasMeter

HEADER = "from gongshi.contract import export, Map, Value, ctx, require, emit, call, Decimal\n"


def contract(code: str) -> str:
    return HEADER + textwrap.dedent(code)


def main(code: str, **args: CborValue) -> CborValue:
    """Run `code` as the body of `def main(a=None, b=None)`."""
    source = (
        HEADER
        + "@export\ndef main(a=None, b=None):\n"
        + textwrap.indent(textwrap.dedent(code), "    ")
    )
    return run(source, "main", **args)


LOOP = contract(
    """
    @export
    def loop(n):
        total = 0
        for i in range(n):
            total += i
        return total
    """
)


def gas_of(source: str, method: str, args: dict[str, CborValue]) -> int:
    chain = MemoryChain()
    chain.deploy("c", source)
    meter = GasMeter(10**9)
    chain.invoke("c", method, args, meter=meter)
    return meter.used


def test_gas_is_exact_per_statement_iteration_and_call() -> None:
    # body: 3 statements + call; loop body: 1 statement + 1 iteration each.
    base = 3 * GAS_STATEMENT + GAS_CALL
    per_iteration = GAS_STATEMENT + GAS_ITERATION
    for n in (0, 1, 10):
        assert gas_of(LOOP, "loop", {"n": n}) == base + n * per_iteration


def test_same_call_same_gas() -> None:
    source = contract(
        """
        @export
        def work(n):
            xs = sorted([str(i) for i in range(n)])
            return ",".join(xs)
        """
    )
    assert gas_of(source, "work", {"n": 50}) == gas_of(source, "work", {"n": 50})
    assert gas_of(source, "work", {"n": 100}) > gas_of(source, "work", {"n": 50})


def test_infinite_loop_runs_out_of_gas_and_the_meter_stays_exhausted() -> None:
    chain = MemoryChain()
    chain.deploy("c", contract("@export\ndef spin():\n    while True:\n        pass\n"))
    meter = GasMeter(100_000)
    with pytest.raises(OutOfGas):
        chain.invoke("c", "spin", {}, meter=meter)
    assert meter.remaining == 0


def test_out_of_gas_reverts_the_calls_writes() -> None:
    source = contract(
        """
        counter = Value(default=0)

        @export
        def bump_then_spin(spin):
            counter.set(counter.get() + 1)
            while spin:
                pass

        @export(read_only=True)
        def read():
            return counter.get()
        """
    )
    chain = MemoryChain()
    chain.deploy("c", source)
    chain.invoke("c", "bump_then_spin", {"spin": False})
    with pytest.raises(OutOfGas):
        chain.invoke("c", "bump_then_spin", {"spin": True}, meter=GasMeter(200_000))
    assert chain.invoke("c", "read", read_only=True) == 1


def test_comprehensions_are_charged_per_iteration() -> None:
    source = contract(
        """
        @export
        def comp(n):
            return len([i for i in range(n)])
        """
    )
    difference = gas_of(source, "comp", {"n": 11}) - gas_of(source, "comp", {"n": 1})
    assert difference >= 10 * GAS_ITERATION


def test_require_failure_carries_the_message() -> None:
    with pytest.raises(RequireFailed, match=r"^amount must be positive$"):
        main("require(a > 0, 'amount must be positive')", a=0)


def test_python_errors_name_their_type_and_line() -> None:
    with pytest.raises(ContractRuntimeError, match=r"^line 5: ZeroDivisionError$"):
        main("x = 1\nreturn a // 0", a=1)
    with pytest.raises(ContractRuntimeError, match=r"^line 4: KeyError$"):
        main("return {'x': 1}['y']")
    with pytest.raises(ContractRuntimeError, match=r"^line 4: TypeError: unsupported operand"):
        main("return 'a' + 1")
    with pytest.raises(ContractRuntimeError, match="TypeError: / on integers"):
        main("return 1 / 2")


def test_recursion_is_capped() -> None:
    source = contract(
        """
        @export
        def down(n):
            if n == 0:
                return 0
            return down(n - 1) + 1
        """
    )
    assert run(source, "down", n=FRAMES_MAX - 1) == FRAMES_MAX - 1
    with pytest.raises(RecursionTooDeep):
        run(source, "down", n=FRAMES_MAX)


def test_frames_count_across_contract_calls() -> None:
    source = contract(
        """
        @export
        def down(n):
            if n == 0:
                return 0
            return deeper(n)

        def deeper(n):
            return call("c", "down", n=n - 1) + 1
        """
    )
    chain = MemoryChain()
    chain.deploy("c", source)
    assert chain.invoke("c", "down", {"n": 10}) == 10
    with pytest.raises(RecursionTooDeep):
        chain.invoke("c", "down", {"n": FRAMES_MAX})


def test_integer_size_is_capped() -> None:
    assert main("return len(str(2 ** 4000))") == len(str(2**4000))
    with pytest.raises(LimitExceeded, match="line 4: integer has more than 4096 bits"):
        main("return 2 ** 5000")
    with pytest.raises(LimitExceeded):
        main("x = 2 ** 4000\nreturn x * x")
    with pytest.raises(LimitExceeded):
        main("x = 1\nfor i in range(5000):\n    x += x\nreturn 0")


def test_read_only_exports_cannot_write_or_emit() -> None:
    source = contract(
        """
        counter = Value(default=0)

        @export(read_only=True)
        def sneaky_write():
            counter.set(5)

        @export(read_only=True)
        def sneaky_emit():
            emit("Hi", x=1)

        @export
        def write():
            counter.set(1)
        """
    )
    chain = MemoryChain()
    chain.deploy("c", source)
    with pytest.raises(ReadOnlyViolation, match="line 7: a read-only call cannot write"):
        chain.invoke("c", "sneaky_write")
    with pytest.raises(ReadOnlyViolation, match="cannot emit"):
        chain.invoke("c", "sneaky_emit")
    with pytest.raises(ReadOnlyCall):
        chain.invoke("c", "write", read_only=True)


def test_arguments_are_checked_against_the_export() -> None:
    chain = MemoryChain()
    chain.deploy("c", LOOP)
    with pytest.raises(CallNotFound):
        chain.invoke("c", "nope")
    with pytest.raises(InvalidArguments, match="missing argument 'n'"):
        chain.invoke("c", "loop", {})
    with pytest.raises(InvalidArguments, match="unknown argument 'm'"):
        chain.invoke("c", "loop", {"n": 1, "m": 2})


def test_values_cross_the_boundary_as_documented() -> None:
    result = main(
        "return [a, (1, 2), {'k': Decimal('1.50')}, None, True, b'\\x00', 'text']",
        a=[1, {"x": [2]}],
    )
    assert result == ((1, {"x": (2,)}), (1, 2), {"k": "1.5"}, None, True, b"\x00", "text")
    with pytest.raises(InvalidContractValue, match="integer outside"):
        main("return 2 ** 70")
    with pytest.raises(InvalidContractValue, match="map key"):
        main("return {1: 2}")
    with pytest.raises(InvalidContractValue):
        main("return len")


def test_arguments_arrive_as_mutable_lists_and_dicts() -> None:
    assert main("a.append(3)\nb['z'] = 1\nreturn [a, b]", a=(1, 2), b={"y": 0}) == (
        (1, 2, 3),
        {"y": 0, "z": 1},
    )


def test_storage_keeps_every_value_type_exactly() -> None:
    source = contract(
        """
        box = Map(key=str)
        grid = Map(key=(str, int), default=-1)

        @export
        def put(name):
            box[name] = [1, (2, 3), {4: "four", (5, 6): Decimal("7.25")}, 2 ** 300, -2 ** 300]
            grid["row", 3] = 9

        @export(read_only=True)
        def check(name):
            value = box[name]
            require(value == [1, (2, 3), {4: "four", (5, 6): Decimal("7.25")}, 2 ** 300,
                              -2 ** 300], "round trip")
            require(isinstance(value[1], tuple), "tuple kept")
            return [grid["row", 3], grid["row", 4], "absent" in box, name in box]
        """
    )
    chain = MemoryChain()
    chain.deploy("c", source)
    chain.invoke("c", "put", {"name": "n"})
    assert chain.invoke("c", "check", {"name": "n"}, read_only=True) == (9, -1, False, True)


def test_map_keys_are_typed() -> None:
    source = contract(
        """
        m = Map(key=bytes)

        @export
        def put(k):
            m[k] = 1
        """
    )
    chain = MemoryChain()
    chain.deploy("c", source)
    chain.invoke("c", "put", {"k": b"ok"})
    with pytest.raises(ContractRuntimeError, match="key must be bytes, not str"):
        chain.invoke("c", "put", {"k": "text"})


def test_writes_land_in_the_contract_namespace_deterministically() -> None:
    source = contract(
        """
        m = Map(key=str)

        @export
        def fill(n):
            for i in range(n):
                m[str(i)] = {"i": i, "d": Decimal(i) / 7}
        """
    )
    writes = []
    for _ in range(2):
        chain = MemoryChain()
        chain.deploy("c", source)
        chain.invoke("c", "fill", {"n": 20})
        chain.journal.commit(1)
        writes.append(chain.journal.writes())
    assert writes[0] == writes[1]
    assert len(writes[0]) == 20
    namespace = CONTRACT.hex().encode()
    assert all(key[1 : 1 + len(namespace)] == namespace for key in writes[0])


def test_ctx_events_and_cross_contract_calls() -> None:
    callee = contract(
        """
        @export
        def whoami():
            emit("Seen", caller=ctx.sender, origin=ctx.origin)
            return [ctx.sender, ctx.this, ctx.height, ctx.chain_id]
        """
    )
    caller = contract(
        """
        @export
        def relay():
            return call("callee", "whoami")
        """
    )
    chain = MemoryChain()
    callee_address = bytes(19) + b"\x01"
    chain.deploy("callee", callee, address=callee_address)
    chain.deploy("caller", caller)
    result = chain.invoke("caller", "relay", sender=BOB)
    assert result == (CONTRACT, callee_address, 7, "test-chain")
    assert chain.events == [(callee_address, "Seen", {"caller": CONTRACT, "origin": BOB})]


def test_failed_call_is_not_catchable_and_the_runtime_keeps_working() -> None:
    chain = MemoryChain()
    chain.deploy("c", LOOP)
    with pytest.raises(OutOfGas):
        chain.invoke("c", "loop", {"n": 1000}, meter=GasMeter(1_000))
    assert chain.invoke("c", "loop", {"n": 4}) == 6


def test_one_loaded_contract_serves_nested_calls_of_itself() -> None:
    source = contract(
        """
        counter = Value(default=0)

        @export
        def twice(again):
            counter.set(counter.get() + 1)
            if again:
                call("self", "twice", again=False)
            return [ctx.sender, counter.get()]
        """
    )
    chain = MemoryChain()
    chain.deploy("self", source)
    assert chain.invoke("self", "twice", {"again": True}, sender=ALICE) == (ALICE, 2)


def test_int_text_does_not_depend_on_the_interpreters_digit_limit() -> None:
    import sys

    code = "x = 7 ** 1400\ny = int(str(x))\nrequire(y == x, 'round trip')\nreturn len(str(x))"
    expected = main(code)
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        assert main(code) == expected
        assert main("return str(Decimal(7 ** 1000) / 3)[-6:]") == "333333"
    finally:
        sys.set_int_max_str_digits(previous)


def test_a_bad_event_name_is_the_contracts_error() -> None:
    with pytest.raises(ContractRuntimeError, match="line 4: ValueError: event"):
        main("emit('not a name!', x=1)")


@pytest.mark.parametrize(
    ("small", "large", "at_least"),
    [
        ("x = 'ab' * 2", "x = 'ab' * 200000", 400_000 // 4 - 1),
        ("x = [0] * 10", "x = [0] * 10010", 10_000 * 4),
        ("x = sorted([0] * 10)", "x = sorted([0] * 10010)", 10_000 * 8 * 13),
        ("x = 'a' * 10 == 'a' * 10", "x = 'a' * 40010 == 'a' * 40010", 2 * 40_000 // 4),
    ],
)
def test_size_dependent_work_is_charged_by_size(small: str, large: str, at_least: int) -> None:
    def gas(code: str) -> int:
        chain = MemoryChain()
        chain.deploy("c", HEADER + "@export\ndef main():\n    " + code + "\n")
        meter = GasMeter(10**9)
        chain.invoke("c", "main", meter=meter)
        return meter.used

    assert gas(large) - gas(small) >= at_least


def test_statements_skipped_by_an_early_exit_are_not_charged() -> None:
    source = contract(
        """
        @export
        def stop_at(n):
            for i in range(10):
                if i == n:
                    break
                x = 1
                y = 2
            return 0
        """
    )
    full_iteration = 3 * GAS_STATEMENT + GAS_ITERATION  # if, x, y
    at_zero = gas_of(source, "stop_at", {"n": 0})
    # body: `for` segment + `return` segment; one iteration: `if` + break.
    assert at_zero == GAS_CALL + 2 * GAS_STATEMENT + GAS_STATEMENT + GAS_ITERATION + GAS_STATEMENT
    for n in (1, 5):
        assert gas_of(source, "stop_at", {"n": n}) == at_zero + n * full_iteration


def test_chained_comparisons_evaluate_each_operand_once_and_lazily() -> None:
    source = contract(
        """
        calls = Value(default=0)

        def counted(x):
            calls.set(calls.get() + 1)
            return x

        @export
        def check(a):
            inside = 0 <= counted(a) < 10 != counted(99)
            return [inside, calls.get(), 1 < 2 < 3 < 2, a is None, None is not a]
        """
    )
    assert run(source, "check", a=5) == (True, 2, False, False, True)
    assert run(source, "check", a=-1) == (False, 1, False, False, True)  # stops at the first


class _FailingMeter(GasMeter):
    """A meter whose first charge of contract code raises `error`: a node-local condition
    striking in the middle of an invocation."""

    __slots__ = ("_error",)

    def __init__(self, error: BaseException) -> None:
        super().__init__(1_000_000)
        self._error = error

    def charge(self, amount: int, reason: str) -> None:
        if reason == "contract code":
            raise self._error
        super().charge(amount, reason)


@pytest.mark.parametrize("error", [MemoryError(), RecursionError()])
def test_node_local_interpreter_errors_stop_the_node_not_the_contract(
    error: BaseException,
) -> None:
    # Whether they happen depends on this node's memory or stack, not on the contract: a
    # receipt made of them could differ between nodes.
    chain = MemoryChain()
    chain.deploy("c", contract("@export\ndef main():\n    return 1\n"))
    with pytest.raises(InvariantViolation):
        chain.invoke("c", "main", meter=_FailingMeter(error))
