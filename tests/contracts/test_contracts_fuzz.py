"""Random programs of the contract language: the runtime never lets a raw exception out, and
the same call gives the same result and gas twice."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongshi.contracts import ContractRejected, check_contract
from gongshi.contracts.testing import MemoryChain
from gongshi.errors import GongshiError
from gongshi.execution.gas import GasMeter

HEADER = "from gongshi.contract import export, Decimal, require\n\n@export\ndef main(a, b):\n"

atoms = st.sampled_from(
    [
        "a",
        "b",
        "0",
        "1",
        "-7",
        "2 ** 64",
        "'xy'",
        "b'\\x01'",
        "[1, 2, 3]",
        "(4, 5)",
        "{'k': 1}",
        "Decimal('2.5')",
        "None",
        "True",
        "''",
        "[]",
        "range(5)",
        "'a' * 3",
    ]
)
binary = st.sampled_from(["+", "-", "*", "//", "%", "**", "<<", ">>", "&", "|", "^", "/"])
compare = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is"])
calls = st.sampled_from(
    [
        "len({})",
        "str({})",
        "int({})",
        "sorted({})",
        "list({})",
        "tuple({})",
        "abs({})",
        "bool({})",
        "sum({})",
        "min({})",
        "max({})",
        "hex({})",
        "bytes({})",
        "dict({})",
        "any({})",
        "reversed({})",
        "{}.upper()",
        "{}.split()",
        "{}.count(1)",
        "{}.hex()",
        "{}.get(1)",
        "{}.keys()",
        "{}[0]",
        "{}[1:]",
        "{}[::-1]",
        "{}['k']",
        "Decimal({})",
        "isinstance({}, int)",
        "[x for x in {}]",
        "{{str(k): k for k in {}}}",
        "f'{{{}}}'",
        "enumerate({})",
        "zip({}, {})".replace("{}, {}", "{}, [1]"),
    ]
)


def expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.tuples(inner, binary, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, compare, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(calls, inner).map(lambda t: t[0].format(t[1])),
            st.tuples(inner, inner).map(lambda t: f"[{t[0]}, {t[1]}]"),
        ),
        max_leaves=8,
    )


def statements() -> st.SearchStrategy[str]:
    expression = expressions()
    simple = st.one_of(
        expression.map(lambda e: f"x = {e}"),
        expression.map(lambda e: f"a = {e}"),
        expression.map(lambda e: f"require({e}, 'no')"),
        expression.map(lambda e: f"return {e}"),
    )
    return st.one_of(
        simple,
        st.tuples(expression, simple).map(lambda t: f"if {t[0]}:\n        {t[1]}"),
        simple.map(lambda s: f"for i in range(3):\n        {s}"),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(statements(), min_size=1, max_size=5), st.sampled_from([0, 3, "s", [1]]))
def test_random_programs_fail_only_with_gongshi_errors(body: list[str], value: object) -> None:
    source = HEADER + "".join(f"    {line}\n" for line in body) + "    return x\n"
    source = source.replace("def main(a, b):\n", "def main(a, b):\n    x = 0\n")
    try:
        check_contract(source)
    except ContractRejected:
        return
    outcomes = []
    for _ in range(2):
        chain = MemoryChain()
        chain.deploy("c", source)
        meter = GasMeter(1_000_000)
        try:
            result: object = chain.invoke("c", "main", {"a": value, "b": 2}, meter=meter)  # type: ignore[dict-item]
        except GongshiError as error:
            result = (type(error).__name__, str(error))
        outcomes.append((result, meter.used))
    assert outcomes[0] == outcomes[1]
